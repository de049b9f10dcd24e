//! WhatsappHandler's service: customer messages from EUM into Amazon Connect chats.
//!
//! Delivery is at-least-once and unordered, so every message is first *claimed* in DynamoDB (a lease
//! that ends in a "done" record) and sent with a `ClientToken` derived from its wamid. A conversation
//! opens at most one chat at a time: the message holding the start lock, which the first registration
//! while no chat is active takes in the same write, starts it; the others wait for it and deliver into
//! it. A chat that turns out to be gone (AccessDenied) is first reconnected with the participant token,
//! then replaced by a new chat; the message is never dropped for that reason.
//!
//! What a message becomes is decided by [`crate::translate::plan_message`] once the conversation is read
//! (the menu the customer was shown rides on that read). WhatsApp statuses of what the bridge sent come
//! back here too and reach the agent as Connect receipts, or as a note when a message failed.

mod chat_start;
mod claimed;
mod decide;
mod deliver;
mod files;
#[cfg(test)]
mod fixtures;
mod hold;
mod order;
mod status;

use hold::OpenChats;

use crate::config::Config;
use crate::error::{EventTally, Rejection, RetryableFailure};
use crate::ids::{ContactId, ConversationKey};
use crate::media::handler::MediaHandler;
use crate::ports::{ContactCenter, Participant, StateStore, Whatsapp};
use crate::routes::Route;
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection};
use crate::whatsapp::{Change, CustomerMessage, Inbound, StatusUpdate, parse_eum};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

pub struct InboundBridge<S, C, P, W> {
    config: Config,
    store: S,
    center: C,
    participant: P,
    whatsapp: W,
    media: Option<Arc<dyn MediaHandler>>,
    open_chats: OpenChats,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        contact_id: ContactId,
        opened_chat: bool,
    },
    /// A reaction, as a note in the open chat.
    Noted {
        contact_id: ContactId,
    },
    /// The next page of a menu went to the customer.
    Paged,
    /// The customer ended the chat with the end keyword.
    EndedByCustomer {
        contact_id: ContactId,
    },
    Duplicate,
    Skipped(&'static str),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { opened_chat: true, .. } => "delivered_new_chat",
            Outcome::Delivered { .. } => "delivered",
            Outcome::Noted { .. } => "delivered_note",
            Outcome::Paged => "menu_page_sent",
            Outcome::EndedByCustomer { .. } => "ended_by_customer",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped(reason) => reason,
        }
    }

    fn contact_id(&self) -> Option<&str> {
        match self {
            Outcome::Delivered { contact_id, .. }
            | Outcome::Noted { contact_id }
            | Outcome::EndedByCustomer { contact_id } => Some(contact_id.as_str()),
            _ => None,
        }
    }
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    pub fn new(config: Config, store: S, center: C, participant: P, whatsapp: W) -> Self {
        Self {
            config,
            store,
            center,
            participant,
            whatsapp,
            media: None,
            open_chats: OpenChats::default(),
        }
    }

    /// The flow, words and keyword of the business number the customer wrote to.
    fn route(&self, key: &ConversationKey) -> &Route {
        self.config.routes.for_number(&key.phone_number_id)
    }

    /// Attaches customers' files to the chat (without it, media arrive as their description only).
    pub fn with_media(mut self, media: Arc<dyn MediaHandler>) -> Self {
        self.media = Some(media);
        self
    }

    /// Handles one Lambda event. Only retryable failures are returned, after every message was tried,
    /// so Lambda redelivers the event and the idempotency records skip what already went through.
    pub async fn handle(&self, event: &Value) -> Result<(), RetryableFailure> {
        let mut tally = EventTally::default();
        for event in sns::parsed(event, Direction::Inbound, |n| parse_eum(&n.message)) {
            for change in &event.changes {
                let (messages, statuses) = self.messages_of(change);
                let Some(origination) = &change.origination_id else {
                    if !messages.is_empty() {
                        log_rejection(
                            Direction::Inbound,
                            &Rejection::new(
                                "unknown_origination",
                                "the EUM header names no ARN for this phone number",
                            ),
                        );
                    }
                    continue;
                };
                for message in messages {
                    let started = Instant::now();
                    let key = ConversationKey::new(change.phone_number_id.clone(), message.customer_id.clone());
                    let result = Box::pin(self.bridge(&key, origination, message)).await;
                    let contact = result.as_ref().ok().and_then(Outcome::contact_id);
                    let outcome = match &result {
                        Ok(outcome) => outcome.label(),
                        Err(e) => e.outcome(),
                    };
                    log_outcome(
                        Direction::Inbound,
                        message.content.kind(),
                        outcome,
                        contact,
                        &key.digest(),
                        started.elapsed(),
                        result.as_ref().err(),
                        message.timestamp.checked_mul(1000),
                    );
                    tally.settled(result);
                }
                for status in statuses {
                    let Some(recipient) = &status.recipient else {
                        tracing::debug!(
                            direction = "inbound",
                            kind = "status",
                            outcome = "status_without_recipient"
                        );
                        continue;
                    };
                    let started = Instant::now();
                    let key = ConversationKey::new(change.phone_number_id.clone(), recipient.clone());
                    let result = Box::pin(self.status(&key, status)).await;
                    let (outcome, contact) = match &result {
                        Ok((outcome, contact)) => (*outcome, contact.as_ref().map(ContactId::as_str)),
                        Err(e) => (e.outcome(), None),
                    };
                    log_outcome(
                        Direction::Inbound,
                        &format!("status {}", status.status),
                        outcome,
                        contact,
                        &key.digest(),
                        started.elapsed(),
                        result.as_ref().err(),
                        status.timestamp.checked_mul(1000),
                    );
                    tally.settled(result);
                }
            }
        }
        tally.into_result()
    }

    /// The customer messages (oldest first) and the statuses of a change this deployment serves; the
    /// rest is logged.
    fn messages_of<'a>(&self, change: &'a Change) -> (Vec<&'a CustomerMessage>, Vec<&'a StatusUpdate>) {
        if !self.config.serves(&change.phone_number_id) {
            log_rejection(
                Direction::Inbound,
                &Rejection::new(
                    "unknown_phone_number",
                    "phone number id is not configured for this deployment",
                ),
            );
            return (Vec::new(), Vec::new());
        }
        let mut messages = Vec::new();
        let mut statuses = Vec::new();
        for item in &change.items {
            match item {
                Ok(Inbound::Message(m)) => messages.push(m),
                Ok(Inbound::Status(s)) => statuses.push(s),
                Err(rejection) => log_rejection(Direction::Inbound, rejection),
            }
        }
        // WhatsApp timestamps have one-second resolution; a stable sort keeps the batch order within one.
        messages.sort_by_key(|m| m.timestamp);
        statuses.sort_by_key(|s| s.timestamp);
        (messages, statuses)
    }
}
