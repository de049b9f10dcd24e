//! Request validation against the constraints of AWS's service models, before anything else runs.
//!
//! AWS's request framework checks every modeled constraint of an operation's input — required
//! members, `min`/`max` length of strings, blobs, lists and maps, `pattern`, enum values, numeric
//! ranges — before authentication of the bearer token or any lookup, and answers the first request
//! that breaks one with 400 `ValidationException` (Lambda and Connect included, although their
//! models do not list it among the operations' errors; Transcribe streaming models
//! `BadRequestException` for it). The constraints come from `models/constraints.json`, extracted
//! once from the service models by `models/extract.py` (its header says which models), and one
//! generic walker applies them, so the twin checks what the models say and nothing hand-copied.
//! The same file says which member of each error shape carries the message (`Message` or
//! `message`), which [`message_key`] serves to the error renderer.
//!
//! A pattern must match the whole value, as AWS applies them (Lambda refuses the function name
//! `my function` although `my` alone matches its pattern); botocore's models leave the anchors out.
//! A JSON body is deserialized before it is validated: a member whose JSON type is not its shape's
//! (a string where the model has a list or a number, an object where it has a string, a null in a
//! list, a blob that is not base64) fails the request with 400 `SerializationException`, as the
//! restJson1 protocol answers malformed input (Smithy's restJson1 malformed-request tests); the
//! constraints are checked only on a body that deserializes. Messages name the member and the
//! constraint, never the value: values are tokens, phone numbers and message text.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use axum::http::HeaderMap;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

#[derive(Deserialize)]
struct Models {
    services: BTreeMap<String, Service>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    /// The message member of the service's errors that the operations do not model.
    message_key: String,
    /// Error code → its message member.
    errors: BTreeMap<String, String>,
    /// Operation → its input shape.
    operations: BTreeMap<String, String>,
    shapes: BTreeMap<String, Shape>,
}

#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    members: BTreeMap<String, Member>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct Member {
    shape: String,
    /// `header`, `uri`, `querystring`; none for a member of the JSON body.
    location: Option<String>,
    /// The header, label or query name (or JSON key) when it differs from the member's name.
    name: Option<String>,
}

struct Loaded {
    models: Models,
    patterns: HashMap<String, regex_lite::Regex>,
}

static LOADED: LazyLock<Loaded> = LazyLock::new(|| {
    let models: Models = serde_json::from_str(include_str!("../models/constraints.json")).unwrap_or(Models {
        services: BTreeMap::new(),
    });
    let patterns = models
        .services
        .values()
        .flat_map(|s| s.shapes.values())
        .filter_map(|s| s.pattern.as_ref())
        .filter_map(|p| Some((p.clone(), regex_lite::Regex::new(&format!("^(?:{p})$")).ok()?)))
        .collect();
    Loaded { models, patterns }
});

/// The parts of a request an operation's input members are bound to.
pub(crate) struct Input<'a> {
    headers: Option<&'a HeaderMap>,
    labels: &'a [(&'a str, &'a str)],
    query: &'a [(&'a str, &'a str)],
    body: &'a Value,
}

impl<'a> Input<'a> {
    /// A request whose members are in its headers and JSON body.
    pub fn new(headers: &'a HeaderMap, body: &'a Value) -> Self {
        Self {
            headers: Some(headers),
            labels: &[],
            query: &[],
            body,
        }
    }

    /// A request without a JSON body, whose members are in its path and query string.
    pub fn path(labels: &'a [(&'a str, &'a str)], query: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            headers: None,
            labels,
            query,
            body: &Value::Null,
        }
    }

    pub fn with_headers(self, headers: &'a HeaderMap) -> Self {
        Self {
            headers: Some(headers),
            ..self
        }
    }

    fn bound(&self, member: &Member, member_name: &str) -> Option<Value> {
        let name = member.name.as_deref().unwrap_or(member_name);
        let text = |s: &str| Some(Value::String(s.to_owned()));
        match member.location.as_deref() {
            Some("header") => self
                .headers?
                .get(name.to_ascii_lowercase().as_str())
                .and_then(|v| v.to_str().ok())
                .and_then(text),
            Some("uri") => self.labels.iter().find(|(k, _)| *k == name).and_then(|(_, v)| text(v)),
            Some("querystring") => self.query.iter().find(|(k, _)| *k == name).and_then(|(_, v)| text(v)),
            _ => self.body.get(name).filter(|v| !v.is_null()).cloned(),
        }
    }
}

