//! Translation rules: what a WhatsApp message becomes in Connect, and what a Connect item becomes on
//! WhatsApp. Pure functions over the typed values of [`crate::whatsapp`] and [`crate::connect_stream`],
//! so every rule is unit-tested without I/O and the services only carry the decisions out. How things
//! *look* once they cross (markdown, menus, notices, readable renderings) lives in [`crate::rich`].

use crate::config::ReadReceipts;
use crate::connect_stream::{ItemType, Role, StreamItem, Visibility};
use crate::content_type::{INTERACTIVE, INTERACTIVE_RESPONSE, TEXT_MARKDOWN, TEXT_PLAIN};
use crate::ids::PhoneNumberId;
use crate::rich::interactive::{self, RenderOptions};
use crate::rich::menu::{self, Answer, Menu};
use crate::rich::notices::{self, Notice};
use crate::rich::text::{Unit, truncate};
use crate::rich::{markdown, render, split};
use crate::routes::{PerNumber, Route, Routes};
use crate::whatsapp::outgoing::OutgoingBody;
use crate::whatsapp::{Content, InteractiveReply, MediaKind, MessageContext};
use crate::wording::{self, Wording};
use std::sync::Arc;

/// What to do with a customer's WhatsApp message, judged on its content alone (before any state is
/// read): whether it can be bridged at all. The full decision is [`plan_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundPlan {
    /// Deliver as a customer chat message, opening a chat if none is active.
    Send {
        content_type: &'static str,
        content: String,
    },
    /// Not bridged (yet); never opens a chat. `reason` is a stable log code.
    Skip { reason: &'static str },
}

/// Connect refuses empty content, and WhatsApp bodies are never longer than this many bytes of text.
pub const MAX_INBOUND_TEXT_BYTES: usize = 16 * 1024;

/// The content-only verdict; kept for callers (fuzzing) that have no conversation state.
pub fn plan_inbound(content: &Content) -> InboundPlan {
    match plan_message(content, None, &InboundState::default()) {
        InboundAction::Send { content_type, content } => InboundPlan::Send {
            content_type: if content_type == TEXT_PLAIN {
                TEXT_PLAIN
            } else {
                INTERACTIVE_RESPONSE
            },
            content,
        },
        InboundAction::Skip { reason } => InboundPlan::Skip { reason },
        InboundAction::Note { .. } => InboundPlan::Skip {
            reason: "reaction_not_bridged",
        },
        InboundAction::Page(_) | InboundAction::EndChat => InboundPlan::Skip {
            reason: "needs_conversation_state",
        },
    }
}

/// What the bridge knows about the conversation when it decides on a message.
#[derive(Debug, Clone, Copy)]
pub struct InboundState<'a> {
    /// The business number's words, for what the agent reads in place of what Connect cannot show.
    pub wording: &'a Wording,
    /// The menu the customer was last shown, if any.
    pub menu: Option<&'a Menu>,
    /// The text of the message this one replies or reacts to, when the bridge sent it.
    pub quoted: Option<&'a str>,
    /// The customer's keyword for ending the chat (compared trimmed, case-insensitively).
    pub end_keyword: Option<&'a str>,
    /// A voice note's transcript goes into the chat as the customer's words
    /// ([`crate::media::service::MediaSettings::voice_as_words`]).
    pub voice_as_words: bool,
}

impl Default for InboundState<'_> {
    fn default() -> Self {
        Self {
            wording: wording::english(),
            menu: None,
            quoted: None,
            end_keyword: None,
            voice_as_words: false,
        }
    }
}

/// The full decision on a customer's message.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundAction {
    /// Deliver to Connect as the customer's message, opening a chat if none is active.
    Send {
        content_type: String,
        content: String,
    },
    /// A note for a chat that is already open; never opens one (reactions).
    Note {
        content: String,
    },
    /// The customer asked for the next page of a menu: send it to them, Connect hears nothing.
    Page(OutgoingBody),
    /// The customer typed the end keyword.
    EndChat,
    Skip {
        reason: &'static str,
    },
}

/// The wamid whose text would make this message readable: what it replies or reacts to.
pub fn quoted_wamid<'a>(content: &'a Content, context: Option<&'a MessageContext>) -> Option<&'a str> {
    match content {
        Content::Reaction { message_id, .. } => Some(message_id),
        _ => context.and_then(|c| c.replied_to.as_deref()),
    }
}

