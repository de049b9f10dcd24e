//! The events a handoff sends back to the bot over its client's webhook: what each one says (the
//! envelope, here), how it is signed ([`signature`]) and when a failed delivery is tried again
//! ([`delivery`]).
//!
//! Every event is one JSON envelope, `{"type", "timestamp", "data"}` as the Standard Webhooks
//! specification recommends, whose `data` always names the handoff (`handoff_id`, and the bot's own
//! `external_conversation_id`, so the bot needs no lookup of its own) and its place in the handoff
//! (`sequence`, from 1, shared by every event of the handoff), then the event's own fields. The body is
//! serialized once, when the event is owed: every attempt sends and signs the same bytes.
//!
//! The `webhook-id` is derived from the handoff and the sequence, not drawn at random: a retry, a
//! second invocation owing the same event after a crash, and an operator's `replay` of a dead letter all
//! carry the same id, so the bot drops whichever copy comes second.

pub mod delivery;
pub mod endpoint;
pub mod signature;

use super::lifecycle::Event;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// What kind of event the bot is told about; its `type` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    AgentJoined,
    Message,
    Typing,
    AgentLeft,
    Transferred,
    Ended,
    Failed,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::Created,
        EventKind::AgentJoined,
        EventKind::Message,
        EventKind::Typing,
        EventKind::AgentLeft,
        EventKind::Transferred,
        EventKind::Ended,
        EventKind::Failed,
    ];

    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::Created => "handoff.created",
            EventKind::AgentJoined => "handoff.agent_joined",
            EventKind::Message => "handoff.message",
            EventKind::Typing => "handoff.typing",
            EventKind::AgentLeft => "handoff.agent_left",
            EventKind::Transferred => "handoff.transferred",
            EventKind::Ended => "handoff.ended",
            EventKind::Failed => "handoff.failed",
        }
    }

    /// The kind whose `type` is `name`.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.type_name() == name)
    }

    /// Whether it changes where the handoff stands (as opposed to a message or typing within it).
    pub fn is_lifecycle(self) -> bool {
        !matches!(self, EventKind::Message | EventKind::Typing)
    }
}

/// What an event says, besides which handoff it is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The handoff's chat is started and queued (sequence 1, [`super::lifecycle::Lifecycle::created`]).
    Created,
    /// A move of the handoff's lifecycle.
    Lifecycle(Event),
    /// An item of the chat the customer may see, already in the bot's neutral shape (`handoff::message`):
    /// its fields go into `data` beside the handoff's.
    Message(Value),
    /// The agent is typing.
    Typing,
}

impl Payload {
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::Created => EventKind::Created,
            Payload::Message(_) => EventKind::Message,
            Payload::Typing => EventKind::Typing,
            Payload::Lifecycle(event) => match event {
                Event::AgentJoined { .. } => EventKind::AgentJoined,
                Event::AgentLeft => EventKind::AgentLeft,
                Event::Transferred { .. } => EventKind::Transferred,
                Event::Ended { .. } => EventKind::Ended,
                Event::Failed { .. } => EventKind::Failed,
            },
        }
    }

    /// The event's own fields of `data`.
    fn fields(self) -> Map<String, Value> {
        let kind = self.kind();
        let mut fields = match self {
            Payload::Created => Map::new(),
            Payload::Typing => Map::from_iter([("role".to_owned(), Value::from("agent"))]),
            Payload::Message(Value::Object(fields)) => fields,
            // The message mapping builds objects; anything else is still delivered, not dropped.
            Payload::Message(other) => Map::from_iter([("message".to_owned(), other)]),
            // An `Event` always serializes to an object (a tag and strings); its tag is the envelope's
            // `type`, not a field of `data`.
            Payload::Lifecycle(event) => match serde_json::to_value(event).unwrap_or_default() {
                Value::Object(mut fields) => {
                    fields.remove("type");
                    fields
                }
                _ => Map::new(),
            },
        };
        if matches!(kind, EventKind::Ended | EventKind::Failed) {
            // Said in so many words, so a bot never has to infer from silence that it must answer again.
            fields.insert("returns_to_bot".to_owned(), Value::Bool(true));
        }
        fields
    }
}

