//! AWS End User Messaging Social: sending Meta message objects to WhatsApp.

use super::{Boxed, classify, missing};
use crate::ids::OriginationId;
use crate::ports::{PortResult, Whatsapp};
use crate::whatsapp::{OutgoingMessage, read_mark_json};
use aws_sdk_socialmessaging::primitives::Blob;

pub struct EumSender {
    client: aws_sdk_socialmessaging::Client,
    meta_api_version: String,
}

impl EumSender {
    pub fn new(client: aws_sdk_socialmessaging::Client, meta_api_version: String) -> Self {
        Self {
            client,
            meta_api_version,
        }
    }
}

impl Whatsapp for EumSender {
    async fn send(&self, from: &OriginationId, message: &OutgoingMessage) -> PortResult<String> {
        const OP: &str = "SendWhatsAppMessage";
        let out = self
            .client
            .send_whats_app_message()
            .origination_phone_number_id(from.as_str())
            .message(Blob::new(message.to_json()))
            .meta_api_version(&self.meta_api_version)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        out.message_id()
            .map(str::to_owned)
            .ok_or_else(|| missing(OP, "messageId"))
    }

    async fn mark_read(&self, from: &OriginationId, wamid: &str, typing: bool) -> PortResult<()> {
        const OP: &str = "SendWhatsAppMessage";
        self.client
            .send_whats_app_message()
            .origination_phone_number_id(from.as_str())
            .message(Blob::new(read_mark_json(wamid, typing)))
            .meta_api_version(&self.meta_api_version)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        Ok(())
    }
}
