//! The delivery queue's messages as `WebhookSender` receives them: SQS batches of kicks, each naming a
//! handoff whose outbox to drain (see [`super::dispatch`]), answered with a partial batch response.
//!
//! A kick that does not parse is dropped with its reason (retrying it cannot help); one whose drain
//! failed on something a retry can fix is reported as failed, so SQS offers it again after its
//! visibility timeout, and after the queue's redrive count it goes to the dead-letter queue, from where
//! `replay` sends it again. The handoffs of one batch drain one after the other: a handoff named twice
//! in a batch drains once.

use super::dispatch::{DeliveryQueue, Dispatcher, Drained, EndpointStore, Poster};
use super::outbox::Outbox;
use super::request::HandoffId;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Deserialize;

/// A kick's body.
#[derive(Deserialize)]
struct Kick {
    handoff_id: String,
}

/// The handoff a kick names; `Err`: why it names none.
fn handoff_of(body: Option<&str>) -> Result<HandoffId, &'static str> {
    let kick: Kick = serde_json::from_str(body.ok_or("empty_kick")?).map_err(|_| "malformed_kick")?;
    HandoffId::parse(&kick.handoff_id).ok_or("malformed_handoff_id")
}

/// Drains the handoff of each kick of `event`; the answer names the kicks to offer again.
pub async fn serve<O: Outbox, E: EndpointStore, P: Poster, Q: DeliveryQueue>(
    dispatcher: &Dispatcher<O, E, P, Q>,
    event: &SqsEvent,
) -> SqsBatchResponse {
    let mut drained: Vec<HandoffId> = Vec::new();
    let mut failures = Vec::new();
    for record in &event.records {
        let id = match handoff_of(record.body.as_deref()) {
            Ok(id) => id,
            Err(reason) => {
                tracing::warn!(reason, "kick dropped");
                continue;
            }
        };
        if drained.contains(&id) {
            continue;
        }
        match dispatcher.drain(&id).await {
            Ok(outcome) => {
                log(&id, outcome);
                drained.push(id);
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(handoff = %id, error = %e, "delivery failed; the kick is offered again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                failures.push(failure);
            }
            Err(e) => tracing::error!(handoff = %id, error = %e, "delivery failed for good; kick dropped"),
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
    fn a_kick_names_one_handoff_or_is_dropped_with_a_reason() {
        let id = HandoffId::mint(1_000, 7);
        let body = format!(r#"{{"handoff_id":"{id}"}}"#);
        assert_eq!(handoff_of(Some(&body)), Ok(id));
        assert_eq!(handoff_of(None), Err("empty_kick"));
        assert_eq!(handoff_of(Some("{")), Err("malformed_kick"));
        assert_eq!(handoff_of(Some(r#"{"handoff_id":"x"}"#)), Err("malformed_handoff_id"));
    }
}
