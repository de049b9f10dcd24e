//! Sending into the chat: the message goes into the conversation's chat (started if need be, replaced
//! when it turns out to be over), as one or more `SendMessage`s whose client tokens make a resend harmless,
//! reconnecting with the participant token when the connection token is refused.

use super::InboundBridge;
use super::claimed::Claimed;
use crate::connection;
use crate::content_type::{TEXT_MARKDOWN, TEXT_PLAIN, TYPING_EVENT};
use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ConversationKey, short_hash};
use crate::ports::{ActiveChat, ContactCenter, ConversationView, Participant, PortResult, StateStore, Whatsapp};
use crate::translate::connect_parts;
use crate::whatsapp::{Content, CustomerMessage};

/// Where a message went.
pub(super) struct Delivered {
    pub(super) contact_id: ContactId,
    /// It started the chat.
    pub(super) opened: bool,
}

/// The `SendMessage` client token of a customer message in one chat: the same whichever path sends it,
/// so Connect deduplicates a replay; scoped to the contact, so a resend into a replacement chat is not
/// deduplicated away.
pub(super) fn message_token(message: &CustomerMessage, contact_id: &ContactId) -> String {
    short_hash(&format!("{}#{}", message.wamid, contact_id))
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// Sends the message into the conversation's chat, starting one if needed.
    pub(super) async fn deliver(
        &self,
        claimed: &Claimed<'_>,
        (content_type, content): (&str, &str),
        mut view: ConversationView,
    ) -> PortResult<Delivered> {
        let (key, me, message) = (claimed.key, claimed.me, claimed.message);
        let parts = connect_parts(content_type, content, self.config.connect_text_limit);
        // A text can start the chat it needs, in it when the start returns; a file's description cannot:
        // the file follows it.
        let is_text =
            [TEXT_PLAIN, TEXT_MARKDOWN].contains(&content_type) && !matches!(message.content, Content::Media(_));
        let initial = parts
            .first()
            .filter(|_| is_text)
            .map(|first| (content_type, first.as_str()));
        // Twice at most: the chat we knew, then the one we open when it turns out to be over.
        for _ in 0..3 {
            let ready = self.ensure_chat(claimed, std::mem::take(&mut view), initial).await?;
            let (chat, opened) = (ready.chat, ready.opened);
            // In since the start: the rest follows at once, before any later message.
            let first_in = initial.is_some_and(|(_, first)| ready.opened_with.is_some_and(|o| o.holds(&me.tag, first)));
            if ready.after_start && !first_in {
                // Messages that arrived while the chat was starting have registered by now; the
                // earliest goes first, whichever of them happened to start the chat.
                let view = match ready.view {
                    Some(view) => view,
                    None => self.store.load_conversation(key).await?,
                };
                self.wait_for_turn(key, me, view).await?;
            }
            let client_token = message_token(message, &chat.contact_id);
            let sent = if parts.is_empty() && !opened {
                self.touch(key, &chat, &client_token).await
            } else {
                self.send(key, &chat, content_type, content, &client_token, usize::from(first_in))
                    .await
            };
            match sent {
                Ok(()) => {
                    return Ok(Delivered {
                        contact_id: chat.contact_id,
                        opened,
                    });
                }
                Err(e) if e.is_chat_gone() => {
                    tracing::info!(contact_id = %chat.contact_id, "chat is over; opening a new one");
                    self.store
                        .mark_ended(key, &chat.contact_id, message.wamid.as_str())
                        .await?;
                    view = self.store.load_conversation(key).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(PortError::new(
            FailureKind::Transient,
            "SendMessage",
            "every chat opened for the message ended before it could be delivered",
        ))
    }

    /// Nothing to say (a voice note whose transcript will be the customer's words) into a chat opened
    /// before: a typing event finds out whether it is still there, as a description's SendMessage would,
    /// so a chat that ended meanwhile is replaced here rather than when its file is attached; the agent
    /// sees the customer typing, which they were, in a way.
    async fn touch(&self, key: &ConversationKey, chat: &ActiveChat, client_token: &str) -> PortResult<()> {
        let fresh = connection::is_fresh(chat);
        let chat = if fresh {
            chat.clone()
        } else {
            self.reconnect(key, chat).await?
        };
        let typing = |chat: ActiveChat| async move {
            self.participant
                .send_event(&chat.connection_token, TYPING_EVENT, "", client_token)
                .await
        };
        match typing(chat.clone()).await {
            Err(e) if e.is_chat_gone() && fresh => typing(self.reconnect(key, &chat).await?).await,
            other => other,
        }
    }

    /// Sends with the stored connection token, reconnecting once with the participant token if needed.
    /// A text longer than Connect accepts goes as several messages, each with its own client token, so a
    /// retry after a partial send completes the message without repeating the parts already in; the
    /// first `skip` are in already (the chat was started with them).
    pub(super) async fn send(
        &self,
        key: &ConversationKey,
        chat: &ActiveChat,
        content_type: &str,
        content: &str,
        client_token: &str,
        skip: usize,
    ) -> PortResult<()> {
        let parts = connect_parts(content_type, content, self.config.connect_text_limit);
        if parts.len() <= skip {
            return Ok(());
        }
        let fresh = connection::is_fresh(chat);
        let mut chat = if fresh {
            chat.clone()
        } else {
            self.reconnect(key, chat).await?
        };
        let mut may_reconnect = fresh;
        for (i, part) in parts.iter().enumerate().skip(skip) {
            let token = if i == 0 {
                client_token.to_owned()
            } else {
                format!("{client_token}#{i}")
            };
            loop {
                match self
                    .participant
                    .send_message(&chat.connection_token, content_type, part, &token)
                    .await
                {
                    Err(e) if e.is_chat_gone() && may_reconnect => {
                        chat = self.reconnect(key, &chat).await?;
                        may_reconnect = false;
                    }
                    other => break other.map(drop)?,
                }
            }
        }
        Ok(())
    }

    pub(super) async fn fresh(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<ActiveChat> {
        connection::fresh(&self.store, &self.participant, key, chat).await
    }

    pub(super) async fn reconnect(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<ActiveChat> {
        connection::reconnect(&self.store, &self.participant, key, chat).await
    }
}
