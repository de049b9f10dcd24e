//! One chat per conversation: the start lock decides which message starts it (the others wait for it),
//! and the start itself (`StartChatContact`, streaming to our topic from its first item, the contact
//! mapping beside the customer's connection, the activation).
//!
//! A text that starts the chat goes in with it, as `StartChatContact`'s `InitialMessage`: it is in the
//! chat when that call returns, not three dependent calls later. Connect answers a start
//! retried under the same client token with the chat as it is, whatever the retry carries, so a
//! message may only rely on that when no other message held the lock for the same chat and may have
//! started it first ([`ConversationView::tried`]); otherwise it starts without its text, reads which
//! customer text the chat holds, and records it with the messages that may have put it there
//! ([`OpenedWith`]), which then do not send it again. Nor when an earlier message of the customer is
//! in flight, as the conversation read again just before the start shows: that one goes first. That
//! read waits until [`START_ORDER_WINDOW`] after EUM received the message, so an earlier message that
//! SNS and Lambda hand over a moment later has registered by then.
//!
//! It also owns the new chat's contact attributes: the bridge's own, and with `SAMPLE_CONTACT_ATTRIBUTES`
//! the AWS sample's ([`sample_attributes`]), so contact flows built for the sample run unchanged.

use super::InboundBridge;
use super::claimed::Claimed;
use super::order::waits_for_earlier;
use crate::claims::{self};
use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ConversationKey, OriginationId, short_hash};
use crate::ports::{
    ActiveChat, ChatRequest, ContactCenter, ContactRecord, Conversation, ConversationState, ConversationView,
    OpenedWith, Opener, Participant, PortResult, StartLock, StateStore, Whatsapp,
};
use crate::rounds::behind;
use crate::telemetry::now_ms;
use crate::whatsapp::CustomerMessage;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a start lock holds off other invocations of the same customer without a heartbeat: its
/// holder renews it with its message's hold (see [`crate::claims::Heartbeat`]), so a holder that died
/// keeps the conversation's other messages waiting for seconds, not for a whole invocation.
pub(super) const START_LOCK_MS: i64 = claims::HEARTBEAT_LEASE_MS;

/// How long a message waits for another invocation's chat start before giving up (and retrying later).
pub(super) const WAIT_FOR_START: Duration = Duration::from_secs(20);

pub(super) const POLL_START: Duration = Duration::from_millis(100);

/// How long after EUM received it a message may start its chat with its text: the order window of a
/// chat's first messages. SNS and Lambda hand a burst's messages to the handler in any order and
/// moments apart (tens of milliseconds for warm invocations); an earlier message handed over up to
/// this much later registers before the start and goes first. A start without a text gave the same
/// protection by its later rounds (four dependent calls between registration and the send).
pub(super) const START_ORDER_WINDOW: Duration = Duration::from_millis(100);

/// Keep state a week past the longest chat, so a returning customer is recognised.
pub(super) const STATE_RETENTION_S: i64 = 7 * 24 * 3600;

/// The chat a message goes into.
pub(super) struct ChatReady {
    pub(super) chat: ActiveChat,
    /// This delivery started the chat.
    pub(super) opened: bool,
    /// The chat was started while this delivery was under way (by it or by another one).
    pub(super) after_start: bool,
    /// The conversation as this delivery's start left it (who else is in flight), when it started the chat.
    pub(super) view: Option<ConversationView>,
    /// The customer's text the chat was started with, and whose it may be.
    pub(super) opened_with: Option<OpenedWith>,
}

/// A chat start as the message holding the lock makes it.
pub(super) struct Start<'a> {
    pub(super) lock: StartLock,
    /// The conversation's previous chat, linked to the new one.
    pub(super) previous: Option<ContactId>,
    /// The message's (content type, first part), to start the chat with.
    pub(super) initial: Option<(&'a str, &'a str)>,
    /// The messages whose starts of this chat may have landed (see [`ConversationView::tried`]).
    pub(super) tried: Vec<String>,
}

/// Whether the message `me` may start its chat with its text: nobody else may have started that chat
/// with theirs, and no earlier message of the customer is waiting to go first.
pub(super) fn may_start_with_text(view: &ConversationView, me: &crate::ports::Inflight, now_ms: i64) -> bool {
    view.tried.iter().all(|tag| *tag == me.tag) && !waits_for_earlier(view, me, now_ms)
}

