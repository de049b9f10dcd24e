//! Replay of dead-lettered events: read a dead-letter SQS queue, re-invoke the handler with each
//! event, delete what the handler now accepts and leave everything else where it was.
//!
//! A bridge DLQ holds one of three things, and [`parse`] tells them apart:
//! * Lambda's **on-failure destination record** (`EventInvokeConfig`, the `<Fn>Dlq` queues): the
//!   function's ARN, the request id and error of the last attempt, and the original event as
//!   `requestPayload`;
//! * an **SNS notification** a subscription could not deliver (`RedrivePolicy`, the
//!   `<Topic>SubscriptionDlq` queues). It names no function, and it is the notification, not the
//!   Lambda event, so it is wrapped into the event SNS would have sent;
//! * a bare **Lambda event** (what a function's legacy `DeadLetterConfig` queue holds);
//! * a **webhook delivery message** (`WebhookDeadLetterQueue`): a kick SQS redrove after WebhookSender
//!   failed it five times, or a handoff's event WebhookSender gave up on (`"dead_letter":
//!   "webhook_event"`). Either goes back to WebhookSender as the SQS event it reads, which drains the
//!   handoff again or sends the event once more; a partial batch failure in its answer counts as a
//!   failure, so the message stays.
//!
//! Safety rules, because a replay that deletes a message is the last copy of that customer's
//! message going away: a message is deleted only after a synchronous `Invoke` returned without a
//! `FunctionError`; a message that cannot be understood, has no known target or fails again is left
//! in the queue and reported; a record is never sent to a function other than the one it names.
//! Re-invoking is safe because the handlers are idempotent (claims per message id, client tokens),
//! so a message that was in fact delivered before is skipped as a duplicate.
//!
//! The loop is written against two small traits so it can be tested without AWS; the SDK-backed
//! implementations are [`replay_queue`]'s.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value, json};

/// Seconds a received message stays hidden from other consumers. Long enough for a batch of ten
/// slow invocations; a crashed run's messages reappear on their own after it.
const VISIBILITY_TIMEOUT_SECS: i32 = 300;
/// Long poll per receive: short enough that an empty queue ends the run quickly.
const WAIT_TIME_SECS: i32 = 1;
/// SQS's maximum per ReceiveMessage.
const BATCH: usize = 10;
/// The `messageId` of a replayed webhook delivery message, which a partial batch failure names.
const REPLAYED_MESSAGE_ID: &str = "replayed";
/// Error texts are cut here so one line stays one line.
const MAX_ERROR_CHARS: usize = 300;

/// What the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The function to invoke for messages that do not name one (SNS redrive, bare events). For
    /// destination records it is a filter: a record naming another function is skipped.
    pub function_name: Option<String>,
    /// Stop after this many messages.
    pub max: Option<usize>,
    /// Receive and report, but neither invoke nor delete.
    pub dry_run: bool,
}

/// The Lambda on-failure destination record, reduced to what replay needs.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    pub function_arn: String,
    pub request_id: Option<String>,
    /// `RetriesExhausted` or `EventAgeExceeded`.
    pub condition: String,
    pub attempts: Option<u64>,
    /// The last attempt's error (its `errorMessage`).
    pub error: Option<String>,
    /// The original event (`requestPayload`).
    pub event: Value,
}

/// One dead-letter message, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadLetter {
    Invocation(InvocationRecord),
    /// An SNS notification from a subscription's redrive policy, wrapped into the Lambda event.
    Sns {
        topic_arn: String,
        message_id: String,
        event: Value,
    },
    /// A Lambda event as is.
    Event(Value),
    /// A webhook delivery message, wrapped into the SQS event WebhookSender reads.
    Webhook {
        description: String,
        event: Value,
    },
}

impl DeadLetter {
    /// The Lambda event to invoke the function with.
    pub fn event(&self) -> &Value {
        match self {
            DeadLetter::Invocation(r) => &r.event,
            DeadLetter::Sns { event, .. } | DeadLetter::Event(event) | DeadLetter::Webhook { event, .. } => event,
        }
    }

    /// A short description for the report line.
    fn describe(&self) -> String {
        match self {
            DeadLetter::Invocation(r) => {
                let mut s = format!("request {}", r.request_id.as_deref().unwrap_or("?"));
                s.push_str(&format!(", {}", r.condition));
                if let Some(n) = r.attempts {
                    s.push_str(&format!(" after {n} attempts"));
                }
                s
            }
            DeadLetter::Sns {
                topic_arn, message_id, ..
            } => format!("SNS message {message_id} from {topic_arn}"),
            DeadLetter::Event(_) => "Lambda event".to_owned(),
            DeadLetter::Webhook { description, .. } => description.clone(),
        }
    }
}