fn is_end_keyword(body: &str, keyword: Option<&str>) -> bool {
    keyword
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .is_some_and(|k| body.trim().eq_ignore_ascii_case(k))
}

/// Decides what a customer's message becomes: taps and typed numbers answer the stored menu as
/// Connect's widget would; locations, contacts and the like become readable text; a reply carries the
/// quoted text when it is known; reactions only ever go into an open chat; media are not bridged here.
pub fn plan_message(content: &Content, context: Option<&MessageContext>, state: &InboundState) -> InboundAction {
    if let Content::Text { body } = content {
        if body.trim().is_empty() {
            return InboundAction::Skip { reason: "empty_text" };
        }
        if body.len() > MAX_INBOUND_TEXT_BYTES {
            return InboundAction::Skip {
                reason: "oversized_text",
            };
        }
        if is_end_keyword(body, state.end_keyword) {
            return InboundAction::EndChat;
        }
    }
    if let Some(answer) = menu::answer(state.menu, content) {
        return match answer {
            Answer::Connect(message) => InboundAction::Send {
                content_type: message.content_type,
                content: message.content,
            },
            Answer::Page(page) => InboundAction::Page(page),
        };
    }
    let quoted = state.quoted;
    match content {
        Content::Text { body } => InboundAction::Send {
            content_type: TEXT_PLAIN.to_owned(),
            // A reply shows what it answers only when the bridge knows that text; otherwise as is.
            content: render::with_reply(body, context.and(quoted)),
        },
        // Its transcript will be the customer's words: a description before it would be what a bot in
        // the flow reads as the customer's answer. Nothing is said; the chat is opened (or found) and the
        // file and its transcript follow.
        Content::Media(m) if state.voice_as_words && m.kind == MediaKind::Audio && m.voice => InboundAction::Send {
            content_type: TEXT_PLAIN.to_owned(),
            content: String::new(),
        },
        // Media: first what was sent, as text (it may open the chat); the file follows (crate::media).
        Content::Media(_) => InboundAction::Send {
            content_type: TEXT_PLAIN.to_owned(),
            content: render::describe(state.wording, content, None).unwrap_or_default(),
        },
        // A type this release does not know may not be a message at all, so it opens nothing.
        Content::Unknown { .. } => InboundAction::Skip {
            reason: "type_not_bridged",
        },
        Content::Reaction { .. } => InboundAction::Note {
            content: render::describe(state.wording, content, quoted).unwrap_or_default(),
        },
        Content::Interactive(InteractiveReply::Button { .. } | InteractiveReply::List { .. })
        | Content::Button { .. } => {
            // `answer` always answers taps; kept total for the compiler.
            InboundAction::Skip {
                reason: "type_not_bridged",
            }
        }
        other => match render::describe(state.wording, other, quoted) {
            Some(text) if !text.trim().is_empty() => InboundAction::Send {
                content_type: TEXT_PLAIN.to_owned(),
                content: render::with_reply(&text, context.and(quoted)),
            },
            _ => InboundAction::Skip {
                reason: "type_not_bridged",
            },
        },
    }
}

/// What the deployment configures about outbound rendering, for one business number.
#[derive(Debug, Clone)]
pub struct OutboundRules {
    pub wording: Arc<Wording>,
    /// Menu labels in the number's words, and how long menus are shown.
    pub render: RenderOptions,
    /// `Off` also silences the agent's typing indicator, which WhatsApp shows only with a read mark.
    pub read_receipts: ReadReceipts,
}

impl OutboundRules {
    pub fn new(wording: Arc<Wording>, read_receipts: ReadReceipts) -> Self {
        Self {
            render: RenderOptions::in_words(&wording),
            wording,
            read_receipts,
        }
    }
}

impl Default for OutboundRules {
    fn default() -> Self {
        Self::new(Arc::new(Wording::default()), ReadReceipts::default())
    }
}

/// Each business number's outbound rules.
#[derive(Debug, Clone)]
pub struct Rulebook {
    rules: PerNumber<OutboundRules>,
    /// Decides what an item is before its chat (and so its number) is known: in the built-in words,
    /// where no notice is silent, so a notice one number silences still reaches the numbers that
    /// keep it.
    classifier: OutboundRules,
}