/// Checks a request whose members are all in its JSON body.
pub(crate) fn check_body(service: &str, operation: &str, body: &Value) -> Result<(), ApiError> {
    let input = Input {
        headers: None,
        labels: &[],
        query: &[],
        body,
    };
    check(service, operation, &input)
}

impl crate::aws::AwsRequest {
    /// Checks this request (headers and JSON body) against `service`'s `operation` model.
    pub(crate) fn validate(&self, service: &str, operation: &str) -> Result<(), ApiError> {
        check(service, operation, &Input::new(&self.headers, &self.body))
    }
}

/// The error code a constraint violation answers with.
fn code(service: &str) -> &'static str {
    if service == "transcribe" {
        "BadRequestException"
    } else {
        "ValidationException"
    }
}

/// Checks `input` against every modeled constraint of `service`'s `operation`; an operation the
/// models do not describe passes.
pub(crate) fn check(service: &str, operation: &str, input: &Input) -> Result<(), ApiError> {
    let Some((svc, input_shape, shape)) = input_of(service, operation) else {
        return Ok(());
    };
    deserializes(svc, shape, input.body)?;
    // The members wherever they are bound, as one object the walker checks like any structure.
    let members = shape
        .members
        .iter()
        .filter_map(|(name, member)| {
            let value = typed(svc, &member.shape, input.bound(member, name)?);
            Some((member.name.clone().unwrap_or_else(|| name.clone()), value))
        })
        .collect();
    let mut problems = Vec::new();
    walk(svc, input_shape, &Value::Object(members), "", &mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    let plural = if n == 1 { "" } else { "s" };
    Err(ApiError::new(
        code(service),
        format!("{n} validation error{plural} detected: {}", problems.join("; ")),
    ))
}

/// The model of `service`'s `operation`, the name of its input shape and that shape.
fn input_of<'m>(service: &str, operation: &str) -> Option<(&'m Service, &'m str, &'m Shape)> {
    let svc = LOADED.models.services.get(service)?;
    let input_shape = svc.operations.get(operation)?;
    Some((svc, input_shape.as_str(), svc.shapes.get(input_shape)?))
}

/// Whether the JSON body's members have their shapes' JSON types (`SerializationException` if not).
fn deserializes(svc: &Service, input: &Shape, body: &Value) -> Result<(), ApiError> {
    let body_members = input.members.iter().filter(|(_, m)| m.location.is_none());
    match body_members
        .filter_map(|(name, m)| Some((name, m, body.get(m.name.as_deref().unwrap_or(name))?)))
        .find_map(|(name, m, v)| mistyped(svc, &m.shape, v, &camel(name)))
    {
        Some(problem) => Err(ApiError::new("SerializationException", problem)),
        None => Ok(()),
    }
}

/// Checks only that `body` deserializes into `service`'s `operation` input: for the operations moto
/// serves, whose constraints are moto's to check.
pub(crate) fn check_types(service: &str, operation: &str, body: &Value) -> Result<(), ApiError> {
    match input_of(service, operation) {
        Some((svc, _, shape)) => deserializes(svc, shape, body),
        None => Ok(()),
    }
}

/// Header, label and query values are text; numbers and booleans are checked as such.
fn typed(svc: &Service, shape: &str, value: Value) -> Value {
    let kind = svc.shapes.get(shape).map(|s| s.kind.as_str());
    match (kind, value.as_str()) {
        (Some("integer" | "long"), Some(s)) => s.trim().parse::<i64>().map(Value::from).unwrap_or(value),
        _ => value,
    }
}

/// The member name as AWS's messages spell it (`ClientToken` → `clientToken`).
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn problem(path: &str, constraint: &str) -> String {
    format!("Value at '{path}' failed to satisfy constraint: {constraint}")
}

