//! API Gateway's HTTP API (payload format 2.0) in the service's terms: the request a route hands the
//! `HandoffApi` function, who it comes from, and the answer it gives back.
//!
//! API Gateway has already authorized the request: on the key routes the Lambda authorizer names the
//! client in its context, on the `/iam` routes AWS names the signing principal, which a client record
//! must name. The function then reads the client's record (a client disabled since, or an IAM caller no
//! client names, is refused 403), counts the request against the client's rate (429 with
//! `Retry-After`), and only then lets the service act, as that client. A request with neither never
//! reaches the service (401), so a route left without authorization by mistake serves nobody.
//!
//! The authorizer itself ([`authorize`]) reads the one client record a key names and answers API
//! Gateway's simple response; a record it cannot read refuses the request (API Gateway does not retry
//! an authorizer).

use super::auth::authorizer::authorize as decide;
use super::auth::store::ClientStore;
use super::auth::{AuthorizerEvent, AuthorizerResponse, Caller, ClientRecord, Denial, RequestAuthorizer, Throttle};
use super::dispatch::DeliveryQueue;
use super::request::{ApiError, RawRequest};
use super::service::{ApiResponse, HandoffService};
use super::store::HandoffStore;
use crate::error::PortError;
use crate::media::ports::{ChatAttachments, WebFiles};
use crate::ports::{ContactCenter, Participant};
use crate::telemetry::now_ms;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine;

/// Where the routes for AWS callers (`AWS_IAM` authorization) sit.
const IAM_PREFIX: &str = "/iam";

/// A request as the function received it, owned, with the client the authorizer named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRequest {
    pub caller: Result<Caller, Denial>,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
    body: Vec<u8>,
}

impl GatewayRequest {
    /// Reads API Gateway's event; a body that claims base64 and is not is a bad request.
    pub fn read(event: &ApiGatewayV2httpRequest) -> Result<Self, ApiError> {
        let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = event.body.as_deref().unwrap_or_default();
        let body = if event.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| ApiError::invalid("body", "is not valid base64"))?
        } else {
            body.as_bytes().to_vec()
        };
        // Read again in the auth domain's terms: the Lambda authorizer's context or the IAM caller.
        let caller = event
            .request_context
            .authorizer
            .as_ref()
            .and_then(|authorizer| serde_json::to_value(authorizer).ok())
            .and_then(|authorizer| serde_json::from_value::<RequestAuthorizer>(authorizer).ok())
            .ok_or(Denial::NoKey)
            .and_then(|authorizer| authorizer.caller());
        let query = event
            .query_string_parameters
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(Self {
            caller,
            method: event.request_context.http.method.as_str().to_owned(),
            // The SigV4 routes are the same API under `/iam` (API Gateway picks the authorization by route).
            path: event
                .raw_path
                .as_deref()
                .map(|path| {
                    path.strip_prefix(IAM_PREFIX)
                        .filter(|p| p.starts_with("/v1/"))
                        .unwrap_or(path)
                })
                .unwrap_or_default()
                .to_owned(),
            query,
            content_type: header("content-type"),
            idempotency_key: header("idempotency-key"),
            body,
        })
    }

    /// The query pairs borrowed, for [`GatewayRequest::raw`].
    pub fn query_pairs(&self) -> Vec<(&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// The request as the service parses it; `query` from [`GatewayRequest::query_pairs`].
    pub fn raw<'a>(&'a self, query: &'a [(&'a str, &'a str)]) -> RawRequest<'a> {
        RawRequest {
            method: &self.method,
            path: &self.path,
            query,
            content_type: self.content_type.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            body: &self.body,
        }
    }
}

