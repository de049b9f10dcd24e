//! The requests on an existing handoff: the customer's messages and typing, attributes, transfer, end,
//! and the transcript's paging. Each body as the bot sends it (the `*Body` types, which the OpenAPI
//! document is derived from) and as the bridge uses it, checked.
//!
//! A message is one flat object whose `type` says which of its fields carries the content (`text`,
//! `markdown`, `file`, `option_id`), rather than a tagged union: serde reports a tagged union's errors
//! without the field's path, and the bot should be told which field is wrong.

use super::create::{Attributes, ConnectId};
use super::{ApiError, ClientMessageId, TextRule, join};
use crate::handoff::webhook::endpoint::{Reach, reach};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Messages and markdown as the customer's, up to what a chat message comfortably holds.
const MESSAGE_TEXT: TextRule = TextRule::lines(4096);
const FILE_NAME: TextRule = TextRule::line(255);
const OPTION_ID: TextRule = TextRule::line(200);
const END_REASON: TextRule = TextRule::line(200);
/// Connect's `GetTranscript` returns at most 100 items a page and takes tokens of up to 1000 characters.
const TRANSCRIPT_MAX_LIMIT: u8 = 100;
const TRANSCRIPT_DEFAULT_LIMIT: u8 = 50;
const NEXT_TOKEN_MAX_CHARS: usize = 1000;

/// The body of `POST /v1/handoffs/{id}/messages`: the customer's message for the agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::handoff) struct MessageBody {
    /// The bot's id of this message: a retried send with the same id is delivered once.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    client_message_id: String,
    #[serde(rename = "type")]
    kind: MessageType,
    /// With `type: text`.
    #[schema(min_length = 1, max_length = 4096)]
    text: Option<String>,
    /// With `type: markdown`.
    #[schema(min_length = 1, max_length = 4096)]
    markdown: Option<String>,
    /// With `type: file`.
    file: Option<FileBody>,
    /// With `type: option`: the id of the option chosen, from the interactive message's event.
    #[schema(min_length = 1, max_length = 200)]
    option_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum MessageType {
    Text,
    Markdown,
    File,
    /// The answer to an interactive message (a list or buttons the agent's flow sent).
    Option,
}

/// A file the customer sends, at a URL the bridge fetches.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FileBody {
    /// An https URL the bridge downloads the file from (a presigned URL, or one that needs no
    /// credentials), at most 20 MB; redirects are followed to https only.
    #[schema(format = "uri", max_length = 2048)]
    url: String,
    /// The file's name as the agent sees it.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// Its media type, e.g. `application/pdf`: one Amazon Connect chat accepts.
    content_type: String,
}

/// A message of the customer for the agent, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub client_message_id: ClientMessageId,
    pub content: MessageContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageContent {
    Text(String),
    Markdown(String),
    File {
        url: FileUrl,
        name: String,
        content_type: String,
    },
    /// The id of the option chosen in the last interactive message.
    OptionChosen(String),
}

/// Where a bot's file is fetched from: https, or plain http to a loopback host, which only a
/// deployment that allows it fetches (the local twin; see `HandoffSettings::files_over_loopback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUrl {
    pub url: String,
    pub reach: Reach,
}

impl NewMessage {
    pub(super) fn parse(body: MessageBody) -> Result<Self, ApiError> {
        let client_message_id = ClientMessageId::parse("client_message_id", &body.client_message_id)?;
        let given = [
            ("text", body.text.is_some()),
            ("markdown", body.markdown.is_some()),
            ("file", body.file.is_some()),
            ("option_id", body.option_id.is_some()),
        ];
        let wanted = match body.kind {
            MessageType::Text => "text",
            MessageType::Markdown => "markdown",
            MessageType::File => "file",
            MessageType::Option => "option_id",
        };
        if let Some((other, _)) = given.iter().find(|(name, set)| *set && *name != wanted) {
            return Err(ApiError::invalid(other, "is not allowed with this type"));
        }
        let required = || ApiError::invalid(wanted, "is required with this type");
        let content = match body.kind {
            MessageType::Text => MessageContent::Text(MESSAGE_TEXT.check("text", body.text.ok_or_else(required)?)?),
            MessageType::Markdown => {
                MessageContent::Markdown(MESSAGE_TEXT.check("markdown", body.markdown.ok_or_else(required)?)?)
            }
            MessageType::File => body.file.ok_or_else(required)?.parse()?,
            MessageType::Option => {
                MessageContent::OptionChosen(OPTION_ID.check("option_id", body.option_id.ok_or_else(required)?)?)
            }
        };
        Ok(Self {
            client_message_id,
            content,
        })
    }
}

