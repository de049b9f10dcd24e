//! Error types: AWS wire errors (`ApiError`) and the library's own failures (`Error`).
//!
//! `ApiError` is what a simulated AWS operation returns. It renders in the restJson1 error shape
//! the SDKs parse — status code, `x-amzn-ErrorType: <Code>` header and a body with the message in
//! the member the service's error shape models (`Message` or `message`, see `validate`) — so
//! the unmodified SDK clients surface the same typed error variants they would against AWS.
//! The HTTP status is derived from the code in one table, because every service models the same
//! code with the same status and keeping it in one place lets fault injection reuse it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error as an AWS service would return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// An error whose status follows from its code (see [`status_for_code`]).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: status_for_code(code),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDeniedException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

/// HTTP status AWS uses for an error code; unknown codes are treated as client errors (400).
pub fn status_for_code(code: &str) -> u16 {
    match code {
        "ThrottlingException" | "ThrottledRequestException" | "TooManyRequestsException" | "LimitExceededException" => {
            429
        }
        "InternalServerException" | "InternalServiceException" | "InternalFailure" => 500,
        "ServiceUnavailableException" | "ServiceUnavailable" => 503,
        "DependencyException" => 502,
        "AccessDeniedException" | "AccessDeniedByMetaException" | "ExpiredTokenException" => 403,
        "ResourceNotFoundException" | "UnknownOperationException" => 404,
        "ConflictException" | "ResourceConflictException" => 409,
        "ContactNotFoundException" => 410,
        "ServiceQuotaExceededException" => 402,
        _ => 400,
    }
}

impl ApiError {
    /// The error as `service` answers it: the message in the member its error shape models
    /// (Lambda's errors also say whose fault it was in `Type`).
    pub fn to_service_response(&self, service: &str) -> Response {
        let mut body = serde_json::Map::new();
        body.insert(
            crate::validate::message_key(service, &self.code).to_owned(),
            serde_json::Value::String(self.message.clone()),
        );
        if service == "lambda" {
            let kind = if self.status >= 500 { "Service" } else { "User" };
            body.insert("Type".to_owned(), kind.into());
        }
        self.render(serde_json::Value::Object(body).to_string())
    }

    fn render(&self, body: String) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            headers.insert("x-amzn-ErrorType", v);
        }
        resp
    }
}

/// Outside a service (an unknown operation): the common `message` member.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        self.render(body)
    }
}

/// Failures of the library itself (starting the stack, moto, processes).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("moto server: {0}")]
    Moto(String),
    #[error("handler: {0}")]
    Handler(String),
    #[error("setup of {what} failed: {message}")]
    Setup { what: String, message: String },
    #[error("invalid option: {0}")]
    Options(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_codes() {
        assert_eq!(ApiError::validation("x").status, 400);
        assert_eq!(ApiError::access_denied("x").status, 403);
        assert_eq!(ApiError::new("ThrottlingException", "x").status, 429);
        assert_eq!(ApiError::new("InternalServerException", "x").status, 500);
        assert_eq!(ApiError::new("ServiceUnavailableException", "x").status, 503);
        assert_eq!(ApiError::new("InvalidParameterException", "x").status, 400);
    }
}
