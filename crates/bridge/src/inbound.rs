//! WhatsappHandler's service: customer messages from EUM into Amazon Connect chats.
//!
//! Delivery is at-least-once and unordered, so every message is first *claimed* in DynamoDB (a lease
//! that ends in a "done" record) and sent with a `ClientToken` derived from its wamid. A conversation
//! opens at most one chat at a time: the invocation that wins a conditional write (the start lock) starts
//! it, the others wait for it and deliver into it. A chat that turns out to be gone (AccessDenied) is
//! first reconnected with the participant token, then replaced by a new chat; the message is never
//! dropped for that reason.
//!
//! What a message becomes is decided by [`crate::translate::plan_message`] once the conversation is read
//! (the menu the customer was shown rides on that read). WhatsApp statuses of what the bridge sent come
//! back here too and reach the agent as Connect receipts, or as a note when a message failed.

use crate::claims;
use crate::config::{Config, ReadReceipts};
use crate::connection;
use crate::error::{FailureKind, PortError, Rejection, RetryableFailure};
use crate::ids::{ContactId, ConversationKey, OriginationId, short_hash};
use crate::media::handler::MediaHandler;
use crate::media::service::InboundRequest;
use crate::ports::{
    ActiveChat, ChatRequest, Claim, ContactCenter, ContactRecord, Conversation, ConversationState, ConversationView,
    Finished, Inflight, Participant, PortResult, StartLock, StateStore, Whatsapp,
};
use crate::rich::{interactive, notices::Notice, render};
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection, now_ms};
use crate::translate::{InboundAction, InboundState, TEXT_PLAIN, connect_parts, plan_message, quotable, quoted_wamid};
use crate::whatsapp::{Change, Content, CustomerMessage, Inbound, Media, OutgoingMessage, StatusUpdate, parse_eum};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a start lock holds off other invocations of the same customer.
const START_LOCK_MS: i64 = 30_000;
/// How long a message waits for another invocation's chat start before giving up (and retrying later).
const WAIT_FOR_START: Duration = Duration::from_secs(20);
const POLL_START: Duration = Duration::from_millis(100);
/// How long a message waits for earlier messages of its conversation before going anyway.
const WAIT_FOR_TURN: Duration = Duration::from_secs(15);
const POLL_TURN: Duration = Duration::from_millis(25);
/// The most a read mark (a nicety) may add to an invocation.
const READ_MARK_BUDGET: Duration = Duration::from_millis(1500);
/// Keep state a week past the longest chat, so a returning customer is recognised.
const STATE_RETENTION_S: i64 = 7 * 24 * 3600;

/// Connect's receipt events for what the agent sent.
pub const DELIVERED_EVENT: &str = "application/vnd.amazonaws.connect.event.message.delivered";
pub const READ_EVENT: &str = "application/vnd.amazonaws.connect.event.message.read";

