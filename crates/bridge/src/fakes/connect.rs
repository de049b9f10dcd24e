//! Amazon Connect in memory: the chats, and [`ContactCenter`] starting them (see
//! [`super::participant`] for the customer's side of the same chats).

use super::Faults;
use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ParticipantToken};
use crate::ports::{BotRequest, ChatRequest, ContactCenter, PortResult, StartedChat};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Connect's chats; clones share them. Implements both Connect ports, so a chat the participant side
/// finds gone is one the test ended here.
#[derive(Clone, Default)]
pub struct FakeConnect {
    pub(super) chats: Arc<Mutex<Vec<Chat>>>,
    pub(super) faults: Arc<Faults>,
}

/// Who of the bridge's participants said something in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    Customer,
    Bot,
}

/// One chat as Connect holds it.
#[derive(Debug, Clone)]
pub struct Chat {
    pub contact_id: ContactId,
    pub request: ChatRequest,
    pub(super) participant_token: ParticipantToken,
    /// Its custom bot participant: (client token, participant token).
    pub(super) bot: Option<(String, ParticipantToken)>,
    /// The connection tokens it handed out, and to whom.
    pub(super) connections: Vec<(String, Speaker)>,
    /// What the customer side sent into it: (content type, content, client token), the initial message
    /// first (with no client token).
    pub messages: Vec<(String, String, String)>,
    /// What its custom bot participant sent into it, as `messages`.
    pub bot_messages: Vec<(String, String, String)>,
    /// Who said each message, customer's and bot's, oldest first: (who, content).
    pub said: Vec<(Speaker, String)>,
    /// Events (receipts) the customer side sent: (content type, content, client token).
    pub events: Vec<(String, String, String)>,
    /// Over: its tokens are refused with AccessDenied.
    pub ended: bool,
}

impl Chat {
    /// The texts sent into it, oldest first.
    pub fn texts(&self) -> Vec<&str> {
        self.messages.iter().map(|(_, content, _)| content.as_str()).collect()
    }
}

impl FakeConnect {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The chats started so far, oldest first.
    pub fn chats(&self) -> Vec<Chat> {
        self.chats.lock().unwrap().clone()
    }

    /// Ends a chat (the agent left, or it expired): Connect refuses its tokens from then on.
    pub fn end_chat(&self, contact_id: &ContactId) {
        let mut chats = self.chats.lock().unwrap();
        if let Some(chat) = chats.iter_mut().find(|c| &c.contact_id == contact_id) {
            chat.ended = true;
        }
    }
}

impl ContactCenter for FakeConnect {
    async fn start_chat(&self, request: &ChatRequest) -> PortResult<StartedChat> {
        let answer = self.faults.enter("start_chat").await?;
        let started = {
            let mut chats = self.chats.lock().unwrap();
            // The same client token gets the same chat back, as `StartChatContact` promises.
            match chats.iter().find(|c| c.request.client_token == request.client_token) {
                Some(chat) => StartedChat {
                    contact_id: chat.contact_id.clone(),
                    participant_token: chat.participant_token.clone(),
                },
                None => {
                    let n = chats.len() + 1;
                    // The initial message is the chat's first item, once: a retry gets the chat as it is.
                    let messages: Vec<_> = request
                        .initial_message
                        .iter()
                        .map(|(content_type, content)| (content_type.clone(), content.clone(), String::new()))
                        .collect();
                    let said = messages
                        .iter()
                        .map(|(_, c, _)| (Speaker::Customer, c.clone()))
                        .collect();
                    let chat = Chat {
                        contact_id: ContactId::parse(&format!("contact-{n}")).expect("a contact id"),
                        request: request.clone(),
                        participant_token: ParticipantToken::new(format!("participant-{n}")),
                        bot: None,
                        connections: Vec::new(),
                        messages,
                        bot_messages: Vec::new(),
                        said,
                        events: Vec::new(),
                        ended: false,
                    };
                    let started = StartedChat {
                        contact_id: chat.contact_id.clone(),
                        participant_token: chat.participant_token.clone(),
                    };
                    chats.push(chat);
                    started
                }
            }
        };
        answer.give(Ok(started))
    }

    /// One bot per chat, as Connect allows: the same client token gets it again, another is refused,
    /// and so is a chat that is over.
    async fn add_bot(&self, request: &BotRequest) -> PortResult<ParticipantToken> {
        let answer = self.faults.enter("add_bot").await?;
        let added = {
            let mut chats = self.chats.lock().unwrap();
            match chats.iter_mut().find(|c| c.contact_id == request.contact_id) {
                None => Err(PortError::new(
                    FailureKind::Rejected,
                    "CreateParticipant",
                    "ResourceNotFoundException",
                )),
                Some(chat) if chat.ended => Err(PortError::new(
                    FailureKind::Rejected,
                    "CreateParticipant",
                    "InvalidRequestException",
                )),
                Some(chat) => match &chat.bot {
                    Some((token, participant)) if *token == request.client_token => Ok(participant.clone()),
                    Some(_) => Err(PortError::new(
                        FailureKind::Rejected,
                        "CreateParticipant",
                        "ServiceQuotaExceededException",
                    )),
                    None => {
                        let participant = ParticipantToken::new(format!("bot-{}", chat.contact_id));
                        chat.bot = Some((request.client_token.clone(), participant.clone()));
                        Ok(participant)
                    }
                },
            }
        };
        answer.give(added)
    }

    async fn update_attributes(&self, contact_id: &ContactId, attributes: &HashMap<String, String>) -> PortResult<()> {
        let answer = self.faults.enter("update_attributes").await?;
        let updated = {
            let mut chats = self.chats.lock().unwrap();
            match chats.iter_mut().find(|c| &c.contact_id == contact_id) {
                None => Err(PortError::new(
                    FailureKind::Rejected,
                    "UpdateContactAttributes",
                    "ResourceNotFoundException",
                )),
                Some(chat) => {
                    let mut merged = chat.request.attributes.clone();
                    merged.extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
                    let bytes: usize = merged.iter().map(|(k, v)| k.len() + v.len()).sum();
                    if bytes > CONTACT_ATTRIBUTES_BYTES {
                        Err(PortError::new(
                            FailureKind::Rejected,
                            "UpdateContactAttributes",
                            "InvalidParameterException",
                        ))
                    } else {
                        chat.request.attributes = merged;
                        Ok(())
                    }
                }
            }
        };
        answer.give(updated)
    }
}

/// Connect keeps this many bytes of a contact's attribute keys and values.
const CONTACT_ATTRIBUTES_BYTES: usize = 32_768;
