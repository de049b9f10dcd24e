//! The Handoff API's requests, parsed into valid values before anything acts on them, and its errors.
//!
//! [`parse_request`] takes what API Gateway hands the function (method, path, headers, query, the raw
//! body) and returns an [`ApiRequest`] whose every value is already checked, or the [`ApiError`] to
//! answer: a bad request is refused here, so it can never start a chat or reach Connect. The routes are
//! one table, [`ROUTES`], which both this parser and the OpenAPI document ([`super::openapi`]) read, so
//! what is served and what is documented cannot drift apart.
//!
//! Errors name the offending field as a path into the body (`message_history[3].payload.text`) and
//! never echo a value: a request carries customers' words, names, e-mails and phone numbers, and error
//! bodies end up in the bot's logs. That is also why serde's own messages (which quote values) are
//! never passed on; [`decode`] keeps only their field path and kind.
//!
//! Bodies are JSON of at most [`BODY_MAX_BYTES`]; unknown fields are refused rather than ignored, so a
//! typo (`queue_Id`) is a 400 and not routing silently dropped.

mod actions;
mod create;
mod history;
mod response;

pub use actions::{AttributesUpdate, End, FileUrl, MessageContent, NewMessage, TranscriptQuery, Transfer};
pub use create::{
    Attributes, ConnectId, Email, HISTORY_MAX_MESSAGES, NewHandoff, Phone, Priority, ROUTING_ATTRIBUTES_MAX_BYTES,
    Routing, SUMMARY_RESERVED_BYTES, User,
};
pub use response::{HandoffCreated, HandoffView, TranscriptItem, TranscriptPage, TranscriptParticipant};

pub(super) use actions::{EndBody, MessageBody, TransferBody, UpdateBody};
pub(super) use create::CreateHandoffBody;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The largest body accepted (256 KiB): a create with 200 history messages of a few hundred characters
/// each fits with room to spare, and it stays well under API Gateway's and Lambda's payload limits.
pub const BODY_MAX_BYTES: usize = 256 * 1024;

/// What the API answers with when it does not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the message names the field.
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    /// 409: the handoff is over; the conversation is the bot's again.
    HandoffEnded,
    /// 409: what was asked cannot be done in the handoff's current state (e.g. a transfer Connect refuses).
    Conflict,
    PayloadTooLarge,
    /// 429: the `Retry-After` header says when to try again.
    RateLimited,
    /// 500: never with details.
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::HandoffEnded | ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

const FIELD_MAX_CHARS: usize = 128;

/// An error answer, serialised as `{"code": ..., "message": ...}`. Its status follows from its code and
/// its message is built here from fixed words and field paths, so no request value can end up in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiError {
    code: ErrorCode,
    /// For people; the code is what programs match on.
    message: String,
    #[serde(skip)]
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 naming the field (a path into the body, a header or a query parameter) and what is wrong.
    /// A path may hold the body's own keys, so it is cut to 128 characters and stripped of control
    /// characters: a crafted key must not fill the answer or forge lines in a log.
    pub fn invalid(field: &str, problem: &'static str) -> Self {
        let mut shown: String = field
            .chars()
            .filter(|c| !c.is_control())
            .take(FIELD_MAX_CHARS)
            .collect();
        if field.chars().filter(|c| !c.is_control()).nth(FIELD_MAX_CHARS).is_some() {
            shown.push('…');
        }
        Self::new(ErrorCode::InvalidRequest, format!("{shown}: {problem}"))
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "missing or invalid credentials")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "not allowed for this client")
    }

    /// Also what a client gets for another client's handoff, so it cannot probe which ids exist.
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such resource")
    }

    pub fn handoff_ended() -> Self {
        Self::new(
            ErrorCode::HandoffEnded,
            "the handoff is over; the conversation is the bot's again",
        )
    }

    pub fn conflict(why: &'static str) -> Self {
        Self::new(ErrorCode::Conflict, why)
    }

    pub fn file_too_large() -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            "the file is larger than the 20 MB Amazon Connect chat takes",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(ErrorCode::PayloadTooLarge, "the body is larger than 256 KiB")
    }

    pub fn rate_limited(retry_after_secs: u32) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                ErrorCode::RateLimited,
                "too many requests; retry after the Retry-After delay",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error; the request may be retried")
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds for the `Retry-After` header (429 only).
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> String {
        serde_json::json!({"code": self.code, "message": self.message}).to_string()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status(),
            serde_json::json!(self.code),
            self.message
        )
    }
}

