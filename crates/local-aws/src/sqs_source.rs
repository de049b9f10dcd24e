//! The webhook queue and Lambda's SQS event source mapping that feeds it to WebhookSender.
//!
//! The Handoff API queues each webhook delivery in a standard SQS queue, and Lambda's pollers hand
//! the queue's messages to WebhookSender in batches. The queue and its dead-letter queue live in moto
//! (created with the real SDK, like `dlq`'s), so the bridge's own SQS calls go to a real SQS wire
//! protocol; what moto lacks is Lambda's side, which is this file: long-poll the queue, invoke the
//! function synchronously with the documented `aws:sqs` event, and delete what the function handled,
//! with `ReportBatchItemFailures` on (`verdict`). Messages the function did not handle are left
//! alone: SQS makes them visible again after the visibility timeout and, after `maxReceiveCount`
//! receives, moves them to the DLQ itself, so redrive is moto's and not simulated here.
//!
//! `GET /_twin/webhook-queue` shows the queues' URLs, their message counts and the last batches;
//! `POST /_twin/webhook-queue {"enabled": false}` pauses the mapping as UpdateEventSourceMapping can.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::TwinConfig;
use crate::error::Error;
use crate::lambda::{Function, FunctionError, stopped};
use crate::sns::Tracker;
use crate::time::{iso_millis, now_ms};
use crate::twin::Shared;

/// Names of the webhook queue and of its dead-letter queue (not in `template.yaml` yet: the
/// bridge side adds them with WebhookSender).
pub const QUEUE_NAME: &str = "webhook-deliveries";
pub const DLQ_NAME: &str = "webhook-deliveries-dlq";
/// The event source mapping's `BatchSize` (Lambda's default for SQS, and ReceiveMessage's largest).
const BATCH_SIZE: i32 = 10;
/// Long-poll wait per ReceiveMessage: short, so that shutdown and new messages are noticed quickly.
const WAIT_TIME_SECONDS: i32 = 1;
/// Batches kept for `GET /_twin/webhook-queue`; older ones are dropped.
const MAX_BATCHES: usize = 1000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn setup_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Setup {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(e: aws_sdk_sqs::error::SdkError<E, R>) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}

/// The webhook queue in moto: its client, URLs and ARN, and the batches handed to WebhookSender.
#[derive(Debug)]
pub struct WebhookQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    dlq_url: String,
    arn: String,
    region: String,
    batches: Mutex<Vec<Value>>,
    /// The mapping's `Enabled` (UpdateEventSourceMapping): while `false` the pollers receive nothing.
    enabled: watch::Sender<bool>,
}

impl WebhookQueue {
    /// Creates (or finds, and brings to `cfg`'s settings) the queue and its dead-letter queue at
    /// `endpoint`: a standard queue with `cfg`'s visibility timeout, redriving to the DLQ after
    /// `cfg.webhook_queue_max_receive_count` receives.
    pub async fn create(endpoint: &str, cfg: &TwinConfig) -> Result<Self, Error> {
        let conf = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "local-aws"))
            .build();
        let client = aws_sdk_sqs::Client::from_conf(conf);
        let dlq_url = queue_url(&client, DLQ_NAME).await?;
        let dlq_arn = queue_arn(&client, &dlq_url, DLQ_NAME).await?;
        let url = queue_url(&client, QUEUE_NAME).await?;
        let redrive = json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": cfg.webhook_queue_max_receive_count,
        });
        // Set rather than given to CreateQueue: a queue a reused moto already has would make
        // CreateQueue with other attributes fail, and this brings such a queue to these settings.
        client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                cfg.webhook_queue_visibility_timeout.as_secs().to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(|e| setup_err(&format!("SQS queue {QUEUE_NAME}"), sdk_err(e)))?;
        let arn = queue_arn(&client, &url, QUEUE_NAME).await?;
        Ok(Self {
            client,
            url,
            dlq_url,
            arn,
            region: cfg.region.clone(),
            batches: Mutex::new(Vec::new()),
            enabled: watch::channel(true).0,
        })
    }

    /// The queue's URL as moto gives it (`WEBHOOK_QUEUE_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dead-letter queue's URL (`WEBHOOK_DEAD_LETTER_QUEUE_URL`).
    pub fn dlq_url(&self) -> &str {
        &self.dlq_url
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The batches handed to WebhookSender so far, oldest first.
    pub fn batches(&self) -> Vec<Value> {
        lock(&self.batches).clone()
    }

    /// Pauses (`false`) or resumes the event source mapping. A ReceiveMessage already waiting still
    /// completes, so a batch may start up to its wait time (1 s) after pausing, as with Lambda.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.send_replace(enabled);
    }

    pub fn enabled(&self) -> bool {
        *self.enabled.borrow()
    }

    pub fn clear_batches(&self) {
        lock(&self.batches).clear();
    }

    fn record_batch(&self, batch: Value) {
        let mut batches = lock(&self.batches);
        if batches.len() >= MAX_BATCHES {
            batches.drain(..MAX_BATCHES / 10);
        }
        batches.push(batch);
    }

    /// `ApproximateNumberOfMessages*` of a queue, or the error as text.
    async fn counts(&self, url: &str) -> Value {
        let got = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await;
        match got {
            Err(e) => json!({ "error": sdk_err(e) }),
            Ok(out) => {
                let attributes = out.attributes();
                let count = |name: QueueAttributeName| {
                    attributes
                        .and_then(|a| a.get(&name))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                json!({
                    "visible": count(QueueAttributeName::ApproximateNumberOfMessages),
                    "in_flight": count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                    "delayed": count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
                })
            }
        }
    }
}

