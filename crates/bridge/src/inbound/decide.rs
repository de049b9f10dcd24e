//! What a claimed message becomes, and carrying it out: the fast path (one `SendMessage` into the open
//! chat) or the exclusive path (a chat start, a menu page, media, a reaction note, the end keyword).

use super::claimed::Claimed;
use super::deliver::message_token;
use super::hold::Settle;
use super::order::{lapsed_registrations, waits_for_earlier, went_into_an_earlier_chat};
use super::{InboundBridge, Outcome};
use crate::claims::Hold;
use crate::config::ReadReceipts;
use crate::content_type::TEXT_PLAIN;
use crate::ids::{ContactId, OriginationId, short_hash};
use crate::ports::{
    ActiveChat, ContactCenter, Conversation, ConversationState, ConversationView, Participant, PortResult, Said,
    StateStore, Whatsapp,
};
use crate::rich::menu;
use crate::rich::notices::{self, Notice};
use crate::rounds::behind;
use crate::telemetry::now_ms;
use crate::translate::{InboundAction, InboundState, plan_message};
use crate::whatsapp::outgoing::OutgoingMessage;
use crate::whatsapp::{Content, Media};
use std::borrow::Cow;
use std::time::Duration;

/// The most a read mark (a nicety) may add to an invocation.
pub(super) const READ_MARK_BUDGET: Duration = Duration::from_millis(1500);

/// The fast path: a text (or anything else that reaches the agent as one SendMessage) into the chat that
/// is open, answering no menu. Connect deduplicates the send by its client token, so the message needs no
/// write after it. Media (whose file and notices follow), new chats, menu answers, everything the
/// customer does rather than says, and a message the chat may have been started with (`tag`'s, see
/// [`crate::ports::OpenedWith`]) take the exclusive path.
pub(super) fn fast_lane<'a>(
    action: &'a InboundAction,
    content: &Content,
    answered: bool,
    conversation: Option<&'a Conversation>,
    tag: &str,
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
        opened_with,
        ..
    }) = conversation
    else {
        return None;
    };
    let maybe_in = opened_with.as_ref().is_some_and(|o| o.tags.iter().any(|t| t == tag));
    (!answered && !maybe_in && !matches!(content, Content::Media(_))).then_some((
        chat,
        content_type.as_str(),
        text.as_str(),
    ))
}

