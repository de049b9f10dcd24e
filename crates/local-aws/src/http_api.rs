//! API Gateway's HTTP API in front of the Handoff API: requests to the twin's port under `/v1/`
//! (route `ANY /v1/{proxy+}`, a Lambda authorizer) and `/iam/v1/` (route `ANY /iam/v1/{proxy+}`,
//! `AWS_IAM` authorization) are served as the `$default` stage of an HTTP API would serve them, by
//! invoking the `HandoffAuthorizer` and `HandoffApi` functions through the twin's Lambda, so the
//! real binaries see the events API Gateway sends and a client sees the answers API Gateway gives.
//!
//! What it follows, from the API Gateway developer guide: the payload format 2.0 events (headers
//! lowercased, repeated ones joined by commas, cookies apart, query parameters decoded and joined by
//! commas), the Lambda authorizer's simple response (`isAuthorized`, its `context` handed on as
//! `requestContext.authorizer.lambda`; `false` is 403, and an authorizer that cannot be invoked,
//! fails, answers out of format or takes over 10 s is 500), the 2.0 response format (or a plain JSON
//! answer inferred as a 200), the 30 s integration timeout (503) and the quotas a client can hit
//! (10 MB payload, 10 240 bytes of request line and header values). The guide does not say which
//! request bodies are binary: the split here (text for `text/*`, JSON, XML and JavaScript, base64 for
//! anything else, a missing content type included) is the one observed on AWS and reported in
//! ministack's pull request 766.
//!
//! `/v1/whatsapp/` stays End User Messaging Social's: the twin serves both APIs on one port, and the
//! Handoff API has nothing there. IAM callers are registered by the test (`PUT
//! /_twin/iam-callers/{accessKeyId}`) and the `Authorization` header is parsed as SigV4 for
//! `execute-api` in the twin's region, but the signature itself is not verified (the twin has no
//! SigV4 verifier and its clients hold no real secrets). Differences left: `docs/local-twin.md`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::lambda::FunctionName;
use crate::netio::ConnHandle;
use crate::time::{clf_time, now_ms};
use crate::twin::Shared;

/// HTTP API quotas a client can hit (developer guide, "HTTP API quotas").
const PAYLOAD_LIMIT: usize = 10 * 1024 * 1024;
const REQUEST_LINE_AND_HEADERS_LIMIT: usize = 10_240;
/// The id of the twin's one HTTP API (ten lowercase letters and digits, as API Gateway's are).
const API_ID: &str = "h4nd0ffap1";
const STAGE: &str = "$default";

/// How a route lets callers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `ANY /v1/{proxy+}`, authorized by `HandoffAuthorizer`.
    Lambda,
    /// `ANY /iam/v1/{proxy+}`, authorized by SigV4 (`AWS_IAM`).
    Iam,
}

impl Route {
    fn key(self) -> &'static str {
        match self {
            Route::Lambda => "ANY /v1/{proxy+}",
            Route::Iam => "ANY /iam/v1/{proxy+}",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Route::Lambda => "/v1/",
            Route::Iam => "/iam/v1/",
        }
    }
}

/// The route that serves `path`, if the HTTP API serves it.
pub(crate) fn route(path: &str) -> Option<Route> {
    if path.starts_with(Route::Iam.prefix()) {
        Some(Route::Iam)
    } else if path.starts_with(Route::Lambda.prefix()) && !path.starts_with("/v1/whatsapp/") {
        Some(Route::Lambda)
    } else {
        None
    }
}

/// Why API Gateway answers itself instead of the function: its fixed `{"message": ...}` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    PayloadTooLarge,
    HeadersTooLarge,
    Forbidden(String),
    InternalServerError,
    ServiceUnavailable,
}

impl Refusal {
    fn forbidden() -> Self {
        Refusal::Forbidden("Forbidden".into())
    }

    fn status_and_message(&self) -> (StatusCode, &str) {
        match self {
            Refusal::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
            // The quota is documented, the answer to a request over it is not.
            Refusal::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request Header Fields Too Large",
            ),
            Refusal::Forbidden(message) => (StatusCode::FORBIDDEN, message),
            Refusal::InternalServerError => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            Refusal::ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        }
    }

    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        (status, axum::Json(json!({ "message": message }))).into_response()
    }
}

