//! Logging: one JSON line per bridged message, and one per rejected input, in Lambda's JSON log format;
//! each also counted in CloudWatch metrics ([`crate::metrics`]).
//!
//! Lines carry ids and reason codes, never message text, phone numbers, profile names or tokens, at any
//! level: customers appear as a keyed hash of their conversation key ([`crate::ids::ConversationKey::digest`]),
//! and dependencies (the AWS SDK, hyper, h2, rustls, the Lambda runtime), whose debug and trace lines
//! print requests and responses whole, never log below `info`.

use crate::error::{PortError, Rejection};
use crate::metrics::{self, Disposition, Metric};
// Both are metrics' own (a dimension, the documents' timestamp), so metrics needs nothing from here;
// the services keep finding them where they always have.
pub use crate::metrics::{Direction, now_ms};
use std::time::Duration;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// The span `lambda_runtime` opens around every invocation (its `requestId` field). The log lines do
/// not print spans, and Lambda ties each line to its request anyway, so recording it was pure cost:
/// its fields formatted as JSON once per event, and the span entered and left on every poll.
const INVOCATION_SPAN_OFF: &str = "lambda_runtime::layers::trace=warn";

/// The bridge's own log target; every other target is a dependency's.
const BRIDGE_TARGET: &str = "bridge";

/// The most a dependency may say: their debug and trace lines carry whole request and response bodies
/// (the SDK's wire logging: message text, phone numbers, participant and connection tokens).
const DEPENDENCY_CEILING: LevelFilter = LevelFilter::INFO;

/// The bridge's level, read from `RUST_LOG` (default `info`). Only a level is accepted: per-crate
/// directives could turn the dependencies' wire logging on, so an unreadable value falls back to `info`.
fn level(rust_log: Option<&str>) -> Result<LevelFilter, String> {
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(LevelFilter::INFO),
        Some(raw) => raw.parse().map_err(|_| {
            format!("RUST_LOG must be one of trace, debug, info, warn, error, off (got '{raw}'); using info")
        }),
    }
}

/// The bridge at `level`, its dependencies at most at `info`, less the invocation span.
fn filter(level: LevelFilter) -> EnvFilter {
    let dependencies = level.min(DEPENDENCY_CEILING);
    EnvFilter::new(format!("{dependencies},{BRIDGE_TARGET}={level},{INVOCATION_SPAN_OFF}"))
}

/// JSON lines on stdout at the level of `RUST_LOG` (default `info`).
pub fn init() {
    let level = level(std::env::var("RUST_LOG").ok().as_deref());
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter(*level.as_ref().unwrap_or(&LevelFilter::INFO)))
        .try_init();
    if let Err(problem) = level {
        tracing::warn!(problem, "log level not understood");
    }
}

/// The outcomes that mean the message reached the other side (docs/troubleshooting.md); every other
/// outcome without an error is a deliberate skip. An outcome added to the services and not here is
/// counted as skipped, under its own name.
pub const BRIDGED_OUTCOMES: &[&str] = &[
    "delivered",
    "delivered_new_chat",
    "delivered_note",
    "menu_page_sent",
    "ended_by_customer",
    "receipt_delivered",
    "failure_reported",
    "conversation_ended",
    "typing_shown",
];

/// The one line logged for every message the bridge handled, and its metrics. `event_time_ms` is when
/// WhatsApp or Connect says the event happened (Unix epoch milliseconds), for the end-to-end latency.
// Flat arguments, like the log line's fields: each call site passes what it already has at hand.
#[allow(clippy::too_many_arguments)]
pub fn log_outcome(
    direction: Direction,
    kind: &str,
    outcome: &str,
    contact_id: Option<&str>,
    customer: &str,
    elapsed: Duration,
    error: Option<&PortError>,
    event_time_ms: Option<i64>,
) {
    metrics::record(&Metric::Message {
        direction,
        kind,
        disposition: disposition(outcome, error, event_time_ms, now_ms()),
        handling: elapsed,
    });
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
    metrics::record(&Metric::Rejected {
        direction,
        reason: rejection.code,
    });
    tracing::warn!(
        direction = direction.as_str(),
        reason = rejection.code,
        detail = %rejection.detail,
        "rejected input"
    );
}