/// The HTTP methods the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateHandoff,
    GetHandoff,
    UpdateHandoff,
    SendMessage,
    SendTyping,
    GetTranscript,
    GetAttachment,
    TransferHandoff,
    EndHandoff,
    GetOpenApi,
}

/// One route: a method and a path template whose `{id}` is a [`HandoffId`] and `{attachment_id}` an
/// [`AttachmentId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub operation: Operation,
}

const fn route(method: Method, path: &'static str, operation: Operation) -> Route {
    Route {
        method,
        path,
        operation,
    }
}

/// Every route the API serves, and the only place they are listed.
pub const ROUTES: &[Route] = &[
    route(Method::Post, "/v1/handoffs", Operation::CreateHandoff),
    route(Method::Get, "/v1/handoffs/{id}", Operation::GetHandoff),
    route(Method::Patch, "/v1/handoffs/{id}", Operation::UpdateHandoff),
    route(Method::Post, "/v1/handoffs/{id}/messages", Operation::SendMessage),
    route(Method::Post, "/v1/handoffs/{id}/typing", Operation::SendTyping),
    route(Method::Get, "/v1/handoffs/{id}/transcript", Operation::GetTranscript),
    route(
        Method::Get,
        "/v1/handoffs/{id}/attachments/{attachment_id}",
        Operation::GetAttachment,
    ),
    route(Method::Post, "/v1/handoffs/{id}/transfer", Operation::TransferHandoff),
    route(Method::Post, "/v1/handoffs/{id}/end", Operation::EndHandoff),
    route(Method::Get, "/v1/openapi.json", Operation::GetOpenApi),
];

/// A handoff's id: `ho_` and 26 characters of Crockford's base32 in lower case (a ULID's alphabet and
/// length), so it sorts by creation and never contains letters that read as digits (i, l, o, u).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct HandoffId(String);

const HANDOFF_ID_PREFIX: &str = "ho_";
const HANDOFF_ID_PATTERN: &str = "^ho_[0-9a-hjkmnp-tv-z]{26}$";

impl HandoffId {
    /// `None` for any other shape: the API answers those 404, as ids it does not know.
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(HANDOFF_ID_PREFIX)?;
        let crockford = |c: char| c.is_ascii_digit() || (c.is_ascii_lowercase() && !matches!(c, 'i' | 'l' | 'o' | 'u'));
        (body.len() == 26 && body.chars().all(crockford)).then(|| Self(raw.to_owned()))
    }

    /// The id of a handoff created at `now_ms`, with the low 80 bits of `random` (which the caller draws
    /// from the system's generator): a ULID, so ids sort by creation to the millisecond, and two made in
    /// the same millisecond differ by their random part.
    pub fn mint(now_ms: u64, random: u128) -> Self {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let value = (u128::from(now_ms & 0xFFFF_FFFF_FFFF) << 80) | (random & ((1 << 80) - 1));
        let body: String = (0..26)
            .rev()
            .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
            .collect();
        Self(format!("{HANDOFF_ID_PREFIX}{body}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HandoffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialSchema for HandoffId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(HANDOFF_ID_PATTERN))
            .examples([serde_json::json!("ho_01jehz3k5q8v0w2x4y6z8a0b2c")])
            .into()
    }
}

impl ToSchema for HandoffId {}

/// Checks a key the bot chooses (`Idempotency-Key`, `client_message_id`): 1–64 of `[A-Za-z0-9_-]`,
/// which fits any Connect `ClientToken` and needs no escaping in a DynamoDB key or a log line.
fn key(field: &str, raw: &str) -> Result<String, ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    if raw.is_empty() || raw.len() > KEY_MAX_CHARS || !raw.chars().all(allowed) {
        return Err(ApiError::invalid(
            field,
            "must be 1-64 characters of A-Z, a-z, 0-9, _ and -",
        ));
    }
    Ok(raw.to_owned())
}

const KEY_MAX_CHARS: usize = 64;

