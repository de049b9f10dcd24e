//! Static configuration of the twin: account, Connect instance, business numbers, limits.
//!
//! Everything the simulated services validate against lives here, with defaults that match the
//! fixtures in `tests/fixtures`, so a test that needs nothing special can use
//! `TwinConfig::default()` and a test that exercises a limit (token expiry, message size, retry
//! timing) can change just that field.

use crate::lambda::FunctionName;
use std::time::Duration;

/// A WhatsApp business phone number registered in EUM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BusinessNumber {
    /// Meta's `phone_number_id` (appears in webhook `metadata.phone_number_id`).
    pub meta_phone_number_id: String,
    /// EUM id, `phone-number-id-<32 hex>` (last ARN segment with `/` → `-`).
    pub aws_id: String,
    /// Digits shown to customers (`metadata.display_phone_number`).
    pub display_phone_number: String,
    /// Meta WhatsApp Business Account id.
    pub waba_id: String,
    /// EUM WABA id, `waba-<32 hex>`.
    pub waba_aws_id: String,
}

impl BusinessNumber {
    /// `arn:aws:social-messaging:<region>:<account>:phone-number-id/<hex>`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        let hex = self.aws_id.strip_prefix("phone-number-id-").unwrap_or(&self.aws_id);
        format!("arn:aws:social-messaging:{region}:{account}:phone-number-id/{hex}")
    }

    /// `arn:aws:social-messaging:<region>:<account>:waba/<hex>`.
    pub fn waba_arn(&self, region: &str, account: &str) -> String {
        let hex = self.waba_aws_id.strip_prefix("waba-").unwrap_or(&self.waba_aws_id);
        format!("arn:aws:social-messaging:{region}:{account}:waba/{hex}")
    }
}

/// An inbound contact flow the twin knows, and what it says when the customer connects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TwinFlow {
    pub id: String,
    pub greeting: Option<String>,
}

/// Everything the twin's simulated services are configured with.
#[derive(Debug, Clone)]
pub struct TwinConfig {
    pub account_id: String,
    pub region: String,
    pub instance_id: String,
    pub contact_flow_id: String,
    /// SNS topic Connect streams to; only contacts streaming to this ARN reach ConnectHandler.
    pub connect_stream_topic_arn: String,
    /// SNS topic Connect streams the Handoff API's chats to; also ConnectHandler's, so that a
    /// handoff's items are told apart by topic without a second function.
    pub handoff_stream_topic_arn: String,
    /// SNS topic of the EUM event destination; its events reach WhatsappHandler.
    pub eum_topic_arn: String,
    pub business_numbers: Vec<BusinessNumber>,
    /// Text of the SYSTEM message the simulated contact flow sends when the customer connects;
    /// `None` = the flow sends no greeting.
    pub greeting: Option<String>,
    /// Published inbound flows besides `contact_flow_id` (the flows of a number routed elsewhere),
    /// each with its own greeting.
    pub more_contact_flows: Vec<TwinFlow>,
    /// Lifetime of a connection token (AWS: 1 day).
    pub connection_token_ttl: Duration,
    /// Maximum `Content` size of SendMessage in bytes (AWS: 16 384).
    pub max_message_bytes: usize,
    /// Maximum characters of a `text/plain` or `text/markdown` SendMessage (the API reference: 1024).
    pub max_text_chars: usize,
    /// Delay before each retry of a failed asynchronous (SNS) invocation; the length is the
    /// number of retries (AWS: 2 retries, about 1 and 2 minutes apart).
    pub retry_delays: Vec<Duration>,
    /// Lambda timeouts, as `template.yaml` sets them: WhatsappHandler's is long enough to transcribe a
    /// voice note (Transcribe hears audio no faster than it plays).
    pub whatsapp_handler_timeout: Duration,
    pub connect_handler_timeout: Duration,
    /// `MaximumEventAgeInSeconds` of each function's EventInvokeConfig, as `template.yaml` sets them:
    /// an event not yet handled successfully this long after it was queued is not tried again but
    /// goes to the on-failure destination (condition `EventAgeExceeded`).
    pub whatsapp_handler_event_age: Duration,
    pub connect_handler_event_age: Duration,
    /// Lambda timeouts of the Handoff API's functions (not in `template.yaml` yet: the longest an
    /// HTTP API integration can wait, and the authorizer's own limit).
    pub handoff_api_timeout: Duration,
    pub handoff_authorizer_timeout: Duration,
    /// Lambda timeout of WebhookSender, fed by the webhook queue; Lambda refuses an event source
    /// mapping whose function may run longer than the queue's visibility timeout.
    pub webhook_sender_timeout: Duration,
    /// The webhook queue's `VisibilityTimeout` (30 s, as the queue is to be deployed; whole seconds,
    /// as SQS takes it) and its redrive policy's `maxReceiveCount`: how long a message the sender
    /// failed stays hidden, and after how many receives it goes to the queue's DLQ instead. Tests
    /// shorten the first.
    pub webhook_queue_visibility_timeout: Duration,
    pub webhook_queue_max_receive_count: u32,
    /// How long the HTTP API waits for its Lambda integration (AWS: 30 s, then 503) and for a
    /// Lambda authorizer (AWS: 10 s), whatever the functions' own timeouts (`http_api`).
    pub http_api_integration_timeout: Duration,
    pub http_api_authorizer_timeout: Duration,
    /// Deliver a Connect contact's streamed items concurrently, each its own asynchronous
    /// invocation that waits for no earlier one, as SNS → Lambda can; `false` (the default) keeps
    /// them in publish order through a per-contact worker. `POST /_twin/sns` can change it.
    pub concurrent_stream: bool,
    /// Set by [`TwinConfig::with_aws_time_scale`]: AWS's durations are divided by this.
    pub aws_time_scale: Option<u32>,
}