fn clip(s: &str) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= MAX_ERROR_CHARS {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX_ERROR_CHARS).collect();
        format!("{cut}…")
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

/// Understands one message body, or says why not.
pub fn parse(body: &str) -> Result<DeadLetter, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(o) = value else {
        return Err("not a JSON object".into());
    };
    if o.contains_key("requestContext") {
        return invocation_record(&o).map(DeadLetter::Invocation);
    }
    if o.contains_key("TopicArn") && o.contains_key("Type") {
        let event = sns_event(&o)?;
        return Ok(DeadLetter::Sns {
            topic_arn: str_field(&o, "TopicArn").unwrap_or_default().to_owned(),
            message_id: str_field(&o, "MessageId").unwrap_or_default().to_owned(),
            event,
        });
    }
    if o.get("Records").is_some_and(Value::is_array) {
        return Ok(DeadLetter::Event(Value::Object(o)));
    }
    if let Some(handoff) = str_field(&o, "handoff_id") {
        let description = match (str_field(&o, "type"), o.get("sequence").and_then(Value::as_u64)) {
            (Some(kind), Some(sequence)) => format!(
                "{kind} #{sequence} of handoff {handoff}, given up on ({})",
                str_field(&o, "reason").unwrap_or("?")
            ),
            _ => format!("webhook delivery kick of handoff {handoff}"),
        };
        let event = json!({"Records": [{
            "messageId": REPLAYED_MESSAGE_ID,
            "body": body,
            "attributes": {},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }]});
        return Ok(DeadLetter::Webhook { description, event });
    }
    Err("neither a Lambda destination record, an SNS notification nor a Lambda event".into())
}

fn invocation_record(o: &Map<String, Value>) -> Result<InvocationRecord, String> {
    let ctx = o
        .get("requestContext")
        .and_then(Value::as_object)
        .ok_or("destination record: requestContext is not an object")?;
    let function_arn = str_field(ctx, "functionArn")
        .filter(|s| !s.is_empty())
        .ok_or("destination record: requestContext.functionArn is missing")?;
    let condition = str_field(ctx, "condition").unwrap_or("unknown");
    if condition == "Success" {
        return Err("destination record of a successful invocation (an on-success destination?)".into());
    }
    let event = match o.get("requestPayload") {
        None | Some(Value::Null) => return Err("destination record: requestPayload is missing".into()),
        Some(v) => v.clone(),
    };
    let error = match o.get("responsePayload") {
        None | Some(Value::Null) => None,
        Some(p) => Some(function_error_text(p.to_string().as_bytes())),
    };
    Ok(InvocationRecord {
        function_arn: function_arn.to_owned(),
        request_id: str_field(ctx, "requestId").map(str::to_owned),
        condition: condition.to_owned(),
        attempts: ctx.get("approximateInvokeCount").and_then(Value::as_u64),
        error,
        event,
    })
}

/// The Lambda event SNS would have delivered for `notification` (the JSON an SNS subscription's
/// redrive policy puts in its queue). The handlers parse every field of a record strictly and drop
/// records that do not parse, so fields that would make it unparsable are refused here instead.
pub fn sns_event(notification: &Map<String, Value>) -> Result<Value, String> {
    let required = |key: &str| {
        str_field(notification, key)
            .map(str::to_owned)
            .ok_or_else(|| format!("SNS notification: {key} is missing"))
    };
    let kind = required("Type")?;
    if kind != "Notification" {
        return Err(format!("SNS message of type {kind}, not a Notification"));
    }
    let topic_arn = required("TopicArn")?;
    let message_id = required("MessageId")?;
    let message = required("Message")?;
    let timestamp = required("Timestamp")?;
    let optional = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| str_field(notification, k))
            .unwrap_or_default()
            .to_owned()
    };
    let attributes = match notification.get("MessageAttributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => {
            for (name, attr) in a {
                let ok =
                    attr.get("Type").is_some_and(Value::is_string) && attr.get("Value").is_some_and(Value::is_string);
                if !ok {
                    return Err(format!("SNS notification: attribute {name} is not {{Type, Value}}"));
                }
            }
            a.clone()
        }
        Some(_) => return Err("SNS notification: MessageAttributes is not an object".into()),
    };
    let unsubscribe_url = optional(&["UnsubscribeURL", "UnsubscribeUrl"]);
    // The notification does not carry the subscription ARN; its unsubscribe link does. The handlers
    // do not use it, so the topic ARN is an acceptable stand-in when the link is absent.
    let subscription_arn = unsubscribe_url
        .split_once("SubscriptionArn=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| topic_arn.clone());
    Ok(json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic_arn,
                "Subject": notification.get("Subject").filter(|s| s.is_string()).cloned().unwrap_or(Value::Null),
                "Message": message,
                "Timestamp": timestamp,
                "SignatureVersion": optional(&["SignatureVersion"]),
                "Signature": optional(&["Signature"]),
                "SigningCertUrl": optional(&["SigningCertURL", "SigningCertUrl"]),
                "UnsubscribeUrl": unsubscribe_url,
                "MessageAttributes": attributes,
            }
        }]
    }))
}

