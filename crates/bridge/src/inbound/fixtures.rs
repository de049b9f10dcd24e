//! Values the inbound stages' unit tests share.

use crate::content_type::TEXT_PLAIN;
use crate::ids::{ConnectionToken, ContactId, ConversationKey, CustomerId, ParticipantToken, PhoneNumberId};
use crate::ports::{ActiveChat, Conversation, ConversationState, Inflight};
use crate::translate::InboundAction;

pub fn conversation(state: ConversationState, activated_ms: i64) -> Conversation {
    Conversation {
        key: ConversationKey::new(
            PhoneNumberId::parse("1055550100").unwrap(),
            CustomerId::parse("14255550150").unwrap(),
        ),
        generation: 1,
        state,
        previous_contact_id: None,
        activated_ms,
        ended_by: None,
        opened_with: None,
    }
}

pub fn active(activated_ms: i64) -> Conversation {
    conversation(
        ConversationState::Active(ActiveChat {
            contact_id: ContactId::parse("contact-1").unwrap(),
            participant_token: ParticipantToken::new("pt"),
            connection_token: ConnectionToken::new("ct"),
            connection_expires_at: i64::MAX,
        }),
        activated_ms,
    )
}

pub fn inflight(tag: &str, timestamp: i64, until_ms: i64) -> Inflight {
    Inflight {
        tag: tag.into(),
        timestamp,
        received_ns: 0,
        until_ms,
    }
}

pub fn send(text: &str) -> InboundAction {
    InboundAction::Send {
        content_type: TEXT_PLAIN.into(),
        content: text.into(),
    }
}
