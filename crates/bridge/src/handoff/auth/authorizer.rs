//! The Lambda authorizer's wire types and decision, and how the API function reads the outcome.
//!
//! API Gateway (HTTP API, authorizer payload format 2.0, simple responses enabled) sends the authorizer
//! an [`AuthorizerEvent`] per request and expects `{"isAuthorized": bool, "context": {...}}` back
//! ([`AuthorizerResponse`]); the context reaches the API function as `requestContext.authorizer.lambda`
//! ([`RequestAuthorizer`]). The context carries the client id and nothing else: never the key, its hash,
//! or anything of the record.
//!
//! Only the fields read are modelled, and only `version: "2.0"` with `type: "REQUEST"` deserialises: an
//! authorizer configured with payload 1.0 (whose response is an IAM policy) fails on its first event
//! instead of answering in a format API Gateway would misread. Unknown fields are ignored, as AWS adds them.
//!
//! Deployment consequences, from the API Gateway developer guide: identity sources are all required, so
//! with a key accepted in either of two headers none is configured; and without one, API Gateway caches
//! no authorizer result (caching needs an identity source), so a rotation, a revocation or a disabled
//! client takes effect on the next request. A denial is answered 403 by API Gateway itself, whatever the
//! [`Denial`]; the denial kind is kept on the response for the authorizer's log line and metrics.
//!
//! Written here rather than taken from `aws_lambda_events`: its `apigw` types would bring `http`,
//! `http-serde` and `query_map` into the pure domain's build for the handful of fields read.

use super::iam::{IamIdentity, IamPrincipal};
use super::key::{API_KEY_HEADER, AUTHORIZATION_HEADER, ApiKey};
use super::{ClientId, ClientRecord, Denial};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The event API Gateway sends the authorizer (payload format 2.0). It has no `Debug`: its headers hold
/// the key.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerEvent {
    pub version: PayloadVersion,
    #[serde(rename = "type")]
    pub kind: AuthorizerType,
    /// `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path>`.
    pub route_arn: String,
    /// The configured identity sources' values; absent or null when none is configured.
    #[serde(default)]
    pub identity_source: Option<Vec<String>>,
    pub route_key: String,
    /// Lowercase names; repeated headers are joined with commas.
    #[serde(default)]
    headers: Option<HashMap<String, String>>,
    pub request_context: AuthorizerRequestContext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PayloadVersion {
    #[serde(rename = "2.0")]
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthorizerType {
    Request,
}

/// The part of `requestContext` worth a log line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRequestContext {
    pub request_id: String,
    pub http: HttpContext,
    /// Epoch ms API Gateway received the request.
    pub time_epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HttpContext {
    pub method: String,
    pub path: String,
}

impl AuthorizerEvent {
    /// The key the request presents; its client id is the record the store should read for
    /// [`authorize`].
    pub fn api_key(&self) -> Result<ApiKey, Denial> {
        ApiKey::from_headers(self.header(AUTHORIZATION_HEADER), self.header(API_KEY_HEADER))
    }

    /// Looked up without regard to case: payload 2.0 lowercases names, but the guide's own examples
    /// have not always, and a key must not be missed over it.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .flatten()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The simple response: whether the request may go on, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<AuthorizerContext>,
    #[serde(skip)]
    denial: Option<Denial>,
}

impl AuthorizerResponse {
    pub fn is_authorized(&self) -> bool {
        self.is_authorized
    }

    /// The client let through.
    pub fn client_id(&self) -> Option<&ClientId> {
        self.context.as_ref().map(|context| &context.client_id)
    }

    /// Why the request was refused, for the log line; never sent.
    pub fn denial(&self) -> Option<Denial> {
        self.denial
    }
}

/// What the authorizer passes on to the API function, and all it passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerContext {
    pub client_id: ClientId,
}

/// Decides a request: its key must name `record`'s client (the record the store found for
/// [`AuthorizerEvent::api_key`]'s client id, `None` if there was none) and be admitted by it at `now_ms`.
pub fn authorize(event: &AuthorizerEvent, record: Option<&ClientRecord>, now_ms: u64) -> AuthorizerResponse {
    let decision = event.api_key().and_then(|key| {
        // A record for another client than the key names is refused like a missing one, so a lookup
        // mistake can never let one client's key in as another.
        let record = record
            .filter(|record| record.id == *key.client_id())
            .ok_or(Denial::UnknownClient)?;
        record.admits(&key.hash(), now_ms)?;
        Ok(record.id.clone())
    });
    match decision {
        Ok(client_id) => AuthorizerResponse {
            is_authorized: true,
            context: Some(AuthorizerContext { client_id }),
            denial: None,
        },
        Err(denial) => AuthorizerResponse {
            is_authorized: false,
            context: None,
            denial: Some(denial),
        },
    }
}

/// `requestContext.authorizer` of the API function's event (payload 2.0): `lambda` on the key routes,
/// `iam` on the `AWS_IAM` routes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestAuthorizer {
    #[serde(default)]
    pub lambda: Option<AuthorizerContext>,
    #[serde(default)]
    pub iam: Option<IamIdentity>,
}

