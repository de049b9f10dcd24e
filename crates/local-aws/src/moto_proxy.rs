//! moto behind the twin: the handlers' DynamoDB and S3 requests pass through a listener of the twin
//! that logs each as a call (`/_twin/calls`), times it (`measure`) and adds the twin's global latency
//! (`/_twin/latency`), so the benchmark sees every AWS call a message costs and can slow all of them
//! down alike. Off unless asked for ([`crate::Twin::proxy_moto`]). Fault rules naming service
//! `dynamodb` or `s3` apply here as to the twin's own operations (`aws::pipeline`); an injected
//! error is written in that service's protocol (DynamoDB's JSON `__type`, S3's XML `<Code>`), so
//! the SDK sees the typed error AWS would send.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::aws::pipeline;
use crate::error::Error;
use crate::netio::{ConnHandle, KillableListener};
use crate::twin::Shared;

struct Proxy {
    shared: Arc<Shared>,
    moto: String,
    http: reqwest::Client,
}

/// Binds a listener on 127.0.0.1 that forwards to `moto_url`; returns its URL.
pub(crate) async fn start(shared: Arc<Shared>, moto_url: &str) -> Result<String, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| Error::Setup {
            what: "moto proxy".into(),
            message: e.to_string(),
        })?;
    let proxy = Arc::new(Proxy {
        shared: shared.clone(),
        moto: moto_url.trim_end_matches('/').to_owned(),
        http,
    });
    let app = Router::new()
        .fallback(forward)
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::measure::time_calls,
        ))
        .with_state(proxy);
    let mut stop = shared.shutdown.subscribe();
    tokio::spawn(async move {
        let served = axum::serve(
            KillableListener(listener),
            app.into_make_service_with_connect_info::<ConnHandle>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("moto proxy stopped: {e}");
        }
    });
    Ok(url)
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // As for the twin's own operations: a caller hanging up does not stop the request.
    crate::measure::detached(serve(p, conn, method, uri, headers, body)).await
}

async fn serve(p: Arc<Proxy>, conn: ConnHandle, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (service, operation) = operation(&method, &uri, &headers);
    let action = match pipeline::before(&p.shared, &conn, service, &operation).await {
        Ok(action) => action,
        Err(resp) => return resp,
    };
    let names = (service, operation.as_str());
    if let Some(err) = &action.error {
        let resp = injected_error(service, &err.code, &err.message);
        return pipeline::after(
            &p.shared,
            &conn,
            names,
            &action,
            resp.status().as_u16(),
            Some(&err.code),
            resp,
        );
    }
    if let Some(resp) = unreadable(service, &operation, &headers, &body) {
        return pipeline::after(&p.shared, &conn, names, &action, 400, Some(SERIALIZATION), resp);
    }
    let target = format!("{}{}", p.moto, uri.path_and_query().map_or("/", |pq| pq.as_str()));
    let mut request = p.http.request(method, target).body(body);
    for (name, value) in &headers {
        // reqwest sets its own framing; moto must not be asked for a 100-continue handshake.
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection" | "expect"
        ) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => {
            let resp = (StatusCode::BAD_GATEWAY, format!("moto: {e}")).into_response();
            return pipeline::after(&p.shared, &conn, names, &action, 502, Some("MotoUnreachable"), resp);
        }
    };
    let status = answer.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !matches!(name.as_str(), "transfer-encoding" | "connection") {
            out_headers.append(name, value.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let error = (status.as_u16() >= 400).then(|| error_code(&bytes));
    let resp = (status, out_headers, bytes).into_response();
    pipeline::after(
        &p.shared,
        &conn,
        names,
        &action,
        status.as_u16(),
        error.as_deref(),
        resp,
    )
}

/// An injected error as the service would write it: DynamoDB's JSON 1.0 error (400, or 500 for
/// `InternalServerError`, 503 for `ServiceUnavailable`), S3's XML error with the status S3 gives
/// that code.
fn injected_error(service: &str, code: &str, message: &str) -> Response {
    if service == "s3" {
        let status = match code {
            "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" => 404,
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => 403,
            "PreconditionFailed" => 412,
            "InternalError" => 500,
            "SlowDown" | "ServiceUnavailable" => 503,
            _ => 400,
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>{}</RequestId></Error>",
            uuid::Uuid::new_v4().simple()
        );
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            [("content-type", "application/xml")],
            body,
        )
            .into_response();
    }
    let status = match code {
        "InternalServerError" => StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
        "message": message,
    });
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-errortype", code),
        ],
        body.to_string(),
    )
        .into_response()
}

const SERIALIZATION: &str = "SerializationException";

/// An awsJson request (`X-Amz-Target`) whose body does not deserialize — not a JSON object, or a
/// member whose JSON type is not its shape's in the model (`validate`) — is answered 400
/// `SerializationException`, as AWS does, where moto fails with an HTML 500 (that the SDK would
/// retry) or takes the value as it comes.
fn unreadable(service: &str, operation: &str, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    if !headers.contains_key("x-amz-target") {
        return None;
    }
    let problem = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => crate::validate::check_types(service, operation, &v).err()?.message,
        _ => "The request body is not a JSON object".to_owned(),
    };
    Some(injected_error(service, SERIALIZATION, &problem))
}