/// `min`/`max` of a shape: lengths of strings, blobs, lists and maps (`what` = "length"), values
/// of numbers ("value").
fn bounds(shape: &Shape, n: i64, what: &str, path: &str, problems: &mut Vec<String>) {
    if let Some(min) = shape.min.filter(|m| n < *m) {
        let constraint = format!("Member must have {what} greater than or equal to {min}");
        problems.push(problem(path, &constraint));
    }
    if let Some(max) = shape.max.filter(|m| n > *m) {
        let constraint = format!("Member must have {what} less than or equal to {max}");
        problems.push(problem(path, &constraint));
    }
}

fn lengths(shape: &Shape, len: usize, path: &str, problems: &mut Vec<String>) {
    bounds(shape, i64::try_from(len).unwrap_or(i64::MAX), "length", path, problems);
}

fn walk(svc: &Service, name: &str, value: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(shape) = svc.shapes.get(name) else {
        return;
    };
    match (shape.kind.as_str(), value) {
        ("string", Value::String(s)) => {
            // Smithy lengths count Unicode code points.
            lengths(shape, s.chars().count(), path, problems);
            if let Some(values) = shape.values.as_ref().filter(|v| !v.contains(s)) {
                problems.push(problem(
                    path,
                    &format!("Member must satisfy enum value set: [{}]", values.join(", ")),
                ));
            }
            if let Some(p) = &shape.pattern
                && LOADED.patterns.get(p).is_some_and(|re| !re.is_match(s))
            {
                problems.push(problem(
                    path,
                    &format!("Member must satisfy regular expression pattern: {p}"),
                ));
            }
        }
        ("blob", Value::String(s)) => {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                lengths(shape, bytes.len(), path, problems);
            }
        }
        ("integer" | "long", Value::Number(n)) => {
            bounds(shape, n.as_i64().unwrap_or(i64::MAX), "value", path, problems);
        }
        // A header or query value that is not a number (`typed` converts those that are).
        ("integer" | "long", Value::String(_)) => problems.push(problem(path, "Member must be an integer")),
        ("boolean", Value::String(s)) if s != "true" && s != "false" => {
            problems.push(problem(path, "Member must be true or false"));
        }
        ("list", Value::Array(items)) => {
            lengths(shape, items.len(), path, problems);
            if let Some(member) = &shape.member {
                for (i, item) in items.iter().enumerate() {
                    walk(svc, member, item, &format!("{path}.{}.member", i + 1), problems);
                }
            }
        }
        ("map", Value::Object(entries)) => {
            lengths(shape, entries.len(), path, problems);
            for (k, v) in entries {
                if let Some(key) = &shape.key {
                    walk(svc, key, &Value::String(k.clone()), &format!("{path}.key"), problems);
                }
                if let Some(value) = &shape.value {
                    walk(svc, value, v, &format!("{path}.value"), problems);
                }
            }
        }
        ("structure", Value::Object(fields)) => {
            for (name, member) in &shape.members {
                let path = if path.is_empty() {
                    camel(name)
                } else {
                    format!("{path}.{}", camel(name))
                };
                let key = member.name.as_deref().unwrap_or(name);
                match fields.get(key).filter(|v| !v.is_null()) {
                    Some(v) => walk(svc, &member.shape, v, &path, problems),
                    None if shape.required.contains(name) => problems.push(problem(&path, "Member must not be null")),
                    None => {}
                }
            }
        }
        _ => {}
    }
}

/// Whether `value` is the JSON a restJson1 body carries for a shape of `kind`.
fn fits(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "blob" => value
            .as_str()
            .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()),
        "integer" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "long" => value.is_i64(),
        "float" | "double" => value.is_number() || matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity")),
        "boolean" => value.is_boolean(),
        "timestamp" => value.is_number() || value.is_string(),
        "list" => value.is_array(),
        "map" | "structure" => value.is_object(),
        _ => true,
    }
}

