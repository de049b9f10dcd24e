//! Keeping a chat's connection token usable, for both handlers.
//!
//! The connection token (what SendMessage and GetAttachment authenticate with) expires a day after it
//! was created, and Connect may refuse one before that; the participant token it came from lives as
//! long as the chat. So a token about to expire, or one Connect refused, is replaced by a new
//! connection made with the participant token, and the conversation keeps the new one for the next
//! invocation. Only when that fails too is the chat really gone.

use crate::ids::ConversationKey;
use crate::ports::{ActiveChat, Participant, PortResult, StateStore};
use crate::telemetry::now_ms;

/// A token this close to its expiry (seconds) is replaced before use rather than risked.
const TOKEN_MARGIN_S: i64 = 60;

/// Whether the chat's connection token can be used as it is.
pub fn is_fresh(chat: &ActiveChat) -> bool {
    chat.connection_expires_at > now_ms() / 1000 + TOKEN_MARGIN_S
}

/// The chat with a new connection token, stored on the conversation.
pub async fn reconnect<S: StateStore, P: Participant>(
    store: &S,
    participant: &P,
    key: &ConversationKey,
    chat: &ActiveChat,
) -> PortResult<ActiveChat> {
    let connection = participant.connect(&chat.participant_token).await?;
    let chat = ActiveChat {
        connection_token: connection.connection_token,
        connection_expires_at: connection.expires_at,
        ..chat.clone()
    };
    store.update_connection(key, &chat).await?;
    Ok(chat)
}

/// The chat with a connection token that is not about to expire.
pub async fn fresh<S: StateStore, P: Participant>(
    store: &S,
    participant: &P,
    key: &ConversationKey,
    chat: &ActiveChat,
) -> PortResult<ActiveChat> {
    if is_fresh(chat) {
        Ok(chat.clone())
    } else {
        reconnect(store, participant, key, chat).await
    }
}