/// Lambda's asynchronous retry schedule: attempt 2 one minute after attempt 1 failed, attempt 3
/// two minutes after attempt 2 (Lambda developer guide, "How Lambda handles errors and retries
/// with asynchronous invocation").
pub const AWS_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// Lambda's default `MaximumEventAgeInSeconds` (6 hours, also the largest allowed).
pub const AWS_MAXIMUM_EVENT_AGE: Duration = Duration::from_secs(6 * 3600);

/// HTTP API quotas (API Gateway developer guide, "HTTP API quotas"): maximum integration timeout
/// and timeout for a Lambda authorizer's response; neither can be raised.
pub const AWS_HTTP_API_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
pub const AWS_HTTP_API_AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook queue's visibility timeout as it is to be deployed, and WebhookSender's timeout: no
/// longer, or Lambda would not map the queue to it.
pub const WEBHOOK_QUEUE_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
pub const WEBHOOK_SENDER_TIMEOUT: Duration = Duration::from_secs(30);

/// The twin's other inbound flows: one that answers in Spanish and one in Portuguese.
pub const SPANISH_FLOW_ID: &str = "3c4d5e6f-7081-4a92-8b3c-4d5e6f708192";
pub const PORTUGUESE_FLOW_ID: &str = "4d5e6f70-8192-4ba3-9c4d-5e6f708192a3";

impl TwinConfig {
    /// The greeting of a published inbound flow, `None` when the twin has no such flow (an outer
    /// `None`) or it says nothing (an inner one).
    pub fn flow_greeting(&self, flow_id: &str) -> Option<Option<String>> {
        if flow_id == self.contact_flow_id {
            return Some(self.greeting.clone());
        }
        self.more_contact_flows
            .iter()
            .find(|f| f.id == flow_id)
            .map(|f| f.greeting.clone())
    }

