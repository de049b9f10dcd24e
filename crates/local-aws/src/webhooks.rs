//! A bot platform's webhook endpoint, for the events the handoff API sends back to bots:
//! `POST /_twin/webhooks/{client}` takes deliveries as a client's URL would, checks each one's Standard
//! Webhooks signature against the secrets the test gave that client, and answers as the test scripted
//! it (fail a number of times, answer slowly, or be gone with 410), so a test can watch the bridge's
//! retries, order and deduplication from the receiving end.
//!
//! - `PUT /_twin/webhooks/{client}` `{"secrets": ["whsec_…"], "fail_times", "fail_status", "latency_ms",
//!   "gone"}` sets up (or changes) the client's receiver; a client with none is a URL nobody serves (404).
//! - `GET /_twin/webhooks[?client=]` lists the deliveries, oldest first, each with whether its
//!   signature held and what the receiver answered; `DELETE /_twin/webhooks` forgets them.
//!
//! The signature is checked as the specification asks a receiver to: HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with the secret's base64-decoded bytes, any of the
//! space-separated `v1,` signatures matching any of the client's secrets (so a rotation overlaps), and
//! a timestamp within five minutes of now. It is written here rather than taken from the bridge, which
//! signs: the twin stays independent of the code it checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::time::now_ms;
use crate::twin::Shared;

/// How far a delivery's timestamp may be from now, as the specification recommends.
const TOLERANCE_S: i64 = 5 * 60;

/// The receivers and what they were sent.
#[derive(Default)]
pub(crate) struct Webhooks {
    receivers: HashMap<String, Receiver>,
    deliveries: Vec<Delivery>,
}

/// One client's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Receiver {
    /// The secrets' key bytes (the part after `whsec_`, decoded).
    keys: Vec<Vec<u8>>,
    /// The next deliveries answered with `fail_status`.
    fail_next: u32,
    fail_status: u16,
    latency: Duration,
    /// Answers 410 Gone: the client removed the endpoint.
    gone: bool,
}

/// A delivery as the receiver saw it.
#[derive(Debug, Clone, PartialEq)]
struct Delivery {
    client: String,
    webhook_id: Option<String>,
    timestamp: Option<i64>,
    /// `None` when the signature held; else why it did not.
    signature_problem: Option<&'static str>,
    answered: u16,
    received_ms: u64,
    body: Value,
}

/// How a client's receiver is set up.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiverSetup {
    secrets: Vec<String>,
    #[serde(default)]
    fail_times: u32,
    fail_status: Option<u16>,
    #[serde(default)]
    latency_ms: u64,
    #[serde(default)]
    gone: bool,
}

/// The key bytes of a `whsec_` secret.
fn key_of(secret: &str) -> Result<Vec<u8>, &'static str> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| "a secret is not base64 after its whsec_ prefix")
}

/// Why a delivery's signature does not hold, if it does not.
fn signature_problem(keys: &[Vec<u8>], headers: &HeaderMap, body: &[u8], now_s: i64) -> Option<&'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(id) = header("webhook-id") else {
        return Some("no webhook-id header");
    };
    let Some(timestamp) = header("webhook-timestamp") else {
        return Some("no webhook-timestamp header");
    };
    let Some(signatures) = header("webhook-signature") else {
        return Some("no webhook-signature header");
    };
    let Ok(at) = timestamp.parse::<i64>() else {
        return Some("webhook-timestamp is not Unix seconds");
    };
    if (now_s - at).abs() > TOLERANCE_S {
        return Some("webhook-timestamp is more than five minutes from now");
    }
    let offered: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    let holds = keys.iter().any(|key| {
        offered.iter().any(|signature| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                return false;
            };
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            mac.update(body);
            // Constant time, as a receiver must compare.
            mac.verify_slice(signature).is_ok()
        })
    });
    (!holds).then_some("no signature matches the client's secrets")
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/webhooks", get(deliveries).delete(forget))
        .route("/webhooks/{client}", post(receive).put(set_up))
}

type St = State<Arc<Shared>>;

