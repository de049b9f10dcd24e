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
mod describe;
mod invoke;
mod participant;
pub(crate) mod pipeline;
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
}

const OPERATIONS: &[Operation] = &[
    Operation {
        service: "connect",
        name: "StartChatContact",
        method: Method::PUT,
        path: "/contact/chat",
        handler: connect::start_chat_contact,
    },
    Operation {
        service: "connect",
        name: "StartContactStreaming",
        method: Method::POST,
        path: "/contact/start-streaming",
        handler: connect::start_contact_streaming,
    },
    Operation {
        service: "connect",
        name: "StopContact",
        method: Method::POST,
        path: "/contact/stop",
        handler: connect::stop_contact,
    },
    Operation {
        service: "connect",
        name: "UpdateContactAttributes",
        method: Method::POST,
        path: "/contact/attributes",
        handler: connect::update_contact_attributes,
    },
    Operation {
        service: "connect",
        name: "CreateParticipant",
        method: Method::POST,
        path: "/contact/create-participant",
        handler: connect::create_participant,
    },
    Operation {
        service: "connectparticipant",
        name: "CreateParticipantConnection",
        method: Method::POST,
        path: "/participant/connection",
        handler: participant::create_participant_connection,
    },
    Operation {
        service: "connectparticipant",
        name: "SendMessage",
        method: Method::POST,
        path: "/participant/message",
        handler: participant::send_message,
    },
    Operation {
        service: "connectparticipant",
        name: "SendEvent",
        method: Method::POST,
        path: "/participant/event",
        handler: participant::send_event,
    },
    Operation {
        service: "connectparticipant",
        name: "DisconnectParticipant",
        method: Method::POST,
        path: "/participant/disconnect",
        handler: participant::disconnect_participant,
    },
    Operation {
        service: "connectparticipant",
        name: "GetTranscript",
        method: Method::POST,
        path: "/participant/transcript",
        handler: participant::get_transcript,
    },
    Operation {
        service: "connectparticipant",
        name: "StartAttachmentUpload",
        method: Method::POST,
        path: "/participant/start-attachment-upload",
        handler: participant::start_attachment_upload,
    },
    Operation {
        service: "connectparticipant",
        name: "CompleteAttachmentUpload",
        method: Method::POST,
        path: "/participant/complete-attachment-upload",
        handler: participant::complete_attachment_upload,
    },
    Operation {
        service: "connectparticipant",
        name: "GetAttachment",
        method: Method::POST,
        path: "/participant/attachment",
        handler: participant::get_attachment,
    },
    Operation {
        service: "socialmessaging",
        name: "SendWhatsAppMessage",
        method: Method::POST,
        path: "/v1/whatsapp/send",
        handler: social::send_whatsapp_message,
    },
];

/// Parses a request body into an operation's input shape.
pub(crate) fn parse<T: DeserializeOwned>(body: &Value, code: &str) -> Result<T, ApiError> {
    serde_json::from_value(body.clone()).map_err(|e| ApiError::new(code, format!("Invalid request: {e}")))
}

pub(crate) fn record(shared: &Shared, service: &str, operation: &str, status: u16, error: Option<&str>) {
    crate::measure::note_call(service, operation, status);
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

/// Every request that is not under `/_twin` lands here. It is served as its own task: AWS
/// finishes a request it received whether or not the caller still waits for the answer.
pub(crate) async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::measure::detached(serve(shared, conn, method, uri, headers, body)).await
}

