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

use crate::claims::{self, Heartbeat, Hold};
use crate::config::{Config, ReadReceipts};
use crate::connection;
use crate::error::{FailureKind, PortError, Rejection, RetryableFailure};
use crate::ids::{ContactId, ConversationKey, OriginationId, short_hash};
use crate::media::handler::MediaHandler;
use crate::media::service::{InboundOutcome, InboundRequest};
use crate::ports::{
    ActiveChat, ChatRequest, Claim, ContactCenter, ContactRecord, Conversation, ConversationState, ConversationView,
    Finished, Inflight, MediaAftermath, Opener, Participant, PortResult, Progress, Renewal, Said, StartLock,
    StateStore, Step, Whatsapp,
};
use crate::rich::{interactive, notices::Notice, render};
use crate::rounds::behind;
use crate::sns;
use crate::telemetry::{Direction, log_outcome, log_rejection, now_ms};
use crate::translate::{InboundAction, InboundState, TEXT_PLAIN, connect_parts, plan_message, quotable, quoted_wamid};
use crate::whatsapp::{Change, Content, CustomerMessage, Inbound, Media, OutgoingMessage, StatusUpdate, parse_eum};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a start lock holds off other invocations of the same customer without a heartbeat: its
/// holder renews it with its message's hold (see [`crate::claims::Heartbeat`]), so a holder that died
/// keeps the conversation's other messages waiting for seconds, not for a whole invocation.
const START_LOCK_MS: i64 = claims::HEARTBEAT_LEASE_MS;
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
    open_chats: OpenChats,
}

/// The conversations this process last saw with an open chat: a hint for choosing a claim's hold
/// before the conversation is read. A message that will most likely go into an open chat takes the fast
/// hold, any other the exclusive one from the start, so the slow paths (a chat start, a burst into it)
/// never depend on an extension landing before a fast lease runs out. DynamoDB stays the truth: a stale
/// hint costs an extension and a completing write.
///
/// It also remembers the registration this process's last fast message left behind (the fast path
/// marks itself done after its send, and only when that write failed leaves its registration), so the
/// conversation's next registration removes it in the same write.
#[derive(Default)]
struct OpenChats(Mutex<HashMap<ConversationKey, Option<String>>>);

impl OpenChats {
    /// Beyond this many, the hint starts over (a process rarely serves that many conversations).
    const CAPACITY: usize = 10_000;

    /// The hold for the conversation's next message, and the lapsed registration to remove with its own.
    fn next(&self, key: &ConversationKey) -> (Hold, Option<String>) {
        match self.0.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            Some(left_behind) => (Hold::Fast, left_behind.clone()),
            None => (Hold::Exclusive, None),
        }
    }

    /// The chat is open; `left_behind`: the registration of a message that finished on the fast path.
    fn open(&self, key: &ConversationKey, left_behind: Option<String>) {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= Self::CAPACITY && !keys.contains_key(key) {
            keys.clear();
        }
        keys.insert(key.clone(), left_behind);
    }

    fn closed(&self, key: &ConversationKey) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
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

/// Where a message went.
struct Delivered {
    contact_id: ContactId,
    /// It started the chat.
    opened: bool,
}

/// The chat a message goes into.
struct ChatReady {
    chat: ActiveChat,
    /// This delivery started the chat.
    opened: bool,
    /// The chat was started while this delivery was under way (by it or by another one).
    after_start: bool,
    /// The conversation as this delivery's start left it (who else is in flight), when it started the chat.
    view: Option<ConversationView>,
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
            behind(self.store.load_conversation(key))
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
        let early = plan_message(&message.content, context, &early);
        if let InboundAction::Skip { reason } = early {
            return Ok(Outcome::Skipped(reason));
        }
        // Only what reaches the agent as a message may open a chat (a reaction or the end keyword never does).
        let may_open = matches!(early, InboundAction::Send { .. });
        let wamid = message.wamid.as_str();
        let registered_ms = now_ms();
        let (hold, left_behind) = self.open_chats.next(key);