/// The `Idempotency-Key` of a create: a retried create with the same key returns the same handoff.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "Idempotency-Key";

    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.ok_or_else(|| ApiError::invalid(Self::HEADER, "is required"))?;
        key(Self::HEADER, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `ClientToken` for `StartChatContact`. Connect deduplicates tokens across the whole instance,
    /// and two clients may pick the same key, so the token is scoped by the client: a SHA-256 of the
    /// client id and the key, 64 hex characters (Connect allows 500).
    pub fn client_token(&self, client: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"handoff-start\0")
            .chain_update(client.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The bot's id for one of its messages, so a retried send is delivered once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        key(field, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id Connect gives a file of the chat (its `ArtifactId`, 1 to 256 characters), as the
/// `handoff.message` event of the file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentId(String);

impl AttachmentId {
    /// Connect's ids are UUIDs; anything outside letters, digits, `-`, `_` and `.` is no id of a file.
    fn parse(raw: &str) -> Option<Self> {
        let shaped = (1..=256).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        shaped.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The ids in a request's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathIds {
    pub handoff: Option<HandoffId>,
    pub attachment: Option<AttachmentId>,
}

/// What reaches the function: API Gateway's request, its headers already looked up.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query parameters, already decoded (API Gateway's `queryStringParameters`).
    pub query: &'a [(&'a str, &'a str)],
    pub content_type: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub body: &'a [u8],
}

/// A request of the API, every value in it checked.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiRequest {
    // Boxed: a create is far larger than the other requests.
    Create(Box<NewHandoff>),
    Get(HandoffId),
    Update(HandoffId, AttributesUpdate),
    Message(HandoffId, NewMessage),
    Typing(HandoffId),
    Transcript(HandoffId, TranscriptQuery),
    Attachment(HandoffId, AttachmentId),
    Transfer(HandoffId, Transfer),
    End(HandoffId, End),
    OpenApi,
}

/// The route a method and path take, with the ids in the path. A path no route has, a known path with
/// another method, and an id of the wrong shape are all 404: the API has no resource there.
pub fn find_route(method: &str, path: &str) -> Result<(Route, PathIds), ApiError> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    for route in ROUTES.iter().filter(|r| r.method.as_str().eq_ignore_ascii_case(method)) {
        let mut ids = PathIds::default();
        let mut template = route.path.split('/');
        let mut given = path.split('/');
        let matched = loop {
            match (template.next(), given.next()) {
                (None, None) => break true,
                (Some("{id}"), Some(segment)) => {
                    ids.handoff = Some(HandoffId::parse(segment).ok_or_else(ApiError::not_found)?);
                }
                (Some("{attachment_id}"), Some(segment)) => {
                    ids.attachment = Some(AttachmentId::parse(segment).ok_or_else(ApiError::not_found)?);
                }
                (Some(t), Some(g)) if t == g => {}
                _ => break false,
            }
        };
        if matched {
            return Ok((*route, ids));
        }
    }
    Err(ApiError::not_found())
}

/// Parses a request: its route, then its body size, content type and headers, then its body.
pub fn parse_request(raw: RawRequest<'_>) -> Result<ApiRequest, ApiError> {
    let (route, ids) = find_route(raw.method, raw.path)?;
    if raw.body.len() > BODY_MAX_BYTES {
        return Err(ApiError::payload_too_large());
    }
    let body = Body {
        bytes: raw.body,
        content_type: raw.content_type,
    };
    Ok(match (route.operation, ids.handoff, ids.attachment) {
        (Operation::CreateHandoff, None, None) => {
            let key = IdempotencyKey::parse(raw.idempotency_key)?;
            ApiRequest::Create(Box::new(NewHandoff::parse(key, body.json()?)?))
        }
        (Operation::GetOpenApi, None, None) => ApiRequest::OpenApi,
        (Operation::GetHandoff, Some(id), None) => ApiRequest::Get(id),
        (Operation::UpdateHandoff, Some(id), None) => ApiRequest::Update(id, AttributesUpdate::parse(body.json()?)?),
        (Operation::SendMessage, Some(id), None) => ApiRequest::Message(id, NewMessage::parse(body.json()?)?),
        (Operation::SendTyping, Some(id), None) => {
            body.optional_json::<actions::TypingBody>()?;
            ApiRequest::Typing(id)
        }
        (Operation::GetAttachment, Some(id), Some(attachment)) => ApiRequest::Attachment(id, attachment),
        (Operation::GetTranscript, Some(id), None) => ApiRequest::Transcript(id, TranscriptQuery::parse(raw.query)?),
        (Operation::TransferHandoff, Some(id), None) => ApiRequest::Transfer(id, Transfer::parse(body.json()?)?),
        (Operation::EndHandoff, Some(id), None) => {
            ApiRequest::End(id, End::parse(body.optional_json()?.unwrap_or_default())?)
        }
        // A route's template and its operation disagree on the id: a bug in ROUTES, held off by a test.
        _ => return Err(ApiError::internal()),
    })
}

