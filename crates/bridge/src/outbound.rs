//! ConnectHandler's service: what agents, bots and flows say in Connect, out to the customer on WhatsApp.
//!
//! Each streamed item is planned by [`crate::translate::plan_outbound`]; this service only carries the
//! plan out. A message is claimed by its Connect item id before it is sent, because SNS may deliver the
//! same item twice and WhatsApp has no idempotency key of its own.

use crate::claims;
use crate::connect_stream::{StreamItem, parse_item};
use crate::error::{FailureKind, PortError, Rejection, RetryableFailure};
use crate::ports::{Claim, PortResult, StateStore, Whatsapp};
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection};
use crate::translate::{OutboundPlan, plan_outbound};
use crate::whatsapp::OutgoingMessage;
use serde_json::Value;
use std::time::Instant;

pub struct OutboundBridge<S, W> {
    store: S,
    whatsapp: W,
}

/// What happened to one item; `customer` is the conversation's log hash.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Delivered { customer: String },
    Ended { customer: String },
    Duplicate,
    Skipped(&'static str),
}

impl<S: StateStore, W: Whatsapp> OutboundBridge<S, W> {
    pub fn new(store: S, whatsapp: W) -> Self {
        Self { store, whatsapp }
    }

    /// Handles one Lambda event; returns only retryable failures (see [`crate::inbound`]).
    pub async fn handle(&self, event: &Value) -> Result<(), RetryableFailure> {
        let notifications = match sns::notifications(event) {
            Ok(n) => n,
            Err(rejection) => {
                log_rejection(Direction::Outbound, &rejection);
                return Ok(());
            }
        };
        let total = notifications.len();
        let mut failures = Vec::new();
        for notification in notifications {
            let item = match notification.and_then(|n| parse_item(&n)) {
                Ok(item) => item,
                Err(rejection) => {
                    log_rejection(Direction::Outbound, &rejection);
                    continue;
                }
            };
            let started = Instant::now();
            let result = self.bridge(&item).await;
            let (outcome, customer) = match &result {
                Ok(Outcome::Delivered { customer }) => ("delivered", customer.as_str()),
                Ok(Outcome::Ended { customer }) => ("conversation_ended", customer.as_str()),
                Ok(Outcome::Duplicate) => ("duplicate", ""),
                Ok(Outcome::Skipped(reason)) => (*reason, ""),
                Err(e) if e.is_retryable() => ("failed_will_retry", ""),
                Err(_) => ("failed_dropped", ""),
            };
            if let Ok(Outcome::Skipped(reason)) = &result {
                tracing::debug!(direction = "outbound", kind = %item.kind(), reason, "not forwarded");
            } else {
                log_outcome(
                    Direction::Outbound,
                    &item.kind(),
                    outcome,
                    Some(item.initial_contact_id.as_str()),
                    customer,
                    started.elapsed(),
                    result.as_ref().err(),
                );
            }
            if let Err(e) = result
                && e.is_retryable()
            {
                failures.push(e);
            }
        }
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(RetryableFailure { failed, total, first }),
        }
    }

    async fn bridge(&self, item: &StreamItem) -> PortResult<Outcome> {
        match plan_outbound(item) {
            OutboundPlan::Skip { reason } => Ok(Outcome::Skipped(reason)),
            OutboundPlan::EndConversation => {
                let Some(contact) = self.store.load_contact(&item.initial_contact_id).await? else {
                    return Ok(Outcome::Skipped("unknown_contact"));
                };
                let key = contact.conversation_key();
                self.store.mark_ended(&key, &item.initial_contact_id).await?;
                Ok(Outcome::Ended { customer: key.digest() })
            }
            OutboundPlan::SendText { body } => {
                let id = item.id.as_str();
                let (claim, contact) = tokio::join!(
                    claims::claim(&self.store, "connect", id),
                    self.store.load_contact(&item.initial_contact_id)
                );
                match claim? {
                    Claim::Done => return Ok(Outcome::Duplicate),
                    Claim::Busy => {
                        return Err(PortError::new(
                            FailureKind::Transient,
                            "claim",
                            "another invocation is bridging this item",
                        ));
                    }
                    Claim::Acquired => {}
                }
                let sent = match contact {
                    Ok(Some(contact)) => {
                        let message = OutgoingMessage::text(&contact.customer_id, body);
                        self.whatsapp
                            .send(&contact.origination_id, &message)
                            .await
                            .map(|_| Some(contact.conversation_key().digest()))
                    }
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(Some(customer)) => {
                        self.store.complete("connect", id, None).await?;
                        Ok(Outcome::Delivered { customer })
                    }
                    Ok(None) => {
                        // Not one of our chats (another integration may share the topic): nothing to retry.
                        self.store.release("connect", id).await?;
                        log_rejection(
                            Direction::Outbound,
                            &Rejection::new("unknown_contact", "no WhatsApp conversation is mapped to this contact"),
                        );
                        Ok(Outcome::Skipped("unknown_contact"))
                    }
                    Err(e) => {
                        if let Err(release) = self.store.release("connect", id).await {
                            tracing::warn!(error = %release, "could not release claim; it expires on its own");
                        }
                        Err(e)
                    }
                }
            }
        }
    }
}
