//! Logging: one JSON line per bridged message, and one per rejected input, in Lambda's JSON log format.
//!
//! Lines carry ids and reason codes, never message text, phone numbers or tokens: customers appear as
//! a short hash of their conversation key. `LOG_CONTENT=true` is for debugging a deployment, not for
//! production, and only widens what rejections say.

use crate::error::{PortError, Rejection};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// WhatsApp → Connect.
    Inbound,
    /// Connect → WhatsApp.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// JSON lines on stdout at the level of `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The one line logged for every message the bridge handled.
pub fn log_outcome(
    direction: Direction,
    kind: &str,
    outcome: &str,
    contact_id: Option<&str>,
    customer: &str,
    elapsed: Duration,
    error: Option<&PortError>,
) {
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    match error {
        None => tracing::info!(
            direction = direction.as_str(),
            kind,
            outcome,
            contact_id,
            customer,
            latency_ms,
            "bridged"
        ),
        Some(e) => tracing::warn!(
            direction = direction.as_str(),
            kind,
            outcome,
            contact_id,
            customer,
            latency_ms,
            operation = e.operation,
            error = %e.detail,
            "not bridged"
        ),
    }
}

/// The one line logged for input that cannot be bridged.
pub fn log_rejection(direction: Direction, rejection: &Rejection) {
    tracing::warn!(
        direction = direction.as_str(),
        reason = rejection.code,
        detail = %rejection.detail,
        "rejected input"
    );
}