    /// The oldest event of `function` that Lambda still tries.
    pub fn maximum_event_age(&self, function: FunctionName) -> Duration {
        match function {
            FunctionName::WhatsappHandler => self.whatsapp_handler_event_age,
            FunctionName::ConnectHandler => self.connect_handler_event_age,
            // Only ever invoked synchronously; Lambda's default if anything queued an event for them.
            FunctionName::HandoffApi | FunctionName::HandoffAuthorizer | FunctionName::WebhookSender => {
                AWS_MAXIMUM_EVENT_AGE
            }
        }
    }

    /// The Lambda timeout of `function`.
    pub fn function_timeout(&self, function: FunctionName) -> Duration {
        match function {
            FunctionName::WhatsappHandler => self.whatsapp_handler_timeout,
            FunctionName::ConnectHandler => self.connect_handler_timeout,
            FunctionName::HandoffApi => self.handoff_api_timeout,
            FunctionName::HandoffAuthorizer => self.handoff_authorizer_timeout,
            FunctionName::WebhookSender => self.webhook_sender_timeout,
        }
    }
}

impl Default for TwinConfig {
    fn default() -> Self {
        Self {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            instance_id: "5d1f0a3c-8e2b-4c6d-9f1a-2b3c4d5e6f70".into(),
            contact_flow_id: "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d".into(),
            connect_stream_topic_arn: "arn:aws:sns:us-east-1:123456789012:connect-chat-stream".into(),
            handoff_stream_topic_arn: "arn:aws:sns:us-east-1:123456789012:handoff-chat-stream".into(),
            eum_topic_arn: "arn:aws:sns:us-east-1:123456789012:whatsapp-eum-events".into(),
            business_numbers: default_business_numbers(),
            greeting: Some("Thanks for contacting us. An agent will be with you shortly.".into()),
            more_contact_flows: vec![
                TwinFlow {
                    id: SPANISH_FLOW_ID.into(),
                    greeting: Some("Gracias por escribirnos. Un agente te atenderá en breve.".into()),
                },
                TwinFlow {
                    id: PORTUGUESE_FLOW_ID.into(),
                    greeting: Some("Obrigado pelo contato. Um atendente vai falar com você em breve.".into()),
                },
            ],
            connection_token_ttl: Duration::from_secs(24 * 3600),
            max_message_bytes: 16_384,
            max_text_chars: 1024,
            retry_delays: vec![Duration::from_millis(200), Duration::from_millis(400)],
            whatsapp_handler_timeout: Duration::from_secs(300),
            connect_handler_timeout: Duration::from_secs(30),
            whatsapp_handler_event_age: AWS_MAXIMUM_EVENT_AGE,
            connect_handler_event_age: Duration::from_secs(3600),
            handoff_api_timeout: AWS_HTTP_API_INTEGRATION_TIMEOUT,
            handoff_authorizer_timeout: AWS_HTTP_API_AUTHORIZER_TIMEOUT,
            webhook_sender_timeout: WEBHOOK_SENDER_TIMEOUT,
            webhook_queue_visibility_timeout: WEBHOOK_QUEUE_VISIBILITY_TIMEOUT,
            webhook_queue_max_receive_count: 5,
            http_api_integration_timeout: AWS_HTTP_API_INTEGRATION_TIMEOUT,
            http_api_authorizer_timeout: AWS_HTTP_API_AUTHORIZER_TIMEOUT,
            concurrent_stream: false,
            aws_time_scale: None,
        }
    }
}

/// Two numbers on two WABAs; the first matches the fixtures.
pub fn default_business_numbers() -> Vec<BusinessNumber> {
    vec![
        BusinessNumber {
            meta_phone_number_id: "106540352242922".into(),
            aws_id: "phone-number-id-976c72a700aac43eaf573ae050b1e2f3".into(),
            display_phone_number: "15550783881".into(),
            waba_id: "102290129340398".into(),
            waba_aws_id: "waba-fb2594b8a7974770b128a409e2a1c3d4".into(),
        },
        BusinessNumber {
            meta_phone_number_id: "113870475123456".into(),
            aws_id: "phone-number-id-4b1e6d2f9a8c4e7b8d3f2a1c0e9d8b7a".into(),
            display_phone_number: "15550991234".into(),
            waba_id: "109876543210987".into(),
            waba_aws_id: "waba-0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f".into(),
        },
    ]
}