/// A request as API Gateway describes it to both functions.
struct Described {
    route: Route,
    method: String,
    raw_path: String,
    raw_query: String,
    cookies: Vec<String>,
    headers: Map<String, Value>,
    query: Map<String, Value>,
    request_id: String,
    time_ms: u64,
    source_ip: String,
    user_agent: String,
}

impl Described {
    fn new(route: Route, method: &Method, uri: &Uri, headers: &HeaderMap, conn: &ConnHandle) -> Self {
        let source_ip = conn.peer.ip().to_string();
        let mut joined = Map::new();
        for name in headers.keys() {
            if name == "cookie" {
                continue;
            }
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            joined.insert(name.as_str().to_owned(), Value::String(values.join(",")));
        }
        let forwarded = match joined.get("x-forwarded-for").and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {source_ip}"),
            None => source_ip.clone(),
        };
        joined.insert("x-forwarded-for".into(), forwarded.into());
        joined.insert("x-forwarded-port".into(), conn.local.port().to_string().into());
        joined.insert("x-forwarded-proto".into(), "http".into());
        let cookies = headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        let mut query: Map<String, Value> = Map::new();
        for (k, v) in pairs {
            let joined = match query.get(&k).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier},{v}"),
                None => v,
            };
            query.insert(k, joined.into());
        }
        Self {
            route,
            method: method.as_str().to_owned(),
            raw_path: uri.path().to_owned(),
            raw_query: uri.query().unwrap_or("").to_owned(),
            cookies,
            user_agent: headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            headers: joined,
            query,
            request_id: request_id(),
            time_ms: now_ms(),
            source_ip,
        }
    }

    /// What both events share; `None` members are left out, as API Gateway leaves them out.
    fn event(&self, shared: &Shared) -> Map<String, Value> {
        let cfg = &shared.cfg;
        let domain = format!("{API_ID}.execute-api.{}.amazonaws.com", cfg.region);
        let proxy = self.raw_path.strip_prefix(self.route.prefix()).unwrap_or("");
        let mut event = Map::new();
        event.insert("version".into(), "2.0".into());
        event.insert("routeKey".into(), self.route.key().into());
        event.insert("rawPath".into(), self.raw_path.clone().into());
        event.insert("rawQueryString".into(), self.raw_query.clone().into());
        if !self.cookies.is_empty() {
            event.insert("cookies".into(), json!(self.cookies));
        }
        event.insert("headers".into(), Value::Object(self.headers.clone()));
        if !self.query.is_empty() {
            event.insert("queryStringParameters".into(), Value::Object(self.query.clone()));
        }
        event.insert("pathParameters".into(), json!({ "proxy": proxy }));
        event.insert(
            "requestContext".into(),
            json!({
                "accountId": cfg.account_id,
                "apiId": API_ID,
                "domainName": domain,
                "domainPrefix": API_ID,
                "http": {
                    "method": self.method,
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": self.user_agent,
                },
                "requestId": self.request_id,
                "routeKey": self.route.key(),
                "stage": STAGE,
                "time": clf_time(self.time_ms),
                "timeEpoch": self.time_ms,
            }),
        );
        event
    }

    /// The Lambda authorizer's event (payload format 2.0, type `REQUEST`). The authorizer has no
    /// identity sources (a key may come in either of two headers), so there is no `identitySource`.
    fn authorizer_event(&self, shared: &Shared) -> Value {
        let cfg = &shared.cfg;
        let mut event = self.event(shared);
        event.insert("type".into(), "REQUEST".into());
        event.insert(
            "routeArn".into(),
            format!(
                "arn:aws:execute-api:{}:{}:{API_ID}/{STAGE}/{}{}",
                cfg.region, cfg.account_id, self.method, self.raw_path
            )
            .into(),
        );
        Value::Object(event)
    }

    /// The integration's event, with what the route's authorization learned about the caller.
    fn integration_event(&self, shared: &Shared, authorizer: Value, body: &[u8]) -> Value {
        let mut event = self.event(shared);
        if let Some(Value::Object(context)) = event.get_mut("requestContext") {
            context.insert("authorizer".into(), authorizer);
        }
        let content_type = self.headers.get("content-type").and_then(Value::as_str);
        let text = is_text(content_type).then(|| std::str::from_utf8(body).ok()).flatten();
        if !body.is_empty() {
            let encoded = text.map_or_else(|| STANDARD.encode(body), str::to_owned);
            event.insert("body".into(), encoded.into());
        }
        event.insert("isBase64Encoded".into(), (text.is_none() && !body.is_empty()).into());
        Value::Object(event)
    }
}

