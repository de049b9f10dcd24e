//! Wiring for the handler binaries: read configuration once, build SDK clients once, serve events.

use crate::aws::AwsClients;
use crate::claims;
use crate::config::Config;
use crate::error::RetryableFailure;
use crate::handoff::gateway;
use crate::handoff::service::{HandoffService, HandoffSettings};
use crate::inbound::InboundBridge;
use crate::media::handler::{MediaBridge, MediaHandler};
use crate::media::service::MediaSettings;
use crate::outbound::OutboundBridge;
use crate::rich::interactive::RenderOptions;
use crate::translate::OutboundRules;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type Error = lambda_runtime::Error;

async fn setup() -> Result<(Config, AwsClients), Error> {
    crate::telemetry::init();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    crate::ids::set_customer_hash_key(&config.customer_hash_key);
    let clients = AwsClients::from_env().await;
    Ok((config, clients))
}

/// The media service, when `MEDIA_BUCKET_NAME` is set (without it, media go as descriptions only).
fn media(config: &Config, clients: &AwsClients) -> Option<Arc<dyn MediaHandler>> {
    let settings = match MediaSettings::from_lookup(|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "media are not bridged");
            return None;
        }
    };
    Some(Arc::new(MediaBridge {
        whatsapp: clients.whatsapp_media(config),
        store: clients.object_store(),
        attachments: clients.chat_attachments(),
        transcriber: clients.transcriber(settings.stream_speed),
        settings,
    }))
}

/// One invocation's work: the bridge's `handle`, boxed so the runtime's future stays shallow (the handlers'
/// nested async state machines otherwise exceed rustc's layout query depth in the binaries).
type Handling<'a> = Pin<Box<dyn Future<Output = Result<(), RetryableFailure>> + Send + 'a>>;

/// Serves events until the runtime stops, each within its Lambda deadline.
async fn serve<'b>(handle: impl Fn(Value) -> Handling<'b>) -> Result<(), Error> {
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        claims::within_deadline(deadline, handle(event.payload))
            .await
            .map_err(Error::from)
    }))
    .await
}

/// WhatsappHandler: EUM events (SNS) → Connect chats.
pub async fn run_whatsapp_handler() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let bridge = InboundBridge::new(
        config.clone(),
        clients.store(&config),
        clients.contact_center(&config),
        clients.participant(),
        clients.whatsapp(&config),
    );
    let bridge = match media(&config, &clients) {
        Some(m) => bridge.with_media(m),
        None => bridge,
    };
    let bridge = &bridge;
    serve(move |event| Box::pin(async move { bridge.handle(&event).await })).await
}

/// ConnectHandler: Connect chat streaming events (SNS) → WhatsApp.
pub async fn run_connect_handler() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let rules = OutboundRules {
        notices: config.notices.clone(),
        render: RenderOptions::default(),
        read_receipts: config.read_receipts,
    };
    let bridge = OutboundBridge::new(
        rules,
        clients.store(&config),
        clients.whatsapp(&config),
        clients.participant(),
    );
    let bridge = match media(&config, &clients) {
        Some(m) => bridge.with_media(m),
        None => bridge,
    };
    let bridge = &bridge;
    serve(move |event| Box::pin(async move { bridge.handle(&event).await })).await
}

/// HandoffApi: the Handoff API's requests (API Gateway HTTP API) → handoffs in Connect. Every request is
/// answered, errors included: a failed invocation would reach the bot as API Gateway's bare 500.
pub async fn run_handoff_api() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let settings = HandoffSettings::from_lookup(|k| std::env::var(k).ok(), config.connect_text_limit)
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let service = HandoffService::new(
        clients.handoff_store(&config),
        clients.contact_center(&config),
        clients.participant(),
        settings,
    );
    let (service, clients) = (&service, &clients.client_store(&config));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            let deadline = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
            let answer = claims::within_deadline(deadline, gateway::answer(clients, service, &event.payload)).await;
            Ok::<_, Error>(answer)
        },
    ))
    .await
}

use crate::handoff::auth::store::ClientStore;
use crate::handoff::auth::{AuthorizerEvent, AuthorizerResponse, authorize};

/// HandoffAuthorizer: API Gateway's Lambda authorizer of the Handoff API's key routes (payload 2.0,
/// simple responses). Every event is answered, a failure included: API Gateway does not retry an
/// authorizer, and would answer a failed invocation 500.
pub async fn run_handoff_authorizer() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let store = clients.client_store(&config);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<AuthorizerEvent>| async move {
        let now_ms = u64::try_from(crate::telemetry::now_ms()).unwrap_or(0);
        Ok::<_, Error>(authorize_request(store, &event.payload, now_ms).await)
    }))
    .await
}

/// Reads the one record the key names and decides, with one log line that names the denial or the
/// client let through, and nothing of the key.
async fn authorize_request(store: &impl ClientStore, event: &AuthorizerEvent, now_ms: u64) -> AuthorizerResponse {
    let request_id = event.request_context.request_id.as_str();
    let record = match event.api_key() {
        Ok(key) => store.load_client(key.client_id()).await,
        // Nothing to read: `authorize` finds the same denial in the headers.
        Err(_) => Ok(None),
    };
    let response = match record {
        Ok(record) => authorize(event, record.as_ref(), now_ms),
        Err(e) => {
            tracing::error!(request_id, error = %e, "client store unreadable: request refused");
            // Refused as a key without a record is: the same bare denial.
            return authorize(event, None, now_ms);
        }
    };
    match (response.denial(), response.client_id()) {
        (Some(denial), _) => tracing::info!(request_id, denial = ?denial, "request refused"),
        (None, client) => tracing::info!(request_id, client = client.map(|c| c.as_str()), "request authorized"),
    }
    response
}

#[cfg(test)]
mod authorizer_tests {
    use super::{ClientStore, authorize_request};
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
        serde_json::to_value(authorize_request(store, &event(key), NOW_MS).await).unwrap()
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
