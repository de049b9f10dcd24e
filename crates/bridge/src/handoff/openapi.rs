//! The Handoff API's OpenAPI 3.1 document, generated from the code so that it cannot drift from what
//! is served: its paths are [`ROUTES`], the same table the request parser routes by, and its schemas
//! are derived (with `utoipa`) from the very types the bodies are deserialised into and the answers
//! serialised from. `GET /v1/openapi.json` serves [`document_json`].
//!
//! The operations are built with utoipa's builders rather than its `#[utoipa::path]` attribute: there
//! are no handler functions to annotate in this pure domain, and building from [`ROUTES`] is what
//! guarantees the route list and the document agree.

use super::message::Download;
use super::request::{
    ApiError, CreateHandoffBody, EndBody, HandoffCreated, HandoffId, HandoffView, IdempotencyKey, MessageBody, Method,
    Operation, ROUTES, Route, TranscriptPage, TranscriptQuery, TransferBody, UpdateBody,
};
use utoipa::ToSchema;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, SecurityRequirement,
};

const JSON: &str = "application/json";
const API_KEY: &str = "apiKey";
const SIGV4: &str = "sigv4";

/// The document as a value.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for path in unique_paths() {
        let mut item = PathItem::default();
        for route in ROUTES.iter().filter(|r| r.path == path) {
            item.merge_operations(PathItem::new(http_method(route.method), operation(route)));
        }
        paths = paths.path(path, item);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("whatsapp-connect-bridge Handoff API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A bot hands a conversation to an Amazon Connect agent, relays the customer's messages, \
                     and gets the conversation back when the handoff ends. Events come back to the bot's \
                     webhook, signed per Standard Webhooks.",
                )),
        )
        .paths(paths)
        .components(Some(components()))
        .security(Some([
            SecurityRequirement::new(API_KEY, Vec::<String>::new()),
            SecurityRequirement::new(SIGV4, Vec::<String>::new()),
        ]))
        .build()
}

/// The document as served at `GET /v1/openapi.json`.
pub fn document_json() -> String {
    // Serialising plain strings and maps cannot fail; an empty object would still be valid JSON.
    document().to_json().unwrap_or_else(|_| "{}".to_owned())
}

/// The route paths in the order of [`ROUTES`], each once.
fn unique_paths() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    paths
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Patch => HttpMethod::Patch,
    }
}

/// What one operation takes and answers.
struct Shape {
    id: &'static str,
    summary: &'static str,
    body: Option<Body>,
    /// The success status and, when it has a body, its schema's name.
    success: (&'static str, &'static str, Option<String>),
    /// Whether the operation acts on a handoff that may be over (409 `handoff_ended`).
    on_handoff: bool,
}

struct Body {
    schema: String,
    required: bool,
}

fn body<T: ToSchema>(required: bool) -> Option<Body> {
    Some(Body {
        schema: T::name().into_owned(),
        required,
    })
}

