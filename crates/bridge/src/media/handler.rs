//! The media service behind one object-safe interface, so the handlers' services can hold it as an
//! optional `Arc<dyn MediaHandler>` without growing more type parameters.

use super::ports::{BoxFuture, ChatAttachments, ObjectStore, Transcriber, WhatsappMedia};
use super::service::{InboundOutcome, InboundRequest, MediaService, MediaSettings, OutboundOutcome, OutboundRequest};
use crate::ports::PortResult;

pub trait MediaHandler: Send + Sync {
    fn settings(&self) -> &MediaSettings;
    fn inbound<'a>(&'a self, req: InboundRequest<'a>) -> BoxFuture<'a, PortResult<InboundOutcome>>;
    fn outbound<'a>(&'a self, req: OutboundRequest<'a>) -> BoxFuture<'a, PortResult<OutboundOutcome>>;
}

/// Owns the adapters the media service borrows.
pub struct MediaBridge<W, S, A, T> {
    pub whatsapp: W,
    pub store: S,
    pub attachments: A,
    pub transcriber: T,
    pub settings: MediaSettings,
}

impl<W, S, A, T> MediaBridge<W, S, A, T>
where
    W: WhatsappMedia,
    S: ObjectStore,
    A: ChatAttachments,
    T: Transcriber,
{
    fn service(&self) -> MediaService<'_, W, S, A, T> {
        MediaService {
            whatsapp: &self.whatsapp,
            store: &self.store,
            attachments: &self.attachments,
            transcriber: &self.transcriber,
            settings: &self.settings,
        }
    }
}

impl<W, S, A, T> MediaHandler for MediaBridge<W, S, A, T>
where
    W: WhatsappMedia,
    S: ObjectStore,
    A: ChatAttachments,
    T: Transcriber,
{
    fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    fn inbound<'a>(&'a self, req: InboundRequest<'a>) -> BoxFuture<'a, PortResult<InboundOutcome>> {
        Box::pin(async move { self.service().deliver_inbound(req).await })
    }

    fn outbound<'a>(&'a self, req: OutboundRequest<'a>) -> BoxFuture<'a, PortResult<OutboundOutcome>> {
        Box::pin(async move { self.service().deliver_outbound(req).await })
    }
}