/// The function-name part of any spelling Lambda accepts (`name`, `name:qualifier`,
/// `account:function:name`, the ARN, each optionally qualified).
pub fn function_name_of(spec: &str) -> &str {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts[0],
    }
}

/// The function to invoke for a dead letter, or why there is none.
pub fn target(dead_letter: &DeadLetter, function_name: Option<&str>) -> Result<String, String> {
    match (dead_letter, function_name) {
        (DeadLetter::Invocation(r), Some(wanted)) if function_name_of(wanted) != function_name_of(&r.function_arn) => {
            Err(format!(
                "record of {} while --function-name is {wanted}; left in the queue",
                r.function_arn
            ))
        }
        (DeadLetter::Invocation(r), _) => Ok(r.function_arn.clone()),
        (_, Some(f)) => Ok(f.to_owned()),
        (_, None) => Err("names no function: run with --function-name; left in the queue".into()),
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Invoked without a function error and deleted from the queue.
    Replayed,
    /// Dry run: would have been invoked.
    WouldReplay,
    /// Invoked (or tried to) and not accepted; left in the queue.
    Failed(String),
    /// Not invoked (unreadable, no or another function); left in the queue.
    Skipped(String),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReport {
    /// SQS message id.
    pub message_id: String,
    pub function: Option<String>,
    pub description: String,
    pub outcome: Outcome,
}

impl fmt::Display for MessageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = self
            .function
            .as_deref()
            .map(|fun| format!(" -> {fun}"))
            .unwrap_or_default();
        let (word, why) = match &self.outcome {
            Outcome::Replayed => ("replayed", None),
            Outcome::WouldReplay => ("would replay", None),
            Outcome::Failed(why) => ("FAILED", Some(why)),
            Outcome::Skipped(why) => ("skipped", Some(why)),
        };
        write!(f, "{word} {}{to} ({})", self.message_id, self.description)?;
        if let Some(why) = why {
            write!(f, ": {why}")?;
        }
        Ok(())
    }
}

/// The result of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub replayed: usize,
    pub failed: usize,
    /// Not invoked: dry run, unreadable, or no (matching) function.
    pub skipped: usize,
    /// Skipped for a reason other than the dry run: these need a person.
    pub unreplayable: usize,
    /// Why the run stopped early (the queue could not be read).
    pub aborted: Option<String>,
    pub messages: Vec<MessageReport>,
}

impl Summary {
    /// `replayed N, failed M, skipped K`.
    pub fn line(&self) -> String {
        format!(
            "replayed {}, failed {}, skipped {}",
            self.replayed, self.failed, self.skipped
        )
    }

    /// 0: nothing left behind that needs a person; 1: an event failed again or the queue could not
    /// be read; 3: only messages that could not be replayed at all were left.
    pub fn exit_code(&self) -> i32 {
        if self.failed > 0 || self.aborted.is_some() {
            1
        } else if self.unreplayable > 0 {
            3
        } else {
            0
        }
    }

    fn add(&mut self, report: MessageReport) {
        match &report.outcome {
            Outcome::Replayed => self.replayed += 1,
            Outcome::WouldReplay => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => {
                self.skipped += 1;
                self.unreplayable += 1;
            }
        }
        self.messages.push(report);
    }
}

/// A received SQS message.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub id: String,
    pub receipt: String,
    pub body: String,
}

/// What a synchronous invocation returned.
#[derive(Debug, Clone)]
pub(crate) struct Invoked {
    pub function_error: Option<String>,
    pub payload: Vec<u8>,
}

pub(crate) trait Queue {
    async fn receive(&self, max: usize) -> Result<Vec<Received>, String>;
    async fn delete(&self, receipt: &str) -> Result<(), String>;
    /// Makes the message visible again at once.
    async fn release(&self, receipt: &str) -> Result<(), String>;
}

pub(crate) trait Invoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, String>;
}

/// The `errorMessage` of a function error payload (its `errorType` if there is no message; for
/// Rust handlers the type is a type name, which tells an operator nothing), or the payload as text.
fn function_error_text(payload: &[u8]) -> String {
    let parsed = serde_json::from_slice::<Value>(payload).ok();
    let field = |key: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    field("errorMessage")
        .or_else(|| field("errorType"))
        .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned())
}

