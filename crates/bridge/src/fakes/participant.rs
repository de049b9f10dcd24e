//! The Participant Service in memory: the customer's side of [`FakeConnect`]'s chats.
//!
//! Once a chat ended, its participant and connection tokens are refused with AccessDenied
//! ([`FailureKind::ChatGone`]), as the service does; until then every connection token it issued for the
//! chat is good (a day, as the service says). Messages and events (receipts) are idempotent by client token
//! within a chat, as the service promises.

use super::FakeConnect;
use super::connect::{Chat, Speaker};
use crate::connect_stream::Role;
use crate::error::{FailureKind, PortError};
use crate::ids::{ConnectionToken, ContactId, ItemId, ParticipantToken};
use crate::ports::{ChatItem, Connection, PageRequest, Participant, PortResult, TranscriptChunk};
use crate::telemetry::now_ms;

/// How long a connection token is good for.
const CONNECTION_TTL_S: i64 = 24 * 3600;

fn gone(operation: &'static str) -> PortError {
    PortError::new(FailureKind::ChatGone, operation, "AccessDeniedException")
}

impl FakeConnect {
    /// Does `work` on the live chat `token` is a connection of.
    fn on_connection<T>(
        &self,
        operation: &'static str,
        token: &ConnectionToken,
        work: impl FnOnce(&mut Chat, Speaker) -> T,
    ) -> PortResult<T> {
        let mut chats = self.chats.lock().unwrap();
        let (chat, speaker) = chats
            .iter_mut()
            .filter(|c| !c.ended)
            .find_map(|c| {
                let speaker = c.connections.iter().find(|(issued, _)| issued == token.expose())?.1;
                Some((c, speaker))
            })
            .ok_or_else(|| gone(operation))?;
        Ok(work(chat, speaker))
    }
}

impl Participant for FakeConnect {
    async fn connect(&self, token: &ParticipantToken) -> PortResult<Connection> {
        let answer = self.faults.enter("connect").await?;
        let connected = {
            let mut chats = self.chats.lock().unwrap();
            let speaker_of = |c: &Chat| match &c.bot {
                _ if &c.participant_token == token => Some(Speaker::Customer),
                Some((_, bot)) if bot == token => Some(Speaker::Bot),
                _ => None,
            };
            match chats
                .iter_mut()
                .filter(|c| !c.ended)
                .find_map(|c| Some((speaker_of(c)?, c)))
            {
                Some((speaker, chat)) => {
                    let connection = format!("{}-connection-{}", chat.contact_id, chat.connections.len() + 1);
                    chat.connections.push((connection.clone(), speaker));
                    Ok(Connection {
                        connection_token: ConnectionToken::new(connection),
                        expires_at: now_ms() / 1000 + CONNECTION_TTL_S,
                    })
                }
                None => Err(gone("CreateParticipantConnection")),
            }
        };
        answer.give(connected)
    }

    async fn send_message(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<ItemId> {
        let answer = self.faults.enter("send_message").await?;
        let sent = self.on_connection("SendMessage", token, |chat, speaker| {
            // Client tokens are per participant, as the service keeps them.
            let (own, kind) = match speaker {
                Speaker::Customer => (&mut chat.messages, "item"),
                Speaker::Bot => (&mut chat.bot_messages, "bot-item"),
            };
            let position = own.iter().position(|(_, _, t)| t == client_token);
            let n = position.unwrap_or_else(|| {
                own.push((content_type.to_owned(), content.to_owned(), client_token.to_owned()));
                chat.said.push((speaker, content.to_owned()));
                own.len() - 1
            });
            ItemId::parse(&format!("{}-{kind}-{}", chat.contact_id, n + 1)).expect("an item id")
        });
        answer.give(sent)
    }

    async fn send_event(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<()> {
        let answer = self.faults.enter("send_event").await?;
        let sent = self.on_connection("SendEvent", token, |chat, _| {
            if !chat.events.iter().any(|(_, _, t)| t == client_token) {
                chat.events
                    .push((content_type.to_owned(), content.to_owned(), client_token.to_owned()));
            }
        });
        answer.give(sent)
    }

    async fn sent_texts(&self, token: &ConnectionToken, contact_id: &ContactId) -> PortResult<Vec<String>> {
        let answer = self.faults.enter("sent_texts").await?;
        let texts = self.on_connection("GetTranscript", token, |chat, _| {
            let own = &chat.contact_id == contact_id;
            let texts = chat.said.iter().filter(|(speaker, _)| *speaker == Speaker::Customer);
            texts.map(|(_, content)| content.clone()).filter(|_| own).collect()
        });
        answer.give(texts)
    }

    async fn transcript(&self, token: &ConnectionToken, page: &PageRequest) -> PortResult<TranscriptChunk> {
        let answer = self.faults.enter("transcript").await?;
        // What the bridge's participants said, one item each; a page token is the next item's index.
        let chunk = self.on_connection("GetTranscript", token, |chat, _| {
            let start = page.next_token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
            let end = (start + usize::from(page.max)).min(chat.said.len());
            let items = chat.said[start.min(end)..end]
                .iter()
                .enumerate()
                .map(|(i, (speaker, content))| ChatItem {
                    id: format!("item-{}", start + i),
                    role: Some(match speaker {
                        Speaker::Customer => Role::Customer,
                        Speaker::Bot => Role::CustomBot,
                    }),
                    display_name: None,
                    content_type: "text/plain".to_owned(),
                    content: Some(content.clone()),
                    at: "2026-01-01T00:00:00.000Z".to_owned(),
                })
                .collect();
            TranscriptChunk {
                items,
                next_token: (end < chat.said.len()).then(|| end.to_string()),
            }
        });
        answer.give(chunk)
    }

    async fn disconnect(&self, token: &ConnectionToken, _client_token: &str) -> PortResult<()> {
        let answer = self.faults.enter("disconnect").await?;
        // The customer leaving ends the chat; a bot leaving does not.
        let done = self.on_connection("DisconnectParticipant", token, |chat, speaker| {
            chat.ended |= speaker == Speaker::Customer;
        });
        answer.give(done)
    }
}
