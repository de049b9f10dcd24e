//! Lambda `Invoke` (`POST /2015-03-31/functions/{FunctionName}/invocations`) for the two handlers.
//!
//! This is how an operator's tool reaches a function — `ops replay` re-delivers dead letters
//! with the real aws-sdk-lambda client — so the twin answers it the way Lambda does: the
//! function's response as the body, or `X-Amz-Function-Error: Unhandled` with the error document.
//! Unlike the table-driven operations in `aws`, Invoke waits for a handler process, so it has its
//! own async path. Each request is exactly one attempt: retries and dead-lettering belong to
//! asynchronous *event sources* (SNS here), not to the Invoke API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::record;
use crate::config::TwinConfig;
use crate::error::ApiError;
use crate::lambda::{FunctionName, NO_PROCESS};
use crate::netio::ConnHandle;
use crate::twin::Shared;
use crate::validate::{self, Input};

const PREFIX: &str = "/2015-03-31/functions/";
const SUFFIX: &str = "/invocations";
const SERVICE: &str = "lambda";
const OPERATION: &str = "Invoke";

/// The function name (percent-decoded) if `uri` is an Invoke path.
pub(crate) fn function_in_path(uri: &Uri) -> Option<String> {
    let rest = uri.path().strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    percent_decode(rest)
}

pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Qualifier` from the query string, if any.
fn query_qualifier(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "Qualifier")
        .and_then(|(_, v)| percent_decode(v))
}

/// Resolves every spelling Lambda accepts — `Name`, `Name:qualifier`, `account:function:Name`,
/// the full ARN, each optionally qualified — to one of the two functions. Only `$LATEST` exists
/// here (the twin has no versions or aliases); names are case-sensitive, as in Lambda.
pub(crate) fn resolve(cfg: &TwinConfig, name: &str, qualifier: Option<&str>) -> Result<FunctionName, ApiError> {
    let parts: Vec<&str> = name.split(':').collect();
    let (account, region, function, path_qualifier) = match parts.as_slice() {
        [f] => (None, None, *f, None),
        [f, q] => (None, None, *f, Some(*q)),
        [a, "function", f] => (Some(*a), None, *f, None),
        [a, "function", f, q] => (Some(*a), None, *f, Some(*q)),
        ["arn", _, "lambda", r, a, "function", f] => (Some(*a), Some(*r), *f, None),
        ["arn", _, "lambda", r, a, "function", f, q] => (Some(*a), Some(*r), *f, Some(*q)),
        _ => {
            return Err(ApiError::new(
                "ValidationException",
                format!("1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint"),
            ));
        }
    };
    let not_found = |q: Option<&str>| {
        let arn = cfg.function_arn(function);
        let arn = match q {
            Some(q) => format!("{arn}:{q}"),
            None => arn,
        };
        ApiError::not_found(format!("Function not found: {arn}"))
    };
    if path_qualifier.is_some() && qualifier.is_some() && path_qualifier != qualifier {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        ));
    }
    let qualifier = path_qualifier.or(qualifier);
    let elsewhere = account.is_some_and(|a| a != cfg.account_id) || region.is_some_and(|r| r != cfg.region);
    let known = FunctionName::ALL.into_iter().find(|f| f.as_str() == function);
    match (known, qualifier) {
        (Some(f), None | Some("$LATEST")) if !elsewhere => Ok(f),
        _ => Err(not_found(qualifier)),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

fn failed(shared: &Shared, err: ApiError, request_id: &str) -> Response {
    record(shared, SERVICE, OPERATION, err.status, Some(&err.code));
    with_request_id(err.to_service_response(SERVICE), request_id)
}

/// Serves one Invoke request.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    conn: &ConnHandle,
    function_name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let action = match super::pipeline::before(shared, conn, SERVICE, OPERATION).await {
        Ok(action) => action,
        Err(resp) => return resp,
    };
    let resp = invoke(shared, function_name, uri, headers, body, action.error).await;
    if action.lose_answer {
        // The call log keeps the status of the answer that was lost.
        conn.kill();
        return ().into_response();
    }
    resp
}

async fn invoke(
    shared: &Arc<Shared>,
    function_name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    injected: Option<ApiError>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Some(err) = injected {
        return failed(shared, err, &request_id);
    }
    let qualifier = query_qualifier(uri);
    let query: Vec<(&str, &str)> = qualifier.iter().map(|q| ("Qualifier", q.as_str())).collect();
    let labels = [("FunctionName", function_name)];
    let input = Input::path(&labels, &query).with_headers(headers);
    if let Err(e) = validate::check(SERVICE, OPERATION, &input) {
        return failed(shared, e, &request_id);
    }
    let name = match resolve(&shared.cfg, function_name, qualifier.as_deref()) {
        Ok(n) => n,
        Err(e) => return failed(shared, e, &request_id),
    };
    let invocation_type = header(headers, "x-amz-invocation-type").unwrap_or("RequestResponse");
    // Lambda passes an empty payload as `{}`; anything else must be JSON.
    let event: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let err = ApiError::new(
                    "InvalidRequestContentException",
                    format!("Could not parse request body into json: {e}"),
                );
                return failed(shared, err, &request_id);
            }
        }
    };
    let function = shared.sns.function(name).clone();
    if !function.has_processes() {
        let err = ApiError {
            status: 500,
            code: "ServiceException".into(),
            message: format!("{name} has no handler process (the twin was started without handlers)"),
        };
        return failed(shared, err, &request_id);
    }
    match invocation_type {
        "DryRun" => {
            record(shared, SERVICE, OPERATION, 204, None);
            with_request_id(StatusCode::NO_CONTENT.into_response(), &request_id)
        }
        "Event" => {
            // Accepted at once; the one attempt runs in the background and counts for wait-idle.
            let busy = shared.sns.tracker.begin();
            let id = request_id.clone();
            tokio::spawn(async move {
                if let Err(e) = function.invoke_as(&id, &event).await {
                    tracing::debug!("{name} (Invoke, Event) failed: {e}");
                }
                drop(busy);
            });
            record(shared, SERVICE, OPERATION, 202, None);
            with_request_id(StatusCode::ACCEPTED.into_response(), &request_id)
        }
        _ => {
            let result = {
                let _busy = shared.sns.tracker.begin();
                function.invoke_as(&request_id, &event).await
            };
            let (payload, function_error) = match result {
                Ok(v) => (v, None),
                Err(e) if e.error_type == NO_PROCESS => {
                    let err = ApiError {
                        status: 500,
                        code: "ServiceException".into(),
                        message: e.error_message,
                    };
                    return failed(shared, err, &request_id);
                }
                Err(e) => (e.to_json(), Some("Unhandled")),
            };
            record(shared, SERVICE, OPERATION, 200, function_error);
            let mut resp = (StatusCode::OK, payload.to_string()).into_response();
            let h = resp.headers_mut();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h.insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
            if let Some(kind) = function_error {
                h.insert("x-amz-function-error", HeaderValue::from_static(kind));
            }
            with_request_id(resp, &request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TwinConfig {
        TwinConfig::default()
    }

    #[test]
    fn every_spelling_of_a_function_resolves() {
        let c = cfg();
        for name in [
            "WhatsappHandler",
            "WhatsappHandler:$LATEST",
            "123456789012:function:WhatsappHandler",
            "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler",
            "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler:$LATEST",
        ] {
            assert_eq!(resolve(&c, name, None), Ok(FunctionName::WhatsappHandler), "{name}");
        }
        assert_eq!(
            resolve(&c, "ConnectHandler", Some("$LATEST")),
            Ok(FunctionName::ConnectHandler)
        );
    }

    #[test]
    fn unknown_functions_versions_and_accounts_are_not_found() {
        let c = cfg();
        for (name, qualifier) in [
            ("whatsapphandler", None),
            ("Other", None),
            ("WhatsappHandler:7", None),
            ("WhatsappHandler", Some("live")),
            ("arn:aws:lambda:eu-west-1:123456789012:function:WhatsappHandler", None),
            ("999999999999:function:ConnectHandler", None),
        ] {
            let err = resolve(&c, name, qualifier).unwrap_err();
            assert_eq!(err.code, "ResourceNotFoundException", "{name}");
            assert_eq!(err.status, 404);
        }
        let err = resolve(&c, "Other:$LATEST", None).unwrap_err();
        assert_eq!(
            err.message,
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:Other:$LATEST"
        );
        assert_eq!(resolve(&c, "a:b:c:d:e", None).unwrap_err().status, 400);
        assert_eq!(
            resolve(&c, "WhatsappHandler:$LATEST", Some("live")).unwrap_err().code,
            "InvalidParameterValueException"
        );
    }

    #[test]
    fn paths_are_matched_and_decoded() {
        let uri: Uri = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AConnectHandler%3A%24LATEST/invocations"
            .parse()
            .unwrap();
        assert_eq!(
            function_in_path(&uri).as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:ConnectHandler:$LATEST")
        );
        let uri: Uri = "/2015-03-31/functions/WhatsappHandler/invocations?Qualifier=%24LATEST"
            .parse()
            .unwrap();
        assert_eq!(function_in_path(&uri).as_deref(), Some("WhatsappHandler"));
        assert_eq!(query_qualifier(&uri).as_deref(), Some("$LATEST"));
        for bad in [
            "/2015-03-31/functions//invocations",
            "/2015-03-31/functions/a/b/invocations",
            "/2015-03-31/functions/a%zz/invocations",
            "/participant/message",
        ] {
            assert_eq!(function_in_path(&bad.parse().unwrap()), None, "{bad}");
        }
    }
}