/// Serves one API Gateway event: who it is from, their rate, then the service.
pub async fn answer<K, H, C, P, Q, A, F>(
    clients: &K,
    service: &HandoffService<H, C, P, Q, A, F>,
    event: &ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse
where
    K: ClientStore,
    H: HandoffStore,
    C: ContactCenter,
    P: Participant,
    Q: DeliveryQueue,
    A: ChatAttachments,
    F: WebFiles,
{
    let served = match admit(clients, event).await {
        Err(e) => ApiResponse::error(&e),
        Ok((request, record)) => {
            let query = request.query_pairs();
            service.handle(record.id.as_str(), request.raw(&query)).await
        }
    };
    respond(served)
}

/// The request and its client's record, once the client may make it now.
async fn admit<K: ClientStore>(
    clients: &K,
    event: &ApiGatewayV2httpRequest,
) -> Result<(GatewayRequest, ClientRecord), ApiError> {
    let request = GatewayRequest::read(event)?;
    let refused = |denial: Denial| {
        tracing::info!(reason = %denial, "request refused");
        ApiError::from(denial)
    };
    let record = match request.caller.clone().map_err(refused)? {
        Caller::Client(id) => clients
            .load_client(&id)
            .await
            .map_err(unavailable)?
            .ok_or(Denial::UnknownClient),
        // AWS has authenticated the caller: it is known, just no client's.
        Caller::Iam(principal) => clients
            .client_of(&principal)
            .await
            .map_err(unavailable)?
            .ok_or(Denial::UnmappedCaller),
    };
    let record = record.map_err(refused)?;
    if record.disabled {
        return Err(refused(Denial::Disabled));
    }
    match clients.count_request(&record, now_ms().max(0).unsigned_abs()).await {
        Ok(Throttle::Allowed(_)) => Ok((request, record)),
        Ok(limited @ Throttle::Limited { .. }) => Err(limited.into_result().unwrap_err()),
        Err(e) => Err(unavailable(e)),
    }
}

/// The client store could not answer: the bot may retry in a moment.
fn unavailable(e: PortError) -> ApiError {
    tracing::warn!(error = %e, "client store failed");
    ApiError::rate_limited(1)
}

/// The authorizer (`HandoffAuthorizer`): reads the one record the key names and decides, with one log line that names the denial or the
/// client let through, and nothing of the key.
pub async fn authorize(store: &impl ClientStore, event: &AuthorizerEvent, now_ms: u64) -> AuthorizerResponse {
    let request_id = event.request_context.request_id.as_str();
    let record = match event.api_key() {
        Ok(key) => store.load_client(key.client_id()).await,
        // Nothing to read: `authorize` finds the same denial in the headers.
        Err(_) => Ok(None),
    };
    let response = match record {
        Ok(record) => decide(event, record.as_ref(), now_ms),
        Err(e) => {
            tracing::error!(request_id, error = %e, "client store unreadable: request refused");
            // Refused as a key without a record is: the same bare denial.
            return decide(event, None, now_ms);
        }
    };
    match (response.denial(), response.client_id()) {
        (Some(denial), _) => tracing::info!(request_id, denial = ?denial, "request refused"),
        (None, client) => tracing::info!(request_id, client = client.map(|c| c.as_str()), "request authorized"),
    }
    response
}

/// The service's answer as API Gateway returns it, JSON with its extra headers.
pub fn respond(response: ApiResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    if response.body.is_some() {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(response.status);
    answer.headers = headers;
    answer.body = response.body.map(Body::Text);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::auth::ClientId;
    use serde_json::json;

    /// An HTTP API event as the AWS docs show payload format 2.0, after a Lambda authorizer.
    fn event(body: &str, base64: bool) -> ApiGatewayV2httpRequest {
        serde_json::from_value(json!({
            "version": "2.0",
            "routeKey": "ANY /v1/{proxy+}",
            "rawPath": "/v1/handoffs",
            "rawQueryString": "limit=5",
            "headers": {"content-type": "application/json", "idempotency-key": "k-1",
                        "authorization": "Bearer wcb_secret"},
            "queryStringParameters": {"limit": "5"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api-id", "domainName": "id.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "id", "requestId": "id", "routeKey": "ANY /v1/{proxy+}", "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1_583_348_638_390_i64,
                "http": {"method": "POST", "path": "/v1/handoffs", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "agent"},
                "authorizer": {"lambda": {"client_id": "acme-bot"}}
            },
            "body": body,
            "isBase64Encoded": base64
        }))
        .unwrap()
    }

    #[test]
    fn a_request_is_read_with_the_client_the_authorizer_named() {
        let read = GatewayRequest::read(&event("{\"a\":1}", false)).unwrap();
        assert_eq!(read.caller, Ok(Caller::Client(ClientId::parse("acme-bot").unwrap())));
        let query = read.query_pairs();
        let raw = read.raw(&query);
        assert_eq!((raw.method, raw.path), ("POST", "/v1/handoffs"));
        assert_eq!(raw.idempotency_key, Some("k-1"));
        assert_eq!(raw.content_type, Some("application/json"));
        assert_eq!(raw.query, [("limit", "5")]);
        assert_eq!(raw.body, b"{\"a\":1}");

        let mut signed = event("", false);
        signed.raw_path = Some("/iam/v1/handoffs".into());
        assert_eq!(
            GatewayRequest::read(&signed).unwrap().path,
            "/v1/handoffs",
            "the IAM routes"
        );
        signed.raw_path = Some("/iam".into());
        assert_eq!(GatewayRequest::read(&signed).unwrap().path, "/iam");

        let encoded = GatewayRequest::read(&event("eyJhIjoxfQ==", true)).unwrap();
        assert_eq!(encoded.body, b"{\"a\":1}");
        let broken = GatewayRequest::read(&event("not base64!", true)).unwrap_err();
        assert_eq!(broken.status(), 400);
    }

    #[test]
    fn without_an_authorizer_no_client_is_named() {
        let mut unauthorized = event("", false);
        unauthorized.request_context.authorizer = None;
        assert_eq!(GatewayRequest::read(&unauthorized).unwrap().caller, Err(Denial::NoKey));
    }

    #[test]
    fn an_answer_keeps_its_status_headers_and_json_body() {
        let answer = respond(ApiResponse {
            status: 429,
            headers: vec![("Retry-After", "1".to_owned())],
            body: Some("{\"code\":\"rate_limited\"}".to_owned()),
        });
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(wire["statusCode"], 429);
        assert_eq!(wire["headers"]["retry-after"], "1");
        assert_eq!(wire["headers"]["content-type"], "application/json");
        assert_eq!(wire["body"], "{\"code\":\"rate_limited\"}");
    }
}

#[cfg(test)]
mod authorizer_tests {
    use super::{ClientStore, authorize};
    use crate::error::{FailureKind, PortError};
    use crate::fakes::{FakeClientStore, Fault};
    use crate::handoff::auth::{ApiKey, AuthorizerEvent, ClientId, ClientRecord, StoredKey};
    use serde_json::{Value, json};
    use std::num::NonZeroU32;

    const NOW_MS: u64 = 1_796_601_600_000;

    fn event(key: &ApiKey) -> AuthorizerEvent {
        serde_json::from_value(json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/POST/handoffs",
            "routeKey": "POST /handoffs",
            "headers": {"authorization": format!("Bearer {}", key.reveal())},
            "requestContext": {
                "requestId": "req-1",
                "http": {"method": "POST", "path": "/handoffs"},
                "timeEpoch": NOW_MS
            }
        }))
        .unwrap()
    }

    async fn answer(store: &FakeClientStore, key: &ApiKey) -> Value {
        serde_json::to_value(authorize(store, &event(key), NOW_MS).await).unwrap()
    }

    #[tokio::test]
    async fn the_record_the_key_names_decides_and_a_store_failure_refuses() {
        let acme = ClientId::parse("acme-bot").unwrap();
        let key = ApiKey::mint(&acme, &[7; 32]);
        let store = FakeClientStore::default();
        assert_eq!(
            answer(&store, &key).await,
            json!({"isAuthorized": false}),
            "no record yet"
        );
        store
            .put_client(&ClientRecord {
                id: acme,
                keys: vec![StoredKey {
                    hash: key.hash(),
                    created_ms: NOW_MS,
                    expires_ms: None,
                }],
                iam_principals: vec![],
                requests_per_second: NonZeroU32::new(5).unwrap(),
                disabled: false,
            })
            .await
            .unwrap();
        assert_eq!(
            answer(&store, &key).await,
            json!({"isAuthorized": true, "context": {"client_id": "acme-bot"}})
        );
        store.faults().next(
            "load_client",
            Fault::Fail(PortError::new(FailureKind::Transient, "GetItem", "timeout")),
        );
        assert_eq!(answer(&store, &key).await, json!({"isAuthorized": false}));
        assert_eq!(store.faults().calls("load_client"), 3);
    }
}