/// Whether a function's answer is a partial batch response naming a failure (an SQS-fed function's
/// way of failing one message without an error).
fn reports_batch_failure(payload: &[u8]) -> bool {
    serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("batchItemFailures")
                .and_then(Value::as_array)
                .map(|a| !a.is_empty())
        })
        .unwrap_or(false)
}

/// Handles one message: parse, pick the function, invoke, delete on success.
async fn replay_one<Q: Queue, L: Invoker>(queue: &Q, lambda: &L, opts: &Options, msg: &Received) -> MessageReport {
    let mut report = MessageReport {
        message_id: msg.id.clone(),
        function: None,
        description: "unreadable".into(),
        outcome: Outcome::WouldReplay,
    };
    let dead_letter = match parse(&msg.body) {
        Ok(d) => d,
        Err(why) => {
            report.outcome = Outcome::Skipped(format!("{why}; left in the queue"));
            return report;
        }
    };
    report.description = dead_letter.describe();
    let function = match target(&dead_letter, opts.function_name.as_deref()) {
        Ok(f) => f,
        Err(why) => {
            report.outcome = Outcome::Skipped(why);
            return report;
        }
    };
    report.function = Some(function.clone());
    if opts.dry_run {
        if let DeadLetter::Invocation(InvocationRecord { error: Some(e), .. }) = &dead_letter {
            report.description.push_str(&format!(", failed with: {}", clip(e)));
        }
        return report;
    }
    let payload = dead_letter.event().to_string().into_bytes();
    report.outcome = match lambda.invoke(&function, payload).await {
        Err(e) => Outcome::Failed(format!("Invoke failed: {}; left in the queue", clip(&e))),
        Ok(Invoked {
            function_error: Some(kind),
            payload,
        }) => Outcome::Failed(format!(
            "function error ({kind}): {}; left in the queue",
            clip(&function_error_text(&payload))
        )),
        Ok(Invoked { payload, .. }) if reports_batch_failure(&payload) => {
            Outcome::Failed("the function reported it failed again; left in the queue".into())
        }
        Ok(_) => match queue.delete(&msg.receipt).await {
            Ok(()) => Outcome::Replayed,
            Err(e) => Outcome::Failed(format!(
                "the handler accepted it, but DeleteMessage failed ({}); replaying it again is safe",
                clip(&e)
            )),
        },
    };
    report
}

pub(crate) async fn run<Q: Queue, L: Invoker>(
    queue: &Q,
    lambda: &L,
    opts: &Options,
    on_message: &mut dyn FnMut(&MessageReport),
) -> Summary {
    let mut summary = Summary::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut left: Vec<String> = Vec::new();
    loop {
        let remaining = opts.max.map_or(BATCH, |m| m.saturating_sub(seen.len()).min(BATCH));
        if remaining == 0 {
            break;
        }
        let batch = match queue.receive(remaining).await {
            Ok(b) => b,
            Err(e) => {
                summary.aborted = Some(format!("ReceiveMessage failed: {e}"));
                break;
            }
        };
        let mut fresh = 0;
        for msg in batch {
            // A message whose visibility ran out during a long run comes back: it was handled
            // (and left) once already, so it is not invoked twice in one run.
            if !seen.insert(msg.id.clone()) {
                left.push(msg.receipt);
                continue;
            }
            fresh += 1;
            let report = replay_one(queue, lambda, opts, &msg).await;
            if report.outcome != Outcome::Replayed {
                left.push(msg.receipt.clone());
            }
            on_message(&report);
            summary.add(report);
        }
        if fresh == 0 {
            break;
        }
    }
    // What stays in the queue is made visible again now, so a rerun after the next fix need not
    // wait out the visibility timeout. Failures here only mean it reappears a little later.
    for receipt in left {
        let _ = queue.release(&receipt).await;
    }
    summary
}

struct Sqs<'a> {
    client: &'a aws_sdk_sqs::Client,
    url: &'a str,
}

impl Queue for Sqs<'_> {
    async fn receive(&self, max: usize) -> Result<Vec<Received>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(self.url)
            .max_number_of_messages(max.clamp(1, BATCH) as i32)
            .wait_time_seconds(WAIT_TIME_SECS)
            .visibility_timeout(VISIBILITY_TIMEOUT_SECS)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Received {
                    id: m.message_id()?.to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
    }

    async fn release(&self, receipt: &str) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(self.url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
    }
}

struct Lambda<'a> {
    client: &'a aws_sdk_lambda::Client,
}

impl Invoker for Lambda<'_> {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, String> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
        Ok(Invoked {
            function_error: out.function_error().map(str::to_owned),
            payload: out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
        })
    }
}