/// Whether API Gateway hands a body of this content type to a function as text (else base64).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// An API Gateway request id (`JKJaXmPLvHcESHA=` in the guide's examples).
fn request_id() -> String {
    STANDARD.encode(&uuid::Uuid::new_v4().as_bytes()[..11])
}

/// Serves one request to the HTTP API and logs it among the twin's calls.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    conn: &ConnHandle,
    route: Route,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let described = Described::new(route, method, uri, headers, conn);
    let request_id = described.request_id.clone();
    let mut resp = match answer(shared, described, uri, headers, body).await {
        Ok(resp) => {
            crate::aws::record(shared, "execute-api", route.key(), resp.status().as_u16(), None);
            resp
        }
        Err(refusal) => {
            let (status, message) = refusal.status_and_message();
            crate::aws::record(shared, "execute-api", route.key(), status.as_u16(), Some(message));
            refusal.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

async fn answer(
    shared: &Arc<Shared>,
    described: Described,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Refusal> {
    let request_line = described.method.len() + uri.to_string().len() + "HTTP/1.1".len() + 2;
    let header_values: usize = headers.values().map(HeaderValue::len).sum();
    if request_line + header_values > REQUEST_LINE_AND_HEADERS_LIMIT {
        return Err(Refusal::HeadersTooLarge);
    }
    if body.len() > PAYLOAD_LIMIT {
        return Err(Refusal::PayloadTooLarge);
    }
    let authorizer = match described.route {
        Route::Lambda => json!({ "lambda": authorize(shared, &described).await? }),
        Route::Iam => json!({ "iam": iam_caller(shared, headers)? }),
    };
    let event = described.integration_event(shared, authorizer, body);
    let function = shared.sns.function(FunctionName::HandoffApi);
    let invoked = tokio::time::timeout(shared.cfg.http_api_integration_timeout, function.invoke(&event)).await;
    match invoked {
        Err(_) => Err(Refusal::ServiceUnavailable),
        Ok(Err(_)) => Err(Refusal::InternalServerError),
        Ok(Ok(answer)) => integration_response(answer).ok_or(Refusal::InternalServerError),
    }
}

/// Runs the Lambda authorizer; its context when it lets the request in.
async fn authorize(shared: &Shared, described: &Described) -> Result<Value, Refusal> {
    let event = described.authorizer_event(shared);
    let function = shared.sns.function(FunctionName::HandoffAuthorizer);
    let invoked = tokio::time::timeout(shared.cfg.http_api_authorizer_timeout, function.invoke(&event)).await;
    let Ok(Ok(answer)) = invoked else {
        return Err(Refusal::InternalServerError);
    };
    let context = match answer.get("context") {
        None | Some(Value::Null) => json!({}),
        Some(context @ Value::Object(_)) => context.clone(),
        Some(_) => return Err(Refusal::InternalServerError),
    };
    match answer.get("isAuthorized").and_then(Value::as_bool) {
        Some(true) => Ok(context),
        Some(false) => Err(Refusal::forbidden()),
        None => Err(Refusal::InternalServerError),
    }
}

/// The HTTP response for a function's payload format 2.0 answer; `None` when API Gateway could not
/// read it (500).
fn integration_response(answer: Value) -> Option<Response> {
    let Some(status) = answer.get("statusCode") else {
        // Valid JSON without a statusCode is inferred as a 200 JSON answer of that JSON.
        let body = match answer {
            Value::String(s) => s,
            other => other.to_string(),
        };
        return Some(([(CONTENT_TYPE, "application/json")], body).into_response());
    };
    let status = StatusCode::from_u16(u16::try_from(status.as_u64()?).ok()?).ok()?;
    let base64 = answer.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
    let body = match answer.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => STANDARD.decode(s).ok()?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return None,
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    if let Some(given) = answer.get("headers") {
        for (name, value) in given.as_object()? {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => return None,
            };
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(&value).ok()?,
            );
        }
    }
    if let Some(cookies) = answer.get("cookies") {
        for cookie in cookies.as_array()? {
            headers.append(SET_COOKIE, HeaderValue::from_str(cookie.as_str()?).ok()?);
        }
    }
    Some(resp)
}

/// The SigV4 credential scope of an `Authorization` header, or API Gateway's complaint about it.
/// Nothing of the header is echoed back.
fn sigv4_scope(authorization: &str, dated: bool) -> Result<[&str; 4], String> {
    let params: HashMap<&str, &str> = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .map(|rest| rest.split(',').filter_map(|p| p.trim().split_once('=')).collect())
        .unwrap_or_default();
    let mut missing: Vec<String> = ["Credential", "Signature", "SignedHeaders"]
        .into_iter()
        .filter(|p| !params.contains_key(p))
        .map(|p| format!("Authorization header requires '{p}' parameter."))
        .collect();
    if !dated {
        missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into());
    }
    if !missing.is_empty() {
        return Err(missing.join(" "));
    }
    let scope: Vec<&str> = params["Credential"].split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope[..] else {
        return Err("Credential should be scoped to a valid region.".into());
    };
    let signature = params["Signature"];
    let signed_host = params["SignedHeaders"].split(';').any(|h| h == "host");
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) || !signed_host {
        return Err("The request signature we calculated does not match the signature you provided.".into());
    }
    Ok([key, date, region, service])
}