impl FileBody {
    fn parse(self) -> Result<MessageContent, ApiError> {
        let reach = reach(&self.url).map_err(|_| ApiError::invalid("file.url", "is not an https URL"))?;
        let name = FILE_NAME.check("file.name", self.name)?;
        if name.contains(['/', '\\']) {
            return Err(ApiError::invalid("file.name", "must not contain / or \\"));
        }
        Ok(MessageContent::File {
            url: FileUrl { url: self.url, reach },
            name,
            content_type: media_type("file.content_type", &self.content_type)?,
        })
    }
}

/// A `type/subtype` media type, lower-cased, without parameters.
fn media_type(field: &str, raw: &str) -> Result<String, ApiError> {
    let token = |s: &str| {
        !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match raw.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(raw.to_ascii_lowercase()),
        _ => Err(ApiError::invalid(field, "is not a media type")),
    }
}

/// `POST /v1/handoffs/{id}/typing` takes no body, or an empty object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TypingBody {}

/// The body of `PATCH /v1/handoffs/{id}`: contact attributes to set (an empty value clears one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::handoff) struct UpdateBody {
    /// Keys of letters, digits, `-` and `_` (not starting with `Handoff`), at most 24 KiB with the values.
    attributes: BTreeMap<String, String>,
}

/// Attributes to set on the handoff's contact, checked like the create's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributesUpdate {
    pub attributes: Attributes,
}

impl AttributesUpdate {
    pub(super) fn parse(body: UpdateBody) -> Result<Self, ApiError> {
        let attributes = Attributes::parse("attributes", body.attributes)?;
        if attributes.is_empty() {
            return Err(ApiError::invalid("attributes", "must set at least one attribute"));
        }
        Ok(Self { attributes })
    }
}

/// The body of `POST /v1/handoffs/{id}/transfer`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::handoff) struct TransferBody {
    /// Move the chat to this queue (the handoff's queue flow reads it from the contact's attributes).
    #[schema(format = "uuid")]
    queue_id: Option<String>,
    /// Or to this contact flow: refused with 409, as Connect cannot move a chat waiting in a queue to a
    /// flow.
    #[schema(format = "uuid")]
    contact_flow_id: Option<String>,
}

/// Where the bot asks a handoff to be transferred. Chats move through their flow (Connect's
/// `TransferContact` is for tasks and e-mail): see [`crate::handoff::transfer`] for which can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    ToQueue(ConnectId),
    ToFlow(ConnectId),
}

impl Transfer {
    pub(super) fn parse(body: TransferBody) -> Result<Self, ApiError> {
        match (body.queue_id, body.contact_flow_id) {
            (Some(queue), None) => ConnectId::parse("queue_id", &queue).map(Transfer::ToQueue),
            (None, Some(flow)) => ConnectId::parse("contact_flow_id", &flow).map(Transfer::ToFlow),
            _ => Err(ApiError::invalid(
                "body",
                "needs exactly one of queue_id and contact_flow_id",
            )),
        }
    }
}

/// The body of `POST /v1/handoffs/{id}/end`, which may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::handoff) struct EndBody {
    /// Why the bot ends the handoff, for the agent and the contact's record.
    #[schema(min_length = 1, max_length = 200)]
    reason: Option<String>,
    /// Stop the contact (`StopContact`) rather than only disconnect the customer, which lets the agent
    /// finish their after-contact work.
    #[serde(default)]
    force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    pub reason: Option<String>,
    pub force: bool,
}

impl End {
    pub(super) fn parse(body: EndBody) -> Result<Self, ApiError> {
        Ok(Self {
            reason: body.reason.map(|r| END_REASON.check("reason", r)).transpose()?,
            force: body.force,
        })
    }
}

