//! The webhook delivery's adapters: the delivery queue on SQS (kicks, and the dead letters `replay`
//! reads) and the bots' endpoints over HTTPS.
//!
//! A kick is `{"handoff_id": "…"}`, sent with the delay its retry asks (SQS holds a message at most
//! 15 minutes; [`crate::handoff::dispatch`] chains longer waits). A dead letter is the event as it was
//! owed, with who it was for and why it was given up on:
//! `{"dead_letter": "webhook_event", "client", "handoff_id", "sequence", "webhook_id", "type", "reason",
//! "body"}`; its `body` is the exact JSON the bot would have received, so a replay signs the same bytes
//! under the same `webhook-id`.

use super::{Boxed, classify};
use crate::handoff::dispatch::{ATTEMPT_TIMEOUT, DeadLetter, DeliveryQueue, MAX_KICK_DELAY, Posted, Poster};
use crate::handoff::request::HandoffId;
use crate::handoff::webhook::delivery::Answer;
use crate::handoff::webhook::endpoint::WebhookUrl;
use crate::handoff::webhook::signature::Headers;
use crate::ports::PortResult;
use crate::telemetry::now_ms;
use serde_json::json;
use std::time::Duration;

/// The delivery queue and its dead-letter queue (`WEBHOOK_QUEUE_URL`, `WEBHOOK_DEAD_LETTER_QUEUE_URL`).
#[derive(Clone)]
pub struct SqsDeliveryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_url: String,
}

impl SqsDeliveryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String, dead_letter_url: String) -> Self {
        Self {
            client,
            queue_url,
            dead_letter_url,
        }
    }

    async fn send(&self, url: &str, body: String, delay: Duration) -> PortResult<()> {
        let delay = i32::try_from(delay.min(MAX_KICK_DELAY).as_secs()).unwrap_or(0);
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("SendMessage", e, false))?;
        Ok(())
    }
}

impl DeliveryQueue for SqsDeliveryQueue {
    async fn kick(&self, id: &HandoffId, delay: Duration) -> PortResult<()> {
        let body = json!({ "handoff_id": id.as_str() }).to_string();
        self.send(&self.queue_url, body, delay).await
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> PortResult<()> {
        let body = json!({
            "dead_letter": "webhook_event",
            "client": letter.client,
            "handoff_id": letter.handoff_id.as_str(),
            "sequence": letter.sequence,
            "webhook_id": letter.envelope.id.as_str(),
            "type": letter.envelope.kind.type_name(),
            "reason": letter.reason,
            "body": letter.envelope.body,
        })
        .to_string();
        self.send(&self.dead_letter_url, body, Duration::ZERO).await
    }
}

/// The bots' endpoints: one POST per attempt, no redirects followed (see
/// [`crate::handoff::webhook::delivery`]), within [`ATTEMPT_TIMEOUT`].
#[derive(Clone)]
pub struct HttpPoster {
    http: reqwest::Client,
}

impl HttpPoster {
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("whatsapp-connect-bridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http })
    }
}

impl Poster for HttpPoster {
    async fn post(&self, url: &WebhookUrl, headers: &Headers, body: &str) -> Posted {
        let mut request = self
            .http
            .post(url.as_str())
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let retry_after_ms = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|secs| now_ms().saturating_add(secs.saturating_mul(1000)));
                Posted {
                    answer: Answer::Status(response.status().as_u16()),
                    retry_after_ms,
                }
            }
            Err(e) => Posted {
                answer: if e.is_timeout() {
                    Answer::TimedOut
                } else {
                    Answer::Unreachable
                },
                retry_after_ms: None,
            },
        }
    }
}