/// The URL of queue `name`, created if it does not exist yet.
async fn queue_url(client: &aws_sdk_sqs::Client, name: &str) -> Result<String, Error> {
    let what = format!("SQS queue {name}");
    let created = client.create_queue().queue_name(name).send().await;
    let url = match created {
        Ok(out) => out.queue_url().map(str::to_owned),
        // Only a queue created elsewhere with other attributes; its settings are set next.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_name_exists()) => client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| setup_err(&what, sdk_err(e)))?
            .queue_url()
            .map(str::to_owned),
        Err(e) => return Err(setup_err(&what, sdk_err(e))),
    };
    url.ok_or_else(|| setup_err(&what, "no QueueUrl in the answer"))
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str, name: &str) -> Result<String, Error> {
    let what = format!("SQS queue {name}");
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| setup_err(&what, sdk_err(e)))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| setup_err(&what, "no QueueArn attribute"))
}

/// One message as Lambda puts it in an `aws:sqs` event record: `attributes` are the system
/// attributes ReceiveMessage returned, `messageAttributes` each with `dataType`, its value and the
/// two (always empty) list fields.
pub fn record(message: &Message, queue_arn: &str, region: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = message
        .attributes()
        .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect())
        .unwrap_or_default();
    let message_attributes: serde_json::Map<String, Value> = message
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, v)| {
                    let mut value = json!({
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.data_type(),
                    });
                    if let Some(s) = v.string_value() {
                        value["stringValue"] = json!(s);
                    }
                    if let Some(b) = v.binary_value() {
                        use base64::Engine;
                        value["binaryValue"] = json!(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
                    }
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let Some(md5) = message.md5_of_message_attributes() {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    record
}

/// What Lambda makes of a batch's invocation with `ReportBatchItemFailures` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every message was handled: all are deleted.
    Success,
    /// These message ids failed and stay in the queue; the others are deleted.
    Partial(Vec<String>),
    /// The batch failed as a whole (function error or timeout, or an answer Lambda cannot use):
    /// nothing is deleted.
    Failure(String),
}

/// The verdict on a batch of message ids given the function's answer, by the rules of "Handling
/// errors for an SQS event source in Lambda": a null or empty answer, or a null or empty
/// `batchItemFailures`, is complete success; an `itemIdentifier` that is missing, null, empty or not
/// a message of the batch fails the whole batch, as does an answer that is not such an object.
pub fn verdict(batch: &[&str], answer: &Result<Value, FunctionError>) -> Verdict {
    let value = match answer {
        Err(e) => return Verdict::Failure(e.to_string()),
        Ok(v) => v,
    };
    let failures = match value {
        Value::Null => return Verdict::Success,
        Value::String(s) if s.trim().is_empty() => return Verdict::Success,
        Value::Object(o) if o.is_empty() => return Verdict::Success,
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Verdict::Success,
            Some(Value::Array(items)) => items,
            Some(other) => return Verdict::Failure(format!("batchItemFailures is not a list: {other}")),
        },
        other => return Verdict::Failure(format!("the answer is not a batch response: {other}")),
    };
    if failures.is_empty() {
        return Verdict::Success;
    }
    let known: HashSet<&str> = batch.iter().copied().collect();
    let mut failed = Vec::new();
    for item in failures {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if known.contains(id) => {
                if !failed.iter().any(|f| f == id) {
                    failed.push(id.to_owned());
                }
            }
            Some(id) if !id.is_empty() => {
                return Verdict::Failure(format!("itemIdentifier {id} is not a message of the batch"));
            }
            _ => return Verdict::Failure(format!("batchItemFailures entry without an itemIdentifier: {item}")),
        }
    }
    Verdict::Partial(failed)
}