impl Rulebook {
    pub fn new(routes: &Routes, read_receipts: ReadReceipts) -> Self {
        Self {
            rules: routes.map(|route: &Route| OutboundRules::new(route.wording.clone(), read_receipts)),
            classifier: OutboundRules::new(Arc::new(Wording::default()), read_receipts),
        }
    }

    pub fn for_number(&self, id: &PhoneNumberId) -> &OutboundRules {
        self.rules.for_number(id)
    }

    pub fn classifier(&self) -> &OutboundRules {
        &self.classifier
    }
}

impl From<OutboundRules> for Rulebook {
    fn from(rules: OutboundRules) -> Self {
        Self {
            classifier: OutboundRules::new(Arc::new(Wording::default()), rules.read_receipts),
            rules: PerNumber::single(rules),
        }
    }
}

/// What to do with an item Connect streamed.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundPlan {
    /// Send to the customer, in order. `menu` is kept (before sending) for the customer's answer;
    /// `summary` names the message to the agent if WhatsApp later reports it failed.
    Send {
        messages: Vec<OutgoingBody>,
        menu: Option<Menu>,
        summary: String,
    },
    /// Show the customer that the agent is typing.
    Typing,
    /// The chat is over for the customer: the next WhatsApp message must open a new one. `notice` is
    /// sent only by the delivery that actually ends the conversation, so it is said once.
    EndConversation {
        notice: Option<String>,
    },
    Skip {
        reason: &'static str,
    },
}

/// [`plan_outbound_with`] with the default notices and rendering.
pub fn plan_outbound(item: &StreamItem) -> OutboundPlan {
    plan_outbound_with(item, &OutboundRules::default())
}

fn notice(rules: &OutboundRules, notice: Notice, item: &StreamItem) -> OutboundPlan {
    match notices::render(&rules.wording, notice, item.display_name.as_deref()) {
        Some(text) => OutboundPlan::Send {
            messages: vec![OutgoingBody::text(text.clone())],
            menu: None,
            summary: text,
        },
        None => OutboundPlan::Skip {
            reason: "notice_disabled",
        },
    }
}

/// How much of a customer's message is kept for quoting it later: a quote shows far less, but the
/// rendering decides how much, so keep a little more than it needs.
const QUOTABLE_CHARS: usize = 2 * render::QUOTE_MAX_CHARS;

/// What a customer's message said, as a later reply to it quotes it: its text, the option it chose, or
/// the description the agent saw.
pub fn quotable(wording: &Wording, content: &Content) -> Option<String> {
    let text = match content {
        Content::Text { body } => body.clone(),
        Content::Button { text, .. } => text.clone(),
        Content::Interactive(InteractiveReply::Button { title, .. } | InteractiveReply::List { title, .. }) => {
            title.clone()
        }
        other => render::describe(wording, other, None)?,
    };
    Some(truncate(&text, QUOTABLE_CHARS, Unit::Chars))
}

/// A message for Connect as the parts it accepts: a text longer than the chat's limit goes as several
/// messages, in order; other content types go whole.
pub fn connect_parts(content_type: &str, content: &str, limit: split::Limit) -> Vec<String> {
    if content_type == TEXT_PLAIN || content_type == TEXT_MARKDOWN {
        split::split(content, limit)
    } else {
        vec![content.to_owned()]
    }
}

/// Text parts for WhatsApp: markdown turned into WhatsApp's marks, then split to its limit.
pub fn text_parts(content_type: &str, body: &str) -> Vec<String> {
    let text = if content_type == TEXT_MARKDOWN {
        markdown::to_whatsapp(body)
    } else {
        body.to_owned()
    };
    split::split(&text, split::WHATSAPP_TEXT)
}