        let me = Inflight {
            tag: format!("q_{}", short_hash(wamid)),
            timestamp: message.timestamp,
            received_ns: message.received_ns.unwrap_or(registered_ms.saturating_mul(1_000_000)),
            until_ms: hold.until(registered_ms),
        };
        // A redelivery of that very message registers the same tag again: nothing to remove then.
        let left_behind = left_behind.filter(|tag| *tag != me.tag);
        // The claim, the registration (which also reads the conversation) and, for a reply or a reaction,
        // the quoted message are independent: one round trip. Into a chat this process saw open, both
        // start on the fast hold (see `crate::claims`), which whatever needs more than one SendMessage
        // extends.
        let quote_id = quoted_wamid(&message.content, context);
        let quote = async {
            match quote_id {
                // A quote is a nicety: without it the message still goes, unquoted.
                Some(id) => self.store.load_quote(id).await.ok().flatten(),
                None => None,
            }
        };
        let summary = quotable(&message.content);
        let (claim, view, quoted) = tokio::join!(
            claims::claim(&self.store, "wa", wamid, hold, summary.as_deref()),
            behind(self.store.register(
                key,
                &me,
                wamid,
                left_behind.as_deref(),
                may_open.then_some(registered_ms + START_LOCK_MS)
            )),
            behind(quote)
        );
        // The start lock this registration took; given back unless the message opens a chat with it.
        let taken_lock = view
            .as_ref()
            .ok()
            .and_then(|view| unused_start_lock(key, view, &me.tag));
        let owner = claims::owner();
        let claim = claim?;
        let replay_of = match claim.claim {
            Claim::Done => {
                // Our registration may have re-added a finished message; left there it would hold later
                // ones back.
                if view.is_ok() {
                    let (unregistered, ()) = tokio::join!(
                        self.store.unregister(key, &me.tag),
                        behind(self.give_back(taken_lock.as_ref(), false))
                    );
                    unregistered?;
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
            Claim::Acquired => None,
            Claim::Replay { first_ms } => Some(first_ms),
        };
        let heartbeat = Heartbeat::new(hold);
        let acted = match view {
            Ok(view) => {
                let claimed = Claimed {
                    key,
                    me: &me,
                    hold,
                    replay_of,
                    owner: &owner,
                    heartbeat: &heartbeat,
                    progress: claim.progress,
                    opening: AtomicBool::new(taken_lock.is_some()),
                };
                let claimed = &claimed;
                let renew = |until_ms| async move { self.store.extend(&claimed.renewal(message, until_ms)).await };
                // Boxed: the nested async state machines otherwise exceed the compiler's layout depth.
                let decided = Box::pin(self.decide(key, origination, message, claimed, view, quoted.as_deref()));
                let decided = tokio::select! {
                    decided = decided => decided,
                    never = heartbeat.keep(renew) => match never {},
                };
                // What is written next (done, or released) is the last word.
                heartbeat.pause().await;
                decided
            }
            Err(e) => Err(e),
        };
        let opened = matches!(&acted, Ok((Outcome::Delivered { opened_chat: true, .. }, _)));
        let give_back = self.give_back(taken_lock.as_ref().filter(|_| !opened), false);
        match &acted {
            Ok((Outcome::Delivered { .. } | Outcome::Noted { .. }, _)) => self.open_chats.open(key, None),
            Ok((Outcome::EndedByCustomer { .. }, _)) => self.open_chats.closed(key),
            _ => {}
        }
        match acted {
            Ok((outcome, Settle::Fast)) => {
                // The message is in the chat. Marked done now, after its send, the conversation's next
                // message (whichever instance has it) need not wait for the fast lease to lapse.
                let finished = Finished {
                    key,
                    tag: &me.tag,
                    clear_menu: false,
                    lapsed: &[],
                };
                let (completed, ()) =
                    tokio::join!(self.store.complete("wa", wamid, Some(&finished)), behind(give_back));
                if let Err(e) = completed {
                    tracing::warn!(error = %e, "could not mark a delivered message done; its fast hold lapses on its own");
                    // Its registration goes with this process's next one in the conversation.
                    self.open_chats.open(key, Some(me.tag.clone()));
                }
                Ok(outcome)
            }
            Ok((
                outcome,
                Settle::Complete {
                    clear_menu,
                    lapsed,
                    marked_read,
                },
            )) => {
                let finished = Finished {
                    key,
                    tag: &me.tag,
                    clear_menu,
                    lapsed: &lapsed,
                };
                // The read mark rides alongside the completing write, so the customer's next message does
                // not wait for it.
                let mark = !marked_read && matches!(outcome, Outcome::Delivered { .. } | Outcome::Noted { .. });
                let (completed, (), ()) = tokio::join!(
                    self.store.complete("wa", wamid, Some(&finished)),
                    behind(self.read_mark(origination, wamid, mark)),
                    behind(give_back)
                );
                completed?;
                Ok(outcome)
            }
            Err(e) => {
                let (release, unregister, ()) = tokio::join!(
                    self.store.release("wa", wamid, &owner),
                    behind(self.store.unregister(key, &me.tag)),
                    behind(give_back)
                );
                if let Err(cleanup) = release.and(unregister) {
                    tracing::warn!(error = %cleanup, "could not clean up after a failure; leases expire on their own");
                }
                Err(e)
            }
        }
    }

    /// Decides what the claimed message becomes and carries it out: on the fast path (see
    /// [`fast_lane`]) with one SendMessage and the completing write after it, else holding the claim exclusively
    /// until it is completed.
    async fn decide(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        claimed: &Claimed<'_>,
        mut view: ConversationView,
        quoted: Option<&str>,
    ) -> PortResult<(Outcome, Settle)> {
        let me = claimed.me;
        if let Some(first_ms) = claimed.replay_of
            && went_into_an_earlier_chat(&view, &me.tag, first_ms)
        {
            let lapsed = lapsed_registrations(&view, me, now_ms());
            return Ok((
                Outcome::Duplicate,
                Settle::Complete {
                    clear_menu: false,
                    lapsed,
                    marked_read: false,
                },
            ));
        }
        let open = matches!(
            view.conversation.as_ref().map(|c| &c.state),
            Some(ConversationState::Active(_))
        );
        if !open {
            self.open_chats.closed(key);
        }
        // Held exclusively already, or extended: completed (or released) explicitly at the end.
        let mut extended = claimed.hold == Hold::Exclusive;
        if waits_for_earlier(&view, me, now_ms()) {
            if !extended {
                self.extend(message, claimed).await?;
                extended = true;
            }
            view = self.wait_for_turn(key, me, view).await?;
        }
        let state = InboundState {
            menu: view.menu.as_ref(),
            quoted,
            end_keyword: self.config.end_keyword.as_deref(),
        };
        let action = plan_message(&self.planned(&message.content), message.context.as_ref(), &state);
        // An answer spends the menu, so a number typed later is just a number.
        let answered = view.menu.is_some()
            && interactive::answer(view.menu.as_ref(), &message.content).is_some()
            && !matches!(action, InboundAction::Page(_));
        let lapsed = lapsed_registrations(&view, me, now_ms());
        if !extended
            && let Some((chat, content_type, content)) =
                fast_lane(&action, &message.content, answered, view.conversation.as_ref())
        {
            match self
                .fast_send(key, origination, message, claimed, chat, (content_type, content))
                .await
            {
                Ok(held) => {
                    let outcome = Outcome::Delivered {
                        contact_id: chat.contact_id.clone(),
                        opened_chat: false,
                    };
                    let settle = if held {
                        Settle::Complete {
                            clear_menu: false,
                            lapsed,
                            marked_read: true,
                        }
                    } else {
                        Settle::Fast
                    };
                    return Ok((outcome, settle));
                }
                // The chat is over: the message needs a new one, which is no longer the fast path.
                Err(e) if e.is_chat_gone() => {
                    tracing::info!(contact_id = %chat.contact_id, "chat is over; opening a new one");
                    self.open_chats.closed(key);
                    self.extend(message, claimed).await?;
                    extended = true;
                    self.store
                        .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                        .await?;
                    view = self.store.load_conversation(key).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let act = Box::pin(self.act(key, origination, message, claimed, view, action));
        let outcome = if extended {
            act.await?
        } else {
            let (acted, held) = tokio::join!(act, behind(self.extend(message, claimed)));
            if let Err(e) = held {
                tracing::warn!(error = %e, "could not extend the message's claim; a redelivery may replay it");
            }
            acted?
        };
        let settle = Settle::Complete {
            clear_menu: answered,
            lapsed,
            marked_read: false,
        };
        Ok((outcome, settle))
    }

    /// Holds the message's claim and registration exclusively, kept alive by the heartbeat until the
    /// work is done (the fast hold would run out while it is still at work).
    async fn extend(&self, message: &CustomerMessage, claimed: &Claimed<'_>) -> PortResult<()> {
        let until = Hold::Exclusive.until(now_ms());
        self.store.extend(&claimed.renewal(message, until)).await?;
        claimed.heartbeat.resume();
        Ok(())
    }

    /// The fast path's one SendMessage, with the read mark beside it (off the critical path: the blue
    /// ticks may come a moment before the message is in the chat, and stay if the send fails and is
    /// retried). Returns whether the message must be completed rather than finish on the fast hold: the
    /// send outlasted half of the hold, which was then extended.
    async fn fast_send(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        claimed: &Claimed<'_>,
        chat: &ActiveChat,
        (content_type, content): (&str, &str),
    ) -> PortResult<bool> {
        let client_token = message_token(message, &chat.contact_id);
        let guarded = async {
            let send = self.send(key, chat, content_type, content, &client_token);
            tokio::pin!(send);
            let half = u64::try_from((claimed.me.until_ms - now_ms()) / 2).unwrap_or(0);
            match tokio::time::timeout(Duration::from_millis(half), &mut send).await {
                Ok(sent) => sent.map(|()| false),
                Err(_) => {
                    let (held, sent) = tokio::join!(self.extend(message, claimed), send);
                    if let Err(e) = held {
                        tracing::warn!(error = %e, "could not extend the message's claim; a redelivery may replay it");
                    }
                    sent.map(|()| true)
                }
            }
        };
        let (sent, ()) = tokio::join!(
            guarded,
            behind(self.read_mark(origination, message.wamid.as_str(), true))
        );
        sent
    }

    /// Blue ticks for a message that reached the chat, if configured. Bounded: the SDK's retries against
    /// a throttled EUM must not hold this invocation (and the conversation's next message, waiting for
    /// its turn) for seconds.
    async fn read_mark(&self, origination: &OriginationId, wamid: &str, delivered: bool) {
        if self.config.read_receipts != ReadReceipts::OnDelivery || !delivered {
            return;
        }
        let mark = self.whatsapp.mark_read(origination, wamid, false);
        match tokio::time::timeout(READ_MARK_BUDGET, mark).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not mark the customer's message read"),
            Err(_) => tracing::warn!("marking the customer's message read took too long; skipped"),
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

    /// Carries out the decision on a claimed message whose turn has come; it is completed next.
    async fn act(
        &self,
        key: &ConversationKey,
        origination: &OriginationId,
        message: &CustomerMessage,
        claimed: &Claimed<'_>,
        view: ConversationView,
        action: InboundAction,
    ) -> PortResult<Outcome> {
        let active = match view.conversation.as_ref().map(|c| &c.state) {
            Some(ConversationState::Active(chat)) => Some(chat.clone()),
            _ => None,
        };
        match action {
            InboundAction::Skip { reason } => Ok(Outcome::Skipped(reason)),
            InboundAction::Send { content_type, content } => {
                // The file and its notes follow the description: not a single send.
                let media = match (&message.content, &self.media) {
                    (Content::Media(file), Some(media)) => Some((file, media)),
                    _ => None,
                };
                let sent = self.deliver(origination, message, (&content_type, &content), claimed, view);
                let delivered = Box::pin(sent).await?;
                if let Some((file, media)) = media {
                    Box::pin(self.deliver_media(claimed, origination, message, file, media.as_ref())).await?;
                }
                let outcome = Outcome::Delivered {
                    contact_id: delivered.contact_id,
                    opened_chat: delivered.opened,
                };
                Ok(outcome)
            }
            InboundAction::Note { content } => {
                // Reactions never open a chat: with none open there is nobody to tell.
                let Some(chat) = active else {
                    return Ok(Outcome::Skipped("reaction_no_chat"));
                };
                let client_token = message_token(message, &chat.contact_id);
                match self.send(key, &chat, TEXT_PLAIN, &content, &client_token).await {
                    Ok(()) => Ok(Outcome::Noted {
                        contact_id: chat.contact_id,
                    }),
                    Err(e) if e.is_chat_gone() => {
                        self.store
                            .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                            .await?;
                        Ok(Outcome::Skipped("reaction_no_chat"))
                    }
                    Err(e) => Err(e),
                }
            }
            InboundAction::Page(page) => {
                let outgoing = OutgoingMessage::rich(message.reply_to(), &page);
                self.say(claimed, (origination, message), Said::MenuPage, &outgoing)
                    .await?;
                Ok(Outcome::Paged)
            }
            InboundAction::EndChat => {
                let contact_id = match active {
                    Some(chat) => {
                        // Ended here first, so the chat.ended Connect streams back finds it ended and
                        // stays quiet: the customer hears the confirmation below, once.
                        self.store
                            .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                            .await?;
                        let chat = self.fresh(key, &chat).await.unwrap_or(chat);
                        let client_token = short_hash(&format!("{}#end", message.wamid));
                        match self.participant.disconnect(&chat.connection_token, &client_token).await {
                            Err(e) if !e.is_chat_gone() => {
                                tracing::warn!(error = %e, "could not leave the chat; Connect ends it on its own");
                            }
                            _ => {}
                        }
                        chat.contact_id
                    }
                    // A retry of this very message, whose confirmation did not go out: it is still owed.
                    None => match ended_by(view.conversation.as_ref(), message.wamid.as_str()) {
                        Some(contact_id) => contact_id,
                        None => return Ok(Outcome::Skipped("no_chat_to_end")),
                    },
                };
                if let Some(text) = self.config.notices.render(Notice::CustomerEnded, None) {
                    let outgoing = OutgoingMessage::text(message.reply_to(), text);
                    self.whatsapp.send(origination, &outgoing).await?;
                }
                Ok(Outcome::EndedByCustomer { contact_id })
            }
        }
    }

    /// After the description went in: the file itself, then its caption, transcript or notes; the
    /// customer hears about what did not reach the agent (and, if configured, their transcript). What the
    /// file came to is recorded before anything is said about it, so a retry neither fetches, converts and
    /// transcribes it again nor repeats what the customer was told.
    async fn deliver_media(
        &self,
        claimed: &Claimed<'_>,
        origination: &OriginationId,
        message: &CustomerMessage,
        file: &Media,
        media: &dyn MediaHandler,
    ) -> PortResult<()> {
        let key = claimed.key;
        let Some(Conversation {
            state: ConversationState::Active(chat),
            ..
        }) = self.store.load_conversation(key).await?.conversation
        else {
            return Ok(());
        };
        let chat = self.fresh(key, &chat).await?;
        let aftermath = match &claimed.progress.media {
            Some(recorded) => recorded.clone(),
            None => {
                let prefix = format!("inbound/{}/", key.digest());
                let request = InboundRequest {
                    origination,
                    token: &chat.connection_token,
                    media: file,
                    prefix: &prefix,
                    wamid: message.wamid.as_str(),
                };
                let aftermath = match media.inbound(request).await {
                    Ok(outcome) => aftermath_of(&outcome, media.settings().echo_transcript),
                    Err(e) if e.is_retryable() => return Err(e),
                    // WhatsApp no longer has the file (or refuses it): the description is in; say so once.
                    Err(e) => {
                        tracing::warn!(error = %e, "customer's media could not be fetched");
                        let note = "⚠️ The file could not be retrieved from WhatsApp.".to_owned();
                        // The caption was left out of the description: it still reaches the agent.
                        let caption = file.caption.clone().filter(|c| !c.trim().is_empty());
                        MediaAftermath {
                            chat_texts: std::iter::once(note).chain(caption).collect(),
                            customer_texts: Vec::new(),
                        }
                    }
                };
                self.remember(claimed, message, Step::Media(&aftermath)).await;
                aftermath
            }
        };
        for (i, text) in aftermath.chat_texts.iter().enumerate() {
            let client_token = short_hash(&format!("{}#{}#media{i}", message.wamid, chat.contact_id));
            self.send(key, &chat, TEXT_PLAIN, text, &client_token).await?;
        }
        for (i, text) in aftermath.customer_texts.iter().enumerate() {
            let outgoing = OutgoingMessage::text(message.reply_to(), text.clone());
            self.say(claimed, (origination, message), Said::MediaReply(i), &outgoing)
                .await?;
        }
        Ok(())
    }

    /// Sends the customer something WhatsApp cannot deduplicate, once: not when an earlier attempt
    /// recorded it as said, and recorded as said once sent.
    async fn say(
        &self,
        claimed: &Claimed<'_>,
        (origination, message): (&OriginationId, &CustomerMessage),
        said: Said,
        outgoing: &OutgoingMessage,
    ) -> PortResult<()> {
        if claimed.progress.has_said(said) {
            return Ok(());
        }
        self.whatsapp.send(origination, outgoing).await?;
        self.remember(claimed, message, Step::Said(said)).await;
        Ok(())
    }

    /// Records a step of the message for a retry. A record that did not land costs the retry the step
    /// again, not the message: it is not a failure.
    async fn remember(&self, claimed: &Claimed<'_>, message: &CustomerMessage, step: Step<'_>) {
        let recorded = self
            .store
            .record("wa", message.wamid.as_str(), claimed.owner, step)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record a step of the message; a retry repeats it");
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
            // An earlier message on the fast hold ends its lease without a word: look again right then.
            let Some(lapses) = earliest_blocking_lapse(&view, me, now) else {
                return Ok(view);
            };
            if Instant::now() > deadline {
                return Ok(view);
            }
            let until_lapse = Duration::from_millis(u64::try_from(lapses - now).unwrap_or(0));
            tokio::time::sleep(poll.min(until_lapse + POLL_TURN)).await;
            poll = claims::backoff(poll);
            view = self.store.load_conversation(key).await?;
        }
    }

    /// Sends the message into the conversation's chat, starting one if needed.
    async fn deliver(
        &self,
        origination: &OriginationId,
        message: &CustomerMessage,
        (content_type, content): (&str, &str),
        claimed: &Claimed<'_>,
        mut view: ConversationView,
    ) -> PortResult<Delivered> {
        let (key, me) = (claimed.key, claimed.me);
        // Twice at most: the chat we knew, then the one we open when it turns out to be over.
        for _ in 0..3 {
            let ready = self
                .ensure_chat(origination, message, claimed, std::mem::take(&mut view))
                .await?;
            let (chat, opened) = (ready.chat, ready.opened);
            if ready.after_start {
                // Messages that arrived while the chat was starting have registered by now; the
                // earliest goes first, whichever of them happened to start the chat.
                let view = match ready.view {
                    Some(view) => view,
                    None => self.store.load_conversation(key).await?,
                };
                self.wait_for_turn(key, me, view).await?;
            }
            let client_token = message_token(message, &chat.contact_id);
            match self.send(key, &chat, content_type, content, &client_token).await {
                Ok(()) => {
                    return Ok(Delivered {
                        contact_id: chat.contact_id,
                        opened,
                    });
                }
                Err(e) if e.is_chat_gone() => {
                    tracing::info!(contact_id = %chat.contact_id, "chat is over; opening a new one");
                    self.store
                        .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                        .await?;
                    view = self.store.load_conversation(key).await?;
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
        origination: &OriginationId,
        message: &CustomerMessage,
        claimed: &Claimed<'_>,
        mut view: ConversationView,
    ) -> PortResult<ChatReady> {
        let (key, me) = (claimed.key, claimed.me);
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
            let lock = match start_right(key, &view, &me.tag, now_ms()) {
                StartRight::Use(chat) => {
                    return Ok(ChatReady {
                        chat,
                        opened: false,
                        after_start: waited,
                        // The read that found the chat active also shows who else is in flight.
                        view: waited.then_some(view),
                    });
                }
                StartRight::Wait => {
                    waited = true;
                    tokio::time::sleep(POLL_START).await;
                    view = self.store.load_conversation(key).await?;
                    continue;
                }
                StartRight::Take => {
                    let opener = Opener {
                        tag: me.tag.clone(),
                        until_ms: now_ms() + START_LOCK_MS,
                    };
                    view = match self.store.take_start_lock(key, &opener, now_ms()).await? {
                        Some(view) => {
                            claimed.opening.store(true, Ordering::Relaxed);
                            view
                        }
                        None => self.store.load_conversation(key).await?,
                    };
                    continue;
                }
                StartRight::Open(lock) => lock,
            };
            let previous = view.conversation.and_then(|c| c.previous_contact_id);
            let chat = self.open_chat(&lock, origination, message, previous).await;
            // Started or given back: either way nobody need be kept waiting for it any more.
            claimed.opening.store(false, Ordering::Relaxed);
            if let Err(e) = &chat {
                // A chat that is gone right after its start (e.g. the flow ended it) must not be handed
                // back by Connect on the retry: its generation is retired.
                self.give_back(Some(&lock), e.is_chat_gone()).await;
            }
            return chat.map(|(chat, view)| ChatReady {
                chat,
                opened: true,
                after_start: true,
                view: Some(view),
            });
        }
    }

    /// Gives back a start lock that did not lead to an active chat, so the conversation's next message
    /// need not wait for it to expire.
    async fn give_back(&self, lock: Option<&StartLock>, retire: bool) {
        if let Some(lock) = lock
            && let Err(e) = self.store.abandon_start(lock, retire).await
        {
            tracing::warn!(error = %e, "could not give back the start lock; it expires on its own");
        }
    }

    async fn open_chat(
        &self,
        lock: &StartLock,
        origination: &OriginationId,
        message: &CustomerMessage,
        previous: Option<ContactId>,
    ) -> PortResult<(ActiveChat, ConversationView)> {
        let key = &lock.key;
        let display_name = participant_name(message);
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
        // Side by side: an item streamed before the mapping lands waits for it in ConnectHandler (see
        // `crate::outbound`); the customer connects (and the flow greets) only once both are done.
        let contact = ContactRecord {
            initial_contact_id: started.contact_id.clone(),
            phone_number_id: key.phone_number_id.clone(),
            customer_id: key.customer_id.clone(),
            phone: message.phone.clone(),
            origination_id: origination.clone(),
        };
        let stream_token = format!("{client_token}-stream");
        let (streaming, mapped) = tokio::join!(
            self.center.start_streaming(&started.contact_id, &stream_token),
            behind(self.store.put_contact(&contact, ttl))
        );
        mapped.and(streaming)?;
        let connection = self.participant.connect(&started.participant_token).await?;
        let chat = ActiveChat {
            contact_id: started.contact_id,
            participant_token: started.participant_token,
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
        };
        let view = self.store.activate(lock, &chat, ttl).await?;
        crate::metrics::record(&crate::metrics::Metric::ChatStarted);
        Ok((chat, view))
    }
}

/// What a customer's file came to, as a retry needs it: the texts for the chat, then what the customer is
/// told (a notice about the file, and their transcript if it is echoed).
fn aftermath_of(outcome: &InboundOutcome, echo_transcript: bool) -> MediaAftermath {
    let echo = outcome
        .transcript_text()
        .filter(|_| echo_transcript)
        .map(|text| format!("🎤 \"{text}\""));
    MediaAftermath {
        chat_texts: outcome.chat_texts(),
        customer_texts: outcome.customer_notice.iter().cloned().chain(echo).collect(),
    }
}

/// Connect's `ParticipantDetails.DisplayName` allows 1 to 256 characters.
const DISPLAY_NAME_MAX_CHARS: usize = 256;

/// The name the agent sees: the WhatsApp profile name (shortened to what Connect accepts: a longer one
/// would have the chat refused), else the phone number, else the business-scoped id.
fn participant_name(message: &CustomerMessage) -> String {
    match message
        .profile_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        Some(name) => name.chars().take(DISPLAY_NAME_MAX_CHARS).collect(),
        None => match &message.phone {
            Some(phone) => format!("+{phone}"),
            None => message.customer_id.to_string(),
        },
    }
}

/// The `SendMessage` client token of a customer message in one chat: the same whichever path sends it,
/// so Connect deduplicates a replay; scoped to the contact, so a resend into a replacement chat is not
/// deduplicated away.
fn message_token(message: &CustomerMessage, contact_id: &ContactId) -> String {
    short_hash(&format!("{}#{}", message.wamid, contact_id))
}

/// What a message that needs a chat does, given its conversation as read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StartRight {
    /// Deliver into the active chat.
    Use(ActiveChat),
    /// This message holds the start lock: start the chat.
    Open(StartLock),
    /// Another message is starting the chat: wait for it.
    Wait,
    /// Nobody (alive) holds the lock: take it.
    Take,
}

fn start_right(key: &ConversationKey, view: &ConversationView, tag: &str, now_ms: i64) -> StartRight {
    if let Some(Conversation {
        state: ConversationState::Active(chat),
        ..
    }) = &view.conversation
    {
        return StartRight::Use(chat.clone());
    }
    match &view.opener {
        Some(opener) if opener.tag == tag => StartRight::Open(StartLock {
            key: key.clone(),
            tag: tag.to_owned(),
            generation: view.conversation.as_ref().map_or(0, |c| c.generation) + 1,
        }),
        Some(opener) if opener.until_ms > now_ms => StartRight::Wait,
        _ => StartRight::Take,
    }
}

/// The start lock `tag` holds while no chat is active (which it must give back if it opens none).
fn unused_start_lock(key: &ConversationKey, view: &ConversationView, tag: &str) -> Option<StartLock> {
    match start_right(key, view, tag, i64::MAX) {
        StartRight::Open(lock) => Some(lock),
        _ => None,
    }
}

/// A customer message this invocation holds.
struct Claimed<'a> {
    key: &'a ConversationKey,
    me: &'a Inflight,
    hold: Hold,
    /// Taken over from a fast holder that went quiet: when the message was first taken.
    replay_of: Option<i64>,
    /// This invocation, as the claim names it.
    owner: &'a str,
    /// Keeps the hold alive while it is exclusive.
    heartbeat: &'a Heartbeat,
    /// What an earlier attempt at the message did before it failed.
    progress: Progress,
    /// The message holds the conversation's start lock and has not started the chat yet: the heartbeat
    /// keeps the lock too.
    opening: AtomicBool,
}

impl Claimed<'_> {
    /// The message's hold, held exclusively until `until_ms`.
    fn renewal<'r>(&'r self, message: &'r CustomerMessage, until_ms: i64) -> Renewal<'r> {
        Renewal {
            source: "wa",
            id: message.wamid.as_str(),
            key: self.key,
            tag: &self.me.tag,
            owner: self.owner,
            until_ms,
            opening: self.opening.load(Ordering::Relaxed),
        }
    }
}

/// What is left to write once a message's work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Settle {
    /// On the fast hold, the read mark beside the send: the claim is marked done and the registration
    /// removed after the send, off the message's way into the chat.
    Fast,
    /// The claim is marked done and the registration removed (with the menu, if the message spent it, and
    /// registrations that fast messages of other processes left behind); the read mark goes beside it
    /// unless `marked_read` (it went beside the send already).
    Complete {
        clear_menu: bool,
        lapsed: Vec<String>,
        marked_read: bool,
    },
}

/// A registration this long past its lease belongs to a message that finished (fast) or died; nobody
/// waits for it any more, so a completing write may remove it.
const LAPSED_MS: i64 = 60_000;
/// At most this many are removed by one write, to keep it small.
const LAPSED_PER_WRITE: usize = 20;

/// Registrations of other messages long past their lease.
fn lapsed_registrations(view: &ConversationView, me: &Inflight, now_ms: i64) -> Vec<String> {
    view.inflight
        .iter()
        .filter(|other| other.tag != me.tag && other.until_ms + LAPSED_MS < now_ms)
        .take(LAPSED_PER_WRITE)
        .map(|other| other.tag.clone())
        .collect()
}

/// The fast path: a text (or anything else that reaches the agent as one SendMessage) into the chat that
/// is open, answering no menu. Connect deduplicates the send by its client token, so the message needs no
/// write after it. Media (whose file and notices follow), new chats, menu answers and everything the
/// customer does rather than says take the exclusive path.
fn fast_lane<'a>(
    action: &'a InboundAction,
    content: &Content,
    answered: bool,
    conversation: Option<&'a Conversation>,
) -> Option<(&'a ActiveChat, &'a str, &'a str)> {
    let InboundAction::Send {
        content_type,
        content: text,
    } = action
    else {
        return None;
    };
    let Some(Conversation {
        state: ConversationState::Active(chat),
        ..
    }) = conversation
    else {
        return None;
    };
    (!answered && !matches!(content, Content::Media(_))).then_some((chat, content_type.as_str(), text.as_str()))
}