/// One poller of the event source mapping: runs until shutdown. Lambda runs several; the twin one per
/// process of the function, so that no batch waits for a process while its visibility runs out.
pub(crate) async fn poll(
    queue: Arc<WebhookQueue>,
    function: Arc<Function>,
    tracker: Arc<Tracker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut enabled = queue.enabled.subscribe();
    loop {
        tokio::select! {
            _ = enabled.wait_for(|e| *e) => {}
            _ = stopped(&mut shutdown) => return,
        }
        let receive = queue
            .client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(WAIT_TIME_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send();
        let received = tokio::select! {
            r = receive => r,
            _ = stopped(&mut shutdown) => return,
        };
        let messages = match received {
            Ok(out) => out.messages().to_vec(),
            Err(e) => {
                // moto gone (the stack is stopping) or overloaded: try again, without spinning.
                tracing::warn!(
                    "{}: ReceiveMessage on {QUEUE_NAME} failed: {}",
                    function.name,
                    sdk_err(e)
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stopped(&mut shutdown) => return,
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        let _busy = tracker.begin();
        handle_batch(&queue, &function, &messages).await;
    }
}

/// Invokes the function with one batch and deletes what its verdict says was handled.
async fn handle_batch(queue: &WebhookQueue, function: &Function, messages: &[Message]) {
    let event = json!({
        "Records": messages.iter().map(|m| record(m, &queue.arn, &queue.region)).collect::<Vec<_>>(),
    });
    let request_id = uuid::Uuid::new_v4().to_string();
    let started = now_ms();
    let answer = function.invoke_as(&request_id, &event).await;
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id().unwrap_or_default()).collect();
    let verdict = verdict(&ids, &answer);
    let kept: Vec<&str> = match &verdict {
        Verdict::Success => Vec::new(),
        Verdict::Partial(failed) => failed.iter().map(String::as_str).collect(),
        Verdict::Failure(_) => ids.clone(),
    };
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !kept.contains(&m.message_id().unwrap_or_default()))
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .build()
                .ok()
        })
        .collect();
    let deleted = entries.len();
    let delete_error = if entries.is_empty() {
        None
    } else {
        let sent = queue
            .client
            .delete_message_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await;
        match sent {
            Ok(out) if out.failed().is_empty() => None,
            Ok(out) => Some(format!("{} deletions failed", out.failed().len())),
            Err(e) => Some(sdk_err(e)),
        }
    };
    let outcome = match &verdict {
        Verdict::Success => "success".to_owned(),
        Verdict::Partial(failed) => format!("{} failed", failed.len()),
        Verdict::Failure(why) => format!("batch failed: {why}"),
    };
    let mut line = format!(
        "[local-aws] SQS batch {request_id} of {} from {QUEUE_NAME}: {outcome}; deleted {deleted}",
        messages.len()
    );
    if let Some(e) = &delete_error {
        line.push_str(&format!(" (DeleteMessageBatch: {e})"));
    }
    function.push_log(line);
    queue.record_batch(json!({
        "request_id": request_id,
        "time": iso_millis(started),
        "message_ids": ids,
        "receive_counts": messages
            .iter()
            .map(|m| {
                m.attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse::<u64>().ok())
            })
            .collect::<Vec<_>>(),
        "ok": answer.is_ok(),
        "error": answer.as_ref().err().map(ToString::to_string),
        "failed": kept,
        "deleted": deleted,
        "delete_error": delete_error,
    }));
}