/// What a message that needs a chat does, given its conversation as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StartRight {
    /// Deliver into the active chat.
    Use(ActiveChat),
    /// This message holds the start lock: start the chat.
    Open(StartLock),
    /// Another message is starting the chat: wait for it.
    Wait,
    /// Nobody (alive) holds the lock: take it.
    Take,
}

pub(super) fn start_right(key: &ConversationKey, view: &ConversationView, tag: &str, now_ms: i64) -> StartRight {
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
pub(super) fn unused_start_lock(key: &ConversationKey, view: &ConversationView, tag: &str) -> Option<StartLock> {
    match start_right(key, view, tag, i64::MAX) {
        StartRight::Open(lock) => Some(lock),
        _ => None,
    }
}

/// Connect's `ParticipantDetails.DisplayName` allows 1 to 256 characters.
pub(super) const DISPLAY_NAME_MAX_CHARS: usize = 256;

/// The name the agent sees: the WhatsApp profile name (shortened to what Connect accepts: a longer one
/// would have the chat refused), else the phone number, else the business-scoped id.
pub(super) fn participant_name(message: &CustomerMessage) -> String {
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

/// The AWS sample's `Channel`: flows built for it compare the value, and attribute values are
/// case-sensitive, so it is not the bridge's `WhatsApp`.
const SAMPLE_CHANNEL: &str = "Whatsapp";

/// The sample's `customerName` for a profile without a name.
const SAMPLE_NO_NAME: &str = "NN";

/// The contact attributes the AWS sample set, named and filled as it did (docs/migration.md), for
/// contact flows built for it. They go in after the bridge's own, so the sample's `Channel` value
/// replaces the bridge's: a flow that checks it compares it with `Whatsapp`.
pub(super) fn sample_attributes(message: &CustomerMessage, origination: &OriginationId) -> [(String, String); 4] {
    [
        ("Channel".to_owned(), SAMPLE_CHANNEL.to_owned()),
        // The sample's customer is their phone number; one WhatsApp shares no number of (a username
        // only) still needs an id the flow can read, and the business-scoped one is all there is.
        ("customerId".to_owned(), message.reply_to().to_string()),
        (
            "customerName".to_owned(),
            message.profile_name.as_deref().unwrap_or(SAMPLE_NO_NAME).to_owned(),
        ),
        ("systemNumber".to_owned(), origination.to_string()),
    ]
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// Returns the conversation's active chat, starting one (or waiting for another invocation's start),
    /// with the message's `initial` text in it if it can.
    pub(super) async fn ensure_chat(
        &self,
        claimed: &Claimed<'_>,
        mut view: ConversationView,
        initial: Option<(&str, &str)>,
    ) -> PortResult<ChatReady> {
        let (key, me) = (claimed.key, claimed.me);
        let deadline = Instant::now() + claims::bounded_wait(WAIT_FOR_START);
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
                        opened_with: view.conversation.as_ref().and_then(|c| c.opened_with.clone()),
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
                    // A holder whose hold ran out may have started the chat before it died.
                    let replaced = view
                        .opener
                        .as_ref()
                        .map(|o| o.tag.as_str())
                        .filter(|tag| *tag != me.tag);
                    view = match self.store.take_start_lock(key, &opener, now_ms(), replaced).await? {
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
            // Messages sent together register moments apart, in any order: one more read, once the
            // order window has passed, lets an earlier one that registered after this one go first.
            let initial = match initial {
                Some(text) if may_start_with_text(&view, me, now_ms()) => {
                    let received_ms = me.received_ns / 1_000_000;
                    tokio::time::sleep(claims::window_left(START_ORDER_WINDOW, received_ms, now_ms())).await;
                    let now = self.store.load_conversation(key).await?;
                    may_start_with_text(&now, me, now_ms()).then_some(text)
                }
                _ => None,
            };
            let start = Start {
                initial,
                tried: std::mem::take(&mut view.tried),
                previous: view.conversation.and_then(|c| c.previous_contact_id),
                lock,
            };
            let chat = self.open_chat(&start, claimed).await;
            // Started or given back: either way nobody need be kept waiting for it any more.
            claimed.opening.store(false, Ordering::Relaxed);
            if let Err(e) = &chat {
                // A chat that is gone right after its start (e.g. the flow ended it) must not be handed
                // back by Connect on the retry: its generation is retired.
                self.give_back(Some(&start.lock), e.is_chat_gone()).await;
            }
            return chat.map(|(chat, view)| ChatReady {
                chat,
                opened: true,
                after_start: true,
                opened_with: view.conversation.as_ref().and_then(|c| c.opened_with.clone()),
                view: Some(view),
            });
        }
    }

    /// Gives back a start lock that did not lead to an active chat, so the conversation's next message
    /// need not wait for it to expire.
    pub(super) async fn give_back(&self, lock: Option<&StartLock>, retire: bool) {
        if let Some(lock) = lock
            && let Err(e) = self.store.abandon_start(lock, retire).await
        {
            tracing::warn!(error = %e, "could not give back the start lock; it expires on its own");
        }
    }

    pub(super) async fn open_chat(
        &self,
        start: &Start<'_>,
        claimed: &Claimed<'_>,
    ) -> PortResult<(ActiveChat, ConversationView)> {
        let (lock, previous) = (&start.lock, start.previous.clone());
        let (key, origination, message) = (&lock.key, claimed.origination, claimed.message);
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
        if self.config.sample_contact_attributes {
            attributes.extend(sample_attributes(message, origination));
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
                initial_message: start
                    .initial
                    .map(|(content_type, content)| (content_type.to_owned(), content.to_owned())),
                contact_flow_id: Some(self.route(key).contact_flow_id.clone()),
            })
            .await?;
        let ttl = i64::from(self.config.chat_duration_minutes) * 60 + STATE_RETENTION_S;
        // Side by side: an item streamed before the mapping lands waits for it in ConnectHandler (see
        // `crate::outbound`).
        let contact = ContactRecord {
            initial_contact_id: started.contact_id.clone(),
            phone_number_id: key.phone_number_id.clone(),
            customer_id: key.customer_id.clone(),
            phone: message.phone.clone(),
            origination_id: origination.clone(),
        };
        let (connection, mapped) = tokio::join!(
            self.participant.connect(&started.participant_token),
            behind(self.store.put_contact(&contact, ttl))
        );
        mapped?;
        let connection = connection?;
        let chat = ActiveChat {
            contact_id: started.contact_id,
            participant_token: started.participant_token,
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
        };
        let opened_with = match start.initial {
            Some((_, text)) => Some(OpenedWith {
                tags: vec![claimed.me.tag.clone()],
                digest: short_hash(text),
            }),
            // Another message's start may have landed first, with its text: the chat tells which.
            None if !start.tried.is_empty() => {
                let texts = self
                    .participant
                    .sent_texts(&chat.connection_token, &chat.contact_id)
                    .await?;
                texts.first().map(|text| OpenedWith {
                    tags: start.tried.clone(),
                    digest: short_hash(text),
                })
            }
            None => None,
        };
        let view = self.store.activate(lock, &chat, opened_with.as_ref(), ttl).await?;
        crate::metrics::record(&crate::metrics::Metric::ChatStarted);
        Ok((chat, view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, Wamid};
    use crate::inbound::fixtures::*;
    use crate::whatsapp::Content;

    /// A customer's text from `customer_id` (and `phone`, when WhatsApp shares it) under `profile_name`.
    fn message(customer_id: &str, phone: Option<&str>, profile_name: Option<&str>) -> CustomerMessage {
        CustomerMessage {
            wamid: Wamid::parse("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdG").unwrap(),
            customer_id: CustomerId::parse(customer_id).unwrap(),
            phone: phone.map(|p| CustomerId::parse(p).unwrap()),
            profile_name: profile_name.map(str::to_owned),
            timestamp: 1_762_843_883,
            received_ns: None,
            context: None,
            content: Content::Text { body: "Hi".to_owned() },
        }
    }

    fn attributes(message: &CustomerMessage) -> HashMap<String, String> {
        let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
        sample_attributes(message, &origination).into_iter().collect()
    }

    #[test]
    fn the_samples_attributes_are_named_and_filled_as_the_sample_did() {
        let got = attributes(&message("US.13491208655302741918", Some("16505551234"), Some("Sheena")));
        let want: HashMap<String, String> = [
            ("Channel", "Whatsapp"),
            ("customerId", "16505551234"),
            ("customerName", "Sheena"),
            ("systemNumber", "phone-number-id-976c72a700aac43eaf573ae050b1e2f3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(got, want, "customerId is the phone number even when a user id is known");
    }

    #[test]
    fn without_a_profile_name_or_a_phone_number_the_sample_attributes_still_say_something() {
        let got = attributes(&message("US.13491208655302741918", None, None));
        assert_eq!(got["customerName"], "NN", "the sample's placeholder");
        assert_eq!(
            got["customerId"], "US.13491208655302741918",
            "the user id stands in for the number"
        );
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
}
