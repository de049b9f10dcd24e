//! The AWS wire protocol (restJson1) front door: routing, faults, call log, error rendering.
//!
//! Operations are declared in one table (`OPERATIONS`: service, name, method, path, handler) and
//! every request goes through the same pipeline — match, global latency and fault rules, JSON
//! parsing, handler, call log — so adding an operation (e.g. the attachment APIs) is one table row
//! plus one synchronous handler function in the service's module. Handlers are synchronous on
//! purpose: they mutate the simulation under a short lock and publish stream events before
//! releasing it, and never wait on Lambda invocations (a handler waiting on the stream it feeds
//! would deadlock the twin). Lambda `Invoke` is the one exception — it exists to wait for a
//! handler — and has its own async path in `invoke`.

mod connect;
mod invoke;
mod participant;
mod social;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::netio::ConnHandle;
use crate::time::{iso_millis, now_ms};
use crate::twin::Shared;

/// A parsed request as handlers see it.
pub(crate) struct AwsRequest {
    pub headers: HeaderMap,
    pub body: Value,
    pub now_ms: u64,
}

impl AwsRequest {
    /// The Connect Participant token header (participant or connection token).
    pub fn bearer(&self) -> Option<&str> {
        self.headers.get("x-amz-bearer").and_then(|v| v.to_str().ok())
    }
}

type Handler = fn(&Arc<Shared>, &AwsRequest) -> Result<Value, ApiError>;

struct Operation {
    service: &'static str,
    name: &'static str,
    method: Method,
    path: &'static str,
    handler: Handler,
    /// Error code for malformed input of this service.
    invalid_input: &'static str,
}

const OPERATIONS: &[Operation] = &[
    Operation {
        service: "connect",
        name: "StartChatContact",
        method: Method::PUT,
        path: "/contact/chat",
        handler: connect::start_chat_contact,
        invalid_input: "InvalidParameterException",
    },
    Operation {
        service: "connect",
        name: "StartContactStreaming",
        method: Method::POST,
        path: "/contact/start-streaming",
        handler: connect::start_contact_streaming,
        invalid_input: "InvalidParameterException",
    },
    Operation {
        service: "connect",
        name: "StopContact",
        method: Method::POST,
        path: "/contact/stop",
        handler: connect::stop_contact,
        invalid_input: "InvalidParameterException",
    },
    Operation {
        service: "connectparticipant",
        name: "CreateParticipantConnection",
        method: Method::POST,
        path: "/participant/connection",
        handler: participant::create_participant_connection,
        invalid_input: "ValidationException",
    },
    Operation {
        service: "connectparticipant",
        name: "SendMessage",
        method: Method::POST,
        path: "/participant/message",
        handler: participant::send_message,
        invalid_input: "ValidationException",
    },
    Operation {
        service: "connectparticipant",
        name: "SendEvent",
        method: Method::POST,
        path: "/participant/event",
        handler: participant::send_event,
        invalid_input: "ValidationException",
    },
    Operation {
        service: "connectparticipant",
        name: "DisconnectParticipant",
        method: Method::POST,
        path: "/participant/disconnect",
        handler: participant::disconnect_participant,
        invalid_input: "ValidationException",
    },
    Operation {
        service: "connectparticipant",
        name: "GetTranscript",
        method: Method::POST,
        path: "/participant/transcript",
        handler: participant::get_transcript,
        invalid_input: "ValidationException",
    },
    Operation {
        service: "socialmessaging",
        name: "SendWhatsAppMessage",
        method: Method::POST,
        path: "/v1/whatsapp/send",
        handler: social::send_whatsapp_message,
        invalid_input: "ValidationException",
    },
];

/// Parses a request body into an operation's input shape.
pub(crate) fn parse<T: DeserializeOwned>(body: &Value, code: &str) -> Result<T, ApiError> {
    serde_json::from_value(body.clone()).map_err(|e| ApiError::new(code, format!("Invalid request: {e}")))
}

fn record(shared: &Shared, service: &str, operation: &str, status: u16, error: Option<&str>) {
    let mut calls = shared.calls();
    if calls.len() >= 100_000 {
        calls.drain(..10_000);
    }
    calls.push(json!({
        "service": service,
        "operation": operation,
        "status": status,
        "error": error,
        "time": iso_millis(now_ms()),
    }));
}

fn request_id_header(mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

/// Every request that is not under `/_twin` lands here.
pub(crate) async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::POST
        && let Some(function) = invoke::function_in_path(&uri)
    {
        return invoke::serve(&shared, &conn, &function, &uri, &headers, &body).await;
    }
    let path = uri.path();
    let Some(op) = OPERATIONS.iter().find(|o| o.method == method && o.path == path) else {
        let err = ApiError::new(
            "UnknownOperationException",
            format!("local-aws does not implement {method} {path}"),
        );
        record(
            &shared,
            "unknown",
            &format!("{method} {path}"),
            err.status,
            Some(&err.code),
        );
        return request_id_header(err.into_response());
    };
    let action = shared.faults().on_call(op.service, op.name);
    if action.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(action.latency_ms)).await;
    }
    if action.drop_connection {
        conn.kill();
        record(&shared, op.service, op.name, 0, Some("ConnectionDropped"));
        return ().into_response();
    }
    let result = match action.error {
        Some(err) => Err(err),
        None => parse_body(&body, op).and_then(|body| {
            let req = AwsRequest {
                headers,
                body,
                now_ms: now_ms(),
            };
            if action.expire_token {
                expire_token(&shared, op, &req)
            } else {
                (op.handler)(&shared, &req)
            }
        }),
    };
    let resp = match result {
        Ok(v) => {
            record(&shared, op.service, op.name, 200, None);
            axum::Json(v).into_response()
        }
        Err(e) => {
            tracing::debug!("{} {} -> {e}", op.service, op.name);
            record(&shared, op.service, op.name, e.status, Some(&e.code));
            e.into_response()
        }
    };
    request_id_header(resp)
}

/// restJson1 bodies are JSON objects; an empty body means "no members".
fn parse_body(body: &[u8], op: &Operation) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(ApiError::new(op.invalid_input, "Body must be a JSON object")),
        Err(e) => Err(ApiError::new(
            "SerializationException",
            format!("Body is not JSON: {e}"),
        )),
    }
}

/// `ExpiredToken` fault: the caller's connection token expires, then the call runs normally and
/// fails the real token check. A participant token cannot expire, so CreateParticipantConnection
/// is refused the way AWS refuses a stale token.
fn expire_token(shared: &Arc<Shared>, op: &Operation, req: &AwsRequest) -> Result<Value, ApiError> {
    if op.service != "connectparticipant" || op.name == "CreateParticipantConnection" {
        return Err(ApiError::access_denied("Token has expired (injected)"));
    }
    if let Some(token) = req.bearer() {
        shared.sim().expire_connection_token(token, req.now_ms);
    }
    (op.handler)(shared, req)
}