/// When the earliest in-flight message that must go before `me` stops holding it back (epoch ms);
/// `None` when nothing does.
fn earliest_blocking_lapse(view: &ConversationView, me: &Inflight, now_ms: i64) -> Option<i64> {
    view.inflight
        .iter()
        .filter(|other| other.tag != me.tag && other.is_live(now_ms) && other.precedes(me))
        .map(|other| other.until_ms)
        .min()
}

fn waits_for_earlier(view: &ConversationView, me: &Inflight, now_ms: i64) -> bool {
    earliest_blocking_lapse(view, me, now_ms).is_some()
}

/// The chat that the customer message `wamid` (the end keyword) ended, when the conversation is still
/// ended by it: a retry of that message finds its chat gone but its confirmation maybe not sent.
fn ended_by(conversation: Option<&Conversation>, wamid: &str) -> Option<ContactId> {
    let conversation = conversation?;
    let ended = conversation.state == ConversationState::Ended && conversation.ended_by.as_deref() == Some(wamid);
    ended.then(|| conversation.previous_contact_id.clone()).flatten()
}

/// A message taken over from a fast-path holder that went quiet (sent, or died sending) went into the
/// chat that was open then, or into the chat it opened itself. If that chat is over or was replaced
/// since (`first_ms`: when the holder took it), the message is in that chat's transcript or was lost
/// with the holder's process; sending it into the new chat would show the agent a message twice, and a
/// fast holder dies in a window of one SendMessage, so it counts as delivered.
fn went_into_an_earlier_chat(view: &ConversationView, tag: &str, first_ms: i64) -> bool {
    match &view.conversation {
        Some(Conversation {
            state: ConversationState::Active(_),
            activated_ms,
            ..
        }) => *activated_ms > first_ms && view.opener.as_ref().is_none_or(|opener| opener.tag != tag),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConnectionToken, CustomerId, ParticipantToken, PhoneNumberId};

    fn conversation(state: ConversationState, activated_ms: i64) -> Conversation {
        Conversation {
            key: ConversationKey::new(
                PhoneNumberId::parse("1055550100").unwrap(),
                CustomerId::parse("14255550150").unwrap(),
            ),
            version: 3,
            generation: 1,
            state,
            previous_contact_id: None,
            activated_ms,
            ended_by: None,
        }
    }

    #[test]
    fn only_the_end_keyword_that_ended_the_chat_is_confirmed_again() {
        let contact = ContactId::parse("contact-1").unwrap();
        let ended = Conversation {
            previous_contact_id: Some(contact.clone()),
            ended_by: Some("wamid.end".into()),
            ..conversation(ConversationState::Ended, 1)
        };
        assert_eq!(ended_by(Some(&ended), "wamid.end"), Some(contact));
        assert_eq!(ended_by(Some(&ended), "wamid.other"), None, "ended by something else");
        assert_eq!(ended_by(None, "wamid.end"), None);
        let other_item = Conversation {
            ended_by: Some("item-chat-ended".into()),
            ..ended.clone()
        };
        assert_eq!(ended_by(Some(&other_item), "wamid.end"), None);
    }

    fn active(activated_ms: i64) -> Conversation {
        conversation(
            ConversationState::Active(ActiveChat {
                contact_id: ContactId::parse("contact-1").unwrap(),
                participant_token: ParticipantToken::new("pt"),
                connection_token: ConnectionToken::new("ct"),
                connection_expires_at: i64::MAX,
            }),
            activated_ms,
        )
    }

    fn inflight(tag: &str, timestamp: i64, until_ms: i64) -> Inflight {
        Inflight {
            tag: tag.into(),
            timestamp,
            received_ns: 0,
            until_ms,
        }
    }

    fn send(text: &str) -> InboundAction {
        InboundAction::Send {
            content_type: TEXT_PLAIN.into(),
            content: text.into(),
        }
    }

    #[test]
    fn only_a_plain_send_into_the_open_chat_takes_the_fast_lane() {
        let text = Content::Text { body: "hi".into() };
        let open = active(10);
        let hi = send("hi");
        let (chat, content_type, content) = fast_lane(&hi, &text, false, Some(&open)).unwrap();
        assert_eq!(
            (chat.contact_id.as_str(), content_type, content),
            ("contact-1", TEXT_PLAIN, "hi")
        );

        assert!(
            fast_lane(&send("hi"), &text, true, Some(&open)).is_none(),
            "a menu answer spends the menu"
        );
        assert!(fast_lane(&send("hi"), &text, false, None).is_none(), "no chat yet");
        let ended = conversation(ConversationState::Ended, 10);
        assert!(fast_lane(&send("hi"), &text, false, Some(&ended)).is_none());
        let skip = InboundAction::Skip { reason: "x" };
        assert!(fast_lane(&skip, &text, false, Some(&open)).is_none());
        assert!(fast_lane(&InboundAction::EndChat, &text, false, Some(&open)).is_none());
    }

    #[test]
    fn the_start_lock_decides_who_opens_the_chat() {
        let key = active(1).key;
        let opener = |tag: &str, until_ms: i64| {
            Some(Opener {
                tag: tag.into(),
                until_ms,
            })
        };
        let view = |conversation: Option<Conversation>, opener: Option<Opener>| ConversationView {
            conversation,
            opener,
            ..Default::default()
        };
        let chat = match active(1).state {
            ConversationState::Active(chat) => chat,
            ConversationState::Ended => unreachable!(),
        };
        // An active chat is used, whoever holds the lock it was opened with (even this very message).
        assert_eq!(
            start_right(&key, &view(Some(active(1)), opener("q_me", 0)), "q_me", 100),
            StartRight::Use(chat)
        );
        // The registration took the lock: the next chat is the conversation's next generation.
        let ended = conversation(ConversationState::Ended, 1);
        assert_eq!(
            start_right(&key, &view(Some(ended.clone()), opener("q_me", 50)), "q_me", 100),
            StartRight::Open(StartLock {
                key: key.clone(),
                tag: "q_me".into(),
                generation: 2,
            }),
            "held by this message even when its hold ran out: nobody took it over"
        );
        assert_eq!(
            start_right(&key, &view(None, opener("q_me", 500)), "q_me", 100),
            StartRight::Open(StartLock {
                key: key.clone(),
                tag: "q_me".into(),
                generation: 1,
            }),
            "the customer's first chat"
        );
        assert_eq!(
            start_right(&key, &view(Some(ended.clone()), opener("q_other", 500)), "q_me", 100),
            StartRight::Wait
        );
        assert_eq!(
            start_right(&key, &view(Some(ended.clone()), opener("q_other", 100)), "q_me", 100),
            StartRight::Take,
            "the other start died with its hold"
        );
        assert_eq!(
            start_right(&key, &view(Some(ended), None), "q_me", 100),
            StartRight::Take
        );
        assert_eq!(
            unused_start_lock(&key, &view(Some(active(1)), opener("q_me", 500)), "q_me"),
            None,
            "the lock of an active chat stays with it"
        );
    }

    #[test]
    fn media_never_takes_the_fast_lane() {
        let fixture = include_str!("../../../tests/fixtures/eum-image.json");
        let event: Value = serde_json::from_str(fixture).unwrap();
        let message = sns::notifications(&event)
            .unwrap()
            .into_iter()
            .map(|n| parse_eum(&n.unwrap().message).unwrap())
            .flat_map(|e| e.changes)
            .flat_map(|c| c.items)
            .find_map(|item| match item {
                Ok(Inbound::Message(m)) => Some(m),
                _ => None,
            })
            .unwrap();
        assert!(matches!(message.content, Content::Media(_)));
        assert!(fast_lane(&send("[image]"), &message.content, false, Some(&active(1))).is_none());
    }

    #[test]
    fn a_message_waits_only_for_live_earlier_ones() {
        let me = inflight("q_me", 100, 5_000);
        let view = |entries: Vec<Inflight>| ConversationView {
            inflight: entries,
            ..Default::default()
        };
        assert_eq!(
            earliest_blocking_lapse(&view(vec![me.clone()]), &me, 1_000),
            None,
            "not on itself"
        );
        let earlier = view(vec![inflight("q_a", 99, 2_500), inflight("q_b", 98, 1_800), me.clone()]);
        assert_eq!(earliest_blocking_lapse(&earlier, &me, 1_000), Some(1_800));
        assert!(waits_for_earlier(&earlier, &me, 1_000));
        assert!(
            !waits_for_earlier(&earlier, &me, 2_600),
            "a fast hold that lapsed holds nobody back"
        );
        let later = view(vec![inflight("q_c", 101, 9_000)]);
        assert!(
            !waits_for_earlier(&later, &me, 1_000),
            "later messages never hold an earlier one"
        );
    }

    #[test]
    fn only_a_conversation_last_seen_open_gets_the_fast_hold() {
        let hint = OpenChats::default();
        let key = active(1).key;
        assert_eq!(hint.next(&key), (Hold::Exclusive, None), "first message: no chat known");
        hint.open(&key, None);
        assert_eq!(hint.next(&key), (Hold::Fast, None));
        hint.open(&key, Some("q_last".into()));
        assert_eq!(
            hint.next(&key),
            (Hold::Fast, Some("q_last".into())),
            "its leftover goes with the next"
        );
        hint.closed(&key);
        assert_eq!(hint.next(&key), (Hold::Exclusive, None), "the chat was seen over");
        for i in 0..OpenChats::CAPACITY {
            let other = ConversationKey::new(
                key.phone_number_id.clone(),
                CustomerId::parse(&format!("1{i:010}")).unwrap(),
            );
            hint.open(&other, None);
        }
        hint.open(&key, None);
        assert!(hint.0.lock().unwrap().len() <= OpenChats::CAPACITY, "bounded");
        assert_eq!(hint.next(&key).0, Hold::Fast);
    }

    #[test]
    fn only_registrations_long_past_their_lease_are_swept() {
        let me = inflight("q_me", 100, 0);
        let view = ConversationView {
            inflight: vec![
                inflight("q_old", 90, 1_000),
                inflight("q_recent", 95, 50_000),
                inflight("q_me", 100, 0),
            ],
            ..Default::default()
        };
        assert_eq!(lapsed_registrations(&view, &me, 61_001 + 1_000), ["q_old"]);
        assert!(lapsed_registrations(&view, &me, 60_000).is_empty());
        let many = ConversationView {
            inflight: (0..50).map(|i| inflight(&format!("q_{i}"), i, 0)).collect(),
            ..Default::default()
        };
        assert_eq!(lapsed_registrations(&many, &me, 100_000).len(), LAPSED_PER_WRITE);
    }

    #[test]
    fn a_replayed_message_goes_only_into_the_chat_it_was_first_taken_for() {
        let view = |conversation: Option<Conversation>, opener: &str| ConversationView {
            conversation,
            opener: Some(Opener {
                tag: opener.into(),
                until_ms: 0,
            }),
            ..Default::default()
        };
        assert!(
            !went_into_an_earlier_chat(&view(Some(active(1_000)), "q_other"), "q_me", 2_000),
            "same chat: resend deduplicates"
        );
        assert!(
            went_into_an_earlier_chat(&view(Some(active(3_000)), "q_other"), "q_me", 2_000),
            "a chat started since"
        );
        assert!(
            !went_into_an_earlier_chat(&view(Some(active(3_000)), "q_me"), "q_me", 2_000),
            "the chat this very message opened: resend deduplicates"
        );
        assert!(went_into_an_earlier_chat(
            &view(Some(conversation(ConversationState::Ended, 1_000)), "q_me"),
            "q_me",
            2_000
        ));
        assert!(went_into_an_earlier_chat(&view(None, "q_me"), "q_me", 2_000));
    }
}
