//! The two ways work can fail, and what each means for delivery.
//!
//! A [`Rejection`] is bad input: retrying cannot fix it, so it is logged with a reason code and dropped.
//! A [`PortError`] comes from an external service; [`PortError::is_retryable`] decides whether the event
//! is returned to Lambda as an error (so Lambda retries it and finally dead-letters it) or dropped.

use std::fmt;

/// Input that can never be bridged. `code` is a stable, greppable reason (see docs/troubleshooting.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Rejection {
    pub code: &'static str,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// How an external call failed, as far as the bridge's decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The chat behind a participant or connection token is over (Connect answers AccessDenied).
    ChatGone,
    /// A conditional write lost against a concurrent writer.
    Conflict,
    /// Throttling, 5xx, timeouts, dropped connections: worth retrying later.
    Transient,
    /// The service refused the request as invalid or forbidden: retrying will not help.
    Rejected,
}

/// A failed call to an external service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PortError {
    pub kind: FailureKind,
    pub operation: &'static str,
    /// The service's error code or a short description; never message content or tokens.
    pub detail: String,
}

impl PortError {
    /// The outcome a message that failed with this error is logged with.
    pub fn outcome(&self) -> &'static str {
        if self.is_retryable() {
            "failed_will_retry"
        } else {
            "failed_dropped"
        }
    }

    pub fn new(kind: FailureKind, operation: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            operation,
            detail: detail.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Transient | FailureKind::Conflict)
    }

    pub fn is_chat_gone(&self) -> bool {
        self.kind == FailureKind::ChatGone
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({:?}): {}", self.operation, self.kind, self.detail)
    }
}

/// What a handler returns to Lambda: only retryable failures surface, so Lambda retries and dead-letters.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} messages failed and will be retried; first: {first}")]
pub struct RetryableFailure {
    pub failed: usize,
    pub total: usize,
    pub first: PortError,
}

/// An event's messages as each is settled. The event fails (so Lambda retries it) only when a message
/// failed in a way a retry can fix, and only after every message was tried: the idempotency records
/// skip on the retry what went through.
#[derive(Debug, Default)]
pub struct EventTally {
    total: usize,
    failures: Vec<PortError>,
}

impl EventTally {
    pub fn settled<T>(&mut self, result: Result<T, PortError>) {
        self.total += 1;
        if let Err(e) = result
            && e.is_retryable()
        {
            self.failures.push(e);
        }
    }

    pub fn into_result(self) -> Result<(), RetryableFailure> {
        let failed = self.failures.len();
        match self.failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(RetryableFailure {
                failed,
                total: self.total,
                first,
            }),
        }
    }
}

/// Describes a JSON error without quoting the input: serde's messages can contain the offending value,
/// which may be message text or a phone number.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with("missing field") || text.starts_with("unknown field") || text.starts_with("EOF") {
        return text;
    }
    let kind = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "truncated input",
    };
    if e.line() == 0 {
        kind.to_owned()
    } else {
        format!("{kind} at line {} column {}", e.line(), e.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_do_not_quote_content() {
        let e = serde_json::from_str::<u64>("\"+16505551234\"").unwrap_err();
        let text = describe_json_error(&e);
        assert!(!text.contains("1650555"), "{text}");
        assert!(text.contains("unexpected value"));
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            body: String,
        }
        let e = serde_json::from_str::<T>("{}").unwrap_err();
        assert!(describe_json_error(&e).contains("missing field `body`"));
    }
}
