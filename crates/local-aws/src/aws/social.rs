//! AWS End User Messaging Social operations (SendWhatsAppMessage).
//!
//! Validation lives in `eum` next to the inbound event builder; this adapter records accepted
//! sends so tests can read what the bridge "sent to WhatsApp" at `GET /_twin/whatsapp/sent`.

use std::sync::Arc;

use serde_json::{Value, json};

use super::AwsRequest;
use crate::error::ApiError;
use crate::eum;
use crate::twin::Shared;

pub(crate) fn send_whatsapp_message(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    let sent = eum::send_whatsapp_message(&shared.cfg, &req.body, req.now_ms)?;
    let id = sent.message_id.clone();
    shared.sent().push(sent);
    Ok(json!({ "messageId": id }))
}