/// Who a request that passed API Gateway's authorization is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A client the Lambda authorizer let through with its key.
    Client(ClientId),
    /// An IAM principal, still to be found in a client record ([`ClientRecord::admits_caller`]).
    Iam(IamPrincipal),
}

impl RequestAuthorizer {
    /// The caller, or a denial when the route's authorization left none (a route deployed without an
    /// authorizer) or an unusable one. Both at once cannot come from one route and are refused.
    pub fn caller(&self) -> Result<Caller, Denial> {
        match (&self.lambda, &self.iam) {
            (Some(context), None) => Ok(Caller::Client(context.client_id.clone())),
            (None, Some(iam)) => iam.caller().map(Caller::Iam).ok_or(Denial::UnmappedCaller),
            _ => Err(Denial::NoKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::StoredKey;
    use super::*;
    use serde_json::{Value, json};
    use std::num::NonZeroU32;

    const NOW_MS: u64 = 1_796_640_000_000;

    /// The payload 2.0 example of the developer guide's "Working with AWS Lambda authorizers for HTTP
    /// APIs" (`http-api-lambda-authorizer`), as published.
    const GUIDE_EVENT: &str = r#"{
      "version": "2.0",
      "type": "REQUEST",
      "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
      "identitySource": ["user1", "123"],
      "routeKey": "$default",
      "rawPath": "/my/path",
      "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
      "cookies": ["cookie1", "cookie2"],
      "headers": {
        "header1": "value1",
        "header2": "value2"
      },
      "queryStringParameters": {
        "parameter1": "value1,value2",
        "parameter2": "value"
      },
      "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "authentication": {
          "clientCert": {
            "clientCertPem": "CERT_CONTENT",
            "subjectDN": "www.example.com",
            "issuerDN": "Example issuer",
            "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
            "validity": {
              "notBefore": "May 28 12:30:02 2019 GMT",
              "notAfter": "Aug  5 09:36:04 2021 GMT"
            }
          }
        },
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
          "method": "POST",
          "path": "/my/path",
          "protocol": "HTTP/1.1",
          "sourceIp": "IP",
          "userAgent": "agent"
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390
      },
      "pathParameters": { "parameter1": "value1" },
      "stageVariables": { "stageVariable1": "value1", "stageVariable2": "value2" }
    }"#;

    fn acme() -> ClientId {
        ClientId::parse("acme-bot").unwrap()
    }

    fn key(byte: u8) -> ApiKey {
        ApiKey::mint(&acme(), &[byte; 32])
    }

    fn record() -> ClientRecord {
        ClientRecord {
            id: acme(),
            keys: vec![StoredKey {
                hash: key(1).hash(),
                created_ms: NOW_MS - 1000,
                expires_ms: None,
            }],
            iam_principals: vec![],
            requests_per_second: NonZeroU32::new(5).unwrap(),
            disabled: false,
        }
    }

    /// The guide's event with `headers` replaced.
    fn event_with(headers: Value) -> AuthorizerEvent {
        let mut event: Value = serde_json::from_str(GUIDE_EVENT).unwrap();
        event["headers"] = headers;
        serde_json::from_value(event).unwrap()
    }

    fn bearer(key: &ApiKey) -> AuthorizerEvent {
        event_with(json!({"authorization": format!("Bearer {}", key.reveal()), "accept": "*/*"}))
    }

    #[test]
    fn the_guides_event_parses_and_without_a_key_is_denied() {
        let event: AuthorizerEvent = serde_json::from_str(GUIDE_EVENT).unwrap();
        assert_eq!(
            (event.version, event.kind),
            (PayloadVersion::V2, AuthorizerType::Request)
        );
        assert_eq!(event.route_key, "$default");
        assert_eq!(event.request_context.request_id, "id");
        assert_eq!(event.request_context.time_epoch, 1_583_348_638_390);
        assert_eq!(event.request_context.http.method, "POST");
        assert_eq!(
            event.identity_source.as_deref(),
            Some(&["user1".to_owned(), "123".to_owned()][..])
        );
        let response = authorize(&event, None, NOW_MS);
        assert_eq!(response.denial(), Some(Denial::NoKey));
        assert_eq!(serde_json::to_value(&response).unwrap(), json!({"isAuthorized": false}));
    }

    #[test]
    fn null_or_missing_maps_and_identity_sources_are_accepted() {
        let mut event: Value = serde_json::from_str(GUIDE_EVENT).unwrap();
        event["headers"] = Value::Null;
        event["queryStringParameters"] = Value::Null;
        event.as_object_mut().unwrap().remove("identitySource");
        let event: AuthorizerEvent = serde_json::from_value(event).unwrap();
        assert_eq!(event.identity_source, None);
        assert_eq!(event.api_key().err(), Some(Denial::NoKey));
    }

