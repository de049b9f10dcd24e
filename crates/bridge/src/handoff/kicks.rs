//! The delivery queue's messages as `WebhookSender` receives them: SQS batches of kicks, each naming a
//! handoff whose outbox to drain (see [`super::dispatch`]), answered with a partial batch response.
//!
//! An operator's `replay` of the dead-letter queue hands both of its kinds back the same way: a kick
//! that was redriven drains its handoff again, and an event given up on (`"dead_letter":
//! "webhook_event"`, with its exact body) is sent once more, outside the order; one the endpoint does
//! not take is reported failed, so `replay` leaves it in the queue.
//!
//! A kick that does not parse is dropped with its reason (retrying it cannot help); one whose drain
//! failed on something a retry can fix is reported as failed, so SQS offers it again after its
//! visibility timeout, and after the queue's redrive count it goes to the dead-letter queue, from where
//! `replay` sends it again. The handoffs of one batch drain one after the other: a handoff named twice
//! in a batch drains once.

use super::dispatch::{DeliveryQueue, Dispatcher, Drained, EndpointStore, Poster};
use super::outbox::Outbox;
use super::request::HandoffId;
use super::webhook::{Envelope, EventKind, WebhookId};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Deserialize;

/// A queue message's body: a kick, or (replayed) an event given up on.
#[derive(Deserialize)]
struct Body {
    handoff_id: String,
    dead_letter: Option<String>,
    client: Option<String>,
    sequence: Option<u64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    body: Option<String>,
}

/// What a queue message asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Drain(HandoffId),
    Resend { client: String, envelope: Envelope },
}

/// What a message asks; `Err`: why it asks nothing.
fn asked(body: Option<&str>) -> Result<Asked, &'static str> {
    let body: Body = serde_json::from_str(body.ok_or("empty_kick")?).map_err(|_| "malformed_kick")?;
    let id = HandoffId::parse(&body.handoff_id).ok_or("malformed_handoff_id")?;
    if body.dead_letter.is_none() {
        return Ok(Asked::Drain(id));
    }
    let malformed = "malformed_dead_letter";
    let sequence = body.sequence.ok_or(malformed)?;
    let kind = body
        .kind
        .as_deref()
        .and_then(EventKind::from_type_name)
        .ok_or(malformed)?;
    Ok(Asked::Resend {
        client: body.client.ok_or(malformed)?,
        envelope: Envelope {
            id: WebhookId::of(id.as_str(), sequence),
            kind,
            body: body.body.ok_or(malformed)?,
        },
    })
}

/// Drains the handoff of each kick of `event`; the answer names the kicks to offer again.
pub async fn serve<O: Outbox, E: EndpointStore, P: Poster, Q: DeliveryQueue>(
    dispatcher: &Dispatcher<O, E, P, Q>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut drained: Vec<HandoffId> = Vec::new();
    let mut failures = Vec::new();
    for record in &event.records {
        let result = match asked(record.body.as_deref()) {
            Err(reason) => {
                tracing::warn!(reason, "queue message dropped");
                continue;
            }
            Ok(Asked::Drain(id)) if drained.contains(&id) => continue,
            Ok(Asked::Drain(id)) => dispatcher.drain(&id).await.map(|outcome| {
                log(&id, outcome);
                drained.push(id);
                true
            }),
            Ok(Asked::Resend { client, envelope }) => dispatcher.resend(&client, &envelope).await,
        };
        let failed = match result {
            Ok(done) => !done,
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, "delivery failed; the message is offered again");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "delivery failed for good; message dropped");
                false
            }
        };
        if failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

fn log(id: &HandoffId, outcome: Drained) {
    match outcome {
        Drained::CaughtUp { sent } => tracing::info!(handoff = %id, sent, "caught up"),
        Drained::Postponed { sent } => tracing::info!(handoff = %id, sent, "postponed"),
        Drained::Continued { sent } => tracing::info!(handoff = %id, sent, "continued in a new kick"),
        Drained::NotMine => tracing::debug!(handoff = %id, "another drainer holds it"),
        Drained::NotDue => tracing::debug!(handoff = %id, "its retry is not due yet"),
        Drained::UnknownHandoff => tracing::info!(handoff = %id, "unknown handoff"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_a_kick_or_a_replayed_event_or_dropped_with_a_reason() {
        let id = HandoffId::mint(1_000, 7);
        let body = format!(r#"{{"handoff_id":"{id}"}}"#);
        assert_eq!(asked(Some(&body)), Ok(Asked::Drain(id.clone())));
        let letter = serde_json::json!({"dead_letter": "webhook_event", "client": "acme-bot",
            "handoff_id": id.as_str(), "sequence": 3, "webhook_id": "msg_x", "type": "handoff.message",
            "reason": "rejected", "body": "{}"});
        assert_eq!(
            asked(Some(&letter.to_string())),
            Ok(Asked::Resend {
                client: "acme-bot".into(),
                envelope: Envelope {
                    id: WebhookId::of(id.as_str(), 3),
                    kind: EventKind::Message,
                    body: "{}".into(),
                },
            })
        );
        let mut broken = letter.clone();
        broken["type"] = "handoff.nothing".into();
        assert_eq!(asked(Some(&broken.to_string())), Err("malformed_dead_letter"));
        assert_eq!(asked(None), Err("empty_kick"));
        assert_eq!(asked(Some("{")), Err("malformed_kick"));
        assert_eq!(asked(Some(r#"{"handoff_id":"x"}"#)), Err("malformed_handoff_id"));
    }
}