impl TwinConfig {
    /// AWS's proportions of time, `factor` times faster: the function timeouts and the maximum
    /// event age set here are divided by `factor`, and the retries come after Lambda's one and two
    /// minutes divided by `factor` (30: a 300 s timeout is 10 s, retries after 2 s and 4 s). Only
    /// durations AWS fixes are scaled; the bridge's own leases and waits are not, which is the point:
    /// they are seen against AWS's schedule. `factor` 0 counts as 1.
    pub fn with_aws_time_scale(mut self, factor: u32) -> Self {
        let factor = factor.max(1);
        self.whatsapp_handler_timeout /= factor;
        self.connect_handler_timeout /= factor;
        self.handoff_api_timeout /= factor;
        self.handoff_authorizer_timeout /= factor;
        self.webhook_sender_timeout /= factor;
        self.http_api_integration_timeout /= factor;
        self.http_api_authorizer_timeout /= factor;
        self.whatsapp_handler_event_age /= factor;
        self.connect_handler_event_age /= factor;
        self.retry_delays = AWS_RETRY_DELAYS.iter().map(|d| *d / factor).collect();
        self.aws_time_scale = Some(factor);
        self
    }

    /// The number whose Meta id, EUM id, ARN or display number is `id`.
    pub fn find_number(&self, id: &str) -> Option<&BusinessNumber> {
        self.business_numbers.iter().find(|n| {
            n.meta_phone_number_id == id
                || n.aws_id == id
                || n.display_phone_number == id
                || n.arn(&self.region, &self.account_id) == id
        })
    }

    /// ARN Lambda reports as the invoked function.
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `key:` in the resource block `name:` of `template.yaml`, if it sets one.
    fn template_value(template: &str, name: &str, key: &str) -> Option<u64> {
        let block = template.split(&format!("\n  {name}:\n")).nth(1)?;
        block
            .lines()
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .find_map(|l| l.trim().strip_prefix(&format!("{key}:"))?.trim().parse().ok())
    }

    #[test]
    fn durations_are_the_templates() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        let template = std::fs::read_to_string(path).unwrap();
        let cfg = TwinConfig::default();
        for (name, timeout) in [
            ("WhatsappHandler", cfg.whatsapp_handler_timeout),
            ("ConnectHandler", cfg.connect_handler_timeout),
        ] {
            let function = FunctionName::parse(name).unwrap();
            assert_eq!(
                template_value(&template, name, "Timeout"),
                Some(timeout.as_secs()),
                "{name}"
            );
            let age = template_value(&template, name, "MaximumEventAgeInSeconds");
            assert_eq!(
                age.unwrap_or(AWS_MAXIMUM_EVENT_AGE.as_secs()),
                cfg.maximum_event_age(function).as_secs(),
                "{name}"
            );
        }
    }

    #[test]
    fn aws_time_scale_keeps_the_proportions() {
        let cfg = TwinConfig::default().with_aws_time_scale(30);
        assert_eq!(cfg.whatsapp_handler_timeout, Duration::from_secs(10));
        assert_eq!(cfg.connect_handler_timeout, Duration::from_secs(1));
        assert_eq!(cfg.retry_delays, [Duration::from_secs(2), Duration::from_secs(4)]);
        assert_eq!(
            cfg.maximum_event_age(FunctionName::WhatsappHandler),
            Duration::from_secs(720)
        );
        assert_eq!(
            cfg.maximum_event_age(FunctionName::ConnectHandler),
            Duration::from_secs(120)
        );
        assert_eq!(cfg.aws_time_scale, Some(30));
    }
}
