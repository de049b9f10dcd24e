//! `HandoffApi`'s door (`handoff::gateway::answer`) on the fakes, with API Gateway's events: a request
//! reaches the service as the client API Gateway's authorization names, and only while that client may
//! make it. Unauthorized, unknown, disabled and over-rate callers change nothing.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use bridge::fakes::{FakeAttachments, FakeClientStore, FakeConnect, FakeDeliveryQueue, FakeHandoffStore, FakeWebFiles};
use bridge::handoff::auth::store::ClientStore;
use bridge::handoff::auth::{ClientId, ClientRecord, IamPrincipal};
use bridge::handoff::context::RetellLimits;
use bridge::handoff::gateway::answer;
use bridge::handoff::service::{HandoffPorts, HandoffService, HandoffSettings};
use bridge::rich::split::Limit;
use bridge::rich::text::Unit;
use serde_json::{Value, json};
use std::num::NonZeroU32;

struct Door {
    clients: FakeClientStore,
    handoffs: FakeHandoffStore,
    connect: FakeConnect,
    service:
        HandoffService<FakeHandoffStore, FakeConnect, FakeConnect, FakeDeliveryQueue, FakeAttachments, FakeWebFiles>,
}

impl Door {
    async fn new() -> Self {
        let (handoffs, connect, clients) = Default::default();
        let settings = HandoffSettings {
            contact_flow_id: "handoff-flow".into(),
            bot_name: "Bot".into(),
            retell: RetellLimits::default(),
            text_limit: Limit::new(1024, Unit::Chars),
            loopback_file_urls: false,
        };
        let service = HandoffService::new(
            HandoffPorts {
                store: FakeHandoffStore::clone(&handoffs),
                center: FakeConnect::clone(&connect),
                participant: FakeConnect::clone(&connect),
                queue: FakeDeliveryQueue::default(),
                attachments: FakeAttachments::default(),
                files: FakeWebFiles::default(),
            },
            settings,
        );
        let door = Self {
            clients,
            handoffs,
            connect,
            service,
        };
        door.clients.put_client(&client("acme-bot", 2, false)).await.unwrap();
        door.clients.put_client(&client("paused-bot", 2, true)).await.unwrap();
        door
    }

    async fn answer(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        answer(&self.clients, &self.service, event).await
    }

    /// The statuses of a create's answers, one per call.
    async fn creates(&self, authorizer: Value, path: &str, n: usize) -> Vec<i64> {
        let mut statuses = Vec::new();
        for i in 0..n {
            // Each request a handoff of its own (one key per route and request).
            let route = if path.starts_with("/iam") { "signed" } else { "keyed" };
            let key = format!("{route}-{i}");
            let response = self.answer(&create(authorizer.clone(), path, &key)).await;
            statuses.push(response.status_code);
        }
        statuses
    }
}

fn client(id: &str, rps: u32, disabled: bool) -> ClientRecord {
    ClientRecord {
        id: ClientId::parse(id).unwrap(),
        keys: Vec::new(),
        iam_principals: vec![IamPrincipal::parse(&format!("arn:aws:iam::123456789012:role/{id}")).unwrap()],
        requests_per_second: NonZeroU32::new(rps).unwrap(),
        disabled,
    }
}

/// `POST <path>` creating a handoff, with API Gateway's `authorizer` context.
fn create(authorizer: Value, path: &str, key: &str) -> ApiGatewayV2httpRequest {
    let body = json!({
        "external_conversation_id": "conv-1",
        "user": {"id": "u-1", "name": "Ana"},
        "title": "Refund",
        "description": "Asks for a refund",
    });
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api", "requestId": "r", "routeKey": "ANY /v1/{proxy+}",
        "stage": "$default", "timeEpoch": 1_796_640_000_000_i64,
        "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
    });
    if !authorizer.is_null() {
        context["authorizer"] = authorizer;
    }
    serde_json::from_value(json!({
        "version": "2.0", "routeKey": "ANY /v1/{proxy+}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "idempotency-key": key},
        "requestContext": context, "body": body.to_string(), "isBase64Encoded": false,
    }))
    .unwrap()
}

fn keyed(client: &str) -> Value {
    json!({"lambda": {"client_id": client}})
}

fn signed(role: &str) -> Value {
    json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012", "callerId": "AROA:s",
                   "userArn": format!("arn:aws:sts::123456789012:assumed-role/{role}/session-1"),
                   "userId": "AROA:s"}})
}

#[tokio::test]
async fn a_request_acts_as_the_client_api_gateway_names() {
    let door = Door::new().await;

    assert_eq!(door.creates(keyed("acme-bot"), "/v1/handoffs", 1).await, [202]);
    assert_eq!(door.creates(signed("acme-bot"), "/iam/v1/handoffs", 1).await, [202]);

    let handoffs = door.handoffs.handoffs();
    assert_eq!(handoffs.len(), 2);
    assert!(handoffs.iter().all(|h| h.client == "acme-bot"));
}

#[tokio::test]
async fn callers_without_a_client_that_may_act_change_nothing() {
    let door = Door::new().await;

    assert_eq!(
        door.creates(Value::Null, "/v1/handoffs", 1).await,
        [401],
        "no authorizer"
    );
    assert_eq!(
        door.creates(keyed("gone-bot"), "/v1/handoffs", 1).await,
        [401],
        "unknown client"
    );
    assert_eq!(
        door.creates(keyed("paused-bot"), "/v1/handoffs", 1).await,
        [403],
        "disabled"
    );
    assert_eq!(
        door.creates(signed("some-other-role"), "/iam/v1/handoffs", 1).await,
        [403],
        "a role no client names"
    );

    assert!(door.handoffs.handoffs().is_empty());
    assert!(door.connect.chats().is_empty());
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_when_to_retry() {
    let door = Door::new().await;
    let mut answers = Vec::new();
    // Two a second for this client: five at once span at most two seconds' windows, so at most four
    // go through.
    for i in 0..5 {
        answers.push(
            door.answer(&create(keyed("acme-bot"), "/v1/handoffs", &format!("key-{i}")))
                .await,
        );
    }

    let limited: Vec<_> = answers.iter().filter(|a| a.status_code == 429).collect();
    assert!(
        !limited.is_empty(),
        "{:?}",
        answers.iter().map(|a| a.status_code).collect::<Vec<_>>()
    );
    assert!(limited.iter().all(|a| a.headers["retry-after"] == "1"));
    assert_eq!(
        door.connect.chats().len(),
        5 - limited.len(),
        "a refused request starts nothing"
    );
}