pub fn plan_outbound_with(item: &StreamItem, rules: &OutboundRules) -> OutboundPlan {
    match item.item_type {
        ItemType::Event => match (item.event_name(), &item.role) {
            (Some("chat.ended"), _) => OutboundPlan::EndConversation {
                notice: notices::render(&rules.wording, Notice::ChatEnded, None),
            },
            // The customer side leaves only when the bridge disconnects it (the end keyword), and that
            // path confirms to the customer itself.
            (Some("participant.left"), Some(Role::Customer)) => OutboundPlan::EndConversation { notice: None },
            (Some("participant.autodisconnection"), _) => OutboundPlan::EndConversation {
                notice: notices::render(&rules.wording, Notice::AutoDisconnect, None),
            },
            (Some("participant.joined"), Some(Role::Agent)) => notice(rules, Notice::AgentJoined, item),
            (Some("participant.left"), Some(Role::Agent)) => notice(rules, Notice::AgentLeft, item),
            (Some("transfer.succeeded"), _) => notice(rules, Notice::Transferred, item),
            (Some("participant.idle"), Some(Role::Customer) | None) => notice(rules, Notice::Idle, item),
            (Some("typing"), Some(Role::Agent)) if rules.read_receipts == ReadReceipts::Off => OutboundPlan::Skip {
                reason: "typing_without_read_receipts",
            },
            (Some("typing"), Some(Role::Agent)) => OutboundPlan::Typing,
            _ => OutboundPlan::Skip {
                reason: "event_not_bridged",
            },
        },
        ItemType::Message => {
            if item.role == Some(Role::Customer) {
                return OutboundPlan::Skip {
                    reason: "customer_echo",
                };
            }
            if !matches!(item.visibility, Visibility::Customer | Visibility::All) {
                return OutboundPlan::Skip {
                    reason: "not_customer_visible",
                };
            }
            match (item.content_type.as_str(), item.content.as_deref()) {
                (TEXT_PLAIN | TEXT_MARKDOWN, Some(body)) if !body.trim().is_empty() => {
                    let parts = text_parts(&item.content_type, body);
                    OutboundPlan::Send {
                        summary: parts.first().cloned().unwrap_or_default(),
                        messages: parts.into_iter().map(OutgoingBody::text).collect(),
                        menu: None,
                    }
                }
                (TEXT_PLAIN | TEXT_MARKDOWN, _) => OutboundPlan::Skip {
                    reason: "empty_message",
                },
                (INTERACTIVE, Some(content)) => match interactive::render_content(content, &rules.render) {
                    Ok(Some(rendered)) => OutboundPlan::Send {
                        summary: summary_of(&rendered.message),
                        messages: vec![rendered.message],
                        menu: rendered.menu,
                    },
                    // Never raw JSON to a customer: what cannot be shown is not sent.
                    Ok(None) => OutboundPlan::Skip {
                        reason: "empty_interactive",
                    },
                    Err(_) => OutboundPlan::Skip {
                        reason: "malformed_interactive",
                    },
                },
                _ => OutboundPlan::Skip {
                    reason: "content_type_not_bridged",
                },
            }
        }
        ItemType::Attachment => OutboundPlan::Skip {
            reason: "attachment_not_bridged",
        },
        ItemType::Other(_) => OutboundPlan::Skip {
            reason: "item_type_not_bridged",
        },
    }
}

