//! The control API under `/_twin`: what tests, the demo and a developer use to drive the twin.
//!
//! It plays the parts no AWS API covers — the WhatsApp customer, the Connect agent, SNS chaos,
//! fault injection — and exposes what happened (contacts, sends, calls, logs, DLQ). Calls that
//! trigger handler invocations answer only after the handler finished, so a test reads naturally
//! as "customer says X; assert Y". Errors are `{"error": "..."}` with 400/404/409/504.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::connect::{AgentAction, AgentError, contact_json};
use crate::eum;
use crate::faults::FaultRule;
use crate::lambda::FunctionName;
use crate::sns::{Outcome, SnsOptions};
use crate::time::{now_ms, now_nanos};
use crate::twin::Shared;

type St = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/config", get(config))
        .route("/reset", post(reset))
        .route("/customers/{wa_id}/messages", post(customer_message))
        .route("/customers/{wa_id}/statuses", post(customer_status))
        .route("/invoke/{function}", post(invoke))
        .route("/contacts", get(contacts))
        .route("/contacts/{contact_id}/agent", post(agent))
        .route("/whatsapp/sent", get(whatsapp_sent))
        .route("/whatsapp/media/{media_id}", get(whatsapp_media))
        .route("/transcripts", post(register_transcript))
        .route("/calls", get(calls))
        .route("/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .route("/latency", post(set_latency))
        .route("/sns", get(sns_options).post(set_sns_options))
        .route("/sns/published", get(sns_published))
        .route("/dlq", get(dlq).delete(clear_dlq))
        .route("/dlq/replay", post(replay_dlq))
        .route("/logs", get(logs))
        .route("/wait-idle", post(wait_idle))
}

/// How long a control call waits for the handlers to come up before it is refused.
const READY_WAIT: Duration = Duration::from_secs(60);

/// Middleware of the control API: holds calls until the handler processes are up, so an event is
/// never sent to a function whose processes are not started yet; 503 if they take too long.
pub(crate) async fn hold_until_ready(
    State(s): St,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut ready = s.ready.subscribe();
    if tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await.is_err() {
        return fail(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the twin is starting: its handler processes have not polled the Lambda Runtime API within {} s (see their logs)",
                READY_WAIT.as_secs()
            ),
        );
    }
    next.run(req).await
}

fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": msg.into() }))).into_response()
}

fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn outcome(rx: tokio::sync::oneshot::Receiver<Outcome>) -> Outcome {
    rx.await.unwrap_or(Outcome {
        ok: false,
        error: Some("delivery was abandoned".into()),
        attempts: 0,
        dead_lettered: false,
    })
}

async fn config(State(s): St) -> Response {
    let c = &s.cfg;
    let runtime: serde_json::Map<String, Value> = FunctionName::ALL
        .iter()
        .map(|f| (f.as_str().to_owned(), json!(s.sns.function(*f).runtime_addresses())))
        .collect();
    let queues: serde_json::Map<String, Value> = FunctionName::ALL
        .iter()
        .map(|f| (f.as_str().to_owned(), json!(s.sns.dead_letter_queue_url(*f))))
        .collect();
    ok(json!({
        "account_id": c.account_id,
        "region": c.region,
        "instance_id": c.instance_id,
        "contact_flow_id": c.contact_flow_id,
        "connect_stream_topic_arn": c.connect_stream_topic_arn,
        "handoff_stream_topic_arn": c.handoff_stream_topic_arn,
        "eum_topic_arn": c.eum_topic_arn,
        "business_numbers": c.business_numbers,
        "greeting": c.greeting,
        "more_contact_flows": c.more_contact_flows,
        "max_message_bytes": c.max_message_bytes,
        "max_text_chars": c.max_text_chars,
        "connection_token_ttl_ms": c.connection_token_ttl.as_millis() as u64,
        "retry_delays_ms": c.retry_delays.iter().map(|d| d.as_millis() as u64).collect::<Vec<_>>(),
        "function_timeouts_ms": {
            "WhatsappHandler": c.whatsapp_handler_timeout.as_millis() as u64,
            "ConnectHandler": c.connect_handler_timeout.as_millis() as u64,
        },
        "webhook_queue": {
            "url": s.webhook_queue().map(|q| q.url().to_owned()),
            "dead_letter_queue_url": s.webhook_queue().map(|q| q.dlq_url().to_owned()),
            "visibility_timeout_s": c.webhook_queue_visibility_timeout.as_secs(),
            "max_receive_count": c.webhook_queue_max_receive_count,
            "function_timeout_ms": c.webhook_sender_timeout.as_millis() as u64,
        },
        "http_api": {
            "integration_timeout_ms": c.http_api_integration_timeout.as_millis() as u64,
            "authorizer_timeout_ms": c.http_api_authorizer_timeout.as_millis() as u64,
            "function_timeouts_ms": {
                "HandoffApi": c.handoff_api_timeout.as_millis() as u64,
                "HandoffAuthorizer": c.handoff_authorizer_timeout.as_millis() as u64,
            },
        },
        "maximum_event_age_ms": {
            "WhatsappHandler": c.whatsapp_handler_event_age.as_millis() as u64,
            "ConnectHandler": c.connect_handler_event_age.as_millis() as u64,
        },
        "aws_time_scale": c.aws_time_scale,
        "runtime_api": runtime,
        "dead_letter_queues": queues,
    }))
}