type St = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/webhook-queue", get(status).post(set_mapping))
}

#[derive(serde::Deserialize)]
struct MappingUpdate {
    enabled: bool,
}

/// `POST /_twin/webhook-queue {"enabled": bool}`: pauses or resumes the event source mapping.
async fn set_mapping(State(s): St, body: axum::body::Bytes) -> Response {
    let update: MappingUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    match s.webhook_queue() {
        Some(queue) => {
            queue.set_enabled(update.enabled);
            axum::Json(json!({"enabled": queue.enabled()})).into_response()
        }
        None => no_queue(),
    }
}

fn no_queue() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "no webhook queue (the twin runs without moto)"})),
    )
        .into_response()
}

/// The queues' URLs and counts, and the batches so far; 404 when the twin has no webhook queue.
async fn status(State(s): St) -> Response {
    let Some(queue) = s.webhook_queue() else {
        return no_queue();
    };
    axum::Json(json!({
        "enabled": queue.enabled(),
        "queue_url": queue.url(),
        "queue_arn": queue.arn(),
        "dead_letter_queue_url": queue.dlq_url(),
        "queue": queue.counts(queue.url()).await,
        "dead_letter_queue": queue.counts(queue.dlq_url()).await,
        "batches": queue.batches(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageAttributeValue;

    const IDS: [&str; 3] = ["m1", "m2", "m3"];

    fn answer(v: Value) -> Result<Value, FunctionError> {
        Ok(v)
    }

    #[test]
    fn empty_or_absent_failures_delete_everything() {
        for v in [
            Value::Null,
            json!(""),
            json!({}),
            json!({"batchItemFailures": null}),
            json!({"batchItemFailures": []}),
            json!({"statusCode": 200}),
        ] {
            assert_eq!(verdict(&IDS, &answer(v.clone())), Verdict::Success, "{v}");
        }
    }

    #[test]
    fn listed_messages_stay() {
        let v = json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m2"}]});
        assert_eq!(verdict(&IDS, &answer(v)), Verdict::Partial(vec!["m2".into()]));
    }

    #[test]
    fn errors_and_unusable_answers_fail_the_batch() {
        let error = Err(FunctionError::new("Sandbox.Timedout", "Task timed out"));
        assert!(matches!(verdict(&IDS, &error), Verdict::Failure(_)));
        for v in [
            json!({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{"messageId": "m1"}]}),
            json!({"batchItemFailures": "m1"}),
            json!(["m1"]),
            json!("not a batch response"),
        ] {
            assert!(matches!(verdict(&IDS, &answer(v.clone())), Verdict::Failure(_)), "{v}");
        }
    }

    #[test]
    fn record_has_the_documented_shape() {
        let message = Message::builder()
            .message_id("059f36b4-87a3-44ab-83d2-661975830a7d")
            .receipt_handle("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a")
            .body("{\"foo\": 2}")
            .md5_of_body("e4e68fb7bd0e697a0ae8f1bb342846b3")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1545082649183")
            .attributes(MessageSystemAttributeName::SenderId, "AIDAIENQZJOLO23YVJ4VO")
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1545082649185",
            )
            .message_attributes(
                "client",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("bot-1")
                    .build()
                    .unwrap(),
            )
            .md5_of_message_attributes("d25a6aea97eb8f585bfa92d314504a92")
            .build();
        let arn = "arn:aws:sqs:us-east-1:123456789012:webhook-deliveries";
        let r = record(&message, arn, "us-east-1");
        assert_eq!(r["messageId"], "059f36b4-87a3-44ab-83d2-661975830a7d");
        assert_eq!(r["receiptHandle"], "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a");
        assert_eq!(r["body"], "{\"foo\": 2}");
        assert_eq!(
            r["attributes"],
            json!({
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            })
        );
        assert_eq!(
            r["messageAttributes"]["client"],
            json!({"stringValue": "bot-1", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        );
        assert_eq!(r["md5OfBody"], "e4e68fb7bd0e697a0ae8f1bb342846b3");
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], arn);
        assert_eq!(r["awsRegion"], "us-east-1");
    }
}
