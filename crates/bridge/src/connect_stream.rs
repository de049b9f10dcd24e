//! The Connect side of the stream: chat items Amazon Connect publishes to the streaming topic.
//!
//! Each SNS notification carries one transcript item as JSON plus string attributes. Both are read: the
//! body has the content, the attributes have `MessageVisibility` (the forwarding rule needs it) and a
//! copy of the role, which some events omit in the body.

use crate::content_type::EVENT_PREFIX;
use crate::error::{Rejection, describe_json_error};
use crate::ids::{ContactId, ItemId};
use crate::sns::Notification;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemType {
    Message,
    Event,
    Attachment,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Agent,
    Customer,
    System,
    CustomBot,
    Supervisor,
    Other(String),
}

/// Who may see an item. Only `Customer` and `All` may be forwarded to WhatsApp (documented rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Customer,
    Agent,
    All,
    /// Absent or unrecognised: treated as not for the customer, the safe reading of the rule.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    #[serde(default)]
    pub content_type: Option<String>,
    pub attachment_id: String,
    #[serde(default)]
    pub attachment_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// One transcript item as streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamItem {
    pub id: ItemId,
    pub item_type: ItemType,
    pub content_type: String,
    pub content: Option<String>,
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub initial_contact_id: ContactId,
    pub contact_id: ContactId,
    pub visibility: Visibility,
    pub attachments: Vec<Attachment>,
    /// `AbsoluteTime`: when Connect recorded the item (Unix epoch milliseconds), if it says.
    pub absolute_time_ms: Option<i64>,
}

impl StreamItem {
    /// The event name after Connect's content-type prefix (`chat.ended`, `typing`, …), for events.
    pub fn event_name(&self) -> Option<&str> {
        self.content_type.strip_prefix(EVENT_PREFIX)
    }

    /// A short description for logs: type and content type, never content.
    pub fn kind(&self) -> String {
        match &self.item_type {
            ItemType::Message => format!("message {}", self.content_type),
            ItemType::Event => format!("event {}", self.event_name().unwrap_or(&self.content_type)),
            ItemType::Attachment => "attachment".to_owned(),
            ItemType::Other(t) => format!("item {t}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireItem {
    id: String,
    #[serde(rename = "Type")]
    item_type: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    participant_role: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    initial_contact_id: Option<String>,
    #[serde(default)]
    contact_id: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    absolute_time: Option<String>,
}

pub fn role(raw: &str) -> Role {
    match raw {
        "AGENT" => Role::Agent,
        "CUSTOMER" => Role::Customer,
        "SYSTEM" => Role::System,
        "CUSTOM_BOT" => Role::CustomBot,
        "SUPERVISOR" => Role::Supervisor,
        other => Role::Other(other.to_owned()),
    }
}

/// Parses one Connect streaming notification.
pub fn parse_item(notification: &Notification) -> Result<StreamItem, Rejection> {
    let wire: WireItem = serde_json::from_str(&notification.message).map_err(|e| {
        Rejection::new(
            "malformed_chat_item",
            format!("Connect item does not parse: {}", describe_json_error(&e)),
        )
    })?;
    let attr = |name: &str| notification.attributes.get(name).map(String::as_str);
    let contact_id = wire
        .contact_id
        .as_deref()
        .or(attr("ContactId"))
        .ok_or_else(|| Rejection::new("malformed_chat_item", "item names no contact"))?;
    let initial_contact_id = wire
        .initial_contact_id
        .as_deref()
        .or(attr("InitialContactId"))
        .unwrap_or(contact_id);
    let bad = |e: crate::ids::InvalidId| Rejection::new("malformed_chat_item", e.to_string());
    Ok(StreamItem {
        id: ItemId::parse(&wire.id).map_err(bad)?,
        item_type: match wire.item_type.as_str() {
            "MESSAGE" => ItemType::Message,
            "EVENT" => ItemType::Event,
            "ATTACHMENT" => ItemType::Attachment,
            other => ItemType::Other(other.to_owned()),
        },
        content_type: wire
            .content_type
            .or_else(|| attr("ContentType").map(str::to_owned))
            .unwrap_or_default(),
        content: wire.content,
        role: wire.participant_role.as_deref().or(attr("ParticipantRole")).map(role),
        display_name: wire.display_name,
        initial_contact_id: ContactId::parse(initial_contact_id).map_err(bad)?,
        contact_id: ContactId::parse(contact_id).map_err(bad)?,
        visibility: match attr("MessageVisibility") {
            Some("CUSTOMER") => Visibility::Customer,
            Some("AGENT") => Visibility::Agent,
            Some("ALL") => Visibility::All,
            _ => Visibility::Unknown,
        },
        attachments: wire.attachments,
        // Only for the latency metric: an unreadable time is left out, not a reason to drop the item.
        absolute_time_ms: wire
            .absolute_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn notification(body: &str, attrs: &[(&str, &str)]) -> Notification {
        Notification {
            message_id: "m".into(),
            message: body.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        }
    }

    #[test]
    fn agent_message() {
        let item = parse_item(&notification(
            r#"{"AbsoluteTime":"2025-11-11T07:30:00.301Z","Content":"Hola","ContentType":"text/plain","Id":"f27f","Type":"MESSAGE","ParticipantRole":"AGENT","DisplayName":"Ana","InitialContactId":"7a8b","ContactId":"9c0d"}"#,
            &[("MessageVisibility", "ALL")],
        ))
        .unwrap();
        assert_eq!(item.item_type, ItemType::Message);
        assert_eq!(item.role, Some(Role::Agent));
        assert_eq!(item.visibility, Visibility::All);
        assert_eq!(item.initial_contact_id.as_str(), "7a8b");
        assert_eq!(item.contact_id.as_str(), "9c0d");
        assert_eq!(item.kind(), "message text/plain");
        assert_eq!(item.absolute_time_ms, Some(1_762_846_200_301));
    }

    #[test]
    fn event_without_role_uses_attributes_and_names_the_event() {
        let item = parse_item(&notification(
            r#"{"ContentType":"application/vnd.amazonaws.connect.event.chat.ended","Id":"a8db","Type":"EVENT","ContactId":"7a8b"}"#,
            &[("InitialContactId", "7a8b")],
        ))
        .unwrap();
        assert_eq!(item.event_name(), Some("chat.ended"));
        assert_eq!(item.role, None);
        assert_eq!(item.visibility, Visibility::Unknown);
        assert_eq!(item.absolute_time_ms, None);
    }

    #[test]
    fn malformed_items_are_rejected() {
        assert_eq!(
            parse_item(&notification("[]", &[])).unwrap_err().code,
            "malformed_chat_item"
        );
        assert_eq!(
            parse_item(&notification(r#"{"Id":"a","Type":"MESSAGE"}"#, &[]))
                .unwrap_err()
                .code,
            "malformed_chat_item"
        );
        assert_eq!(
            parse_item(&notification(r#"{"Id":"a b","Type":"MESSAGE","ContactId":"c"}"#, &[]))
                .unwrap_err()
                .code,
            "malformed_chat_item"
        );
    }
}