/// `requestContext.authorizer.iam` for a SigV4-signed request from a registered caller.
fn iam_caller(shared: &Shared, headers: &HeaderMap) -> Result<Value, Refusal> {
    let Some(authorization) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(Refusal::forbidden());
    };
    let dated = headers.contains_key("x-amz-date") || headers.contains_key("date");
    let [key, _date, region, service] = sigv4_scope(authorization, dated).map_err(Refusal::Forbidden)?;
    if service != "execute-api" {
        return Err(Refusal::Forbidden(
            "Credential should be scoped to correct service: 'execute-api'.".into(),
        ));
    }
    if region != shared.cfg.region {
        return Err(Refusal::Forbidden(
            "Credential should be scoped to a valid region.".into(),
        ));
    }
    let callers = shared.iam_callers();
    let caller = callers
        .0
        .get(key)
        .ok_or_else(|| Refusal::Forbidden("The security token included in the request is invalid.".into()))?;
    Ok(json!({
        "accessKey": key,
        "accountId": caller.account_id,
        "callerId": caller.user_id,
        "cognitoIdentity": null,
        "principalOrgId": caller.principal_org_id,
        "userArn": caller.user_arn,
        "userId": caller.user_id,
    }))
}

/// The IAM principals tests act as, by access key id.
#[derive(Default)]
pub(crate) struct IamCallers(HashMap<String, IamCaller>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct IamCaller {
    user_arn: String,
    account_id: String,
    user_id: String,
    principal_org_id: Option<String>,
}

/// `PUT /_twin/iam-callers/{accessKeyId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CallerSetup {
    user_arn: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    principal_org_id: Option<String>,
}

impl IamCaller {
    /// The caller an ARN names; the unique id IAM would give it is made up from the ARN (`AROA…:session`
    /// for a role session, `AIDA…` otherwise) unless the test gives one.
    fn new(setup: CallerSetup) -> Result<Self, String> {
        let parts: Vec<&str> = setup.user_arn.splitn(6, ':').collect();
        let [_, _, _, _, account, resource] = parts[..] else {
            return Err("userArn is not an ARN".into());
        };
        if parts[0] != "arn" || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err("userArn is not an ARN with a 12-digit account".into());
        }
        let made_up = |prefix: &str, of: &str| {
            let hash = Sha256::digest(of.as_bytes());
            let id: String = hash.iter().take(17).map(|b| (b'A' + b % 26) as char).collect();
            format!("{prefix}{id}")
        };
        let user_id = setup.user_id.clone().unwrap_or_else(|| {
            match resource.strip_prefix("assumed-role/").and_then(|r| r.rsplit_once('/')) {
                Some((role, session)) => format!("{}:{session}", made_up("AROA", role)),
                None => made_up("AIDA", resource),
            }
        });
        Ok(Self {
            account_id: account.to_owned(),
            user_arn: setup.user_arn,
            user_id,
            principal_org_id: setup.principal_org_id,
        })
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/iam-callers/{access_key_id}", put(set_up_caller).delete(forget_caller))
}