/// The first member of a JSON body (at `path`) whose JSON type is not its shape's, as AWS's
/// deserializer reports it; `None` when the body deserializes.
fn mistyped(svc: &Service, name: &str, value: &Value, path: &str) -> Option<String> {
    let shape = svc.shapes.get(name)?;
    if !fits(&shape.kind, value) {
        let expected = match shape.kind.as_str() {
            "blob" => "a base64-encoded string",
            "integer" => "a 32-bit integer",
            "long" => "an integer",
            "float" | "double" | "timestamp" => "a number",
            "boolean" => "a boolean",
            "list" => "an array",
            "map" | "structure" => "an object",
            _ => "a string",
        };
        return Some(format!("Value at '{path}' is not {expected}"));
    }
    // Lists and maps are dense: a null entry does not deserialize.
    let entry = |shape: &Option<String>, v: &Value, path: String| match v {
        Value::Null => Some(format!("Value at '{path}' must not be null")),
        v => mistyped(svc, shape.as_deref()?, v, &path),
    };
    match value {
        Value::Array(items) if shape.kind == "list" => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| entry(&shape.member, item, format!("{path}.{}.member", i + 1))),
        Value::Object(entries) if shape.kind == "map" => entries
            .values()
            .find_map(|v| entry(&shape.value, v, format!("{path}.value"))),
        Value::Object(fields) => shape.members.iter().find_map(|(name, member)| {
            let v = fields
                .get(member.name.as_deref().unwrap_or(name))
                .filter(|v| !v.is_null())?;
            mistyped(svc, &member.shape, v, &format!("{path}.{}", camel(name)))
        }),
        _ => None,
    }
}

/// The values of an enum shape of `service`'s model (empty if it has none).
pub(crate) fn enum_values(service: &str, shape: &str) -> &'static [String] {
    LOADED
        .models
        .services
        .get(service)
        .and_then(|s| s.shapes.get(shape))
        .and_then(|s| s.values.as_deref())
        .unwrap_or_default()
}