async fn reset(State(s): St) -> Response {
    s.reset();
    ok(json!({ "reset": true }))
}

async fn customer_message(State(s): St, Path(wa_id): Path<String>, bytes: Bytes) -> Response {
    let v: Value = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let built = eum::split_options(v).and_then(|(mut msg, opts)| {
        crate::media::take_inline_media(&mut s.media(), &mut msg)?;
        eum::inbound_message(&s.cfg, &wa_id, msg, &opts, now_nanos())
    });
    let (wamid, message) = match built {
        Ok(x) => x,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let rx = s.sns.publish(&s.cfg.eum_topic_arn, &message, &json!({}), None);
    ok(json!({ "wamid": wamid, "invocation": outcome(rx).await }))
}

async fn customer_status(State(s): St, Path(wa_id): Path<String>, bytes: Bytes) -> Response {
    let v: Value = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let built =
        eum::split_options(v).and_then(|(st, opts)| eum::inbound_status(&s.cfg, &wa_id, st, &opts, now_nanos()));
    let (id, message) = match built {
        Ok(x) => x,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let rx = s.sns.publish(&s.cfg.eum_topic_arn, &message, &json!({}), None);
    ok(json!({ "wamid": id, "invocation": outcome(rx).await }))
}

async fn invoke(State(s): St, Path(function): Path<String>, bytes: Bytes) -> Response {
    let Some(name) = FunctionName::parse(&function) else {
        return fail(
            StatusCode::NOT_FOUND,
            format!("unknown function {function} (WhatsappHandler|ConnectHandler)"),
        );
    };
    let event: Value = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let _busy = s.sns.tracker.begin();
    let result = s.sns.function(name).invoke(&event).await;
    ok(json!({
        "ok": result.is_ok(),
        "error": result.as_ref().err(),
        "response": result.as_ref().ok(),
    }))
}

async fn contacts(State(s): St) -> Response {
    let sim = s.sim();
    ok(Value::Array(sim.contacts().map(contact_json).collect()))
}

async fn agent(State(s): St, Path(contact_id): Path<String>, bytes: Bytes) -> Response {
    let action: AgentAction = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let started = {
        let mut sim = s.sim();
        let r = sim.agent_action(&contact_id, &action, now_ms());
        let receivers = s.publish_stream(&mut sim);
        r.map(|ids| (ids, receivers))
    };
    let (items, receivers) = match started {
        Ok(x) => x,
        Err(AgentError::NotFound(m)) => return fail(StatusCode::NOT_FOUND, m),
        Err(AgentError::Conflict(m)) => return fail(StatusCode::CONFLICT, m),
        Err(AgentError::BadRequest(m)) => return fail(StatusCode::BAD_REQUEST, m),
    };
    let mut invocations = Vec::new();
    for rx in receivers {
        invocations.push(outcome(rx).await);
    }
    ok(json!({ "items": items, "invocations": invocations }))
}

async fn whatsapp_sent(State(s): St) -> Response {
    ok(Value::Array(s.sent().iter().map(|m| m.to_json()).collect()))
}

async fn calls(State(s): St) -> Response {
    ok(Value::Array(s.calls().clone()))
}

async fn list_faults(State(s): St) -> Response {
    ok(s.faults().list())
}

async fn add_fault(State(s): St, bytes: Bytes) -> Response {
    let rule: FaultRule = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    if let Err(e) = rule.validate() {
        return fail(StatusCode::BAD_REQUEST, e);
    }
    let mut faults = s.faults();
    faults.add(rule);
    ok(faults.list())
}

async fn clear_faults(State(s): St) -> Response {
    s.faults().clear();
    ok(json!([]))
}

#[derive(Deserialize)]
struct Latency {
    ms: u64,
}

async fn set_latency(State(s): St, bytes: Bytes) -> Response {
    let l: Latency = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    s.faults().global_latency_ms = l.ms;
    ok(json!({ "ms": l.ms }))
}

#[derive(Deserialize)]
struct SnsBody {
    #[serde(default)]
    concurrent: Option<bool>,
    #[serde(default)]
    duplicate_rate: f64,
    #[serde(default)]
    duplicate_after_ms: u64,
    #[serde(default)]
    reorder_rate: f64,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    hold_ms: Option<u64>,
}

async fn sns_options(State(s): St) -> Response {
    ok(s.sns.options())
}

async fn set_sns_options(State(s): St, bytes: Bytes) -> Response {
    let b: SnsBody = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let valid = |r: f64| (0.0..=1.0).contains(&r);
    if !valid(b.duplicate_rate) || !valid(b.reorder_rate) {
        return fail(StatusCode::BAD_REQUEST, "rates must be between 0 and 1");
    }
    s.sns.set_options(SnsOptions::new(
        b.concurrent.unwrap_or(s.cfg.concurrent_stream),
        (b.duplicate_rate, b.duplicate_after_ms),
        b.reorder_rate,
        b.hold_ms.unwrap_or(250),
        b.seed.unwrap_or(42),
    ));
    ok(s.sns.options())
}

async fn sns_published(State(s): St) -> Response {
    ok(Value::Array(s.sns.published()))
}

async fn dlq(State(s): St) -> Response {
    ok(Value::Array(s.sns.dlq().iter().map(|e| e.to_json()).collect()))
}

async fn clear_dlq(State(s): St) -> Response {
    s.sns.clear_dlq();
    ok(json!([]))
}

async fn replay_dlq(State(s): St) -> Response {
    ok(Value::Array(s.sns.replay_dlq().await))
}

#[derive(Deserialize)]
struct LogsQuery {
    function: String,
}

async fn logs(State(s): St, Query(q): Query<LogsQuery>) -> Response {
    match FunctionName::parse(&q.function) {
        Some(f) => ok(json!(s.sns.function(f).logs())),
        None => fail(
            StatusCode::NOT_FOUND,
            format!("unknown function {} (WhatsappHandler|ConnectHandler)", q.function),
        ),
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout_ms: Option<u64>,
}

async fn wait_idle(State(s): St, Query(q): Query<WaitQuery>) -> Response {
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(10_000));
    if s.sns.tracker.wait_idle(timeout).await {
        ok(json!({ "idle": true }))
    } else {
        (
            StatusCode::GATEWAY_TIMEOUT,
            axum::Json(json!({
                "idle": false,
                "outstanding": s.sns.tracker.outstanding(),
                "error": format!("still busy after {} ms", timeout.as_millis()),
            })),
        )
            .into_response()
    }
}

/// The bytes of a WhatsApp media object (one a customer sent or the bridge uploaded).
async fn whatsapp_media(State(s): St, Path(media_id): Path<String>) -> Response {
    let Some(m) = s.media().get(&media_id).cloned() else {
        return fail(StatusCode::NOT_FOUND, format!("no media {media_id}"));
    };
    let mut resp = m.bytes.into_response();
    if let Ok(v) = m.mime_type.parse() {
        resp.headers_mut().insert("content-type", v);
    }
    if let Ok(v) = m.sha256.parse() {
        resp.headers_mut().insert("x-twin-sha256", v);
    }
    if let Ok(v) = m.origin.parse() {
        resp.headers_mut().insert("x-twin-origin", v);
    }
    resp
}

#[derive(Deserialize)]
struct TranscriptBody {
    sha256: String,
    text: String,
    #[serde(default)]
    language_code: Option<String>,
}

/// What Transcribe "hears" in the audio with this SHA-256 (hex).
async fn register_transcript(State(s): St, bytes: Bytes) -> Response {
    let b: TranscriptBody = match body(&bytes) {
        Ok(v) => v,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    if b.sha256.len() != 64 || !b.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return fail(StatusCode::BAD_REQUEST, "sha256 must be 64 hex digits");
    }
    s.media()
        .register_transcript(&b.sha256, &b.text, b.language_code.clone());
    ok(json!({ "sha256": b.sha256.to_ascii_lowercase(), "text": b.text, "language_code": b.language_code }))
}