type St = State<Arc<Shared>>;

async fn set_up_caller(State(s): St, Path(access_key_id): Path<String>, body: Bytes) -> Response {
    let caller = serde_json::from_slice::<CallerSetup>(&body)
        .map_err(|e| e.to_string())
        .and_then(IamCaller::new);
    match caller {
        Ok(caller) => {
            s.iam_callers().0.insert(access_key_id, caller);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response(),
    }
}

async fn forget_caller(State(s): St, Path(access_key_id): Path<String>) -> Response {
    match s.iam_callers().0.remove(&access_key_id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_handoff_paths_are_the_http_apis() {
        assert_eq!(route("/v1/handoffs"), Some(Route::Lambda));
        assert_eq!(route("/v1/openapi.json"), Some(Route::Lambda));
        assert_eq!(route("/iam/v1/handoffs/ho_1"), Some(Route::Iam));
        assert_eq!(route("/v1/whatsapp/send"), None);
        assert_eq!(route("/contact/chat"), None);
        assert_eq!(route("/v1"), None);
    }

    #[test]
    fn text_bodies_are_those_api_gateway_leaves_as_text() {
        for text in [
            "application/json",
            "text/plain; charset=utf-8",
            "Application/XML",
            "application/javascript",
        ] {
            assert!(is_text(Some(text)), "{text}");
        }
        for binary in [
            None,
            Some("application/octet-stream"),
            Some("application/x-www-form-urlencoded"),
            Some("image/png"),
        ] {
            assert!(!is_text(binary), "{binary:?}");
        }
    }

    #[test]
    fn a_plain_json_answer_is_a_200_and_an_unreadable_one_is_refused() {
        let inferred = integration_response(json!({"hello": "world"})).unwrap();
        assert_eq!(inferred.status(), StatusCode::OK);
        assert_eq!(inferred.headers()[CONTENT_TYPE], "application/json");
        assert!(integration_response(json!({"statusCode": "teapot"})).is_none());
        assert!(integration_response(json!({"statusCode": 200, "body": "%%", "isBase64Encoded": true})).is_none());
        assert!(integration_response(json!({"statusCode": 200, "body": {"not": "a string"}})).is_none());
        let cookies = integration_response(json!({"statusCode": 204, "cookies": ["a=1", "b=2"]})).unwrap();
        assert_eq!(cookies.headers().get_all(SET_COOKIE).iter().count(), 2);
    }

    #[test]
    fn a_sigv4_header_gives_its_scope_and_anything_else_a_complaint() {
        let signed = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/execute-api/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={}",
            "a".repeat(64)
        );
        assert_eq!(
            sigv4_scope(&signed, true),
            Ok(["AKIDEXAMPLE", "20250101", "us-east-1", "execute-api"])
        );
        let bearer = sigv4_scope("Bearer wcb_secret", false).unwrap_err();
        assert!(
            bearer.contains("'Credential'") && bearer.contains("'X-Amz-Date'"),
            "{bearer}"
        );
        assert!(!bearer.contains("wcb_secret"));
        let unsigned_host = signed.replace("host;", "");
        assert!(sigv4_scope(&unsigned_host, true).is_err());
    }

    #[test]
    fn a_role_session_gets_a_role_id_with_its_session() {
        let caller = IamCaller::new(CallerSetup {
            user_arn: "arn:aws:sts::111122223333:assumed-role/BotRole/bot-session".into(),
            user_id: None,
            principal_org_id: None,
        })
        .unwrap();
        assert_eq!(caller.account_id, "111122223333");
        assert!(caller.user_id.starts_with("AROA") && caller.user_id.ends_with(":bot-session"));
        let not_an_arn = CallerSetup {
            user_arn: "BotRole".into(),
            user_id: None,
            principal_org_id: None,
        };
        assert!(IamCaller::new(not_an_arn).is_err());
    }
}
