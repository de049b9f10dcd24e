//! What the bridge sends to WhatsApp, in the Meta Cloud API's shape: one model for every message to a
//! customer ([`OutgoingMessage`]: a text, interactive buttons or a list, or a file by media id) and for
//! the read mark with its typing indicator ([`ReadMark`]).
//!
//! Translation, rendering and media build an [`OutgoingBody`]; the sender addresses it to the customer.
//! Bodies are serde both ways because a rendered menu's pages are stored until the customer pages on.

use crate::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Meta Cloud API message object, serialised into `SendWhatsAppMessage`'s `message` blob.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutgoingMessage {
    messaging_product: &'static str,
    recipient_type: &'static str,
    /// One of the two is set: see [`CustomerId::is_phone`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(flatten)]
    pub body: OutgoingBody,
}

impl OutgoingMessage {
    pub fn new(to: &CustomerId, body: OutgoingBody) -> Self {
        Self {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: to.is_phone().then(|| to.as_str().to_owned()),
            recipient: (!to.is_phone()).then(|| to.as_str().to_owned()),
            body,
        }
    }

    pub fn text(to: &CustomerId, body: impl Into<String>) -> Self {
        Self::new(to, OutgoingBody::text(body))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The same JSON with its keys in alphabetical order: how files and the notices about them have
    /// always been sent (they were built as a JSON value), kept so that what EUM receives is unchanged.
    pub fn to_sorted_json(&self) -> Vec<u8> {
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default()
    }
}

/// A message without its recipient, which [`OutgoingMessage`] adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OutgoingBody {
    Text { text: MessageText },
    Interactive { interactive: InteractiveBody },
    Image { image: MediaObject },
    Video { video: MediaObject },
    Audio { audio: MediaObject },
    Document { document: MediaObject },
}

impl OutgoingBody {
    /// A text, with a link preview when it holds a link.
    pub fn text(body: impl Into<String>) -> Self {
        let body = body.into();
        OutgoingBody::Text {
            text: MessageText {
                preview_url: Some(body.contains("https://") || body.contains("http://")),
                body,
            },
        }
    }

    /// What the customer reads: a text's body or an interactive message's; `None` for a file.
    pub fn body_text(&self) -> Option<&str> {
        match self {
            OutgoingBody::Text { text } => Some(&text.body),
            OutgoingBody::Interactive {
                interactive: InteractiveBody::Button { body, .. } | InteractiveBody::List { body, .. },
            } => Some(&body.text),
            OutgoingBody::Image { .. }
            | OutgoingBody::Video { .. }
            | OutgoingBody::Audio { .. }
            | OutgoingBody::Document { .. } => None,
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageText {
    pub body: String,
    /// `None` leaves the choice to Meta (no preview): how the notices about agents' files are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
}

/// A file WhatsApp already holds, sent by its media id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaObject {
    pub id: String,
    /// Shown for documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// The Cloud API's "mark as read" request for a customer's message, with the typing indicator when
/// `typing` (Meta shows it until the next message or for up to 25 seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadMark {
    // Fields in the order this request has always been sent in.
    message_id: String,
    messaging_product: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_indicator: Option<TypingIndicator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct TypingIndicator {
    #[serde(rename = "type")]
    kind: &'static str,
}

impl ReadMark {
    pub fn new(wamid: &str, typing: bool) -> Self {
        Self {
            message_id: wamid.to_owned(),
            messaging_product: "whatsapp",
            status: "read",
            typing_indicator: typing.then_some(TypingIndicator { kind: "text" }),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InteractiveBody {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ButtonAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ListAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Header {
    Text { text: String },
    Image { image: MediaLink },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLink {
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyText {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    /// Always `reply`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn read_mark_and_typing_shape() {
        let v: Value = serde_json::from_slice(&ReadMark::new("wamid.A", true).to_json()).unwrap();
        assert_eq!(
            v,
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A",
                   "typing_indicator": {"type": "text"}})
        );
        let v: Value = serde_json::from_slice(&ReadMark::new("wamid.A", false).to_json()).unwrap();
        assert!(v.get("typing_indicator").is_none());
    }

    #[test]
    fn outgoing_text_shape() {
        let m = OutgoingMessage::text(&CustomerId::parse("16505551234").unwrap(), "hi");
        let v: Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                   "type": "text", "text": {"body": "hi", "preview_url": false}})
        );
        // A customer known only by a business-scoped user id is addressed with `recipient`.
        let m = OutgoingMessage::text(&CustomerId::parse("US.13491208655302741918").unwrap(), "hi");
        let v: Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(v["recipient"], "US.13491208655302741918");
        assert!(v.get("to").is_none());
    }

    #[test]
    fn what_eum_receives_keeps_its_bytes() {
        let phone = CustomerId::parse("16505551234").unwrap();
        let text = OutgoingMessage::text(&phone, "see https://example.com");
        assert_eq!(
            String::from_utf8(text.to_json()).unwrap(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text","text":{"body":"see https://example.com","preview_url":true}}"#
        );
        let document = OutgoingBody::Document {
            document: MediaObject {
                id: "m1".into(),
                filename: Some("a.pdf".into()),
            },
        };
        assert_eq!(
            String::from_utf8(OutgoingMessage::new(&phone, document).to_sorted_json()).unwrap(),
            r#"{"document":{"filename":"a.pdf","id":"m1"},"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"document"}"#
        );
        let notice = OutgoingBody::Text {
            text: MessageText {
                body: "too large".into(),
                preview_url: None,
            },
        };
        let user = CustomerId::parse("US.13491208655302741918").unwrap();
        assert_eq!(
            String::from_utf8(OutgoingMessage::new(&user, notice).to_sorted_json()).unwrap(),
            r#"{"messaging_product":"whatsapp","recipient":"US.13491208655302741918","recipient_type":"individual","text":{"body":"too large"},"type":"text"}"#
        );
        assert_eq!(
            String::from_utf8(ReadMark::new("wamid.A", true).to_json()).unwrap(),
            r#"{"message_id":"wamid.A","messaging_product":"whatsapp","status":"read","typing_indicator":{"type":"text"}}"#
        );
    }
}