/// Replays the dead letters of `queue_url` with the given clients; `on_message` sees each report
/// as soon as the message is done.
pub async fn replay_queue(
    sqs: &aws_sdk_sqs::Client,
    lambda: &aws_sdk_lambda::Client,
    queue_url: &str,
    opts: &Options,
    mut on_message: impl FnMut(&MessageReport),
) -> Summary {
    let queue = Sqs {
        client: sqs,
        url: queue_url,
    };
    let lambda = Lambda { client: lambda };
    run(&queue, &lambda, opts, &mut on_message).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler:$LATEST";

    fn sns_record() -> Value {
        json!({
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:whatsapp-eum-events:0b5c",
            "Sns": {"Type": "Notification", "MessageId": "95df01b4", "TopicArn": "arn:aws:sns:us-east-1:123456789012:whatsapp-eum-events",
                    "Subject": null, "Message": "{\"context\":{}}", "Timestamp": "2025-11-11T06:51:23.626Z",
                    "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertUrl": "https://sns/cert.pem",
                    "UnsubscribeUrl": "https://sns/?Action=Unsubscribe", "MessageAttributes": {}}
        })
    }

    /// The failure record of the Lambda developer guide, with an SNS event as payload.
    fn destination_record(payload: Value) -> Value {
        json!({
            "version": "1.0",
            "timestamp": "2019-11-14T18:16:05.568Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": ARN,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "SendMessage: InternalServerException", "errorType": "Error"}
        })
    }

    fn sns_notification() -> Value {
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:connect-chat-stream",
            "Message": "{\"Id\":\"item-1\"}",
            "Timestamp": "2025-11-11T07:30:00.301Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+..",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:connect-chat-stream:5f1e",
            "MessageAttributes": {"ContactId": {"Type": "String", "Value": "c-1"}}
        })
    }

    #[test]
    fn destination_records_are_understood() {
        let event = json!({"Records": [sns_record()]});
        let parsed = parse(&destination_record(event.clone()).to_string()).unwrap();
        let DeadLetter::Invocation(r) = &parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(r.function_arn, ARN);
        assert_eq!(r.request_id.as_deref(), Some("e4b46cbf-b738-xmpl-8880-a18cdf61200e"));
        assert_eq!(r.condition, "RetriesExhausted");
        assert_eq!(r.attempts, Some(3));
        assert_eq!(r.error.as_deref(), Some("SendMessage: InternalServerException"));
        assert_eq!(parsed.event(), &event);
        assert_eq!(target(&parsed, None).unwrap(), ARN);
        assert!(parsed.describe().contains("after 3 attempts"), "{}", parsed.describe());
    }

    #[test]
    fn destination_records_that_cannot_be_replayed_are_refused() {
        let mut success = destination_record(json!({"Records": []}));
        success["requestContext"]["condition"] = json!("Success");
        assert!(parse(&success.to_string()).unwrap_err().contains("successful"));
        let mut no_payload = destination_record(json!(null));
        assert!(parse(&no_payload.to_string()).unwrap_err().contains("requestPayload"));
        no_payload["requestPayload"] = json!({});
        no_payload["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("functionArn");
        assert!(parse(&no_payload.to_string()).unwrap_err().contains("functionArn"));
    }

    #[test]
    fn sns_notifications_become_the_event_sns_would_have_sent() {
        let parsed = parse(&sns_notification().to_string()).unwrap();
        let DeadLetter::Sns {
            topic_arn,
            message_id,
            event,
        } = &parsed
        else {
            panic!("{parsed:?}")
        };
        assert_eq!(topic_arn, "arn:aws:sns:us-east-1:123456789012:connect-chat-stream");
        assert_eq!(message_id, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324");
        let record = &event["Records"][0];
        assert_eq!(record["EventSource"], "aws:sns");
        assert_eq!(record["EventVersion"], "1.0");
        assert_eq!(
            record["EventSubscriptionArn"],
            "arn:aws:sns:us-east-1:123456789012:connect-chat-stream:5f1e"
        );
        let sns = &record["Sns"];
        assert_eq!(sns["Type"], "Notification");
        assert_eq!(sns["Message"], "{\"Id\":\"item-1\"}");
        assert_eq!(sns["Subject"], Value::Null);
        assert_eq!(sns["Timestamp"], "2025-11-11T07:30:00.301Z");
        assert_eq!(
            sns["SigningCertUrl"],
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
        );
        assert!(sns["UnsubscribeUrl"].as_str().unwrap().contains("Action=Unsubscribe"));
        assert_eq!(sns["MessageAttributes"]["ContactId"]["Value"], "c-1");
        assert_eq!(event["Records"].as_array().unwrap().len(), 1);
        let typed: aws_lambda_events::event::sns::SnsEvent = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(typed.records[0].sns.message_attributes["ContactId"].value, "c-1");
        // No function in the message: the operator names it.
        assert!(target(&parsed, None).is_err());
        assert_eq!(target(&parsed, Some("ConnectHandler")).unwrap(), "ConnectHandler");
    }

    #[test]
    fn sns_notifications_without_optional_fields_still_wrap() {
        let mut n = sns_notification();
        let o = n.as_object_mut().unwrap();
        for k in ["UnsubscribeURL", "MessageAttributes", "Signature", "SigningCertURL"] {
            o.remove(k);
        }
        o.insert("Subject".into(), json!("hello"));
        let parsed = parse(&n.to_string()).unwrap();
        let sns = &parsed.event()["Records"][0]["Sns"];
        assert_eq!(sns["MessageAttributes"], json!({}));
        assert_eq!(sns["Subject"], "hello");
        assert_eq!(sns["Signature"], "");
        let typed: Result<aws_lambda_events::event::sns::SnsEvent, _> = serde_json::from_value(parsed.event().clone());
        assert!(typed.is_ok(), "{typed:?}");
        assert_eq!(
            parsed.event()["Records"][0]["EventSubscriptionArn"],
            "arn:aws:sns:us-east-1:123456789012:connect-chat-stream"
        );
    }

    #[test]
    fn sns_notifications_the_handlers_would_drop_are_refused() {
        for (key, value) in [
            ("Timestamp", Value::Null),
            ("Message", json!({"not": "a string"})),
            ("Type", json!("SubscriptionConfirmation")),
            ("MessageAttributes", json!({"x": {"Type": "String"}})),
            ("MessageAttributes", json!([1])),
        ] {
            let mut n = sns_notification();
            n[key] = value;
            assert!(parse(&n.to_string()).is_err(), "{key}");
        }
    }

    #[test]
    fn bare_events_and_junk() {
        let event = json!({"Records": [sns_record()]});
        assert_eq!(parse(&event.to_string()).unwrap(), DeadLetter::Event(event));
        assert!(parse("hello").unwrap_err().starts_with("not JSON"));
        assert!(parse("[1,2]").unwrap_err().contains("object"));
        assert!(parse("{\"foo\":1}").unwrap_err().contains("neither"));
        assert!(parse("").is_err());
    }

    #[test]
    fn function_names_and_filters() {
        assert_eq!(function_name_of(ARN), "WhatsappHandler");
        assert_eq!(function_name_of("WhatsappHandler"), "WhatsappHandler");
        assert_eq!(function_name_of("WhatsappHandler:$LATEST"), "WhatsappHandler");
        assert_eq!(
            function_name_of("123456789012:function:ConnectHandler"),
            "ConnectHandler"
        );
        let record = parse(&destination_record(json!({"Records": []})).to_string()).unwrap();
        assert_eq!(target(&record, Some("WhatsappHandler")).unwrap(), ARN);
        assert_eq!(
            target(
                &record,
                Some("arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler")
            )
            .unwrap(),
            ARN
        );
        let err = target(&record, Some("ConnectHandler")).unwrap_err();
        assert!(err.contains("--function-name is ConnectHandler"), "{err}");
    }

    /// A queue in memory. `sticky` hands out every message on every receive, as a queue whose
    /// visibility timeout keeps running out would.
    #[derive(Default)]
    struct FakeQueue {
        messages: Mutex<Vec<(String, String, bool)>>,
        deleted: Mutex<Vec<String>>,
        released: Mutex<Vec<String>>,
        receives: Mutex<usize>,
        sticky: bool,
        broken: bool,
    }

    impl FakeQueue {
        fn with(bodies: &[String]) -> Self {
            let q = FakeQueue::default();
            *q.messages.lock().unwrap() = bodies
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("m{i}"), b.clone(), true))
                .collect();
            q
        }

        fn ids(&self) -> Vec<String> {
            self.messages.lock().unwrap().iter().map(|m| m.0.clone()).collect()
        }
    }

    impl Queue for FakeQueue {
        async fn receive(&self, max: usize) -> Result<Vec<Received>, String> {
            if self.broken {
                return Err("AccessDenied".into());
            }
            *self.receives.lock().unwrap() += 1;
            let mut messages = self.messages.lock().unwrap();
            let mut out = Vec::new();
            for (id, body, visible) in messages.iter_mut() {
                if out.len() == max {
                    break;
                }
                if *visible || self.sticky {
                    *visible = false;
                    out.push(Received {
                        id: id.clone(),
                        receipt: format!("r-{id}"),
                        body: body.clone(),
                    });
                }
            }
            Ok(out)
        }

        async fn delete(&self, receipt: &str) -> Result<(), String> {
            let id = receipt.trim_start_matches("r-").to_owned();
            self.messages.lock().unwrap().retain(|m| m.0 != id);
            self.deleted.lock().unwrap().push(id);
            Ok(())
        }

        async fn release(&self, receipt: &str) -> Result<(), String> {
            let id = receipt.trim_start_matches("r-");
            for m in self.messages.lock().unwrap().iter_mut() {
                if m.0 == id {
                    m.2 = true;
                }
            }
            self.released.lock().unwrap().push(id.to_owned());
            Ok(())
        }
    }

    /// Invokes by the payload's content: `"please fail"` is a function error, `"throttle"` an API
    /// error, anything else succeeds.
    #[derive(Default)]
    struct FakeLambda {
        calls: Mutex<Vec<(String, Value)>>,
    }

    impl Invoker for FakeLambda {
        async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, String> {
            let event: Value = serde_json::from_slice(&payload).unwrap();
            self.calls.lock().unwrap().push((function.to_owned(), event));
            let text = String::from_utf8_lossy(&payload);
            if text.contains("throttle") {
                return Err("TooManyRequestsException: Rate exceeded".into());
            }
            if text.contains("please fail") {
                return Ok(Invoked {
                    function_error: Some("Unhandled".into()),
                    payload: br#"{"errorType":"Error","errorMessage":"still failing"}"#.to_vec(),
                });
            }
            if text.contains("endpoint still down") {
                return Ok(Invoked {
                    function_error: None,
                    payload: br#"{"batchItemFailures":[{"itemIdentifier":"replayed"}]}"#.to_vec(),
                });
            }
            Ok(Invoked {
                function_error: None,
                payload: b"null".to_vec(),
            })
        }
    }

    fn event_with(text: &str) -> Value {
        let mut record = sns_record();
        record["Sns"]["Message"] = json!(text);
        json!({"Records": [record]})
    }

    async fn run_with(queue: &FakeQueue, lambda: &FakeLambda, opts: &Options) -> (Summary, Vec<String>) {
        let mut lines = Vec::new();
        let summary = run(queue, lambda, opts, &mut |r: &MessageReport| lines.push(r.to_string())).await;
        (summary, lines)
    }

    #[tokio::test]
    async fn replays_what_succeeds_and_leaves_the_rest() {
        let queue = FakeQueue::with(&[
            destination_record(event_with("ok")).to_string(),
            destination_record(event_with("please fail")).to_string(),
            "garbage".to_owned(),
            sns_notification().to_string(),
            destination_record(event_with("throttle")).to_string(),
        ]);
        let lambda = FakeLambda::default();
        let (summary, lines) = run_with(&queue, &lambda, &Options::default()).await;
        assert_eq!(summary.line(), "replayed 1, failed 2, skipped 2");
        assert_eq!(summary.exit_code(), 1);
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("replayed m0 -> arn:aws:lambda:"), "{}", lines[0]);
        assert!(
            lines[1].contains("FAILED m1") && lines[1].contains("(Unhandled): still failing"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("skipped m2 (unreadable): not JSON"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("--function-name"), "{}", lines[3]);
        assert!(
            lines[4].contains("Invoke failed: TooManyRequestsException"),
            "{}",
            lines[4]
        );
        assert_eq!(*queue.deleted.lock().unwrap(), vec!["m0"]);
        assert_eq!(queue.ids(), vec!["m1", "m2", "m3", "m4"]);
        // Left messages are visible again for the next run.
        assert_eq!(queue.released.lock().unwrap().len(), 4);
        assert!(queue.messages.lock().unwrap().iter().all(|m| m.2));
        // The original event went to the function the record names.
        let calls = lambda.calls.lock().unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0], (ARN.to_owned(), event_with("ok")));
    }

    #[tokio::test]
    async fn webhook_dead_letters_go_back_to_webhook_sender_as_the_sqs_event_it_reads() {
        let handoff = "ho_01jehz3k5q8v0w2x4y6z8a0b2c";
        let letter = |body: &str| {
            json!({"dead_letter": "webhook_event", "client": "acme-bot", "handoff_id": handoff, "sequence": 4,
                   "webhook_id": "msg_1", "type": "handoff.message", "reason": "rejected", "body": body})
            .to_string()
        };
        let kick = json!({"handoff_id": handoff}).to_string();
        let queue = FakeQueue::with(&[letter("{}"), kick.clone(), letter("endpoint still down")]);
        let lambda = FakeLambda::default();
        let opts = Options {
            function_name: Some("WebhookSender".into()),
            ..Options::default()
        };
        let (summary, lines) = run_with(&queue, &lambda, &opts).await;
        assert_eq!(summary.line(), "replayed 2, failed 1, skipped 0");
        assert!(
            lines[0].contains("handoff.message #4 of handoff ho_") && lines[0].contains("(rejected)"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("kick of handoff"), "{}", lines[1]);
        assert!(
            lines[2].contains("FAILED") && lines[2].contains("failed again"),
            "{}",
            lines[2]
        );
        assert_eq!(queue.ids(), vec!["m2"], "what the endpoint still refuses stays");
        let calls = lambda.calls.lock().unwrap();
        let record = &calls[1].1["Records"][0];
        assert_eq!(
            (record["eventSource"].as_str(), record["body"].as_str()),
            (Some("aws:sqs"), Some(kick.as_str()))
        );
        let typed: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(calls[0].1.clone()).unwrap();
        assert_eq!(typed.records[0].message_id.as_deref(), Some("replayed"));
    }

    #[tokio::test]
    async fn sns_redrive_goes_to_the_named_function_and_records_are_filtered() {
        let queue = FakeQueue::with(&[
            sns_notification().to_string(),
            destination_record(event_with("ok")).to_string(),
        ]);
        let lambda = FakeLambda::default();
        let opts = Options {
            function_name: Some("ConnectHandler".into()),
            ..Options::default()
        };
        let (summary, lines) = run_with(&queue, &lambda, &opts).await;
        assert_eq!(summary.line(), "replayed 1, failed 0, skipped 1");
        assert_eq!(summary.exit_code(), 3);
        assert!(lines[1].contains("record of arn:aws:lambda"), "{}", lines[1]);
        let calls = lambda.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "ConnectHandler");
        assert_eq!(
            calls[0].1["Records"][0]["Sns"]["MessageId"],
            "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
        );
        assert_eq!(queue.ids(), vec!["m1"]);
    }

    #[tokio::test]
    async fn dry_run_touches_nothing() {
        let queue = FakeQueue::with(&[
            destination_record(event_with("ok")).to_string(),
            destination_record(event_with("ok too")).to_string(),
        ]);
        let lambda = FakeLambda::default();
        let opts = Options {
            dry_run: true,
            ..Options::default()
        };
        let (summary, lines) = run_with(&queue, &lambda, &opts).await;
        assert_eq!(summary.line(), "replayed 0, failed 0, skipped 2");
        assert_eq!(summary.exit_code(), 0);
        assert!(lines[0].starts_with("would replay m0 -> "), "{}", lines[0]);
        assert!(
            lines[0].ends_with("failed with: SendMessage: InternalServerException)"),
            "{}",
            lines[0]
        );
        assert!(lambda.calls.lock().unwrap().is_empty());
        assert!(queue.deleted.lock().unwrap().is_empty());
        assert_eq!(queue.ids().len(), 2);
        assert!(queue.messages.lock().unwrap().iter().all(|m| m.2));
    }

    #[tokio::test]
    async fn max_bounds_the_run_and_a_second_run_finds_the_rest() {
        let bodies: Vec<String> = (0..25)
            .map(|i| destination_record(event_with(&format!("ok {i}"))).to_string())
            .collect();
        let queue = FakeQueue::with(&bodies);
        let lambda = FakeLambda::default();
        let opts = Options {
            max: Some(12),
            ..Options::default()
        };
        let (summary, _) = run_with(&queue, &lambda, &opts).await;
        assert_eq!(summary.replayed, 12);
        assert_eq!(queue.ids().len(), 13);
        let (summary, _) = run_with(&queue, &lambda, &Options::default()).await;
        assert_eq!(summary.replayed, 13);
        assert!(queue.ids().is_empty());
        let (summary, lines) = run_with(&queue, &lambda, &Options::default()).await;
        assert_eq!(summary, Summary::default());
        assert!(lines.is_empty());
    }

    #[tokio::test]
    async fn a_message_handed_out_again_is_not_invoked_twice() {
        let mut queue = FakeQueue::with(&[destination_record(event_with("please fail")).to_string()]);
        queue.sticky = true;
        let lambda = FakeLambda::default();
        let (summary, _) = run_with(&queue, &lambda, &Options::default()).await;
        assert_eq!(summary.failed, 1);
        assert_eq!(lambda.calls.lock().unwrap().len(), 1);
        assert_eq!(*queue.receives.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn an_unreadable_queue_aborts() {
        let queue = FakeQueue {
            broken: true,
            ..FakeQueue::default()
        };
        let (summary, _) = run_with(&queue, &FakeLambda::default(), &Options::default()).await;
        assert!(summary.aborted.as_deref().unwrap().contains("AccessDenied"));
        assert_eq!(summary.exit_code(), 1);
    }
}
