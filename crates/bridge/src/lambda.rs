//! Wiring for the two handler binaries: read configuration once, build SDK clients once, serve events.

use crate::aws::AwsClients;
use crate::claims;
use crate::config::Config;
use crate::error::RetryableFailure;
use crate::inbound::InboundBridge;
use crate::media::handler::{MediaBridge, MediaHandler};
use crate::media::service::MediaSettings;
use crate::outbound::OutboundBridge;
use crate::rich::interactive::RenderOptions;
use crate::translate::OutboundRules;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type Error = lambda_runtime::Error;

async fn setup() -> Result<(Config, AwsClients), Error> {
    keep_freed_heap();
    crate::telemetry::init();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let clients = AwsClients::from_env().await;
    Ok((config, clients))
}

/// Keeps the heap glibc has grown instead of handing its top back after each event. Every event
/// allocates and frees the same few hundred KB (SDK requests and responses, the contact item), and by
/// default glibc trims the freed top at 128 KB and faults the pages in again on the next event. In
/// `docs/performance.md`'s A/B runs (this threshold with a top pad, through `GLIBC_TUNABLES`)
/// ConnectHandler spent 10–17 % less CPU per event. Allocations from 128 KB up (media) are mapped and
/// unmapped on their own, so a 16 MB file's memory is still returned. Returns whether glibc took the
/// setting (always `false` off glibc, where there is nothing to tune).
fn keep_freed_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters, under glibc's own lock; no memory is touched.
        unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
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

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_heap_settings() {
        assert!(super::keep_freed_heap());
    }
}
