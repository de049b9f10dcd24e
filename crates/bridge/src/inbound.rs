//! WhatsappHandler's service: customer messages from EUM into Amazon Connect chats.
//!
//! Delivery is at-least-once and unordered, so every message is first *claimed* in DynamoDB (a lease
//! that ends in a "done" record) and sent with a `ClientToken` derived from its wamid. A conversation
//! opens at most one chat at a time: the invocation that wins a conditional write (the start lock) starts
//! it, the others wait for it and deliver into it. A chat that turns out to be gone (AccessDenied) is
//! first reconnected with the participant token, then replaced by a new chat; the message is never
//! dropped for that reason.

use crate::claims;
use crate::config::Config;
use crate::error::{FailureKind, PortError, Rejection, RetryableFailure};
use crate::ids::{ContactId, ConversationKey, OriginationId, short_hash};
use crate::ports::{
    ActiveChat, ChatRequest, Claim, ContactCenter, ContactRecord, Conversation, ConversationState, ConversationView,
    Inflight, Participant, PortResult, StartLock, StateStore,
};
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection, now_ms};
use crate::translate::{InboundPlan, plan_inbound};
use crate::whatsapp::{Change, CustomerMessage, Inbound, parse_eum};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a start lock holds off other invocations of the same customer.
const START_LOCK_MS: i64 = 30_000;
/// How long a message waits for another invocation's chat start before giving up (and retrying later).
const WAIT_FOR_START: Duration = Duration::from_secs(20);
const POLL_START: Duration = Duration::from_millis(100);
/// How long a message waits for earlier messages of its conversation before going anyway.
const WAIT_FOR_TURN: Duration = Duration::from_secs(15);
const POLL_TURN: Duration = Duration::from_millis(25);
/// Refresh a connection token this long before it expires.
const TOKEN_MARGIN_S: i64 = 60;
/// Keep state a week past the longest chat, so a returning customer is recognised.
const STATE_RETENTION_S: i64 = 7 * 24 * 3600;

pub struct InboundBridge<S, C, P> {
    config: Config,
    store: S,
    center: C,
    participant: P,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered { contact_id: ContactId, opened_chat: bool },
    Duplicate,
    Skipped(&'static str),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { opened_chat: true, .. } => "delivered_new_chat",
            Outcome::Delivered { .. } => "delivered",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped(reason) => reason,
        }
    }
}

/// The chat a message goes into.
struct ChatReady {
    chat: ActiveChat,
    /// This delivery started the chat.
    opened: bool,
    /// The chat was started while this delivery was under way (by it or by another one).
    after_start: bool,
}

impl<S: StateStore, C: ContactCenter, P: Participant> InboundBridge<S, C, P> {
    pub fn new(config: Config, store: S, center: C, participant: P) -> Self {
        Self {
            config,
            store,
            center,
            participant,
        }
    }

