//! The WhatsApp side: what EUM publishes (messages and statuses), and in [`outgoing`] what we send back.
//!
//! An EUM event is three JSON layers deep (SNS message → AWS header → Meta `entry` string). This module
//! parses all three into typed values and nothing else: it knows WhatsApp's shapes, not what the bridge
//! does with them. Unknown fields are ignored and unknown types are kept as [`Content::Unknown`], because
//! Meta adds types without notice and one new type must not stop the others.

use crate::error::{Rejection, describe_json_error};
use crate::ids::{CustomerId, OriginationId, PhoneNumberId, Wamid};
use serde::Deserialize;
use serde_json::Value;

pub mod outgoing;

/// Everything one EUM notification carried, grouped per business number.
#[derive(Debug, Clone, PartialEq)]
pub struct EumEvent {
    pub changes: Vec<Change>,
}

/// One `changes[]` entry: messages or statuses for one business number.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub phone_number_id: PhoneNumberId,
    /// The EUM id to send from, found in the header's `MetaPhoneNumberIds`.
    pub origination_id: Option<OriginationId>,
    /// Each item parses on its own: one malformed message does not drop its neighbours.
    pub items: Vec<Result<Inbound, Rejection>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(CustomerMessage),
    Status(StatusUpdate),
}

/// A message a customer sent to the business.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerMessage {
    pub wamid: Wamid,
    /// Who wrote: the business-scoped user id when WhatsApp sends one (it does on every message since
    /// April 2026, and it stays the same when the customer adopts a username and hides their number),
    /// else the phone number. Conversations are keyed by it, so a customer is never split in two.
    pub customer_id: CustomerId,
    /// The customer's phone number (`wa_id`), when WhatsApp shares it: what replies are addressed to.
    pub phone: Option<CustomerId>,
    pub profile_name: Option<String>,
    /// Unix seconds, as WhatsApp stamped it.
    pub timestamp: i64,
    /// When EUM received it (epoch ns: the header's `message_timestamp`, plus the message's place in the
    /// event), when the header says: the same on every delivery of the event, so it orders messages
    /// stamped within one second the same way however often, and however late, each is redelivered.
    pub received_ns: Option<i64>,
    pub context: Option<MessageContext>,
    pub content: Content,
}

impl CustomerMessage {
    /// Whom replies go to: the phone number when WhatsApp shared it, else the business-scoped id.
    pub fn reply_to(&self) -> &CustomerId {
        self.phone.as_ref().unwrap_or(&self.customer_id)
    }
}

/// A message's own `context`: what it replies to, or that it was forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct MessageContext {
    #[serde(rename = "id", default)]
    pub replied_to: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
    #[serde(default)]
    pub frequently_forwarded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        body: String,
    },
    Media(Media),
    Location(Location),
    Contacts(Vec<Value>),
    Interactive(InteractiveReply),
    /// A tap on a template's quick-reply button.
    Button {
        payload: Option<String>,
        text: String,
    },
    /// `emoji: None` means the customer removed their reaction.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    Order {
        text: Option<String>,
        items: usize,
    },
    System {
        body: Option<String>,
    },
    Unsupported {
        kind: String,
    },
    Unknown {
        kind: String,
    },
}

