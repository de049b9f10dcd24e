//! `POST /v1/handoffs`: the body as the bot sends it ([`CreateHandoffBody`], which the OpenAPI document
//! is derived from) and as the bridge uses it ([`NewHandoff`], every value checked).
//!
//! The history's messages are read by [`super::history`].
//!
//! Routing attributes go to the contact beside the bridge's own summary (see [`context`]), and Connect
//! allows 32 KB of attributes in all: the bot gets [`ROUTING_ATTRIBUTES_MAX_BYTES`] of them, the rest is
//! reserved so the summary always fits, and keys starting with `Handoff` (the summary's) are refused
//! rather than silently overwritten.
//!
//! [`context`]: crate::handoff::context

use super::history::HistoryMessage;
use super::{ApiError, IdempotencyKey, TextRule, join};
use crate::handoff::HistoryEntry;
use crate::handoff::context::ATTRIBUTES_MAX_BYTES;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use utoipa::ToSchema;

/// What the bridge's summary attributes may take of Connect's 32 KB: a title (200 characters), a
/// reason (1000) and the user's last message cut to fit, at up to 4 bytes a character.
pub const SUMMARY_RESERVED_BYTES: usize = 8 * 1024;

/// What the bot's routing attributes may take, keys and values together.
pub const ROUTING_ATTRIBUTES_MAX_BYTES: usize = ATTRIBUTES_MAX_BYTES - SUMMARY_RESERVED_BYTES;

/// At most this many history messages; a longer conversation is cut by the bot to its end.
pub const HISTORY_MAX_MESSAGES: usize = 200;

const ATTRIBUTE_KEY_MAX_BYTES: usize = 128;
const RESERVED_ATTRIBUTE_PREFIX: &str = "Handoff";
const ID: TextRule = TextRule::line(128);
const NAME: TextRule = TextRule::line(256);
const TITLE: TextRule = TextRule::line(200);
const REASON: TextRule = TextRule::lines(1000);

/// The body of `POST /v1/handoffs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::handoff) struct CreateHandoffBody {
    /// The bot's id of the conversation (Botpress's conversation id); printable, no line breaks.
    #[schema(min_length = 1, max_length = 128)]
    external_conversation_id: String,
    user: UserBody,
    /// Shown to the agent first, and kept in the `HandoffTitle` contact attribute.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Why the bot hands off; shown to the agent under the title.
    #[schema(min_length = 1, max_length = 1000)]
    description: String,
    /// The conversation so far, oldest first.
    #[serde(default)]
    #[schema(max_items = 200)]
    message_history: Vec<HistoryMessage>,
    #[serde(default)]
    routing: Option<RoutingBody>,
}

/// The person the bot talks to, the chat's customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = User)]
struct UserBody {
    /// The bot's id of the user.
    #[schema(min_length = 1, max_length = 128)]
    id: String,
    /// The customer's display name in Connect.
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    /// E.164: `+`, the country code and the number, 2 to 15 digits in all.
    #[schema(pattern = r"^\+[1-9][0-9]{1,14}$")]
    phone: Option<String>,
}

