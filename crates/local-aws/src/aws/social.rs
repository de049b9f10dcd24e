//! AWS End User Messaging Social operations (SendWhatsAppMessage).
//!
//! The model's constraints are checked first (`validate`), WhatsApp's own rules in `eum` next to
//! the inbound event builder; this adapter records accepted sends so tests can read what the
//! bridge "sent to WhatsApp" at `GET /_twin/whatsapp/sent`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::AwsRequest;
use crate::error::ApiError;
use crate::eum;
use crate::twin::Shared;

pub(crate) fn send_whatsapp_message(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate("socialmessaging", "SendWhatsAppMessage")?;
    let mut sent = eum::send_whatsapp_message(&shared.cfg, &req.body, req.now_ms)?;
    // Media sent by id must be media this account uploaded (PostWhatsAppMessageMedia).
    let kind = sent
        .message
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if matches!(kind.as_str(), "image" | "video" | "audio" | "document" | "sticker") {
        let obj = &sent.message[kind.as_str()];
        if let Some(id) = obj.get("id").and_then(Value::as_str) {
            let media = shared.media();
            let m = media
                .get(id)
                .filter(|m| m.origin == "business")
                .ok_or_else(|| ApiError::validation(format!("{kind}.id {id} is not media uploaded by this account")))?;
            sent.media = Some(m.summary());
        } else if obj.get("link").and_then(Value::as_str).is_none() {
            return Err(ApiError::validation(format!("{kind} needs an id or a link")));
        }
    }
    let id = sent.message_id.clone();
    shared.sent().push(sent);
    Ok(json!({ "messageId": id }))
}