    /// Handles one Lambda event. Only retryable failures are returned, after every message was tried,
    /// so Lambda redelivers the event and the idempotency records skip what already went through.
    pub async fn handle(&self, event: &Value) -> Result<(), RetryableFailure> {
        let notifications = match sns::notifications(event) {
            Ok(n) => n,
            Err(rejection) => {
                log_rejection(Direction::Inbound, &rejection);
                return Ok(());
            }
        };
        let mut failures = Vec::new();
        let mut total = 0;
        for notification in notifications {
            let event = match notification.and_then(|n| parse_eum(&n.message)) {
                Ok(event) => event,
                Err(rejection) => {
                    log_rejection(Direction::Inbound, &rejection);
                    continue;
                }
            };
            for change in &event.changes {
                let messages = self.messages_of(change);
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
                    total += 1;
                    let started = Instant::now();
                    let key = ConversationKey::new(change.phone_number_id.clone(), message.customer_id.clone());
                    let result = self.bridge(&key, origination, message).await;
                    let contact = match &result {
                        Ok(Outcome::Delivered { contact_id, .. }) => Some(contact_id.as_str()),
                        _ => None,
                    };
                    let outcome = match &result {
                        Ok(outcome) => outcome.label(),
                        Err(e) if e.is_retryable() => "failed_will_retry",
                        Err(_) => "failed_dropped",
                    };
                    log_outcome(
                        Direction::Inbound,
                        message.content.kind(),
                        outcome,
                        contact,
                        &key.digest(),
                        started.elapsed(),
                        result.as_ref().err(),
                    );
                    match result {
                        Err(e) if e.is_retryable() => failures.push(e),
                        _ => {}
                    }
                }
            }
        }
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(RetryableFailure { failed, total, first }),
        }
    }

    /// The customer messages of a change this deployment serves, oldest first; the rest is logged.
    fn messages_of<'a>(&self, change: &'a Change) -> Vec<&'a CustomerMessage> {
        if !self.config.serves(&change.phone_number_id) {
            log_rejection(
                Direction::Inbound,
                &Rejection::new(
                    "unknown_phone_number",
                    "phone number id is not configured for this deployment",
                ),
            );
            return Vec::new();
        }
        let mut messages = Vec::new();
        for item in &change.items {
            match item {
                Ok(Inbound::Message(m)) => messages.push(m),
                Ok(Inbound::Status(s)) => {
                    tracing::debug!(direction = "inbound", kind = "status", status = %s.status, outcome = "status_not_bridged");
                }
                Err(rejection) => log_rejection(Direction::Inbound, rejection),
            }
        }
        // WhatsApp timestamps have one-second resolution; a stable sort keeps the batch order within one.
        messages.sort_by_key(|m| m.timestamp);
        messages
    }

    async fn bridge(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
    ) -> PortResult<Outcome> {
        let (content_type, content) = match plan_inbound(&message.content) {
            InboundPlan::Send { content_type, content } => (content_type, content),
            InboundPlan::Skip { reason } => return Ok(Outcome::Skipped(reason)),
        };
        let wamid = message.wamid.as_str();
        let me = Inflight {
            tag: format!("q_{}", short_hash(wamid)),
            timestamp: message.timestamp,
            registered_ms: now_ms(),
        };
        // The claim and the registration (which also reads the conversation) are independent: one round trip.
        let (claim, view) = tokio::join!(claims::claim(&self.store, "wa", wamid), self.store.register(key, &me));
        match claim? {
            Claim::Done => {
                // Our registration may have re-added a finished message; left there it would hold later
                // ones back.
                if view.is_ok() {
                    self.store.unregister(key, &me.tag).await?;
                }
                return Ok(Outcome::Duplicate);
            }
            // Busy only after the wait ran out; the holder shares our registration and removes it.
            Claim::Busy => {
                return Err(PortError::new(
                    FailureKind::Transient,
                    "claim",
                    "another invocation is bridging this message",
                ));
            }
            Claim::Acquired => {}
        }
        let delivered = match view {
            Ok(view) => {
                let view = self.wait_for_turn(key, &me, view).await;
                match view {
                    Ok(view) => {
                        self.deliver(
                            key,
                            origination,
                            message,
                            (content_type, &content),
                            &me,
                            view.conversation,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match delivered {
            Ok((contact_id, opened_chat)) => {
                self.store.complete("wa", wamid, Some((key, &me.tag))).await?;
                Ok(Outcome::Delivered {
                    contact_id,
                    opened_chat,
                })
            }
            Err(e) => {
                let (release, unregister) =
                    tokio::join!(self.store.release("wa", wamid), self.store.unregister(key, &me.tag));
                if let Err(cleanup) = release.and(unregister) {
                    tracing::warn!(error = %cleanup, "could not clean up after a failure; leases expire on their own");
                }
                Err(e)
            }
        }
    }

    /// Waits while an earlier message of the same conversation is still being bridged, so messages that
    /// arrive together reach the agent in the order the customer sent them. Bounded: a delivery that
    /// crashed stops counting after its lease, and nobody waits longer than `WAIT_FOR_TURN`.
    async fn wait_for_turn(
        &self,
        key: &ConversationKey,
        me: &Inflight,
        mut view: ConversationView,
    ) -> PortResult<ConversationView> {
        let deadline = Instant::now() + WAIT_FOR_TURN;
        let mut poll = POLL_TURN;
        loop {
            let now = now_ms();
            let earlier = view
                .inflight
                .iter()
                .any(|other| other.tag != me.tag && other.registered_ms + claims::LEASE_MS > now && other.precedes(me));
            if !earlier || Instant::now() > deadline {
                return Ok(view);
            }
            tokio::time::sleep(poll).await;
            poll = claims::backoff(poll);
            view = self.store.load_conversation(key).await?;
        }
    }

    async fn deliver(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        (content_type, content): (&str, &str),
        me: &Inflight,
        mut conversation: Option<Conversation>,
    ) -> PortResult<(ContactId, bool)> {
        // Twice at most: the chat we knew, then the one we open when it turns out to be over.
        for _ in 0..3 {
            let ready = self.ensure_chat(key, origination, message, conversation.take()).await?;
            let (chat, opened) = (ready.chat, ready.opened);
            if ready.after_start {
                // Messages that arrived while the chat was starting have registered by now; the
                // earliest goes first, whichever of them happened to start the chat.
                let view = self.store.load_conversation(key).await?;
                self.wait_for_turn(key, me, view).await?;
            }
            // Scoped to the contact: a resend into a replacement chat must not be deduplicated away.
            let client_token = short_hash(&format!("{}#{}", message.wamid, chat.contact_id));
            match self.send(key, &chat, content_type, content, &client_token).await {
                Ok(()) => return Ok((chat.contact_id, opened)),
                Err(e) if e.is_chat_gone() => {
                    tracing::info!(contact_id = %chat.contact_id, "chat is over; opening a new one");
                    self.store.mark_ended(key, &chat.contact_id).await?;
                    conversation = self.store.load_conversation(key).await?.conversation;
                }
                Err(e) => return Err(e),
            }
        }
        Err(PortError::new(
            FailureKind::Transient,
            "SendMessage",
            "every chat opened for the message ended before it could be delivered",
        ))
    }

    /// Sends with the stored connection token, reconnecting once with the participant token if needed.
    async fn send(
        &self,
        key: &ConversationKey,
        chat: &ActiveChat,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<()> {
        let fresh = chat.connection_expires_at > now_ms() / 1000 + TOKEN_MARGIN_S;
        let chat = if fresh {
            chat.clone()
        } else {
            self.reconnect(key, chat).await?
        };
        match self
            .participant
            .send_message(&chat.connection_token, content_type, content, client_token)
            .await
        {
            Err(e) if e.is_chat_gone() && fresh => {
                let chat = self.reconnect(key, &chat).await?;
                self.participant
                    .send_message(&chat.connection_token, content_type, content, client_token)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        }
    }

    async fn reconnect(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<ActiveChat> {
        let connection = self.participant.connect(&chat.participant_token).await?;
        let chat = ActiveChat {
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
            ..chat.clone()
        };
        self.store.update_connection(key, &chat).await?;
        Ok(chat)
    }

    /// Returns the conversation's active chat, starting one (or waiting for another invocation's start).
    async fn ensure_chat(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        mut conversation: Option<Conversation>,
    ) -> PortResult<ChatReady> {
        let deadline = Instant::now() + WAIT_FOR_START;
        let mut waited = false;
        loop {
            if Instant::now() > deadline {
                return Err(PortError::new(
                    FailureKind::Transient,
                    "StartChatContact",
                    "another invocation's chat start did not finish in time",
                ));
            }
            match conversation.as_ref().map(|c| &c.state) {
                Some(ConversationState::Active(chat)) => {
                    return Ok(ChatReady {
                        chat: chat.clone(),
                        opened: false,
                        after_start: waited,
                    });
                }
                Some(ConversationState::Starting { lock_until }) if *lock_until > now_ms() => {
                    waited = true;
                    tokio::time::sleep(POLL_START).await;
                    conversation = self.store.load_conversation(key).await?.conversation;
                    continue;
                }
                _ => {}
            }
            match self
                .store
                .lock_for_start(key, conversation.as_ref(), now_ms(), START_LOCK_MS)
                .await?
            {
                Some(lock) => {
                    let previous = conversation.and_then(|c| c.previous_contact_id);
                    let chat = self.open_chat(&lock, origination, message, previous).await;
                    // A chat that is gone right after its start (e.g. the flow ended it) must not be
                    // handed back by Connect on the retry: its generation is retired.
                    let retire = chat.as_ref().is_err_and(PortError::is_chat_gone);
                    if chat.is_err()
                        && let Err(e) = self.store.abandon_start(&lock, retire).await
                    {
                        tracing::warn!(error = %e, "could not give back the start lock; it expires on its own");
                    }
                    return chat.map(|chat| ChatReady {
                        chat,
                        opened: true,
                        after_start: true,
                    });
                }
                None => conversation = self.store.load_conversation(key).await?.conversation,
            }
        }
    }

    async fn open_chat(
        &self,
        lock: &StartLock,
        origination: &OriginationId,
        message: &CustomerMessage,
        previous: Option<ContactId>,
    ) -> PortResult<ActiveChat> {
        let key = &lock.key;
        let display_name = message
            .profile_name
            .clone()
            .unwrap_or_else(|| format!("+{}", message.customer_id));
        let attributes = HashMap::from([
            ("Channel".to_owned(), "WhatsApp".to_owned()),
            ("CustomerId".to_owned(), message.customer_id.to_string()),
            ("BusinessPhoneNumberId".to_owned(), key.phone_number_id.to_string()),
            ("OriginationPhoneNumberId".to_owned(), origination.to_string()),
        ]);
        // Same token for the same (conversation, generation): a retried start returns the same chat.
        let client_token = format!("wa-{}-g{}", key.digest(), lock.generation);
        let started = self
            .center
            .start_chat(&ChatRequest {
                display_name,
                attributes,
                client_token: client_token.clone(),
                related_contact_id: previous,
            })
            .await?;
        let ttl = i64::from(self.config.chat_duration_minutes) * 60 + STATE_RETENTION_S;
        // The mapping exists before streaming starts, so no streamed item finds an unknown contact.
        self.store
            .put_contact(
                &ContactRecord {
                    initial_contact_id: started.contact_id.clone(),
                    phone_number_id: key.phone_number_id.clone(),
                    customer_id: key.customer_id.clone(),
                    origination_id: origination.clone(),
                },
                ttl,
            )
            .await?;
        self.center
            .start_streaming(&started.contact_id, &format!("{client_token}-stream"))
            .await?;
        let connection = self.participant.connect(&started.participant_token).await?;
        let chat = ActiveChat {
            contact_id: started.contact_id,
            participant_token: started.participant_token,
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
        };
        self.store.activate(lock, &chat, ttl).await?;
        Ok(chat)
    }
}