fn shape(operation: Operation) -> Shape {
    let shape = |id, summary, body, success, on_handoff| Shape {
        id,
        summary,
        body,
        success,
        on_handoff,
    };
    let name = |n: std::borrow::Cow<'static, str>| Some(n.into_owned());
    match operation {
        Operation::CreateHandoff => shape(
            "createHandoff",
            "Hand a conversation to an agent (Botpress's startHitl)",
            body::<CreateHandoffBody>(true),
            (
                "202",
                "The handoff, started (or the one this Idempotency-Key started before)",
                name(HandoffCreated::name()),
            ),
            false,
        ),
        Operation::GetHandoff => shape(
            "getHandoff",
            "Where the handoff stands",
            None,
            ("200", "The handoff", name(HandoffView::name())),
            false,
        ),
        Operation::UpdateHandoff => shape(
            "updateHandoff",
            "Set contact attributes",
            body::<UpdateBody>(true),
            ("204", "Set", None),
            true,
        ),
        Operation::SendMessage => shape(
            "sendMessage",
            "Send the customer's message to the agent (once per client_message_id)",
            body::<MessageBody>(true),
            ("202", "Accepted for delivery", None),
            true,
        ),
        Operation::SendTyping => shape(
            "sendTyping",
            "Show the agent that the customer is typing",
            None,
            ("204", "Sent", None),
            true,
        ),
        Operation::GetTranscript => shape(
            "getTranscript",
            "The chat so far, a page at a time, while the handoff lasts (409 handoff_ended after)",
            None,
            ("200", "One page of the transcript", name(TranscriptPage::name())),
            false,
        ),
        Operation::GetAttachment => shape(
            "getAttachment",
            "A new download link of a file the agent sent (while the handoff lasts)",
            None,
            ("200", "The link, valid for 5 minutes", name(Download::name())),
            true,
        ),
        Operation::TransferHandoff => shape(
            "transferHandoff",
            "Move the chat, while it waits for an agent, to another queue",
            body::<TransferBody>(true),
            (
                "202",
                "Asked: the chat moves when its queue flow next looks; handoff.transferred follows",
                name(HandoffView::name()),
            ),
            true,
        ),
        Operation::EndHandoff => shape(
            "endHandoff",
            "End the handoff and take the conversation back (Botpress's stopHitl)",
            body::<EndBody>(false),
            (
                "202",
                "Ending; handoff.ended follows (an ended handoff answers the same)",
                None,
            ),
            true,
        ),
        Operation::GetOpenApi => shape(
            "getOpenApi",
            "This document",
            None,
            ("200", "The OpenAPI 3.1 document", None),
            false,
        ),
    }
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let shape = shape(route.operation);
    let mut builder = OperationBuilder::new()
        .operation_id(Some(shape.id))
        .summary(Some(shape.summary))
        .tag("handoffs");
    if route.path.contains("{id}") {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(Ref::from_schema_name(HandoffId::name()))),
        );
    }
    if route.path.contains("{attachment_id}") {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name("attachment_id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The file's attachment_id, from its handoff.message event"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(256))
                        .pattern(Some("^[A-Za-z0-9._-]+$")),
                )),
        );
    }
    match route.operation {
        Operation::CreateHandoff => {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(IdempotencyKey::HEADER)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some(
                        "Chosen by the bot, 1-64 of [A-Za-z0-9_-]: a retried create with the same key returns \
                         the same handoff and never opens a second chat.",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(64))
                            .pattern(Some("^[A-Za-z0-9_-]+$")),
                    )),
            );
        }
        Operation::GetTranscript => {
            builder = builder
                .parameter(query(
                    TranscriptQuery::LIMIT,
                    "Items per page, 1 to 100 (default 50)",
                    integer(1, Some(100)),
                ))
                .parameter(query(
                    TranscriptQuery::NEXT_TOKEN,
                    "The next_token of the previous page",
                    ObjectBuilder::new().schema_type(Type::String).max_length(Some(1000)),
                ));
        }
        _ => {}
    }
    if let Some(body) = &shape.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(if body.required { Required::True } else { Required::False }))
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(&body.schema)))
                        .build(),
                )
                .build(),
        ));
    }
    let errors = errors(route, &shape);
    let (status, description, schema) = shape.success;
    let mut success = ResponseBuilder::new().description(description);
    match (route.operation, schema) {
        (_, Some(schema)) => {
            success = success.content(
                JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(schema)))
                    .build(),
            );
        }
        (Operation::GetOpenApi, None) => {
            success = success.content(JSON, ContentBuilder::new().schema(Some(object())).build());
        }
        _ => {}
    }
    builder = builder.response(status, success.build());
    for (status, description) in errors {
        let mut response = ResponseBuilder::new().description(description).content(
            JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ApiError::name())))
                .build(),
        );
        if status == "429" {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(integer(1, None))
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        builder = builder.response(status, response.build());
    }
    builder.build()
}

/// The error answers an operation may give.
fn errors(route: &Route, shape: &Shape) -> Vec<(&'static str, &'static str)> {
    let mut errors = Vec::new();
    let takes_input = !matches!(route.operation, Operation::GetHandoff | Operation::GetOpenApi);
    if takes_input {
        errors.push(("400", "invalid_request: the message names the field"));
    }
    errors.push(("401", "unauthorized"));
    errors.push(("403", "forbidden"));
    if route.path.contains("{id}") {
        errors.push((
            "404",
            "not_found: no such handoff for this client (or file in its chat)",
        ));
    }
    if shape.on_handoff {
        errors.push((
            "409",
            match route.operation {
                Operation::TransferHandoff => {
                    "handoff_ended; or conflict: an agent has the chat (only the agent's own transfer moves \
                     it), or a contact_flow_id (a chat waiting in a queue cannot be moved to a flow)"
                }
                _ => "handoff_ended, or conflict when Connect cannot do it",
            },
        ));
    }
    if route.method != Method::Get {
        errors.push(("413", "payload_too_large: the body is over 256 KiB"));
    }
    errors.push(("429", "rate_limited"));
    errors.push(("500", "internal"));
    errors
}

fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn integer(minimum: u32, maximum: Option<u32>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .maximum(maximum)
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// Every named schema: the request bodies, the answers, the error, and all they refer to.
fn components() -> utoipa::openapi::Components {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
    add::<CreateHandoffBody>(&mut schemas);
    add::<MessageBody>(&mut schemas);
    add::<UpdateBody>(&mut schemas);
    add::<TransferBody>(&mut schemas);
    add::<EndBody>(&mut schemas);
    add::<HandoffCreated>(&mut schemas);
    add::<HandoffView>(&mut schemas);
    add::<TranscriptPage>(&mut schemas);
    add::<Download>(&mut schemas);
    add::<ApiError>(&mut schemas);
    add::<HandoffId>(&mut schemas);

    let sigv4 = {
        let mut value = ApiKeyValue::with_description(
            "Authorization",
            "AWS Signature Version 4 (IAM), for callers already on AWS: sign with credentials allowed to \
             execute-api:Invoke this API.",
        );
        value.extensions = Some(Extensions::from_iter([("x-amazon-apigateway-authtype", "awsSigv4")]));
        value
    };
    ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The client's API key (stored by the bridge only as a hash; rotatable without a redeploy).",
            ))),
        )
        .security_scheme(SIGV4, SecurityScheme::ApiKey(ApiKey::Header(sigv4)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::super::request::{BODY_MAX_BYTES, HISTORY_MAX_MESSAGES, ROUTING_ATTRIBUTES_MAX_BYTES};
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn doc() -> Value {
        serde_json::from_str(&document_json()).expect("valid JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1_and_has_exactly_the_routes_served() {
        let doc = doc();
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
            "{}",
            doc["openapi"]
        );
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        assert_eq!(documented, served);
        for required in [
            ("POST", "/v1/handoffs"),
            ("GET", "/v1/handoffs/{id}"),
            ("PATCH", "/v1/handoffs/{id}"),
            ("POST", "/v1/handoffs/{id}/messages"),
            ("POST", "/v1/handoffs/{id}/typing"),
            ("GET", "/v1/handoffs/{id}/transcript"),
            ("GET", "/v1/handoffs/{id}/attachments/{attachment_id}"),
            ("POST", "/v1/handoffs/{id}/transfer"),
            ("POST", "/v1/handoffs/{id}/end"),
            ("GET", "/v1/openapi.json"),
        ] {
            assert!(
                served.contains(&(required.0.to_owned(), required.1.to_owned())),
                "{required:?}"
            );
        }
    }

    /// Every `$ref` in `value`.
    fn refs(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.insert(target.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_both_security_schemes_are_offered() {
        let doc = doc();
        let mut found = BTreeSet::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .expect("a schema reference");
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{target} is not defined"
            );
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(
            schemes[API_KEY],
            serde_json::json!({"type": "apiKey", "in": "header", "name": "x-api-key",
            "description": schemes[API_KEY]["description"]})
        );
        assert_eq!(schemes[SIGV4]["x-amazon-apigateway-authtype"], "awsSigv4");
        assert_eq!(doc["security"], serde_json::json!([{API_KEY: []}, {SIGV4: []}]));
    }

    #[test]
    fn the_create_documents_its_key_errors_and_the_limits_the_parser_enforces() {
        let doc = doc();
        let create = &doc["paths"]["/v1/handoffs"]["post"];
        let key = &create["parameters"][0];
        assert_eq!(
            (key["name"].as_str(), key["in"].as_str()),
            (Some(IdempotencyKey::HEADER), Some("header"))
        );
        assert_eq!(key["required"], true);
        for status in ["202", "400", "401", "403", "413", "429", "500"] {
            assert!(create["responses"][status].is_object(), "{status}");
        }
        assert!(create["responses"]["429"]["headers"]["Retry-After"].is_object());
        let message = &doc["paths"]["/v1/handoffs/{id}/messages"]["post"]["responses"];
        assert!(message["409"].is_object() && message["404"].is_object());
        let transfer = &doc["paths"]["/v1/handoffs/{id}/transfer"]["post"]["responses"];
        assert_eq!(
            transfer["202"]["content"][JSON]["schema"]["$ref"], "#/components/schemas/HandoffView",
            "a transfer answers the handoff as GET does"
        );
        assert!(
            transfer["409"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("agent") && d.contains("contact_flow_id")),
            "{}",
            transfer["409"]
        );

        let schemas = &doc["components"]["schemas"];
        let body = &schemas["CreateHandoffBody"];
        assert_eq!(body["additionalProperties"], false, "unknown fields are refused");
        assert_eq!(body["properties"]["message_history"]["maxItems"], HISTORY_MAX_MESSAGES);
        assert_eq!(body["properties"]["title"]["maxLength"], 200);
        assert_eq!(body["properties"]["description"]["maxLength"], 1000);
        let payloads = schemas["HistoryMessage"]["properties"]["payload"]["oneOf"]
            .as_array()
            .expect("oneOf");
        for botpress in [
            "text", "markdown", "imageUrl", "audioUrl", "videoUrl", "fileUrl", "latitude", "options", "actions",
            "items",
        ] {
            assert!(
                payloads.iter().any(|p| p["properties"][botpress].is_object()),
                "{botpress}"
            );
        }
        let error = &schemas["ApiError"];
        let properties: BTreeSet<&String> = error["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(properties, BTreeSet::from([&"code".to_owned(), &"message".to_owned()]));
        assert!(schemas["HandoffView"]["properties"]["status"]["enum"].is_array());
        let attributes = schemas["Routing"]["properties"]["attributes"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(attributes.contains(&format!("{} KiB", ROUTING_ATTRIBUTES_MAX_BYTES / 1024)));
        let too_large = create["responses"]["413"]["description"].as_str().unwrap_or_default();
        assert!(too_large.contains(&format!("{} KiB", BODY_MAX_BYTES / 1024)));
    }
}
