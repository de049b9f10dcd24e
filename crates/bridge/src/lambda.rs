//! Wiring for the two handler binaries: read configuration once, build SDK clients once, serve events.

use crate::aws::AwsClients;
use crate::config::Config;
use crate::inbound::InboundBridge;
use crate::outbound::OutboundBridge;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

pub type Error = lambda_runtime::Error;

async fn setup() -> Result<(Config, AwsClients), Error> {
    crate::telemetry::init();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let clients = AwsClients::from_env().await;
    Ok((config, clients))
}

/// WhatsappHandler: EUM events (SNS) → Connect chats.
pub async fn run_whatsapp_handler() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let bridge = InboundBridge::new(
        config.clone(),
        clients.store(&config),
        clients.contact_center(&config),
        clients.participant(),
    );
    let bridge = &bridge;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        bridge.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}

/// ConnectHandler: Connect chat streaming events (SNS) → WhatsApp.
pub async fn run_connect_handler() -> Result<(), Error> {
    let (config, clients) = setup().await?;
    let bridge = OutboundBridge::new(clients.store(&config), clients.whatsapp(&config));
    let bridge = &bridge;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        bridge.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