/// A request's body and its declared content type.
#[derive(Debug, Clone, Copy)]
struct Body<'a> {
    bytes: &'a [u8],
    content_type: Option<&'a str>,
}

impl Body<'_> {
    fn json<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let media_type = self.content_type.and_then(|c| c.split(';').next()).map(str::trim);
        if !media_type.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
            return Err(ApiError::invalid("Content-Type", "must be application/json"));
        }
        decode(self.bytes)
    }

    /// A body that may be left out (typing, end): empty means the defaults.
    fn optional_json<T: DeserializeOwned>(self) -> Result<Option<T>, ApiError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.json().map(Some)
    }
}

/// Deserialises JSON, keeping of a failure only the field path and what kind of problem it is.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|e| serde_problem("", &e))?;
    json.end().map_err(|_| ApiError::invalid("body", "is not valid JSON"))?;
    Ok(value)
}

/// Deserialises a part of the body already read as JSON (a history message's payload), at `prefix`.
fn decode_value<T: DeserializeOwned>(prefix: &str, value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| serde_problem(prefix, &e))
}

fn serde_problem(prefix: &str, error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = error.inner();
    if matches!(inner.classify(), Category::Syntax | Category::Eof | Category::Io) {
        return ApiError::invalid("body", "is not valid JSON");
    }
    let mut path = join(prefix, &error.path().to_string());
    // serde's message is only read for its kind and the field name it quotes (a key of the schema or
    // the body's own key, never a value); the rest of it may quote a value and is dropped.
    let message = inner.to_string();
    let quoted = message
        .split('`')
        .nth(1)
        .map(|name| name.chars().take(64).collect::<String>());
    let problem = if message.starts_with("missing field") {
        path = join(&path, quoted.as_deref().unwrap_or_default());
        "is required"
    } else if message.starts_with("unknown field") {
        // serde_path_to_error records the unknown key itself as the path's last segment.
        if path.is_empty() {
            path = quoted.unwrap_or_default();
        }
        "is not a known field"
    } else if message.starts_with("duplicate field") {
        path = join(&path, quoted.as_deref().unwrap_or_default());
        "appears twice"
    } else if message.starts_with("unknown variant") {
        "is not one of the allowed values"
    } else if message.starts_with("invalid type") {
        "has the wrong type"
    } else {
        "is not valid"
    };
    ApiError::invalid(if path.is_empty() { "body" } else { &path }, problem)
}

