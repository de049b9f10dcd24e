//! Wiring for the handler binaries: read configuration once, build SDK clients once, serve events.

use crate::aws::{AwsClients, HttpPoster, HttpWebFiles};
use crate::claims;
use crate::config::{Config, HandoffChannel};
use crate::error::RetryableFailure;
use crate::handoff::auth::AuthorizerEvent;
use crate::handoff::dispatch::Dispatcher;
use crate::handoff::gateway;
use crate::handoff::relay::HandoffRelay;
use crate::handoff::service::{HandoffPorts, HandoffService, HandoffSettings};
use crate::inbound::InboundBridge;
use crate::media::handler::{MediaBridge, MediaHandler};
use crate::media::service::MediaSettings;
use crate::outbound::OutboundBridge;
use crate::translate::Rulebook;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
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

/// The media service, when `MEDIA_BUCKET_NAME` is set (without it, media go as descriptions only); a
/// wrong media setting fails the cold start, as the rest of the configuration does.
fn media(config: &Config, clients: &AwsClients) -> Result<Option<Arc<dyn MediaHandler>>, Error> {
    let settings = MediaSettings::if_configured(|k| std::env::var(k).ok())
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let Some(settings) = settings else {
        tracing::info!("MEDIA_BUCKET_NAME is not set: media reach the agent as descriptions only");
        return Ok(None);
    };
    Ok(Some(Arc::new(MediaBridge {
        whatsapp: clients.whatsapp_media(config),
        store: clients.object_store(),
        attachments: clients.chat_attachments(),
        transcriber: clients.transcriber(settings.stream_speed),
        settings,
    })))
}

/// One invocation's work: the bridge's `handle`, boxed so the runtime's future stays shallow (the handlers'
/// nested async state machines otherwise exceed rustc's layout query depth in the binaries).
type Handling<'a> = Pin<Box<dyn Future<Output = Result<(), RetryableFailure>> + Send + 'a>>;

/// The invocation's deadline in epoch ms. Lambda sends the time; `cargo lambda watch` sends 600000, its
/// emulator's ten minutes as a duration, which read as a time would have passed in 1970.
fn deadline_ms(sent: u64, now_ms: i64) -> i64 {
    let sent = i64::try_from(sent).unwrap_or(i64::MAX);
    // No invocation's deadline is before 2001: a smaller value is a duration from now.
    if sent < 1_000_000_000_000 {
        now_ms.saturating_add(sent)
    } else {
        sent
    }
}

/// Serves events until the runtime stops, each within its Lambda deadline.
async fn serve<'b>(handle: impl Fn(Value) -> Handling<'b>) -> Result<(), Error> {
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = deadline_ms(event.context.deadline, crate::telemetry::now_ms());
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
    let bridge = match media(&config, &clients)? {
        Some(m) => bridge.with_media(m),
        None => bridge,
    };
    let bridge = &bridge;
    serve(move |event| Box::pin(async move { bridge.handle(&event).await })).await
}

/// ConnectHandler: Connect chat streaming events (SNS) → WhatsApp.
pub async fn run_connect_handler() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let rules = Rulebook::new(&config.routes, config.read_receipts);
    let bridge = OutboundBridge::new(
        rules,
        clients.store(&config),
        clients.whatsapp(&config),
        clients.participant(),
    );
    let bridge = match media(&config, &clients)? {
        Some(m) => bridge.with_media(m),
        None => bridge,
    };
    // Without the handoff channel's settings, every chat is WhatsApp's.
    let relay = match HandoffChannel::from_lookup(|k| std::env::var(k).ok()) {
        Ok(handoffs) => Some((
            HandoffRelay::new(
                clients.handoff_store(&config),
                clients.delivery_queue(&handoffs),
                clients.chat_attachments(),
            ),
            handoffs.stream_topic_arn,
        )),
        Err(e) => {
            tracing::info!(reason = %e, "handoff chats are not relayed");
            None
        }
    };
    let (bridge, relay) = (&bridge, &relay);
    serve(move |event| {
        Box::pin(async move {
            match relay {
                Some((relay, topic)) if crate::sns::topic_of(&event) == Some(topic.as_str()) => {
                    relay.handle(&event).await
                }
                _ => bridge.handle(&event).await,
            }
        })
    })
    .await
}

/// HandoffApi: the Handoff API's requests (API Gateway HTTP API) → handoffs in Connect. Every request is
/// answered, errors included: a failed invocation would reach the bot as API Gateway's bare 500.
pub async fn run_handoff_api() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let settings = HandoffSettings::from_lookup(|k| std::env::var(k).ok(), config.connect_text_limit)
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let handoffs = HandoffChannel::from_lookup(|k| std::env::var(k).ok())
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let service = HandoffService::new(
        HandoffPorts {
            store: clients.handoff_store(&config),
            center: clients.handoff_center(&config, &handoffs),
            participant: clients.participant(),
            queue: clients.delivery_queue(&handoffs),
            attachments: clients.chat_attachments(),
            files: HttpWebFiles::new(),
        },
        settings,
    );
    let (service, clients) = (&service, &clients.client_store(&config));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            let deadline = deadline_ms(event.context.deadline, crate::telemetry::now_ms());
            let answer = claims::within_deadline(deadline, gateway::answer(clients, service, &event.payload)).await;
            Ok::<_, Error>(answer)
        },
    ))
    .await
}

/// HandoffAuthorizer: API Gateway's Lambda authorizer of the Handoff API's key routes (payload 2.0,
/// simple responses). Every event is answered, a failure included: API Gateway does not retry an
/// authorizer, and would answer a failed invocation 500.
pub async fn run_handoff_authorizer() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let store = clients.client_store(&config);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<AuthorizerEvent>| async move {
        let now_ms = u64::try_from(crate::telemetry::now_ms()).unwrap_or(0);
        Ok::<_, Error>(gateway::authorize(store, &event.payload, now_ms).await)
    }))
    .await
}

/// WebhookSender: the delivery queue's kicks (SQS, partial batch responses) → each handoff's events to
/// its client's webhook. A kick that fails is reported on its own, so SQS offers it again after its
/// visibility timeout and the batch's others are not repeated.
pub async fn run_webhook_sender() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let handoffs = HandoffChannel::from_lookup(|k| std::env::var(k).ok())
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let dispatcher = Dispatcher {
        outbox: clients.handoff_store(&config),
        endpoints: clients.client_store(&config),
        poster: HttpPoster::new()?,
        queue: clients.delivery_queue(&handoffs),
    };
    let dispatcher = &dispatcher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline_ms(event.context.deadline, crate::telemetry::now_ms());
        let answer = claims::within_deadline(deadline, crate::handoff::kicks::serve(dispatcher, &event.payload)).await;
        Ok::<_, Error>(answer)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::deadline_ms;

    #[test]
    fn a_deadline_before_2001_is_a_duration_from_now() {
        let now = 1_800_000_000_000;
        // cargo lambda watch's constant.
        assert_eq!(deadline_ms(600_000, now), now + 600_000);
        // Lambda's: a time, kept.
        assert_eq!(deadline_ms(1_800_000_030_000, now), 1_800_000_030_000);
        assert_eq!(deadline_ms(u64::MAX, now), i64::MAX);
    }
}