async fn set_up(State(s): St, Path(client): Path<String>, body: Bytes) -> Response {
    let setup: ReceiverSetup = match serde_json::from_slice(&body) {
        Ok(setup) => setup,
        Err(e) => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e.to_string()}))).into_response(),
    };
    let keys: Result<Vec<Vec<u8>>, _> = setup.secrets.iter().map(|s| key_of(s)).collect();
    let keys = match keys {
        Ok(keys) if !keys.is_empty() => keys,
        Ok(_) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "secrets is empty"})),
            )
                .into_response();
        }
        Err(e) => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response(),
    };
    let receiver = Receiver {
        keys,
        fail_next: setup.fail_times,
        fail_status: setup.fail_status.unwrap_or(500),
        latency: Duration::from_millis(setup.latency_ms),
        gone: setup.gone,
    };
    s.webhooks().receivers.insert(client, receiver);
    StatusCode::NO_CONTENT.into_response()
}

async fn receive(State(s): St, Path(client): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(receiver) = s.webhooks().receivers.get(&client).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    tokio::time::sleep(receiver.latency).await;
    let now = now_ms();
    let problem = signature_problem(&receiver.keys, &headers, &body, (now / 1000) as i64);
    let mut webhooks = s.webhooks();
    let answered = match (problem, receiver.gone) {
        (_, true) => StatusCode::GONE,
        (Some(_), false) => StatusCode::UNAUTHORIZED,
        (None, false) => match webhooks.receivers.get_mut(&client) {
            Some(r) if r.fail_next > 0 => {
                r.fail_next -= 1;
                StatusCode::from_u16(r.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            _ => StatusCode::NO_CONTENT,
        },
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    webhooks.deliveries.push(Delivery {
        client,
        webhook_id: header("webhook-id").map(str::to_owned),
        timestamp: header("webhook-timestamp").and_then(|t| t.parse().ok()),
        signature_problem: problem,
        answered: answered.as_u16(),
        received_ms: now,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    answered.into_response()
}

#[derive(Deserialize)]
struct Filter {
    client: Option<String>,
}

async fn deliveries(State(s): St, Query(filter): Query<Filter>) -> Response {
    let webhooks = s.webhooks();
    let listed: Vec<Value> = webhooks
        .deliveries
        .iter()
        .filter(|d| filter.client.as_ref().is_none_or(|c| *c == d.client))
        .map(|d| {
            json!({
                "client": d.client,
                "webhook_id": d.webhook_id,
                "timestamp": d.timestamp,
                "signature_valid": d.signature_problem.is_none(),
                "signature_problem": d.signature_problem,
                "answered": d.answered,
                "received_ms": d.received_ms,
                "body": d.body,
            })
        })
        .collect();
    axum::Json(Value::Array(listed)).into_response()
}

async fn forget(State(s): St) -> Response {
    s.webhooks().deliveries.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The test vector of the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_static(ID));
        h.insert("webhook-timestamp", HeaderValue::from_str(&AT.to_string()).unwrap());
        h.insert("webhook-signature", HeaderValue::from_str(signature).unwrap());
        h
    }

    #[test]
    fn the_specifications_example_holds_and_anything_else_does_not() {
        let key = key_of(SECRET).unwrap();
        let other = key_of("whsec_dGhlIG90aGVyIGtleQ==").unwrap();
        assert_eq!(
            signature_problem(std::slice::from_ref(&key), &headers(SIGNATURE), BODY, AT),
            None
        );
        // Rotation: any signature against any secret.
        let both = format!("v1,bm90IGl0 {SIGNATURE}");
        assert_eq!(
            signature_problem(&[other.clone(), key.clone()], &headers(&both), BODY, AT),
            None
        );
        assert!(signature_problem(&[other], &headers(SIGNATURE), BODY, AT).is_some());
        assert!(signature_problem(std::slice::from_ref(&key), &headers(SIGNATURE), br#"{"test": 1}"#, AT).is_some());
        assert_eq!(
            signature_problem(std::slice::from_ref(&key), &headers(SIGNATURE), BODY, AT + 301),
            Some("webhook-timestamp is more than five minutes from now")
        );
        let mut unsigned = headers(SIGNATURE);
        unsigned.remove("webhook-signature");
        assert_eq!(
            signature_problem(&[key], &unsigned, BODY, AT),
            Some("no webhook-signature header")
        );
    }
}
