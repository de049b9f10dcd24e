//! Translation rules: what a WhatsApp message becomes in Connect, and what a Connect item becomes on
//! WhatsApp. Pure functions over the typed values of [`crate::whatsapp`] and [`crate::connect_stream`],
//! so every rule is unit-tested without I/O and the services only carry the decisions out.

use crate::connect_stream::{ItemType, Role, StreamItem, Visibility};
use crate::whatsapp::Content;

/// What to do with a customer's WhatsApp message.
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

pub const TEXT_PLAIN: &str = "text/plain";
pub const TEXT_MARKDOWN: &str = "text/markdown";

/// Connect refuses empty content, and WhatsApp bodies are never longer than this many bytes of text.
pub const MAX_INBOUND_TEXT_BYTES: usize = 16 * 1024;

pub fn plan_inbound(content: &Content) -> InboundPlan {
    match content {
        Content::Text { body } if body.trim().is_empty() => InboundPlan::Skip { reason: "empty_text" },
        Content::Text { body } if body.len() > MAX_INBOUND_TEXT_BYTES => InboundPlan::Skip {
            reason: "oversized_text",
        },
        Content::Text { body } => InboundPlan::Send {
            content_type: TEXT_PLAIN,
            content: body.clone(),
        },
        Content::Reaction { .. } => InboundPlan::Skip {
            reason: "reaction_not_bridged",
        },
        _ => InboundPlan::Skip {
            reason: "type_not_bridged",
        },
    }
}

/// What to do with an item Connect streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundPlan {
    /// Send to the customer as a WhatsApp text.
    SendText {
        body: String,
    },
    /// The chat is over for the customer: the next WhatsApp message must open a new one.
    EndConversation,
    Skip {
        reason: &'static str,
    },
}

pub fn plan_outbound(item: &StreamItem) -> OutboundPlan {
    match item.item_type {
        ItemType::Event => match (item.event_name(), &item.role) {
            (Some("chat.ended"), _) => OutboundPlan::EndConversation,
            (Some("participant.left"), Some(Role::Customer)) => OutboundPlan::EndConversation,
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
                    OutboundPlan::SendText { body: body.to_owned() }
                }
                (TEXT_PLAIN | TEXT_MARKDOWN, _) => OutboundPlan::Skip {
                    reason: "empty_message",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ContactId, ItemId};

    fn item(item_type: ItemType, content_type: &str, role: Option<Role>, visibility: Visibility) -> StreamItem {
        StreamItem {
            id: ItemId::parse("i1").unwrap(),
            item_type,
            content_type: content_type.to_owned(),
            content: Some("Hello".to_owned()),
            role,
            display_name: None,
            initial_contact_id: ContactId::parse("c1").unwrap(),
            contact_id: ContactId::parse("c1").unwrap(),
            visibility,
            attachments: vec![],
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
        assert!(matches!(
            plan_inbound(&Content::Reaction {
                message_id: "x".into(),
                emoji: Some("👍".into())
            }),
            InboundPlan::Skip { .. }
        ));
        assert!(matches!(
            plan_inbound(&Content::Unknown { kind: "x".into() }),
            InboundPlan::Skip { .. }
        ));
    }

    #[test]
    fn forwarding_rule() {
        let send = OutboundPlan::SendText { body: "Hello".into() };
        for role in [Role::Agent, Role::System, Role::CustomBot] {
            assert_eq!(
                plan_outbound(&item(
                    ItemType::Message,
                    TEXT_PLAIN,
                    Some(role.clone()),
                    Visibility::All
                )),
                send
            );
            assert_eq!(
                plan_outbound(&item(
                    ItemType::Message,
                    TEXT_MARKDOWN,
                    Some(role),
                    Visibility::Customer
                )),
                send
            );
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
        assert!(matches!(
            plan_outbound(&item(
                ItemType::Message,
                crate::connect_stream::INTERACTIVE,
                Some(Role::System),
                Visibility::All
            )),
            OutboundPlan::Skip { .. }
        ));
    }

    #[test]
    fn chat_end_rules() {
        let ended = "application/vnd.amazonaws.connect.event.chat.ended";
        let left = "application/vnd.amazonaws.connect.event.participant.left";
        assert_eq!(
            plan_outbound(&item(ItemType::Event, ended, None, Visibility::All)),
            OutboundPlan::EndConversation
        );
        assert_eq!(
            plan_outbound(&item(ItemType::Event, left, Some(Role::Customer), Visibility::All)),
            OutboundPlan::EndConversation
        );
        assert!(matches!(
            plan_outbound(&item(ItemType::Event, left, Some(Role::Agent), Visibility::All)),
            OutboundPlan::Skip { .. }
        ));
    }
}