/// How the handoff is routed in Connect.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Routing)]
struct RoutingBody {
    /// The contact flow that takes the chat; the stack's handoff flow when left out.
    #[schema(format = "uuid")]
    contact_flow_id: Option<String>,
    /// The queue the flow puts the chat in (it reads the `HandoffQueueId` attribute).
    #[schema(format = "uuid")]
    queue_id: Option<String>,
    /// 1 (first) to 5 (last).
    #[schema(minimum = 1, maximum = 5)]
    priority: Option<u8>,
    /// Contact attributes for the flow and the agent: keys of letters, digits, `-` and `_` (not starting
    /// with `Handoff`), at most 24 KiB with the values.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// A handoff the bot asked for, every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHandoff {
    pub idempotency_key: IdempotencyKey,
    pub external_conversation_id: String,
    pub user: User,
    pub title: String,
    /// The `description` of the request: why the bot hands off.
    pub reason: String,
    pub history: Vec<HistoryEntry>,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

/// Personal data: its `Debug` does not print it, so a logged request cannot leak it.
macro_rules! personal {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

personal!(
    /// An e-mail address of a plausible shape (`local@domain.tld`); whether it exists is not ours to say.
    Email
);
personal!(
    /// A phone number in E.164 (`+` and 2 to 15 digits), as Connect takes it.
    Phone
);

impl Email {
    fn parse(field: &str, raw: String) -> Result<Self, ApiError> {
        let plausible = raw.len() <= 254
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
            && raw
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.contains('@') && domain.contains('.'));
        if !plausible {
            return Err(ApiError::invalid(field, "is not an e-mail address"));
        }
        Ok(Self(raw))
    }
}

impl Phone {
    fn parse(field: &str, raw: String) -> Result<Self, ApiError> {
        let e164 = raw.strip_prefix('+').is_some_and(|digits| {
            (2..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
        });
        if !e164 {
            return Err(ApiError::invalid(field, "is not an E.164 phone number"));
        }
        Ok(Self(raw))
    }
}

/// A Connect resource id (contact flow, queue): a UUID, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectId(String);

impl ConnectId {
    pub(super) fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let groups: Vec<&str> = raw.split('-').collect();
        let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if !shaped {
            return Err(ApiError::invalid(field, "is not a UUID"));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A routing priority, 1 (first) to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The bot's contact attributes: keys Connect accepts, not the summary's, within the bot's share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub(super) fn parse(field: &str, raw: BTreeMap<String, String>) -> Result<Self, ApiError> {
        for key in raw.keys() {
            let well_formed = !key.is_empty()
                && key.len() <= ATTRIBUTE_KEY_MAX_BYTES
                && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            if !well_formed {
                return Err(ApiError::invalid(
                    field,
                    "keys must be 1-128 characters of A-Z, a-z, 0-9, - and _",
                ));
            }
            if key.starts_with(RESERVED_ATTRIBUTE_PREFIX) {
                return Err(ApiError::invalid(
                    &join(field, key),
                    "is reserved for the bridge's summary",
                ));
            }
        }
        let bytes: usize = raw.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > ROUTING_ATTRIBUTES_MAX_BYTES {
            return Err(ApiError::invalid(field, "are larger than 24 KiB"));
        }
        Ok(Self(raw))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    pub contact_flow_id: Option<ConnectId>,
    pub queue_id: Option<ConnectId>,
    pub priority: Option<Priority>,
    pub attributes: Attributes,
}

impl NewHandoff {
    pub(super) fn parse(idempotency_key: IdempotencyKey, body: CreateHandoffBody) -> Result<Self, ApiError> {
        if body.message_history.len() > HISTORY_MAX_MESSAGES {
            return Err(ApiError::invalid("message_history", "has more than 200 messages"));
        }
        let history = body
            .message_history
            .into_iter()
            .enumerate()
            .map(|(i, message)| message.entry(&format!("message_history[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            idempotency_key,
            external_conversation_id: ID.check("external_conversation_id", body.external_conversation_id)?,
            user: body.user.parse()?,
            title: TITLE.check("title", body.title)?,
            reason: REASON.check("description", body.description)?,
            history,
            routing: body.routing.unwrap_or_default().parse()?,
        })
    }
}

impl UserBody {
    fn parse(self) -> Result<User, ApiError> {
        Ok(User {
            id: ID.check("user.id", self.id)?,
            name: NAME.check("user.name", self.name)?,
            email: self.email.map(|e| Email::parse("user.email", e)).transpose()?,
            phone: self.phone.map(|p| Phone::parse("user.phone", p)).transpose()?,
        })
    }
}

impl RoutingBody {
    fn parse(self) -> Result<Routing, ApiError> {
        let priority = match self.priority {
            Some(p @ 1..=5) => Some(Priority(p)),
            Some(_) => return Err(ApiError::invalid("routing.priority", "must be 1 to 5")),
            None => None,
        };
        Ok(Routing {
            contact_flow_id: self
                .contact_flow_id
                .map(|id| ConnectId::parse("routing.contact_flow_id", &id))
                .transpose()?,
            queue_id: self
                .queue_id
                .map(|id| ConnectId::parse("routing.queue_id", &id))
                .transpose()?,
            priority,
            attributes: Attributes::parse("routing.attributes", self.attributes)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ApiRequest, ErrorCode, parse_request, tests::request};
    use super::*;
    use crate::handoff::Speaker;
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<NewHandoff, ApiError> {
        let body = body.to_string();
        match parse_request(request("POST", "/v1/handoffs", &body))? {
            ApiRequest::Create(handoff) => Ok(*handoff),
            other => panic!("{other:?}"),
        }
    }

    fn minimal() -> serde_json::Value {
        json!({
            "external_conversation_id": "conv-1",
            "user": {"id": "u-1", "name": "Ana Souza"},
            "title": "Refund",
            "description": "Asks for a refund the bot cannot grant",
        })
    }

    fn with(mut body: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
        body[key] = value;
        body
    }

    fn said(source: &str, kind: &str, payload: serde_json::Value) -> serde_json::Value {
        json!({"source": {"type": source}, "type": kind, "payload": payload})
    }

    #[test]
    fn a_full_create_is_parsed_into_checked_values() {
        let mut body = minimal();
        body["user"]["email"] = json!("ana@example.com");
        body["user"]["phone"] = json!("+5511912345678");
        body["routing"] = json!({
            "contact_flow_id": "0A1B2C3D-0000-4000-8000-000000000001",
            "queue_id": "0a1b2c3d-0000-4000-8000-000000000002",
            "priority": 2,
            "attributes": {"Tier": "gold", "order-id": "1234"},
        });
        body["message_history"] = json!([
            {"source": {"type": "user"}, "type": "text", "payload": {"text": "I want my money back"},
             "created_at": "2026-12-07T10:00:00.250+01:00"},
            said("bot", "text", json!({"text": "Which order?"})),
        ]);
        let handoff = create(body).unwrap();
        assert_eq!(handoff.idempotency_key.as_str(), "retry-1");
        assert_eq!(handoff.reason, "Asks for a refund the bot cannot grant");
        assert_eq!(handoff.user.phone.as_ref().map(Phone::as_str), Some("+5511912345678"));
        assert_eq!(format!("{:?}", handoff.user.email), "Some(Email(..))", "never printed");
        let routing = &handoff.routing;
        assert_eq!(
            routing.contact_flow_id.as_ref().map(ConnectId::as_str),
            Some("0a1b2c3d-0000-4000-8000-000000000001")
        );
        assert_eq!(routing.priority.map(Priority::get), Some(2));
        assert_eq!(routing.attributes.as_map()["Tier"], "gold");
        assert_eq!(
            handoff.history,
            [
                HistoryEntry {
                    speaker: Speaker::User,
                    text: "I want my money back".into(),
                    at: Some("2026-12-07T09:00:00.250Z".into()),
                },
                HistoryEntry {
                    speaker: Speaker::Bot,
                    text: "Which order?".into(),
                    at: None,
                },
            ]
        );
        let minimal = create(minimal()).unwrap();
        assert_eq!((minimal.history.len(), minimal.routing), (0, Routing::default()));
    }

    #[test]
    fn a_bad_field_is_named_by_its_path_and_its_value_never_echoed() {
        let long = "x".repeat(4097);
        let history = |payload| {
            with(
                minimal(),
                "message_history",
                json!([said("user", "text", json!({"text": "ok"})), payload]),
            )
        };
        let cases = [
            (
                history(said("user", "text", json!({"text": long}))),
                "message_history[1].payload.text: is too long",
            ),
            (
                history(said("user", "text", json!({"txt": "hi"}))),
                "message_history[1].payload.txt: is not a known field",
            ),
            (
                history(said("user", "image", json!({"imageUrl": "ftp://secret"}))),
                "message_history[1].payload.imageUrl: is not an http(s) URL",
            ),
            (
                history(said("robot", "text", json!({"text": "hi"}))),
                "message_history[1].source.type: is not one of the allowed values",
            ),
            (
                history(said("user", "sticker", json!({}))),
                "message_history[1].type: is not one of the allowed values",
            ),
            (
                history(
                    json!({"source": {"type": "user"}, "type": "text", "payload": {"text": "a"}, "created_at": "yesterday"}),
                ),
                "message_history[1].created_at: is not an RFC 3339 time",
            ),
            (with(minimal(), "title", json!("")), "title: must not be empty"),
            (
                with(minimal(), "title", json!("two\nlines")),
                "title: contains control characters",
            ),
            (
                with(minimal(), "description", json!("r".repeat(1001))),
                "description: is too long",
            ),
            (
                with(
                    minimal(),
                    "user",
                    json!({"id": "u", "name": "n", "phone": "5511912345678"}),
                ),
                "user.phone: is not an E.164 phone number",
            ),
            (
                with(
                    minimal(),
                    "user",
                    json!({"id": "u", "name": "n", "email": "ana at example"}),
                ),
                "user.email: is not an e-mail address",
            ),
            (with(minimal(), "user", json!({"id": "u"})), "user.name: is required"),
            (
                with(minimal(), "routing", json!({"queue_id": "billing"})),
                "routing.queue_id: is not a UUID",
            ),
            (
                with(minimal(), "routing", json!({"priority": 9})),
                "routing.priority: must be 1 to 5",
            ),
            (
                with(minimal(), "routing", json!({"queueId": "x"})),
                "routing.queueId: is not a known field",
            ),
            (with(minimal(), "extra", json!(1)), "extra: is not a known field"),
        ];
        for (body, expected) in cases {
            let error = create(body).unwrap_err();
            assert_eq!((error.code(), error.message()), (ErrorCode::InvalidRequest, expected));
            for secret in [
                "5511912345678",
                "ana at example",
                "billing",
                "ftp://secret",
                "yesterday",
                "xxxx",
            ] {
                assert!(!error.message().contains(secret), "{expected}");
            }
        }
    }

    #[test]
    fn history_is_capped_at_200_messages() {
        let one = said("user", "text", json!({"text": "hi"}));
        let ok = create(with(minimal(), "message_history", json!(vec![one.clone(); 200]))).unwrap();
        assert_eq!(ok.history.len(), 200);
        let error = create(with(minimal(), "message_history", json!(vec![one; 201]))).unwrap_err();
        assert_eq!(error.message(), "message_history: has more than 200 messages");
    }

    #[test]
    fn attributes_leave_room_for_the_summary_and_keep_off_its_keys() {
        let attributes = |map: serde_json::Value| with(minimal(), "routing", json!({"attributes": map}));
        let error = create(attributes(json!({"HandoffTitle": "x"}))).unwrap_err();
        assert_eq!(
            error.message(),
            "routing.attributes.HandoffTitle: is reserved for the bridge's summary"
        );
        let error = create(attributes(json!({"bad key": "x"}))).unwrap_err();
        assert!(error.message().starts_with("routing.attributes: keys must be"));
        let fits = "v".repeat(ROUTING_ATTRIBUTES_MAX_BYTES - 1);
        assert!(create(attributes(json!({"k": fits}))).is_ok());
        let over = "v".repeat(ROUTING_ATTRIBUTES_MAX_BYTES);
        let error = create(attributes(json!({"k": over}))).unwrap_err();
        assert_eq!(error.message(), "routing.attributes: are larger than 24 KiB");
    }
}