/// The query of `GET /v1/handoffs/{id}/transcript`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptQuery {
    /// Items per page, 1 to 100 (50 when left out).
    pub limit: u8,
    /// The `next_token` of the page before, as given.
    pub next_token: Option<String>,
}

impl TranscriptQuery {
    pub const LIMIT: &'static str = "limit";
    pub const NEXT_TOKEN: &'static str = "next_token";

    pub(super) fn parse(query: &[(&str, &str)]) -> Result<Self, ApiError> {
        let mut parsed = Self {
            limit: TRANSCRIPT_DEFAULT_LIMIT,
            next_token: None,
        };
        for (name, value) in query {
            match *name {
                Self::LIMIT => {
                    parsed.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=TRANSCRIPT_MAX_LIMIT).contains(n))
                        .ok_or_else(|| ApiError::invalid(Self::LIMIT, "must be 1 to 100"))?;
                }
                Self::NEXT_TOKEN => {
                    let opaque = !value.is_empty()
                        && value.len() <= NEXT_TOKEN_MAX_CHARS
                        && value.chars().all(|c| c.is_ascii_graphic());
                    if !opaque {
                        return Err(ApiError::invalid(Self::NEXT_TOKEN, "is not a token this API gave"));
                    }
                    parsed.next_token = Some((*value).to_owned());
                }
                other => {
                    let name: String = other.chars().take(64).collect();
                    return Err(ApiError::invalid(&join("query", &name), "is not a known parameter"));
                }
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ApiRequest, ErrorCode, RawRequest, parse_request, tests::request};
    use super::*;
    use serde_json::json;

    const ID: &str = "ho_01jehz3k5q8v0w2x4y6z8a0b2c";

    fn on(action: &str, method: &str, body: serde_json::Value) -> Result<ApiRequest, ApiError> {
        let path = format!("/v1/handoffs/{ID}{action}");
        parse_request(request(method, &path, &body.to_string()))
    }