/// The text that names a sent message to the agent (its body, or an interactive message's body).
fn summary_of(message: &OutgoingBody) -> String {
    message.body_text().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ContactId, ItemId};
    use crate::whatsapp::Location;

    fn item(item_type: ItemType, content_type: &str, role: Option<Role>, visibility: Visibility) -> StreamItem {
        StreamItem {
            id: ItemId::parse("i1").unwrap(),
            item_type,
            content_type: content_type.to_owned(),
            content: Some("Hello".to_owned()),
            role,
            display_name: Some("Ana".to_owned()),
            initial_contact_id: ContactId::parse("c1").unwrap(),
            contact_id: ContactId::parse("c1").unwrap(),
            visibility,
            attachments: vec![],
            absolute_time_ms: None,
        }
    }

    fn texts(plan: &OutboundPlan) -> Vec<String> {
        match plan {
            OutboundPlan::Send { messages, .. } => messages
                .iter()
                .map(|m| match m {
                    OutgoingBody::Text { text } => text.body.clone(),
                    other => panic!("not text: {other:?}"),
                })
                .collect(),
            other => panic!("not sent: {other:?}"),
        }
    }

    fn send(content: &str) -> InboundAction {
        InboundAction::Send {
            content_type: TEXT_PLAIN.into(),
            content: content.into(),
        }
    }

    #[test]
    fn text_is_sent_and_other_types_never_open_chats() {
        assert_eq!(
            plan_inbound(&Content::Text { body: "hi".into() }),
            InboundPlan::Send {
                content_type: TEXT_PLAIN,
                content: "hi".into()
            }
        );
        assert!(matches!(
            plan_inbound(&Content::Text { body: "  ".into() }),
            InboundPlan::Skip { .. }
        ));
        let reaction = Content::Reaction {
            message_id: "x".into(),
            emoji: Some("👍".into()),
        };
        assert!(matches!(plan_inbound(&reaction), InboundPlan::Skip { .. }));
        assert_eq!(
            plan_message(&reaction, None, &InboundState::default()),
            InboundAction::Note {
                content: "reacted 👍 to a message".into()
            }
        );
    }

    #[test]
    fn readable_content_replies_and_end_keyword() {
        let location = Content::Location(Location {
            latitude: 1.5,
            longitude: 2.5,
            name: Some("Home".into()),
            address: None,
            url: None,
        });
        let InboundAction::Send { content, .. } = plan_message(&location, None, &InboundState::default()) else {
            panic!()
        };
        assert!(content.contains("Home"), "{content}");
        let context = MessageContext {
            replied_to: Some("wamid.A".into()),
            ..Default::default()
        };
        let state = InboundState {
            quoted: Some("Your order shipped"),
            end_keyword: Some("#end"),
            ..Default::default()
        };
        let text = Content::Text { body: "Thanks".into() };
        assert_eq!(quoted_wamid(&text, Some(&context)), Some("wamid.A"));
        assert_eq!(
            plan_message(&text, Some(&context), &state),
            send(&render::with_reply("Thanks", Some("Your order shipped")))
        );
        assert_eq!(
            plan_message(&Content::Text { body: " #END ".into() }, None, &state),
            InboundAction::EndChat
        );
        assert_eq!(
            plan_message(&Content::Text { body: "#end".into() }, None, &InboundState::default()),
            send("#end")
        );
    }

    #[test]
    fn a_voice_note_whose_transcript_is_the_customers_words_says_nothing_before_it() {
        let note = |voice: bool| {
            Content::Media(crate::whatsapp::Media {
                id: "m".into(),
                kind: MediaKind::Audio,
                mime_type: Some("audio/ogg; codecs=opus".into()),
                caption: None,
                filename: None,
                voice,
                animated: false,
                sha256: None,
            })
        };
        let words = InboundState {
            voice_as_words: true,
            ..Default::default()
        };
        assert_eq!(plan_message(&note(true), None, &words), send(""));
        // Any other audio is described, as a voice note is when its transcript is labelled.
        assert_eq!(
            plan_message(&note(false), None, &words),
            send("[audio: audio/ogg; codecs=opus]")
        );
        assert_eq!(
            plan_message(&note(true), None, &InboundState::default()),
            send("[voice note: audio/ogg; codecs=opus]")
        );
    }

    #[test]
    fn forwarding_rule() {
        for role in [Role::Agent, Role::System, Role::CustomBot] {
            let plain = plan_outbound(&item(
                ItemType::Message,
                TEXT_PLAIN,
                Some(role.clone()),
                Visibility::All,
            ));
            assert_eq!(texts(&plain), ["Hello"]);
            let md = plan_outbound(&item(
                ItemType::Message,
                TEXT_MARKDOWN,
                Some(role),
                Visibility::Customer,
            ));
            assert_eq!(texts(&md), ["Hello"]);
        }
        assert_eq!(
            plan_outbound(&item(
                ItemType::Message,
                TEXT_PLAIN,
                Some(Role::Customer),
                Visibility::All
            )),
            OutboundPlan::Skip {
                reason: "customer_echo"
            }
        );
        for visibility in [Visibility::Agent, Visibility::Unknown] {
            assert_eq!(
                plan_outbound(&item(ItemType::Message, TEXT_PLAIN, Some(Role::Agent), visibility)),
                OutboundPlan::Skip {
                    reason: "not_customer_visible"
                }
            );
        }
        // Interactive content that does not parse is never sent raw.
        assert_eq!(
            plan_outbound(&item(
                ItemType::Message,
                INTERACTIVE,
                Some(Role::System),
                Visibility::All
            )),
            OutboundPlan::Skip {
                reason: "malformed_interactive"
            }
        );
    }

    #[test]
    fn markdown_and_long_messages() {
        let mut md = item(ItemType::Message, TEXT_MARKDOWN, Some(Role::Agent), Visibility::All);
        md.content = Some("**Order** status".into());
        assert_eq!(texts(&plan_outbound(&md)), ["*Order* status"]);
        let long = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
        let parts = text_parts(TEXT_PLAIN, &long);
        assert_eq!(parts, ["a".repeat(3000), "b".repeat(3000)]);
    }

    #[test]
    fn customer_messages_are_kept_short_for_quoting() {
        assert_eq!(
            quotable(
                wording::english(),
                &Content::Text {
                    body: "Where is my order?".into()
                }
            )
            .as_deref(),
            Some("Where is my order?")
        );
        let long = quotable(
            wording::english(),
            &Content::Text {
                body: "word ".repeat(100),
            },
        )
        .unwrap();
        assert!(long.chars().count() <= QUOTABLE_CHARS && long.ends_with('…'));
        let tap = Content::Interactive(InteractiveReply::List {
            id: "2".into(),
            title: "Billing".into(),
            description: None,
        });
        assert_eq!(quotable(wording::english(), &tap).as_deref(), Some("Billing"));
        let place = Content::Location(Location {
            latitude: 1.0,
            longitude: 2.0,
            name: Some("Home".into()),
            address: None,
            url: None,
        });
        assert!(quotable(wording::english(), &place).unwrap().contains("Home"));
    }

    #[test]
    fn long_customer_texts_fit_connect() {
        let limit = split::Limit::new(1024, crate::rich::text::Unit::Chars);
        // A WhatsApp-maximum text of emoji and words: every part fits, nothing is lost or reordered.
        let long = "Hola 👋🏽 mi pedido no llegó. ".repeat(140);
        let parts = connect_parts(TEXT_PLAIN, &long, limit);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert!(parts.iter().all(|p| limit.fits(p) && !p.is_empty()));
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squash(&parts.concat()), squash(&long));
        assert_eq!(connect_parts(TEXT_PLAIN, "short", limit), ["short"]);
        // Interactive answers are bounded by their own (larger) limit and never cut.
        let answer = "x".repeat(2000);
        assert_eq!(connect_parts(INTERACTIVE_RESPONSE, &answer, limit), [answer]);
    }

    #[test]
    fn lifecycle_notices_and_typing() {
        let ended = "application/vnd.amazonaws.connect.event.chat.ended";
        let left = "application/vnd.amazonaws.connect.event.participant.left";
        let joined = "application/vnd.amazonaws.connect.event.participant.joined";
        let typing = "application/vnd.amazonaws.connect.event.typing";
        assert!(matches!(
            plan_outbound(&item(ItemType::Event, ended, None, Visibility::All)),
            OutboundPlan::EndConversation { notice: Some(_) }
        ));
        assert_eq!(
            plan_outbound(&item(ItemType::Event, left, Some(Role::Customer), Visibility::All)),
            OutboundPlan::EndConversation { notice: None }
        );
        assert_eq!(
            texts(&plan_outbound(&item(
                ItemType::Event,
                joined,
                Some(Role::Agent),
                Visibility::All
            ))),
            ["Ana has joined the chat."]
        );
        assert_eq!(
            texts(&plan_outbound(&item(
                ItemType::Event,
                left,
                Some(Role::Agent),
                Visibility::All
            ))),
            ["Ana has left the chat."]
        );
        assert_eq!(
            plan_outbound(&item(ItemType::Event, typing, Some(Role::Agent), Visibility::All)),
            OutboundPlan::Typing
        );
        // The indicator comes only with a read mark, which READ_RECEIPTS=off forbids.
        let receipts_off = OutboundRules {
            read_receipts: ReadReceipts::Off,
            ..OutboundRules::default()
        };
        assert_eq!(
            plan_outbound_with(
                &item(ItemType::Event, typing, Some(Role::Agent), Visibility::All),
                &receipts_off
            ),
            OutboundPlan::Skip {
                reason: "typing_without_read_receipts"
            }
        );
        let silent =
            crate::wording::parse_overrides("MESSAGES", &serde_json::json!({"notice-agent-joined": ""})).unwrap();
        let rules = OutboundRules::new(
            Arc::new(Wording::new(crate::wording::Language::En, &silent)),
            ReadReceipts::default(),
        );
        assert_eq!(
            plan_outbound_with(
                &item(ItemType::Event, joined, Some(Role::Agent), Visibility::All),
                &rules
            ),
            OutboundPlan::Skip {
                reason: "notice_disabled"
            }
        );
    }
}