/// `parent.child`, or whichever is not empty (`.` is serde_path_to_error's name for the root).
fn join(parent: &str, child: &str) -> String {
    let parent = parent.trim_start_matches('.');
    let child = child.trim_start_matches('.');
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_owned(),
        (_, true) => parent.to_owned(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// How a free text field is checked.
#[derive(Debug, Clone, Copy)]
struct TextRule {
    max_chars: usize,
    /// Whether line breaks and tabs are allowed (messages, the reason), or none at all (ids, titles).
    multiline: bool,
}

impl TextRule {
    const fn line(max_chars: usize) -> Self {
        Self {
            max_chars,
            multiline: false,
        }
    }

    const fn lines(max_chars: usize) -> Self {
        Self {
            max_chars,
            multiline: true,
        }
    }

    /// The text if it is not blank, fits, and holds no control characters beyond those allowed.
    fn check(self, field: &str, raw: String) -> Result<String, ApiError> {
        let allowed = |c: char| !c.is_control() || (self.multiline && matches!(c, '\n' | '\r' | '\t'));
        if raw.trim().is_empty() {
            return Err(ApiError::invalid(field, "must not be empty"));
        }
        if raw.chars().count() > self.max_chars {
            return Err(ApiError::invalid(field, "is too long"));
        }
        if !raw.chars().all(allowed) {
            return Err(ApiError::invalid(field, "contains control characters"));
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn request<'a>(method: &'a str, path: &'a str, body: &'a str) -> RawRequest<'a> {
        RawRequest {
            method,
            path,
            query: &[],
            content_type: Some("application/json; charset=utf-8"),
            idempotency_key: Some("retry-1"),
            body: body.as_bytes(),
        }
    }

    const ID: &str = "ho_01jehz3k5q8v0w2x4y6z8a0b2c";

    #[test]
    fn handoff_ids_have_one_shape_and_any_other_is_not_found() {
        assert_eq!(HandoffId::parse(ID).map(|id| id.to_string()).as_deref(), Some(ID));
        for bad in [
            "",
            "ho_",
            "ho_01JEHZ3K5Q8V0W2X4Y6Z8A0B2C",
            "ho_01jehz3k5q8v0w2x4y6z8a0b2",
            "ho_01jehz3k5q8v0w2x4y6z8a0b2cc",
            "ho_01jehz3k5q8v0w2x4y6z8a0b2i",
            "xx_01jehz3k5q8v0w2x4y6z8a0b2c",
        ] {
            assert_eq!(HandoffId::parse(bad), None, "{bad}");
        }
        let error = find_route("GET", "/v1/handoffs/ho_nope").unwrap_err();
        assert_eq!(error.status(), 404);
    }

    #[test]
    fn minted_ids_parse_and_sort_by_creation() {
        assert_eq!(HandoffId::mint(0, 0).as_str(), "ho_00000000000000000000000000");
        // The ULID specification's largest timestamp, and every random bit set.
        let last = HandoffId::mint((1 << 48) - 1, u128::MAX);
        assert_eq!(last.as_str(), "ho_7zzzzzzzzzzzzzzzzzzzzzzzzz");
        let ids: Vec<HandoffId> = [
            (1_796_640_000_000, u128::MAX),
            (1_796_640_000_001, 0),
            (1_796_640_000_001, 7),
        ]
        .into_iter()
        .map(|(at, random)| HandoffId::mint(at, random))
        .collect();
        for id in &ids {
            assert_eq!(HandoffId::parse(id.as_str()).as_ref(), Some(id));
        }
        assert!(ids[0].as_str() < ids[1].as_str() && ids[1].as_str() < ids[2].as_str());
    }

    #[test]
    fn every_route_is_found_with_its_id_and_nothing_else_is() {
        for route in ROUTES {
            let path = route
                .path
                .replace("{id}", ID)
                .replace("{attachment_id}", "a1b2-c3.d4_e5");
            let (found, ids) = find_route(route.method.as_str(), &path).unwrap();
            assert_eq!(found, *route);
            assert_eq!(ids.handoff.is_some(), route.path.contains("{id}"));
            assert_eq!(
                ids.attachment.map(|a| a.as_str().to_owned()),
                route
                    .path
                    .contains("{attachment_id}")
                    .then(|| "a1b2-c3.d4_e5".to_owned())
            );
            assert_eq!(
                find_route(route.method.as_str(), &format!("{path}/")).unwrap().0,
                *route
            );
        }
        for (method, path) in [
            ("DELETE", "/v1/handoffs"),
            ("GET", "/v1/handoffs"),
            ("POST", &format!("/v1/handoffs/{ID}")),
            ("GET", "/v1/handoffs/x/y/z"),
            ("GET", &format!("/v1/handoffs/{ID}/attachments/a%2Fb")),
            ("GET", &format!("/v1/handoffs/{ID}/attachments/{}", "a".repeat(257))),
            ("GET", "/v2/openapi.json"),
        ] {
            assert_eq!(
                find_route(method, path).unwrap_err().code(),
                ErrorCode::NotFound,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn errors_are_code_and_message_with_the_status_and_retry_after_beside() {
        let error = ApiError::rate_limited(0);
        assert_eq!((error.status(), error.retry_after()), (429, Some(1)));
        let body: serde_json::Value = serde_json::from_str(&error.body()).unwrap();
        assert_eq!(body["code"], "rate_limited");
        assert_eq!(body.as_object().unwrap().len(), 2);
        for (error, status) in [
            (ApiError::invalid("x", "is required"), 400),
            (ApiError::unauthorized(), 401),
            (ApiError::forbidden(), 403),
            (ApiError::not_found(), 404),
            (ApiError::handoff_ended(), 409),
            (ApiError::conflict("no"), 409),
            (ApiError::payload_too_large(), 413),
            (ApiError::internal(), 500),
        ] {
            assert_eq!(error.status(), status);
            assert_eq!(error.retry_after(), None);
        }
        assert_eq!(
            serde_json::to_value(ApiError::handoff_ended()).unwrap()["code"],
            "handoff_ended"
        );
    }

    #[test]
    fn bodies_are_refused_when_too_large_not_json_or_of_another_type() {
        let big = format!("{{\"x\": \"{}\"}}", "a".repeat(BODY_MAX_BYTES));
        let error = parse_request(request("POST", "/v1/handoffs", &big)).unwrap_err();
        assert_eq!(error.code(), ErrorCode::PayloadTooLarge);

        let path = format!("/v1/handoffs/{ID}/transfer");
        let mut form = request("POST", &path, "{}");
        form.content_type = Some("application/x-www-form-urlencoded");
        assert_eq!(
            parse_request(form).unwrap_err().message(),
            "Content-Type: must be application/json"
        );
        form.content_type = None;
        assert_eq!(parse_request(form).unwrap_err().code(), ErrorCode::InvalidRequest);

        for broken in ["{", "{\"queue_id\": }", "{} {}", "[]", ""] {
            let error = parse_request(request("POST", &path, broken)).unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidRequest, "{broken}");
            assert!(error.message().starts_with("body: "), "{broken}: {}", error.message());
        }
    }

    #[test]
    fn a_create_needs_a_well_formed_idempotency_key() {
        let mut raw = request("POST", "/v1/handoffs", "{}");
        raw.idempotency_key = None;
        assert_eq!(
            parse_request(raw).unwrap_err().message(),
            "Idempotency-Key: is required"
        );
        for bad in ["", "has space", "é", &"k".repeat(65)] {
            raw.idempotency_key = Some(bad);
            assert!(
                parse_request(raw)
                    .unwrap_err()
                    .message()
                    .starts_with("Idempotency-Key: ")
            );
        }
        let key = IdempotencyKey::parse(Some("retry-1")).unwrap();
        let token = key.client_token("client-a");
        assert_eq!(token.len(), 64);
        assert_ne!(token, key.client_token("client-b"), "scoped by client");
        assert_eq!(token, key.client_token("client-a"), "stable across retries");
    }

    #[test]
    fn typing_and_get_take_no_body_and_the_document_is_a_route() {
        let path = format!("/v1/handoffs/{ID}/typing");
        let mut raw = request("POST", &path, "");
        raw.content_type = None;
        assert!(matches!(parse_request(raw), Ok(ApiRequest::Typing(_))));
        assert!(matches!(
            parse_request(request("POST", &path, "{}")),
            Ok(ApiRequest::Typing(_))
        ));
        let error = parse_request(request("POST", &path, "{\"on\": true}")).unwrap_err();
        assert_eq!(error.message(), "on: is not a known field");
        let get = format!("/v1/handoffs/{ID}");
        assert!(matches!(
            parse_request(request("GET", &get, "")),
            Ok(ApiRequest::Get(_))
        ));
        assert_eq!(
            parse_request(request("GET", "/v1/openapi.json", "")),
            Ok(ApiRequest::OpenApi)
        );
    }

    #[test]
    fn serde_problems_name_the_field_and_never_quote_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Probe {
            n: u8,
            list: Vec<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            s: String,
        }
        let cases = [
            (r#"{"n": "secret", "list": []}"#, "n: has the wrong type"),
            (r#"{"n": 999, "list": []}"#, "n: is not valid"),
            (r#"{"n": 1}"#, "list: is required"),
            (r#"{"n": 1, "list": [{"s": "a"}, {}]}"#, "list[1].s: is required"),
            (r#"{"n": 1, "list": [{"s": 7}]}"#, "list[0].s: has the wrong type"),
            (r#"{"n": 1, "list": [], "typo": 1}"#, "typo: is not a known field"),
            (r#"{"n": 1, "n": 2, "list": []}"#, "n: appears twice"),
        ];
        let long_key = format!("{{\"n\": 1, \"list\": [], \"{}\\u0007\": 1}}", "k".repeat(500));
        let error = decode::<Probe>(long_key.as_bytes()).unwrap_err();
        assert_eq!(error.message(), format!("{}…: is not a known field", "k".repeat(128)));
        for (body, expected) in cases {
            let error = decode::<Probe>(body.as_bytes()).unwrap_err();
            assert_eq!(error.message(), expected, "{body}");
            assert!(!error.message().contains("999"));
        }
    }
}