/// One event owed to the bot.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence<'a> {
    pub handoff_id: &'a str,
    pub external_conversation_id: &'a str,
    /// Its number in the handoff (from [`super::lifecycle::Moved::events`], 1 for `handoff.created`).
    pub sequence: u64,
    /// When it happened (not when it is delivered: that is the `webhook-timestamp` of each attempt).
    pub at: DateTime<Utc>,
    pub payload: Payload,
}

/// The event's `webhook-id`: `msg_` and 32 hex digits of SHA-256 over the handoff id and the sequence.
/// Hex keeps it free of `.`, which delimits the signed text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebhookId(String);

impl WebhookId {
    pub fn of(handoff_id: &str, sequence: u64) -> Self {
        let digest = Sha256::digest(format!("{handoff_id}#{sequence}").as_bytes());
        let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
        Self(format!("msg_{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event ready to deliver: its id, its kind (for the retry schedule) and the body every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: WebhookId,
    pub kind: EventKind,
    /// The JSON sent and signed, byte for byte the same on every attempt.
    pub body: String,
}

/// The wire shape, in the specification's field order.
#[derive(Serialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: Map<String, Value>,
}

impl Envelope {
    pub fn new(occurrence: Occurrence<'_>) -> Self {
        let kind = occurrence.payload.kind();
        let mut data = occurrence.payload.fields();
        // Written after the event's fields: a payload cannot pass itself off as another handoff's.
        data.insert("handoff_id".to_owned(), Value::from(occurrence.handoff_id));
        data.insert(
            "external_conversation_id".to_owned(),
            Value::from(occurrence.external_conversation_id),
        );
        data.insert("sequence".to_owned(), Value::from(occurrence.sequence));
        let wire = Wire {
            kind: kind.type_name(),
            timestamp: occurrence.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            data,
        };
        Self {
            id: WebhookId::of(occurrence.handoff_id, occurrence.sequence),
            kind,
            // Strings, numbers and maps with string keys: serializing cannot fail.
            body: serde_json::to_string(&wire).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::lifecycle::{EndReason, FailReason};
    use serde_json::json;

    const HANDOFF: &str = "h-3f2a";
    const CONVERSATION: &str = "conv-77";

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_765_000_000_123).unwrap()
    }

    fn occurrence(sequence: u64, payload: Payload) -> Occurrence<'static> {
        Occurrence {
            handoff_id: HANDOFF,
            external_conversation_id: CONVERSATION,
            sequence,
            at: at(),
            payload,
        }
    }

    fn body(envelope: &Envelope) -> Value {
        serde_json::from_str(&envelope.body).unwrap()
    }

    #[test]
    fn an_ended_handoff_says_so_and_that_the_conversation_is_the_bots_again() {
        let envelope = Envelope::new(occurrence(
            4,
            Payload::Lifecycle(Event::Ended {
                reason: EndReason::AgentEnded,
            }),
        ));
        assert_eq!(envelope.kind, EventKind::Ended);
        assert_eq!(
            body(&envelope),
            json!({
                "type": "handoff.ended",
                "timestamp": "2025-12-06T05:46:40.123Z",
                "data": {
                    "handoff_id": HANDOFF,
                    "external_conversation_id": CONVERSATION,
                    "sequence": 4,
                    "reason": "agent_ended",
                    "returns_to_bot": true,
                }
            })
        );
        assert!(
            envelope.body.starts_with(r#"{"type":"handoff.ended","timestamp":"#),
            "type first, minified: {}",
            envelope.body
        );
    }

    #[test]
    fn each_lifecycle_event_keeps_its_own_fields_and_its_name() {
        let cases = [
            (Event::AgentJoined { agent: "Ana".into() }, json!({"agent": "Ana"})),
            (Event::AgentLeft, json!({})),
            (
                Event::Transferred {
                    to: Some("Billing".into()),
                },
                json!({"to": "Billing"}),
            ),
            (Event::Transferred { to: None }, json!({})),
            (
                Event::Failed {
                    reason: FailReason::NoAgent,
                },
                json!({"reason": "no_agent", "returns_to_bot": true}),
            ),
        ];
        for (event, own) in cases {
            let tag = serde_json::to_value(&event).unwrap()["type"].clone();
            let body = body(&Envelope::new(occurrence(2, Payload::Lifecycle(event))));
            assert_eq!(body["type"], tag, "the envelope's type is the event's own name");
            let mut expected = json!({
                "handoff_id": HANDOFF,
                "external_conversation_id": CONVERSATION,
                "sequence": 2,
            });
            expected
                .as_object_mut()
                .unwrap()
                .extend(own.as_object().unwrap().clone());
            assert_eq!(body["data"], expected);
        }
    }

    #[test]
    fn created_typing_and_messages_carry_the_handoff_and_their_own_fields() {
        let created = body(&Envelope::new(occurrence(1, Payload::Created)));
        assert_eq!(created["type"], "handoff.created");
        assert_eq!(
            created["data"],
            json!({"handoff_id": HANDOFF, "external_conversation_id": CONVERSATION, "sequence": 1})
        );

        let typing = body(&Envelope::new(occurrence(5, Payload::Typing)));
        assert_eq!(typing["type"], "handoff.typing");
        assert_eq!(typing["data"]["role"], "agent");

        let message = json!({
            "message_id": "item-1",
            "sender": {"role": "agent", "name": "Ana"},
            "content": {"type": "text", "text": "Hello"},
            // A payload cannot move the event to another handoff or place.
            "handoff_id": "someone-else",
            "sequence": 99,
        });
        let envelope = Envelope::new(occurrence(6, Payload::Message(message)));
        assert_eq!(envelope.kind, EventKind::Message);
        let message = body(&envelope);
        let data = &message["data"];
        assert_eq!(data["content"], json!({"type": "text", "text": "Hello"}));
        assert_eq!(data["sender"]["name"], "Ana");
        assert_eq!((&data["handoff_id"], &data["sequence"]), (&json!(HANDOFF), &json!(6)));

        let odd = body(&Envelope::new(occurrence(7, Payload::Message(json!("plain")))));
        assert_eq!(odd["data"]["message"], "plain");
    }

    #[test]
    fn the_webhook_id_is_the_same_for_the_same_event_and_only_for_it() {
        let first = Envelope::new(occurrence(3, Payload::Typing));
        let again = Envelope::new(Occurrence {
            at: at() + chrono::Duration::seconds(90),
            ..occurrence(3, Payload::Typing)
        });
        assert_eq!(first.id, again.id, "a retry or replay is recognisable");
        assert_ne!(first.id, WebhookId::of(HANDOFF, 4));
        assert_ne!(first.id, WebhookId::of("h-other", 3));
        let id = first.id.as_str();
        assert_eq!(id.len(), 4 + 32);
        assert!(
            id.starts_with("msg_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(first.id.to_string(), id);
    }

    #[test]
    fn only_messages_and_typing_are_not_lifecycle_events() {
        let kinds = EventKind::ALL;
        let within: Vec<&str> = kinds
            .iter()
            .filter(|kind| !kind.is_lifecycle())
            .map(|kind| kind.type_name())
            .collect();
        assert_eq!(within, ["handoff.message", "handoff.typing"]);
    }

    #[test]
    fn a_signed_envelope_verifies_on_the_receiving_side() {
        use signature::{ClientSecrets, Content, Received, WebhookSecret, Window};
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let envelope = Envelope::new(occurrence(2, Payload::Lifecycle(Event::AgentLeft)));
        let sent_s = 1_765_000_100;
        let headers = signature::sign(
            &Content {
                id: envelope.id.as_str(),
                timestamp_s: sent_s,
                body: envelope.body.as_bytes(),
            },
            &ClientSecrets {
                current: secret.clone(),
                previous: None,
            },
        );
        let received = Received {
            id: Some(headers.id.as_str()),
            timestamp: Some(headers.timestamp.as_str()),
            signature: Some(headers.signature.as_str()),
            body: envelope.body.as_bytes(),
        };
        assert_eq!(
            signature::verify(&received, &[secret], Window::standard(sent_s + 2)),
            Ok(())
        );
    }
}