pub struct InboundBridge<S, C, P, W> {
    config: Config,
    store: S,
    center: C,
    participant: P,
    whatsapp: W,
    media: Option<Arc<dyn MediaHandler>>,
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

/// The chat a message goes into.
struct ChatReady {
    chat: ActiveChat,
    /// This delivery started the chat.
    opened: bool,
    /// The chat was started while this delivery was under way (by it or by another one).
    after_start: bool,
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
        }
    }

    /// Attaches customers' files to the chat (without it, media arrive as their description only).
    pub fn with_media(mut self, media: Arc<dyn MediaHandler>) -> Self {
        self.media = Some(media);
        self
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
                    total += 1;
                    let started = Instant::now();
                    let key = ConversationKey::new(change.phone_number_id.clone(), message.customer_id.clone());
                    let result = Box::pin(self.bridge(&key, origination, message)).await;
                    let contact = result.as_ref().ok().and_then(Outcome::contact_id);
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
                        message.timestamp.checked_mul(1000),
                    );
                    match result {
                        Err(e) if e.is_retryable() => failures.push(e),
                        _ => {}
                    }
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
                    total += 1;
                    let started = Instant::now();
                    let key = ConversationKey::new(change.phone_number_id.clone(), recipient.clone());
                    let result = Box::pin(self.status(&key, status)).await;
                    let (outcome, contact) = match &result {
                        Ok((outcome, contact)) => (*outcome, contact.as_ref().map(ContactId::as_str)),
                        Err(e) if e.is_retryable() => ("failed_will_retry", None),
                        Err(_) => ("failed_dropped", None),
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
                    if let Err(e) = result
                        && e.is_retryable()
                    {
                        failures.push(e);
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

    /// A status of a message the bridge sent: `delivered`/`read` become Connect receipts on the item it
    /// came from, `failed` a note to the agent naming it. Statuses never open a chat.
    async fn status(
        &self,
        key: &ConversationKey,
        status: &StatusUpdate,
    ) -> PortResult<(&'static str, Option<ContactId>)> {
        let event = match status.status.as_str() {
            "delivered" => Some(DELIVERED_EVENT),
            "read" => Some(READ_EVENT),
            "failed" => None,
            _ => return Ok(("status_not_bridged", None)),
        };
        let (sent, view) = tokio::join!(
            self.store.load_sent(status.wamid.as_str()),
            self.store.load_conversation(key)
        );
        let Some(sent) = sent? else {
            return Ok(("status_unknown_message", None));
        };
        let chat = match view?.conversation.map(|c| c.state) {
            Some(ConversationState::Active(chat)) if chat.contact_id == sent.contact_id => chat,
            _ => return Ok(("status_chat_over", Some(sent.contact_id))),
        };
        let chat = self.fresh(key, &chat).await?;
        // Same status again (SNS redelivery) → same token → Connect records it once.
        let client_token = short_hash(&format!("{}#{}", status.wamid, status.status));
        let result = match event {
            Some(content_type) => {
                let content = serde_json::json!({ "messageId": sent.item_id.as_str() }).to_string();
                self.participant
                    .send_event(&chat.connection_token, content_type, &content, &client_token)
                    .await
            }
            None => {
                let note = render::delivery_failure(&status.errors, Some(&sent.summary));
                self.participant
                    .send_message(&chat.connection_token, TEXT_PLAIN, &note, &client_token)
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) if event.is_some() => Ok(("receipt_delivered", Some(chat.contact_id))),
            Ok(()) => Ok(("failure_reported", Some(chat.contact_id))),
            Err(e) if e.is_chat_gone() => Ok(("status_chat_over", Some(chat.contact_id))),
            Err(e) => Err(e),
        }
    }

    async fn fresh(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<ActiveChat> {
        connection::fresh(&self.store, &self.participant, key, chat).await
    }

    async fn bridge(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
    ) -> PortResult<Outcome> {
        let end_keyword = self.config.end_keyword.as_deref();
        let context = message.context.as_ref();
        // What cannot be bridged whatever the conversation holds is dropped before any state is touched.
        let early = InboundState {
            end_keyword,
            ..Default::default()
        };
        if let InboundAction::Skip { reason } = plan_message(&message.content, context, &early) {
            return Ok(Outcome::Skipped(reason));
        }
        let wamid = message.wamid.as_str();
        let registered_ms = now_ms();
        let me = Inflight {
            tag: format!("q_{}", short_hash(wamid)),
            timestamp: message.timestamp,
            registered_ms,
            until_ms: claims::lease_until(registered_ms),
        };
        // The claim, the registration (which also reads the conversation) and, for a reply or a reaction,
        // the quoted message are independent: one round trip.
        let quote_id = quoted_wamid(&message.content, context);
        let quote = async {
            match quote_id {
                // A quote is a nicety: without it the message still goes, unquoted.
                Some(id) => self.store.load_quote(id).await.ok().flatten(),
                None => None,
            }
        };
        let (claim, view, quoted) = tokio::join!(
            claims::claim(&self.store, "wa", wamid),
            self.store.register(key, &me),
            quote
        );
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
        let acted = match view {
            Ok(view) => match self.wait_for_turn(key, &me, view).await {
                Ok(view) => {
                    let state = InboundState {
                        menu: view.menu.as_ref(),
                        quoted: quoted.as_deref(),
                        end_keyword,
                    };
                    let action = plan_message(&self.planned(&message.content), context, &state);
                    // An answer spends the menu, so a number typed later is just a number.
                    let answered = view.menu.is_some()
                        && interactive::answer(view.menu.as_ref(), &message.content).is_some()
                        && !matches!(action, InboundAction::Page(_));
                    // Boxed: the nested async state machines otherwise exceed the compiler's layout depth.
                    Box::pin(self.act(key, origination, message, &me, view.conversation, action))
                        .await
                        .map(|outcome| (outcome, answered))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match acted {
            Ok((outcome, clear_menu)) => {
                let summary = match outcome {
                    Outcome::Delivered { .. } => quotable(&message.content),
                    _ => None,
                };
                let finished = Finished {
                    key,
                    tag: &me.tag,
                    wamid,
                    clear_menu,
                    summary: summary.as_deref(),
                };
                let read_mark = async {
                    // Blue ticks once the message is in the chat; alongside the completing write, so the
                    // customer's next message does not wait for them.
                    // Bounded: the SDK's retries against a throttled EUM must not hold this invocation (and
                    // the conversation's next message, waiting for its turn) for seconds.
                    if self.config.read_receipts == ReadReceipts::OnDelivery
                        && matches!(outcome, Outcome::Delivered { .. } | Outcome::Noted { .. })
                    {
                        let mark = self.whatsapp.mark_read(origination, wamid, false);
                        match tokio::time::timeout(READ_MARK_BUDGET, mark).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::warn!(error = %e, "could not mark the customer's message read"),
                            Err(_) => tracing::warn!("marking the customer's message read took too long; skipped"),
                        }
                    }
                };
                let (completed, ()) = tokio::join!(self.store.complete("wa", wamid, Some(&finished)), read_mark);
                completed?;
                Ok(outcome)
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

    /// The content as the decision sees it. With media bridged, a caption follows its file as a message
    /// of its own, so the description that goes first leaves it out rather than show it twice.
    fn planned<'c>(&self, content: &'c Content) -> Cow<'c, Content> {
        match content {
            Content::Media(file) if self.media.is_some() && file.caption.is_some() => {
                Cow::Owned(Content::Media(Media {
                    caption: None,
                    ..file.clone()
                }))
            }
            other => Cow::Borrowed(other),
        }
    }

    /// Carries out the decision on a claimed message whose turn has come.
    async fn act(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        me: &Inflight,
        conversation: Option<Conversation>,
        action: InboundAction,
    ) -> PortResult<Outcome> {
        let active = match conversation.as_ref().map(|c| &c.state) {
            Some(ConversationState::Active(chat)) => Some(chat.clone()),
            _ => None,
        };
        match action {
            InboundAction::Skip { reason } => Ok(Outcome::Skipped(reason)),
            InboundAction::Send { content_type, content } => {
                let (contact_id, opened_chat) =
                    Box::pin(self.deliver(key, origination, message, (&content_type, &content), me, conversation))
                        .await?;
                if let (Content::Media(file), Some(media)) = (&message.content, &self.media) {
                    Box::pin(self.deliver_media(key, origination, message, file, media.as_ref())).await?;
                }
                Ok(Outcome::Delivered {
                    contact_id,
                    opened_chat,
                })
            }
            InboundAction::Note { content } => {
                // Reactions never open a chat: with none open there is nobody to tell.
                let Some(chat) = active else {
                    return Ok(Outcome::Skipped("reaction_no_chat"));
                };
                let client_token = short_hash(&format!("{}#{}", message.wamid, chat.contact_id));
                match self.send(key, &chat, TEXT_PLAIN, &content, &client_token).await {
                    Ok(()) => Ok(Outcome::Noted {
                        contact_id: chat.contact_id,
                    }),
                    Err(e) if e.is_chat_gone() => {
                        self.store.mark_ended(key, &chat.contact_id).await?;
                        Ok(Outcome::Skipped("reaction_no_chat"))
                    }
                    Err(e) => Err(e),
                }
            }
            InboundAction::Page(page) => {
                let outgoing = OutgoingMessage::rich(message.reply_to(), &page);
                self.whatsapp.send(origination, &outgoing).await?;
                Ok(Outcome::Paged)
            }
            InboundAction::EndChat => {
                let Some(chat) = active else {
                    return Ok(Outcome::Skipped("no_chat_to_end"));
                };
                // Ended here first, so the chat.ended Connect streams back finds it ended and stays quiet:
                // the customer hears the confirmation below, once.
                self.store.mark_ended(key, &chat.contact_id).await?;
                let chat = self.fresh(key, &chat).await.unwrap_or(chat);
                let client_token = short_hash(&format!("{}#end", message.wamid));
                match self.participant.disconnect(&chat.connection_token, &client_token).await {
                    Err(e) if !e.is_chat_gone() => {
                        tracing::warn!(error = %e, "could not leave the chat; Connect ends it on its own");
                    }
                    _ => {}
                }
                if let Some(text) = self.config.notices.render(Notice::CustomerEnded, None) {
                    let outgoing = OutgoingMessage::text(message.reply_to(), text);
                    self.whatsapp.send(origination, &outgoing).await?;
                }
                Ok(Outcome::EndedByCustomer {
                    contact_id: chat.contact_id,
                })
            }
        }
    }

    /// After the description went in: the file itself, then its caption, transcript or notes; the
    /// customer hears about what did not reach the agent (and, if configured, their transcript).
    async fn deliver_media(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        file: &Media,
        media: &dyn MediaHandler,
    ) -> PortResult<()> {
        let Some(Conversation {
            state: ConversationState::Active(chat),
            ..
        }) = self.store.load_conversation(key).await?.conversation
        else {
            return Ok(());
        };
        let chat = self.fresh(key, &chat).await?;
        let prefix = format!("inbound/{}/", key.digest());
        let outcome = match media
            .inbound(InboundRequest {
                origination,
                token: &chat.connection_token,
                media: file,
                prefix: &prefix,
                wamid: message.wamid.as_str(),
            })
            .await
        {
            Ok(outcome) => outcome,
            Err(e) if e.is_retryable() => return Err(e),
            // WhatsApp no longer has the file (or refuses it): the description is in; say so once.
            Err(e) => {
                tracing::warn!(error = %e, "customer's media could not be fetched");
                let client_token = short_hash(&format!("{}#{}#media-missing", message.wamid, chat.contact_id));
                let note = "⚠️ The file could not be retrieved from WhatsApp.";
                self.send(key, &chat, TEXT_PLAIN, note, &client_token).await?;
                // The caption was left out of the description: it still reaches the agent.
                return match file.caption.as_deref().filter(|c| !c.trim().is_empty()) {
                    Some(caption) => {
                        let client_token = short_hash(&format!("{}#{}#caption", message.wamid, chat.contact_id));
                        self.send(key, &chat, TEXT_PLAIN, caption, &client_token).await
                    }
                    None => Ok(()),
                };
            }
        };
        for (i, text) in outcome.chat_texts().iter().enumerate() {
            let client_token = short_hash(&format!("{}#{}#media{i}", message.wamid, chat.contact_id));
            self.send(key, &chat, TEXT_PLAIN, text, &client_token).await?;
        }
        if let Some(notice) = &outcome.customer_notice {
            let outgoing = OutgoingMessage::text(message.reply_to(), notice.clone());
            self.whatsapp.send(origination, &outgoing).await?;
        }
        if media.settings().echo_transcript
            && let Some(text) = outcome.transcript_text()
        {
            let outgoing = OutgoingMessage::text(message.reply_to(), format!("🎤 \"{text}\""));
            self.whatsapp.send(origination, &outgoing).await?;
        }
        Ok(())
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
                .any(|other| other.tag != me.tag && other.is_live(now) && other.precedes(me));
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
    /// A text longer than Connect accepts goes as several messages, each with its own client token, so a
    /// retry after a partial send completes the message without repeating the parts already in.
    async fn send(
        &self,
        key: &ConversationKey,
        chat: &ActiveChat,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<()> {
        let fresh = connection::is_fresh(chat);
        let mut chat = if fresh {
            chat.clone()
        } else {
            self.reconnect(key, chat).await?
        };
        let mut may_reconnect = fresh;
        for (i, part) in connect_parts(content_type, content, self.config.connect_text_limit)
            .iter()
            .enumerate()
        {
            let token = if i == 0 {
                client_token.to_owned()
            } else {
                format!("{client_token}#{i}")
            };
            loop {
                match self
                    .participant
                    .send_message(&chat.connection_token, content_type, part, &token)
                    .await
                {
                    Err(e) if e.is_chat_gone() && may_reconnect => {
                        chat = self.reconnect(key, &chat).await?;
                        may_reconnect = false;
                    }
                    other => break other.map(drop)?,
                }
            }
        }
        Ok(())
    }

    async fn reconnect(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<ActiveChat> {
        connection::reconnect(&self.store, &self.participant, key, chat).await
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
        let display_name = message.profile_name.clone().unwrap_or_else(|| match &message.phone {
            Some(phone) => format!("+{phone}"),
            None => message.customer_id.to_string(),
        });
        let mut attributes = HashMap::from([
            ("Channel".to_owned(), "WhatsApp".to_owned()),
            ("CustomerId".to_owned(), message.customer_id.to_string()),
            ("BusinessPhoneNumberId".to_owned(), key.phone_number_id.to_string()),
            ("OriginationPhoneNumberId".to_owned(), origination.to_string()),
        ]);
        if let Some(phone) = &message.phone {
            attributes.insert("CustomerPhoneNumber".to_owned(), phone.to_string());
        }
        // Always linked, whichever way Connect links the contacts (persistent chat or RelatedContactId).
        if let Some(previous) = &previous {
            attributes.insert("PreviousContactId".to_owned(), previous.to_string());
        }
        // Same token for the same (conversation, generation): a retried start returns the same chat.
        let client_token = format!("wa-{}-g{}", key.digest(), lock.generation);
        let started = self
            .center
            .start_chat(&ChatRequest {
                display_name,
                attributes,
                client_token: client_token.clone(),
                related_contact_id: previous,
                persistent: self.config.persistent_chat,
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
                    phone: message.phone.clone(),
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
        crate::metrics::record(&crate::metrics::Metric::ChatStarted);
        Ok(chat)
    }
}