async fn serve(
    shared: Arc<Shared>,
    conn: ConnHandle,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(route) = crate::http_api::route(uri.path()) {
        return crate::http_api::serve(&shared, &conn, route, &method, &uri, &headers, &body).await;
    }
    if method == Method::POST
        && let Some(function) = invoke::function_in_path(&uri)
    {
        return invoke::serve(&shared, &conn, &function, &uri, &headers, &body).await;
    }
    if let Some(read) = describe::route(&method, &uri) {
        return describe::serve(&shared, &conn, read).await;
    }
    let path = uri.path();
    if let Some(id) = path.strip_prefix("/_upload/") {
        return upload(&shared, &method, id, &headers, &body);
    }
    if let Some(id) = path.strip_prefix("/_download/") {
        return download(&shared, &method, id, &uri);
    }
    if let Some((service, name)) = async_operation(&method, path) {
        return serve_async(&shared, &conn, service, name, &headers, &body).await;
    }
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
    let action = match pipeline::before(&shared, &conn, op.service, op.name).await {
        Ok(action) => action,
        Err(resp) => return resp,
    };
    let result = match action.error.clone() {
        Some(err) => Err(err),
        None => parse_body(&body).and_then(|body| {
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
    let names = (op.service, op.name);
    let resp = match result {
        Ok(v) => pipeline::after(&shared, &conn, names, &action, 200, None, axum::Json(v).into_response()),
        Err(e) => {
            tracing::debug!("{} {} -> {e}", op.service, op.name);
            let (status, code) = (e.status, e.code.clone());
            pipeline::after(
                &shared,
                &conn,
                names,
                &action,
                status,
                Some(&code),
                e.to_service_response(op.service),
            )
        }
    };
    request_id_header(resp)
}

/// restJson1 bodies are JSON objects; an empty body means "no members". Anything else does not
/// deserialize, which restJson1 answers with `SerializationException` whatever the service.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(ApiError::new("SerializationException", "Body must be a JSON object")),
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

/// Operations that wait on I/O (moto's S3) or answer with a stream: served outside the table, through
/// the same fault, latency and call-log pipeline.
fn async_operation(method: &Method, path: &str) -> Option<(&'static str, &'static str)> {
    if method != Method::POST {
        return None;
    }
    match path {
        "/v1/whatsapp/media/get" => Some(("socialmessaging", "GetWhatsAppMessageMedia")),
        "/v1/whatsapp/media" => Some(("socialmessaging", "PostWhatsAppMessageMedia")),
        "/stream-transcription" => Some(("transcribe", "StartStreamTranscription")),
        _ => None,
    }
}

async fn serve_async(
    shared: &Arc<Shared>,
    conn: &ConnHandle,
    service: &'static str,
    name: &'static str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let action = match pipeline::before(shared, conn, service, name).await {
        Ok(action) => action,
        Err(resp) => return resp,
    };
    let result = match action.error.clone() {
        Some(err) => Err(err),
        None => match name {
            "StartStreamTranscription" => crate::transcribe::serve(&shared.media(), headers, body),
            "GetWhatsAppMessageMedia" => get_media(shared, body).await.map(|v| axum::Json(v).into_response()),
            _ => post_media(shared, body).await.map(|v| axum::Json(v).into_response()),
        },
    };
    let resp = match result {
        Ok(r) => pipeline::after(shared, conn, (service, name), &action, 200, None, r),
        Err(e) => {
            let (status, code) = (e.status, e.code.clone());
            pipeline::after(
                shared,
                conn,
                (service, name),
                &action,
                status,
                Some(&code),
                e.to_service_response(service),
            )
        }
    };
    request_id_header(resp)
}

async fn get_media(shared: &Arc<Shared>, body: &[u8]) -> Result<Value, ApiError> {
    let body = parse_body(body)?;
    crate::validate::check_body("socialmessaging", "GetWhatsAppMessageMedia", &body)?;
    let plan = crate::media::plan_get_media(&shared.cfg, &shared.media(), &body)?;
    match plan {
        crate::media::GetMediaPlan::Metadata(v) => Ok(v),
        crate::media::GetMediaPlan::Copy {
            endpoint,
            bucket,
            key,
            media,
        } => {
            crate::media::s3_put(&endpoint, &bucket, &key, &media.mime_type, media.bytes.clone())
                .await
                .map_err(|e| ApiError::new("InvalidParametersException", e))?;
            Ok(json!({ "mimeType": media.mime_type, "fileSize": media.bytes.len() }))
        }
    }
}

async fn post_media(shared: &Arc<Shared>, body: &[u8]) -> Result<Value, ApiError> {
    let body = parse_body(body)?;
    crate::validate::check_body("socialmessaging", "PostWhatsAppMessageMedia", &body)?;
    let (endpoint, bucket, key) = crate::media::plan_post_media(&shared.cfg, &shared.media(), &body)?;
    let (mime, bytes) = crate::media::s3_get(&endpoint, &bucket, &key)
        .await
        .map_err(|e| ApiError::new("InternalServiceException", e))?
        .ok_or_else(|| {
            ApiError::new(
                "InvalidParametersException",
                format!("sourceS3File s3://{bucket}/{key} does not exist"),
            )
        })?;
    if bytes.is_empty() {
        return Err(ApiError::new("InvalidParametersException", "The media file is empty"));
    }
    let limit = crate::media::whatsapp_upload_limit(&mime);
    if bytes.len() as u64 > limit {
        return Err(ApiError::new(
            "InvalidParametersException",
            format!("{mime} media may be at most {limit} bytes ({} given)", bytes.len()),
        ));
    }
    let stored = shared.media().store(&mime, bytes, "business");
    Ok(json!({ "mediaId": stored.media_id }))
}

fn plain(status: u16, message: &str) -> Response {
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (status, message.to_owned()).into_response()
}

/// PUT to an attachment upload URL (what S3 would serve for the presigned URL).
fn upload(shared: &Arc<Shared>, method: &Method, id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    if method != Method::PUT {
        return plain(405, "MethodNotAllowed");
    }
    let headers: std::collections::BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let result = shared.sim().upload(id, &headers, body, now_ms());
    let status = result.as_ref().map_or_else(|e| e.status, |_| 200);
    record(
        shared,
        "s3",
        "PutObject (attachment upload)",
        status,
        result.as_ref().err().map(|e| e.message.as_str()),
    );
    match result {
        Ok(()) => plain(200, ""),
        Err(e) => plain(e.status, &e.message),
    }
}

/// GET of an attachment download URL.
fn download(shared: &Arc<Shared>, method: &Method, id: &str, uri: &Uri) -> Response {
    if method != Method::GET {
        return plain(405, "MethodNotAllowed");
    }
    let expires = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("expires="))
            .and_then(|v| v.parse::<u64>().ok())
    });
    match shared.sim().download(id, expires, now_ms()) {
        Ok((ct, bytes)) => {
            let mut resp = bytes.into_response();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                resp.headers_mut().insert("content-type", v);
            }
            resp
        }
        Err(e) => plain(e.status, &e.message),
    }
}