/// The member that carries an error's message in `service`'s error shapes (`Message` for Connect,
/// Connect Participant and most of Lambda, `message` for End User Messaging Social).
pub(crate) fn message_key(service: &str, code: &str) -> &'static str {
    match LOADED.models.services.get(service) {
        Some(svc) => svc.errors.get(code).unwrap_or(&svc.message_key),
        None => "message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_check(service: &str, operation: &str, body: Value) -> Result<(), ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-bearer", "token".parse().unwrap());
        check(service, operation, &Input::new(&headers, &body))
    }

    #[test]
    fn the_extracted_models_load_and_every_pattern_compiles() {
        let loaded = &*LOADED;
        for service in [
            "connect",
            "connectparticipant",
            "socialmessaging",
            "lambda",
            "transcribe",
        ] {
            assert!(loaded.models.services.contains_key(service), "{service}");
        }
        let patterns: Vec<&String> = loaded
            .models
            .services
            .values()
            .flat_map(|s| s.shapes.values())
            .filter_map(|s| s.pattern.as_ref())
            .collect();
        assert!(!patterns.is_empty());
        for p in patterns {
            assert!(loaded.patterns.contains_key(p), "{p} compiles");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_member_path() {
        let err = body_check(
            "connect",
            "StartChatContact",
            json!({
                "InstanceId": "",
                "ParticipantDetails": {},
                "Attributes": { "": "v" },
                "ChatDurationInMinutes": 59,
                "PersistentChat": { "RehydrationType": "SOMETIMES" },
                "ClientToken": "x".repeat(501),
            }),
        )
        .unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "ValidationException"));
        for expected in [
            "7 validation errors detected",
            "'contactFlowId' failed to satisfy constraint: Member must not be null",
            "'instanceId' failed to satisfy constraint: Member must have length greater than or equal to 1",
            "'participantDetails.displayName' failed to satisfy constraint: Member must not be null",
            "'attributes.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
            "'chatDurationInMinutes' failed to satisfy constraint: Member must have value greater than or equal to 60",
            "'persistentChat.rehydrationType' failed to satisfy constraint: Member must satisfy enum value set",
            "'clientToken' failed to satisfy constraint: Member must have length less than or equal to 500",
        ] {
            assert!(err.message.contains(expected), "{expected} in {}", err.message);
        }
    }

    #[test]
    fn headers_labels_and_query_parameters_are_members_too() {
        let headers = HeaderMap::new();
        let err = check(
            "connectparticipant",
            "SendEvent",
            &Input::new(&headers, &json!({"ContentType": "t"})),
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("'connectionToken' failed to satisfy constraint: Member must not be null")
        );
        let long = "f".repeat(257);
        let err = check("lambda", "Invoke", &Input::path(&[("FunctionName", &long)], &[])).unwrap_err();
        assert!(err.message.contains("'functionName'"), "{}", err.message);
        assert!(
            check(
                "lambda",
                "Invoke",
                &Input::path(&[("FunctionName", "WhatsappHandler")], &[])
            )
            .is_ok()
        );
        let err = check(
            "lambda",
            "Invoke",
            &Input::path(&[("FunctionName", "my function")], &[]),
        )
        .unwrap_err();
        assert!(err.message.contains("regular expression pattern"), "{}", err.message);
        let err = check(
            "socialmessaging",
            "ListLinkedWhatsAppBusinessAccounts",
            &Input::path(&[], &[("maxResults", "0")]),
        )
        .unwrap_err();
        assert!(
            err.message.contains(
                "'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        );
    }

    #[test]
    fn patterns_match_whole_values_and_blobs_count_bytes() {
        let ok =
            json!({ "originationPhoneNumberId": "phone-number-id-1", "message": "e30=", "metaApiVersion": "v20.0" });
        assert!(body_check("socialmessaging", "SendWhatsAppMessage", ok.clone()).is_ok());
        let mut arn = ok.clone();
        arn["originationPhoneNumberId"] =
            json!("arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/abc123");
        assert!(body_check("socialmessaging", "SendWhatsAppMessage", arn).is_ok());
        let mut bad = ok.clone();
        bad["originationPhoneNumberId"] = json!("+15550100");
        let err = body_check("socialmessaging", "SendWhatsAppMessage", bad).unwrap_err();
        assert!(err.message.contains("regular expression pattern"), "{}", err.message);
        let mut empty = ok;
        empty["message"] = json!("");
        let err = body_check("socialmessaging", "SendWhatsAppMessage", empty).unwrap_err();
        assert!(
            err.message
                .contains("'message' failed to satisfy constraint: Member must have length greater than or equal to 1")
        );
    }

    #[test]
    fn list_and_map_lengths_are_checked() {
        let err = body_check(
            "connectparticipant",
            "CreateParticipantConnection",
            json!({ "Type": [] }),
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("'type' failed to satisfy constraint: Member must have length greater than or equal to 1")
        );
        let err = body_check(
            "connectparticipant",
            "CompleteAttachmentUpload",
            json!({ "AttachmentIds": ["a", "b"], "ClientToken": "c" }),
        )
        .unwrap_err();
        assert!(
            err.message.contains(
                "'attachmentIds' failed to satisfy constraint: Member must have length less than or equal to 1"
            )
        );
        // No served input models a map with a length; the walker applies one as it does to lists.
        let svc: Service = serde_json::from_value(json!({
            "messageKey": "Message", "errors": {}, "operations": {},
            "shapes": { "Tags": { "type": "map", "min": 1, "max": 2, "key": "K", "value": "K" }, "K": { "type": "string" } }
        }))
        .unwrap();
        let mut problems = Vec::new();
        walk(&svc, "Tags", &json!({}), "tags", &mut problems);
        walk(
            &svc,
            "Tags",
            &json!({"a": "1", "b": "2", "c": "3"}),
            "tags",
            &mut problems,
        );
        walk(&svc, "Tags", &json!({"a": "1"}), "tags", &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("greater than or equal to 1") && problems[1].contains("less than or equal to 2"));
    }

    #[test]
    fn message_members_follow_each_services_error_shapes() {
        assert_eq!(message_key("connectparticipant", "AccessDeniedException"), "Message");
        assert_eq!(message_key("connect", "ValidationException"), "Message");
        assert_eq!(message_key("socialmessaging", "ValidationException"), "message");
        assert_eq!(message_key("lambda", "ResourceNotFoundException"), "Message");
        assert_eq!(message_key("lambda", "InvalidRequestContentException"), "message");
        assert_eq!(message_key("s3", "NoSuchKey"), "message");
    }
}
