//! WhatsApp statuses of what the bridge sent: `delivered` and `read` become Connect receipts on the item
//! they came from, `failed` a note to the agent naming it. Statuses never open a chat.

use super::InboundBridge;
use crate::content_type::{DELIVERED_EVENT, READ_EVENT, TEXT_PLAIN};
use crate::ids::{ContactId, ConversationKey, short_hash};
use crate::ports::{ContactCenter, ConversationState, Participant, PortResult, StateStore, Whatsapp};
use crate::rich::render;
use crate::rounds::behind;
use crate::whatsapp::StatusUpdate;

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// A status of a message the bridge sent: `delivered`/`read` become Connect receipts on the item it
    /// came from, `failed` a note to the agent naming it. Statuses never open a chat.
    pub(super) async fn status(
        &self,
        key: &ConversationKey,
        status: &StatusUpdate,
    ) -> PortResult<(&'static str, Option<ContactId>)> {
        let event = match status.status.as_str() {
            "delivered" => Some(DELIVERED_EVENT),
            "read" => Some(READ_EVENT),
            "failed" => None,
            _ => return Ok(("status_not_bridged", None)),
        };
        let (sent, view) = tokio::join!(
            self.store.load_sent(status.wamid.as_str()),
            behind(self.store.load_conversation(key))
        );
        let Some(sent) = sent? else {
            return Ok(("status_unknown_message", None));
        };
        let chat = match view?.conversation.map(|c| c.state) {
            Some(ConversationState::Active(chat)) if chat.contact_id == sent.contact_id => chat,
            _ => return Ok(("status_chat_over", Some(sent.contact_id))),
        };
        let chat = self.fresh(key, &chat).await?;
        // Same status again (SNS redelivery) → same token → Connect records it once.
        let client_token = short_hash(&format!("{}#{}", status.wamid, status.status));
        let result = match event {
            Some(content_type) => {
                let content = serde_json::json!({ "messageId": sent.item_id.as_str() }).to_string();
                self.participant
                    .send_event(&chat.connection_token, content_type, &content, &client_token)
                    .await
            }
            None => {
                let note = render::delivery_failure(&self.route(key).wording, &status.errors, Some(&sent.summary));
                self.participant
                    .send_message(&chat.connection_token, TEXT_PLAIN, &note, &client_token)
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) if event.is_some() => Ok(("receipt_delivered", Some(chat.contact_id))),
            Ok(()) => Ok(("failure_reported", Some(chat.contact_id))),
            Err(e) if e.is_chat_gone() => Ok(("status_chat_over", Some(chat.contact_id))),
            Err(e) => Err(e),
        }
    }
}