/// How the metrics count an outcome. A clock that runs behind the event's gives a latency of zero.
fn disposition<'a>(
    outcome: &'a str,
    error: Option<&PortError>,
    event_time_ms: Option<i64>,
    now_ms: i64,
) -> Disposition<'a> {
    match error {
        Some(e) => Disposition::Failed {
            reason: format!("{}/{:?}", e.operation, e.kind),
        },
        None if BRIDGED_OUTCOMES.contains(&outcome) => Disposition::Bridged {
            end_to_end: event_time_ms.map(|t| Duration::from_millis(now_ms.saturating_sub(t).max(0) as u64)),
        },
        None => Disposition::Skipped { reason: outcome },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FailureKind;
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    /// The most verbose level `target` logs at, if any, under the subscriber in force.
    macro_rules! loudest {
        ($target:literal) => {
            [Level::TRACE, Level::DEBUG, Level::INFO, Level::WARN, Level::ERROR]
                .into_iter()
                .find(|level| match *level {
                    Level::TRACE => tracing::enabled!(target: $target, Level::TRACE),
                    Level::DEBUG => tracing::enabled!(target: $target, Level::DEBUG),
                    Level::INFO => tracing::enabled!(target: $target, Level::INFO),
                    Level::WARN => tracing::enabled!(target: $target, Level::WARN),
                    _ => tracing::enabled!(target: $target, Level::ERROR),
                })
        };
    }

    /// Under `RUST_LOG`: whether the runtime's invocation span is recorded, and how verbose the bridge,
    /// the SDK's wire logging and hyper are.
    fn recorded(rust_log: Option<&str>) -> (bool, Option<Level>, Option<Level>, Option<Level>) {
        let level = level(rust_log).unwrap_or(LevelFilter::INFO);
        let subscriber = tracing_subscriber::registry().with(filter(level));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: "lambda_runtime::layers::trace", "Lambda runtime invoke");
            (
                !span.is_disabled(),
                loudest!("bridge::inbound"),
                loudest!("aws_smithy_runtime::client::orchestrator"),
                loudest!("hyper_util::client::legacy::pool"),
            )
        })
    }

    #[test]
    fn the_bridge_logs_at_its_level_and_dependencies_never_below_info() {
        let (info, debug, trace, warn) = (
            Some(Level::INFO),
            Some(Level::DEBUG),
            Some(Level::TRACE),
            Some(Level::WARN),
        );
        assert_eq!(recorded(None), (false, info, info, info));
        assert_eq!(recorded(Some("info")), (false, info, info, info));
        assert_eq!(recorded(Some("DEBUG")), (false, debug, info, info));
        assert_eq!(recorded(Some("trace")), (false, trace, info, info));
        assert_eq!(recorded(Some("warn")), (false, warn, warn, warn));
        assert_eq!(recorded(Some("off")), (false, None, None, None));
    }

    #[test]
    fn only_a_level_is_accepted_so_no_directive_can_turn_the_wire_logging_on() {
        for directives in ["aws_smithy_runtime=trace", "trace,bridge=trace", "bridge=loud"] {
            let problem = level(Some(directives)).unwrap_err();
            assert!(problem.contains("RUST_LOG must be one of"), "{problem}");
            // An unreadable RUST_LOG falls back to info rather than losing the log lines.
            let info = Some(Level::INFO);
            assert_eq!(recorded(Some(directives)), (false, info, info, info));
        }
    }

    #[test]
    fn outcomes_are_counted_as_bridged_skipped_or_failed() {
        let now = 1_762_843_890_000;
        assert_eq!(
            disposition("delivered_new_chat", None, Some(1_762_843_882_000), now),
            Disposition::Bridged {
                end_to_end: Some(Duration::from_secs(8))
            }
        );
        assert_eq!(
            disposition("receipt_delivered", None, None, now),
            Disposition::Bridged { end_to_end: None }
        );
        assert_eq!(
            disposition("typing_shown", None, Some(now + 500), now),
            Disposition::Bridged {
                end_to_end: Some(Duration::ZERO)
            }
        );
        for skipped in ["duplicate", "status_chat_over", "reaction_no_chat", "type_not_bridged"] {
            assert_eq!(
                disposition(skipped, None, Some(now), now),
                Disposition::Skipped { reason: skipped }
            );
        }
        let error = PortError::new(FailureKind::Transient, "SendMessage", "ThrottlingException");
        assert_eq!(
            disposition("failed_will_retry", Some(&error), Some(now), now),
            Disposition::Failed {
                reason: "SendMessage/Transient".into()
            }
        );
    }
}