/// The chat that the customer message `wamid` (the end keyword) ended, when the conversation is still
/// ended by it: a retry of that message finds its chat gone but its confirmation maybe not sent.
pub(super) fn ended_by(conversation: Option<&Conversation>, wamid: &str) -> Option<ContactId> {
    let conversation = conversation?;
    let ended = conversation.state == ConversationState::Ended && conversation.ended_by.as_deref() == Some(wamid);
    ended.then(|| conversation.previous_contact_id.clone()).flatten()
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// Decides what the claimed message becomes and carries it out: on the fast path (see
    /// [`fast_lane`]) with one SendMessage and the completing write after it, else holding the claim exclusively
    /// until it is completed.
    pub(super) async fn decide(
        &self,
        claimed: &Claimed<'_>,
        mut view: ConversationView,
        quoted: Option<&str>,
    ) -> PortResult<(Outcome, Settle)> {
        let (key, message) = (claimed.key, claimed.message);
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
                self.extend(claimed).await?;
                extended = true;
            }
            view = self.wait_for_turn(key, me, view).await?;
        }
        let route = self.route(key);
        let state = InboundState {
            wording: &route.wording,
            menu: view.menu.as_ref(),
            quoted,
            end_keyword: route.end_keyword.as_deref(),
            voice_as_words: self.media.as_ref().is_some_and(|m| m.settings().voice_as_words()),
        };
        let action = plan_message(&self.planned(&message.content), message.context.as_ref(), &state);
        // An answer spends the menu, so a number typed later is just a number.
        let answered = view.menu.is_some()
            && menu::answer(view.menu.as_ref(), &message.content).is_some()
            && !matches!(action, InboundAction::Page(_));
        let lapsed = lapsed_registrations(&view, me, now_ms());
        if !extended
            && let Some((chat, content_type, content)) =
                fast_lane(&action, &message.content, answered, view.conversation.as_ref(), &me.tag)
        {
            match self.fast_send(claimed, chat, (content_type, content)).await {
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
                    self.extend(claimed).await?;
                    extended = true;
                    self.store
                        .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                        .await?;
                    view = self.store.load_conversation(key).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let act = Box::pin(self.act(claimed, view, action));
        let outcome = if extended {
            act.await?
        } else {
            let (acted, held) = tokio::join!(act, behind(self.extend(claimed)));
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

    /// The fast path's one SendMessage, with the read mark beside it (off the critical path: the blue
    /// ticks may come a moment before the message is in the chat, and stay if the send fails and is
    /// retried). Returns whether the message must be completed rather than finish on the fast hold: the
    /// send outlasted half of the hold, which was then extended.
    pub(super) async fn fast_send(
        &self,
        claimed: &Claimed<'_>,
        chat: &ActiveChat,
        (content_type, content): (&str, &str),
    ) -> PortResult<bool> {
        let (key, origination, message) = (claimed.key, claimed.origination, claimed.message);
        let client_token = message_token(message, &chat.contact_id);
        let guarded = async {
            let send = self.send(key, chat, content_type, content, &client_token, 0);
            tokio::pin!(send);
            let half = u64::try_from((claimed.me.until_ms - now_ms()) / 2).unwrap_or(0);
            match tokio::time::timeout(Duration::from_millis(half), &mut send).await {
                Ok(sent) => sent.map(|()| false),
                Err(_) => {
                    let (held, sent) = tokio::join!(self.extend(claimed), send);
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
    pub(super) async fn read_mark(&self, origination: &OriginationId, wamid: &str, delivered: bool) {
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
    pub(super) fn planned<'c>(&self, content: &'c Content) -> Cow<'c, Content> {
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
    pub(super) async fn act(
        &self,
        claimed: &Claimed<'_>,
        view: ConversationView,
        action: InboundAction,
    ) -> PortResult<Outcome> {
        let (key, origination, message) = (claimed.key, claimed.origination, claimed.message);
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
                let sent = self.deliver(claimed, (&content_type, &content), view);
                let delivered = Box::pin(sent).await?;
                if let Some((file, media)) = media {
                    Box::pin(self.deliver_media(claimed, file, media.as_ref())).await?;
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
                match self.send(key, &chat, TEXT_PLAIN, &content, &client_token, 0).await {
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
                let outgoing = OutgoingMessage::new(message.reply_to(), page);
                self.say(claimed, Said::MenuPage, &outgoing).await?;
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
                if let Some(text) = notices::render(&self.route(key).wording, Notice::CustomerEnded, None) {
                    let outgoing = OutgoingMessage::text(message.reply_to(), text);
                    self.whatsapp.send(origination, &outgoing).await?;
                }
                Ok(Outcome::EndedByCustomer { contact_id })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::fixtures::*;
    use crate::sns;
    use crate::whatsapp::{Inbound, parse_eum};
    use serde_json::Value;

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

    #[test]
    fn only_a_plain_send_into_the_open_chat_takes_the_fast_lane() {
        let text = Content::Text { body: "hi".into() };
        let open = active(10);
        let hi = send("hi");
        let (chat, content_type, content) = fast_lane(&hi, &text, false, Some(&open), "q_me").unwrap();
        assert_eq!(
            (chat.contact_id.as_str(), content_type, content),
            ("contact-1", TEXT_PLAIN, "hi")
        );

        assert!(
            fast_lane(&send("hi"), &text, true, Some(&open), "q_me").is_none(),
            "a menu answer spends the menu"
        );
        assert!(
            fast_lane(&send("hi"), &text, false, None, "q_me").is_none(),
            "no chat yet"
        );
        let ended = conversation(ConversationState::Ended, 10);
        assert!(fast_lane(&send("hi"), &text, false, Some(&ended), "q_me").is_none());
        let skip = InboundAction::Skip { reason: "x" };
        assert!(fast_lane(&skip, &text, false, Some(&open), "q_me").is_none());
        assert!(fast_lane(&InboundAction::EndChat, &text, false, Some(&open), "q_me").is_none());
        let opened = Conversation {
            opened_with: Some(crate::ports::OpenedWith {
                tags: vec!["q_me".into(), "q_other".into()],
                digest: short_hash("hi"),
            }),
            ..open.clone()
        };
        assert!(
            fast_lane(&hi, &text, false, Some(&opened), "q_me").is_none(),
            "the chat may have been started with it: the exclusive path finds out"
        );
        assert!(fast_lane(&hi, &text, false, Some(&opened), "q_later").is_some());
    }

    #[test]
    fn media_never_takes_the_fast_lane() {
        let fixture = include_str!("../../../../tests/fixtures/eum-image.json");
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
        assert!(fast_lane(&send("[image]"), &message.content, false, Some(&active(1)), "q_me").is_none());
    }
}