    #[test]
    fn only_payload_2_request_events_parse() {
        for (field, value) in [
            ("version", json!("1.0")),
            ("type", json!("TOKEN")),
            ("routeArn", Value::Null),
        ] {
            let mut event: Value = serde_json::from_str(GUIDE_EVENT).unwrap();
            event[field] = value;
            assert!(serde_json::from_value::<AuthorizerEvent>(event).is_err(), "{field}");
        }
        // The guide's payload 1.0 example: `methodArn` where 2.0 has `routeArn`, `identitySource` a string.
        let v1 = json!({
            "version": "1.0",
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
            "identitySource": "user1,123",
            "authorizationToken": "user1,123",
            "resource": "/request",
            "path": "/request",
            "httpMethod": "GET",
            "headers": {"X-AMZ-Date": "20170718T062915Z", "Accept": "*/*"},
            "requestContext": {"path": "/request", "accountId": "123456789012", "stage": "test"}
        });
        assert!(serde_json::from_value::<AuthorizerEvent>(v1).is_err());
    }

    #[test]
    fn a_clients_key_lets_it_through_with_only_its_id_in_the_context() {
        let response = authorize(&bearer(&key(1)), Some(&record()), NOW_MS);
        assert!(response.is_authorized());
        assert_eq!(response.client_id(), Some(&acme()));
        let wire = serde_json::to_string(&response).unwrap();
        assert_eq!(wire, r#"{"isAuthorized":true,"context":{"client_id":"acme-bot"}}"#);
        assert!(!wire.contains(&key(1).reveal()[13..]) && !wire.contains(&key(1).hash().to_hex()));

        let bare = event_with(json!({"X-Api-Key": key(1).reveal()}));
        assert_eq!(authorize(&bare, Some(&record()), NOW_MS).client_id(), Some(&acme()));
        let capitalised = event_with(json!({"Authorization": format!("Bearer {}", key(1).reveal())}));
        assert!(authorize(&capitalised, Some(&record()), NOW_MS).is_authorized());
    }

    #[test]
    fn every_refusal_is_a_bare_denial_with_its_reason_kept_aside() {
        let other_client = ApiKey::mint(&ClientId::parse("other-bot").unwrap(), &[1; 32]);
        let mut expired = record();
        expired.rotate(key(2).hash(), NOW_MS - 10, 5);
        let disabled = ClientRecord {
            disabled: true,
            ..record()
        };
        let repeated = event_with(json!({
            "authorization": format!("Bearer {}, Bearer {}", key(1).reveal(), key(2).reveal())
        }));
        let cases = [
            (bearer(&key(1)), None, Denial::UnknownClient),
            (bearer(&other_client), Some(record()), Denial::UnknownClient),
            (bearer(&key(2)), Some(record()), Denial::WrongKey),
            (bearer(&key(1)), Some(expired), Denial::Expired),
            (bearer(&key(1)), Some(disabled), Denial::Disabled),
            (repeated, Some(record()), Denial::Malformed),
            (
                event_with(json!({"authorization": "Basic YWxhZGRpbjpvcGVu"})),
                Some(record()),
                Denial::Malformed,
            ),
        ];
        for (event, record, denial) in cases {
            let response = authorize(&event, record.as_ref(), NOW_MS);
            assert_eq!(response.denial(), Some(denial));
            assert_eq!(response.client_id(), None);
            assert_eq!(serde_json::to_value(&response).unwrap(), json!({"isAuthorized": false}));
        }
    }

    #[test]
    fn the_api_function_reads_its_caller_from_the_request_authorizer() {
        // `requestContext.authorizer` of the function's event: the authorizer's context under `lambda`.
        let from_key: RequestAuthorizer = serde_json::from_value(json!({"lambda": {"client_id": "acme-bot"}})).unwrap();
        assert_eq!(from_key.caller(), Ok(Caller::Client(acme())));
        assert!(serde_json::from_value::<RequestAuthorizer>(json!({"lambda": {"client_id": "ACME"}})).is_err());

        let iam = |user_arn: &str| json!({"iam": {"accountId": "123456789012", "userArn": user_arn}});
        let from_role: RequestAuthorizer =
            serde_json::from_value(iam("arn:aws:sts::123456789012:assumed-role/Bot/s")).unwrap();
        let role = IamPrincipal::parse("arn:aws:iam::123456789012:role/Bot").unwrap();
        assert_eq!(from_role.caller(), Ok(Caller::Iam(role)));
        let from_root: RequestAuthorizer = serde_json::from_value(iam("arn:aws:iam::123456789012:root")).unwrap();
        assert_eq!(from_root.caller(), Err(Denial::UnmappedCaller));

        let nobody: RequestAuthorizer = serde_json::from_value(json!({})).unwrap();
        assert_eq!(nobody.caller(), Err(Denial::NoKey));
        let both = RequestAuthorizer {
            lambda: from_key.lambda,
            iam: from_role.iam,
        };
        assert_eq!(both.caller(), Err(Denial::NoKey));
    }
}
