//! Wiring for the two handler binaries: read configuration once, build SDK clients once, serve events.

use crate::aws::AwsClients;
use crate::config::Config;
use crate::inbound::InboundBridge;
use crate::outbound::OutboundBridge;
use crate::rich::interactive::RenderOptions;
use crate::translate::OutboundRules;
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
        clients.whatsapp(&config),
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
    let rules = OutboundRules {
        notices: config.notices.clone(),
        render: RenderOptions::default(),
    };
    let bridge = OutboundBridge::new(rules, clients.store(&config), clients.whatsapp(&config));
    let bridge = &bridge;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        bridge.handle(&event.payload).await.map_err(Error::from)
    }))
    .await
}