    fn message(body: serde_json::Value) -> Result<MessageContent, ApiError> {
        match on("/messages", "POST", body)? {
            ApiRequest::Message(_, message) => Ok(message.content),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_carry_their_content_in_the_field_their_type_names() {
        let text = message(json!({"client_message_id": "m-1", "type": "text", "text": "Hello\nthere"}));
        assert_eq!(text, Ok(MessageContent::Text("Hello\nthere".into())));
        let markdown = message(json!({"client_message_id": "m-1", "type": "markdown", "markdown": "**hi**"}));
        assert_eq!(markdown, Ok(MessageContent::Markdown("**hi**".into())));
        let option = message(json!({"client_message_id": "m-2", "type": "option", "option_id": "opt-3"}));
        assert_eq!(option, Ok(MessageContent::OptionChosen("opt-3".into())));
        let file = message(json!({"client_message_id": "m-3", "type": "file",
            "file": {"url": "https://files.example/r.pdf?sig=1", "name": "receipt.pdf", "content_type": "Application/PDF"}}));
        assert_eq!(
            file,
            Ok(MessageContent::File {
                url: FileUrl {
                    url: "https://files.example/r.pdf?sig=1".into(),
                    reach: Reach::Https
                },
                name: "receipt.pdf".into(),
                content_type: "application/pdf".into(),
            })
        );
    }

    #[test]
    fn a_bad_message_names_its_field() {
        let cases = [
            (json!({"type": "text", "text": "hi"}), "client_message_id: is required"),
            (
                json!({"client_message_id": "m 1", "type": "text", "text": "hi"}),
                "client_message_id: must be 1-64 characters of A-Z, a-z, 0-9, _ and -",
            ),
            (
                json!({"client_message_id": "m", "type": "text"}),
                "text: is required with this type",
            ),
            (
                json!({"client_message_id": "m", "type": "text", "text": "hi", "markdown": "x"}),
                "markdown: is not allowed with this type",
            ),
            (
                json!({"client_message_id": "m", "type": "text", "text": "x".repeat(4097)}),
                "text: is too long",
            ),
            (
                json!({"client_message_id": "m", "type": "text", "text": "  "}),
                "text: must not be empty",
            ),
            (
                json!({"client_message_id": "m", "type": "sticker"}),
                "type: is not one of the allowed values",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "http://x.test/a", "name": "a", "content_type": "text/plain"}}),
                "file.url: is not an https URL",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "ftp://x.test/a", "name": "a", "content_type": "text/plain"}}),
                "file.url: is not an https URL",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "https://x.test/a", "upload_id": "u", "name": "a", "content_type": "text/plain"}}),
                "file.upload_id: is not a known field",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "https://x.test/a", "name": "../a", "content_type": "text/plain"}}),
                "file.name: must not contain / or \\",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "https://x.test/a", "name": "a", "content_type": "pdf"}}),
                "file.content_type: is not a media type",
            ),
            (
                json!({"client_message_id": "m", "type": "file", "file": {"url": "https://x.test/a", "name": "a"}}),
                "file.content_type: is required",
            ),
        ];
        for (body, expected) in cases {
            let error = message(body).unwrap_err();
            assert_eq!((error.code(), error.message()), (ErrorCode::InvalidRequest, expected));
        }
    }

    #[test]
    fn attributes_transfer_and_end_are_checked() {
        let update = on("", "PATCH", json!({"attributes": {"Tier": "gold"}})).unwrap();
        assert!(
            matches!(update, ApiRequest::Update(_, AttributesUpdate { attributes }) if attributes.as_map()["Tier"] == "gold")
        );
        let error = on("", "PATCH", json!({"attributes": {}})).unwrap_err();
        assert_eq!(error.message(), "attributes: must set at least one attribute");
        let error = on("", "PATCH", json!({"attributes": {"HandoffReason": ""}})).unwrap_err();
        assert_eq!(
            error.message(),
            "attributes.HandoffReason: is reserved for the bridge's summary"
        );

        let queue = "0a1b2c3d-0000-4000-8000-000000000002";
        let transfer = on("/transfer", "POST", json!({"queue_id": queue})).unwrap();
        assert!(matches!(transfer, ApiRequest::Transfer(_, Transfer::ToQueue(id)) if id.as_str() == queue));
        let error = on("/transfer", "POST", json!({})).unwrap_err();
        assert_eq!(
            error.message(),
            "body: needs exactly one of queue_id and contact_flow_id"
        );
        let error = on("/transfer", "POST", json!({"contact_flow_id": "flow"})).unwrap_err();
        assert_eq!(error.message(), "contact_flow_id: is not a UUID");

        let end = on("/end", "POST", json!({"reason": "Resolved by the bot", "force": true})).unwrap();
        let expected = End {
            reason: Some("Resolved by the bot".into()),
            force: true,
        };
        assert!(matches!(end, ApiRequest::End(_, e) if e == expected));
        let path = format!("/v1/handoffs/{ID}/end");
        let empty = parse_request(RawRequest {
            content_type: None,
            ..request("POST", &path, "")
        });
        assert!(matches!(
            empty,
            Ok(ApiRequest::End(
                _,
                End {
                    reason: None,
                    force: false
                }
            ))
        ));
        let error = on("/end", "POST", json!({"force": "yes"})).unwrap_err();
        assert_eq!(error.message(), "force: has the wrong type");
    }

    #[test]
    fn the_transcript_is_paged_by_limit_and_token() {
        let path = format!("/v1/handoffs/{ID}/transcript");
        let query = |query: &'static [(&'static str, &'static str)]| {
            parse_request(RawRequest {
                query,
                ..request("GET", &path, "")
            })
            .map(|r| match r {
                ApiRequest::Transcript(_, q) => q,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(
            query(&[]),
            Ok(TranscriptQuery {
                limit: 50,
                next_token: None
            })
        );
        let page = query(&[("limit", "100"), ("next_token", "abc+/=")]).unwrap();
        assert_eq!((page.limit, page.next_token.as_deref()), (100, Some("abc+/=")));
        for (bad, expected) in [
            (&[("limit", "0")][..], "limit: must be 1 to 100"),
            (&[("limit", "101")][..], "limit: must be 1 to 100"),
            (&[("next_token", "")][..], "next_token: is not a token this API gave"),
            (&[("page", "2")][..], "query.page: is not a known parameter"),
        ] {
            assert_eq!(query(bad).unwrap_err().message(), expected);
        }
    }
}