impl Content {
    /// The WhatsApp type name, for logs and metrics.
    pub fn kind(&self) -> &str {
        match self {
            Content::Text { .. } => "text",
            Content::Media(m) => m.kind.as_str(),
            Content::Location(_) => "location",
            Content::Contacts(_) => "contacts",
            Content::Interactive(_) => "interactive",
            Content::Button { .. } => "button",
            Content::Reaction { .. } => "reaction",
            Content::Order { .. } => "order",
            Content::System { .. } => "system",
            Content::Unsupported { .. } => "unsupported",
            Content::Unknown { kind } => kind,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Media {
    #[serde(skip, default = "default_media_kind")]
    pub kind: MediaKind,
    pub id: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    /// `true` for a recorded voice note, absent or `false` for a forwarded audio file.
    #[serde(default)]
    pub voice: bool,
    #[serde(default)]
    pub animated: bool,
}

fn default_media_kind() -> MediaKind {
    MediaKind::Document
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractiveReply {
    Button {
        id: String,
        title: String,
    },
    List {
        id: String,
        title: String,
        description: Option<String>,
    },
    Flow {
        name: Option<String>,
        response_json: Option<String>,
    },
    Other {
        kind: String,
    },
}

/// What happened to a message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub wamid: Wamid,
    /// Open set: sent, delivered, read, failed, deleted, warning, … (compare timestamps, not arrival).
    pub status: String,
    pub timestamp: i64,
    pub recipient: Option<CustomerId>,
    pub errors: Vec<WhatsappError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WhatsappError {
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

// ---- wire shapes -------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct WireHeader {
    #[serde(default)]
    context: WireContext,
    #[serde(default)]
    message_timestamp: Option<String>,
    #[serde(rename = "whatsAppWebhookEntry")]
    entry: String,
}

#[derive(Deserialize, Default)]
struct WireContext {
    #[serde(rename = "MetaPhoneNumberIds", default)]
    phone_numbers: Vec<WirePhoneNumber>,
}

#[derive(Deserialize)]
struct WirePhoneNumber {
    #[serde(rename = "metaPhoneNumberId")]
    meta_id: String,
    arn: String,
}

#[derive(Deserialize)]
struct WireEntry {
    #[serde(default)]
    changes: Vec<WireChange>,
}

#[derive(Deserialize)]
struct WireChange {
    #[serde(default)]
    field: Option<String>,
    value: WireValue,
}

#[derive(Deserialize)]
struct WireValue {
    metadata: WireMetadata,
    #[serde(default)]
    contacts: Vec<WireContact>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
}

#[derive(Deserialize)]
struct WireMetadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct WireContact {
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    profile: Option<WireProfile>,
}

#[derive(Deserialize)]
struct WireProfile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_user_id: Option<String>,
    id: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    context: Option<MessageContext>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct WireStatus {
    id: String,
    status: String,
    timestamp: String,
    #[serde(default)]
    recipient_id: Option<String>,
    #[serde(default)]
    recipient_user_id: Option<String>,
    #[serde(default)]
    errors: Vec<WhatsappError>,
}

// ---- parsing ----------------------------------------------------------------------------------------

/// Parses the SNS `Message` of an EUM notification (layers two and three).
pub fn parse_eum(message: &str) -> Result<EumEvent, Rejection> {
    let header: WireHeader = serde_json::from_str(message).map_err(|e| {
        Rejection::new(
            "malformed_eum_header",
            format!("EUM header does not parse: {}", describe_json_error(&e)),
        )
    })?;
    let entry: WireEntry = serde_json::from_str(&header.entry).map_err(|e| {
        Rejection::new(
            "malformed_webhook_entry",
            format!("whatsAppWebhookEntry does not parse: {}", describe_json_error(&e)),
        )
    })?;
    // Only an ordering aid: an unreadable time leaves the messages to be ordered as they register.
    let received_ns = header
        .message_timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| t.timestamp_nanos_opt());
    let mut place = 0;
    let mut changes = Vec::with_capacity(entry.changes.len());
    for change in entry.changes {
        if change.field.as_deref().is_some_and(|f| f != "messages") {
            continue;
        }
        let phone_number_id = PhoneNumberId::parse(&change.value.metadata.phone_number_id)
            .map_err(|e| Rejection::new("malformed_webhook_entry", e.to_string()))?;
        let origination_id = header
            .context
            .phone_numbers
            .iter()
            .find(|p| p.meta_id == phone_number_id.as_str())
            .and_then(|p| OriginationId::from_arn(&p.arn).ok());
        let value = change.value;
        let mut items = Vec::with_capacity(value.messages.len() + value.statuses.len());
        for raw in value.messages {
            let message = parse_message(raw, &value.contacts).map(|message| CustomerMessage {
                received_ns: received_ns.map(|ns| ns.saturating_add(place)),
                ..message
            });
            place += 1;
            items.push(message.map(Inbound::Message));
        }
        for raw in value.statuses {
            items.push(parse_status(raw).map(Inbound::Status));
        }
        changes.push(Change {
            phone_number_id,
            origination_id,
            items,
        });
    }
    Ok(EumEvent { changes })
}

fn parse_timestamp(raw: &str) -> Result<i64, Rejection> {
    raw.parse::<i64>()
        .ok()
        .filter(|t| *t >= 0)
        .ok_or_else(|| Rejection::new("malformed_message", "timestamp is not Unix seconds"))
}

fn parse_message(raw: Value, contacts: &[WireContact]) -> Result<CustomerMessage, Rejection> {
    let wire: WireMessage = serde_json::from_value(raw).map_err(|e| {
        Rejection::new(
            "malformed_message",
            format!("message does not parse: {}", describe_json_error(&e)),
        )
    })?;
    let sender = wire
        .from_user_id
        .as_deref()
        .or(wire.from.as_deref())
        .ok_or_else(|| Rejection::new("malformed_message", "message has no sender"))?;
    let customer_id = CustomerId::parse(sender).map_err(|e| Rejection::new("malformed_message", e.to_string()))?;
    let phone = match wire.from.as_deref() {
        Some(from) => Some(CustomerId::parse(from).map_err(|e| Rejection::new("malformed_message", e.to_string()))?),
        None => None,
    };
    let wamid = Wamid::parse(&wire.id).map_err(|e| Rejection::new("malformed_message", e.to_string()))?;
    let profile_name = contacts
        .iter()
        .find(|c| c.user_id.as_deref() == Some(sender) || (wire.from.is_some() && c.wa_id == wire.from))
        .and_then(|c| c.profile.as_ref()?.name.clone())
        .filter(|n| !n.trim().is_empty());
    let timestamp = parse_timestamp(&wire.timestamp)?;
    let content = parse_content(&wire.kind, &wire.rest)?;
    Ok(CustomerMessage {
        wamid,
        customer_id,
        phone,
        profile_name,
        timestamp,
        received_ns: None,
        context: wire.context,
        content,
    })
}

fn field<T: for<'de> Deserialize<'de>>(rest: &serde_json::Map<String, Value>, key: &str) -> Result<T, Rejection> {
    let value = rest
        .get(key)
        .ok_or_else(|| Rejection::new("malformed_message", format!("{key} message has no '{key}' object")))?;
    T::deserialize(value).map_err(|e| {
        Rejection::new(
            "malformed_message",
            format!("{key} object does not parse: {}", describe_json_error(&e)),
        )
    })
}

#[derive(Deserialize)]
struct WireText {
    body: String,
}

#[derive(Deserialize)]
struct WireInteractive {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    button_reply: Option<WireChoice>,
    #[serde(default)]
    list_reply: Option<WireChoice>,
    #[serde(default)]
    nfm_reply: Option<WireFlowReply>,
}

#[derive(Deserialize)]
struct WireChoice {
    id: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireFlowReply {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    response_json: Option<String>,
}

#[derive(Deserialize)]
struct WireButton {
    #[serde(default)]
    payload: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct WireReaction {
    message_id: String,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WireOrder {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    product_items: Vec<Value>,
}

#[derive(Deserialize)]
struct WireSystem {
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUnsupported {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

fn parse_content(kind: &str, rest: &serde_json::Map<String, Value>) -> Result<Content, Rejection> {
    let media = |kind: MediaKind| -> Result<Content, Rejection> {
        let mut media: Media = field(rest, kind.as_str())?;
        media.kind = kind;
        Ok(Content::Media(media))
    };
    Ok(match kind {
        "text" => Content::Text {
            body: field::<WireText>(rest, "text")?.body,
        },
        "image" => media(MediaKind::Image)?,
        "audio" => media(MediaKind::Audio)?,
        "video" => media(MediaKind::Video)?,
        "document" => media(MediaKind::Document)?,
        "sticker" => media(MediaKind::Sticker)?,
        "location" => Content::Location(field(rest, "location")?),
        "contacts" => Content::Contacts(field(rest, "contacts")?),
        "interactive" => {
            let wire: WireInteractive = field(rest, "interactive")?;
            Content::Interactive(
                match (wire.kind.as_str(), wire.button_reply, wire.list_reply, wire.nfm_reply) {
                    ("button_reply", Some(c), _, _) => InteractiveReply::Button {
                        id: c.id,
                        title: c.title,
                    },
                    ("list_reply", _, Some(c), _) => InteractiveReply::List {
                        id: c.id,
                        title: c.title,
                        description: c.description,
                    },
                    ("nfm_reply", _, _, Some(f)) => InteractiveReply::Flow {
                        name: f.name,
                        response_json: f.response_json,
                    },
                    (other, ..) => InteractiveReply::Other { kind: other.to_owned() },
                },
            )
        }
        "button" => {
            let wire: WireButton = field(rest, "button")?;
            Content::Button {
                payload: wire.payload,
                text: wire.text,
            }
        }
        "reaction" => {
            let wire: WireReaction = field(rest, "reaction")?;
            Content::Reaction {
                message_id: wire.message_id,
                emoji: wire.emoji.filter(|e| !e.is_empty()),
            }
        }
        "order" => {
            let wire: WireOrder = field(rest, "order")?;
            Content::Order {
                text: wire.text,
                items: wire.product_items.len(),
            }
        }
        "system" => Content::System {
            body: field::<WireSystem>(rest, "system")?.body,
        },
        "unsupported" => Content::Unsupported {
            kind: rest
                .get("unsupported")
                .and_then(|v| WireUnsupported::deserialize(v).ok())
                .and_then(|u| u.kind)
                .unwrap_or_else(|| "unknown".to_owned()),
        },
        other => Content::Unknown { kind: other.to_owned() },
    })
}

fn parse_status(raw: Value) -> Result<StatusUpdate, Rejection> {
    let wire: WireStatus = serde_json::from_value(raw).map_err(|e| {
        Rejection::new(
            "malformed_status",
            format!("status does not parse: {}", describe_json_error(&e)),
        )
    })?;
    Ok(StatusUpdate {
        wamid: Wamid::parse(&wire.id).map_err(|e| Rejection::new("malformed_status", e.to_string()))?,
        status: wire.status,
        timestamp: parse_timestamp(&wire.timestamp).map_err(|r| Rejection::new("malformed_status", r.detail))?,
        // Keyed like the messages: by the business-scoped user id when there is one.
        recipient: wire
            .recipient_user_id
            .as_deref()
            .or(wire.recipient_id.as_deref())
            .and_then(|r| CustomerId::parse(r).ok()),
        errors: wire.errors,
    })
}

#[cfg(test)]
mod tests;