/// The error code in a DynamoDB (`__type`) or S3 (`<Code>`) error body.
fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(t) = v.get("__type").and_then(|t| t.as_str())
    {
        return t.rsplit('#').next().unwrap_or(t).to_owned();
    }
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or_else(|| "Error".to_owned(), |(code, _)| code.to_owned())
}

/// (service, operation) of a request: JSON protocols name it in `X-Amz-Target`, S3 in its method,
/// path and query.
fn operation(method: &Method, uri: &Uri, headers: &HeaderMap) -> (&'static str, String) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or(("", target));
        let service = if prefix.starts_with("DynamoDB") {
            "dynamodb"
        } else if prefix.starts_with("AmazonSQS") {
            "sqs"
        } else {
            "unknown"
        };
        return (service, op.to_owned());
    }
    let query = uri.query().unwrap_or("");
    let has = |key: &str| {
        query
            .split('&')
            .any(|p| p == key || p.strip_prefix(key).is_some_and(|rest| rest.starts_with('=')))
    };
    // Path-style: `/bucket/key`; the SDK writes a bucket operation as `/bucket/`.
    let object = uri.path().trim_matches('/').contains('/');
    let op = match (method.as_str(), object) {
        ("PUT", true) if has("partNumber") => "UploadPart",
        ("PUT", true) if headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", true) => "PutObject",
        ("PUT", false) => "CreateBucket",
        ("GET", true) => "GetObject",
        ("GET", false) if has("list-type") => "ListObjectsV2",
        ("GET", false) => "ListObjects",
        ("HEAD", true) => "HeadObject",
        ("HEAD", false) => "HeadBucket",
        ("DELETE", true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true) => "DeleteObject",
        ("DELETE", false) => "DeleteBucket",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true) if has("uploadId") => "CompleteMultipartUpload",
        ("POST", false) if has("delete") => "DeleteObjects",
        _ => return ("s3", format!("{method} {}", uri.path())),
    };
    ("s3", op.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, uri: &str, headers: &[(&'static str, &str)]) -> (&'static str, String) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        operation(&method, &uri.parse().unwrap(), &map)
    }

    #[test]
    fn operations_are_named_as_aws_names_them() {
        assert_eq!(
            op(Method::POST, "/", &[("x-amz-target", "DynamoDB_20120810.UpdateItem")]),
            ("dynamodb", "UpdateItem".to_owned())
        );
        assert_eq!(op(Method::PUT, "/media/inbound/a/b", &[]).1, "PutObject");
        assert_eq!(op(Method::PUT, "/media/k?partNumber=1&uploadId=x", &[]).1, "UploadPart");
        assert_eq!(op(Method::POST, "/media/k?uploads", &[]).1, "CreateMultipartUpload");
        assert_eq!(
            op(Method::POST, "/media/k?uploadId=x", &[]).1,
            "CompleteMultipartUpload"
        );
        assert_eq!(op(Method::GET, "/media?list-type=2&prefix=a", &[]).1, "ListObjectsV2");
        assert_eq!(op(Method::GET, "/media/?list-type=2&prefix=a", &[]).1, "ListObjectsV2");
        assert_eq!(op(Method::GET, "/media/k", &[]).1, "GetObject");
    }

    #[test]
    fn error_codes_come_from_either_protocol() {
        assert_eq!(
            error_code(br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#),
            "ConditionalCheckFailedException"
        );
        assert_eq!(error_code(b"<Error><Code>NoSuchKey</Code></Error>"), "NoSuchKey");
    }

    #[tokio::test]
    async fn an_aws_json_body_that_does_not_deserialize_is_a_serialization_error() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-target", "DynamoDB_20120810.GetItem".parse().unwrap());
        let wrong_types: [&[u8]; 4] = [
            br#"{"TableName":5,"Key":{}}"#,
            br#"{"TableName":"t","Key":{"pk":{"S":5}}}"#,
            br#"{"TableName":"t","Key":{"pk":"a"}}"#,
            br#"{"TableName":"t","Key":{"pk":{"L":[{"N":1}]}}}"#,
        ];
        for body in [&br#"{"TableName":"#[..], b"[]", b""].into_iter().chain(wrong_types) {
            let resp = unreadable("dynamodb", "GetItem", &headers, body).expect("refused");
            assert_eq!(resp.status().as_u16(), 400);
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            assert_eq!(error_code(&body), SERIALIZATION);
        }
        let good = br#"{"TableName":"t","Key":{"pk":{"S":"a"},"n":{"L":[{"N":"1"},{"NULL":true}]}}}"#;
        assert!(unreadable("dynamodb", "GetItem", &headers, good).is_none());
        assert!(unreadable("s3", "GetObject", &HeaderMap::new(), b"<xml/>").is_none());
    }

    #[tokio::test]
    async fn injected_errors_read_back_as_the_code_they_were_given() {
        for (service, code, status) in [
            ("dynamodb", "ProvisionedThroughputExceededException", 400),
            ("dynamodb", "InternalServerError", 500),
            ("s3", "SlowDown", 503),
            ("s3", "NoSuchKey", 404),
        ] {
            let resp = injected_error(service, code, "injected");
            assert_eq!(resp.status().as_u16(), status, "{service} {code}");
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            assert_eq!(error_code(&body), code);
        }
    }
}
