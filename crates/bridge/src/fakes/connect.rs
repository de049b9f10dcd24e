//! Amazon Connect in memory: the chats, and [`ContactCenter`] starting them (see
//! [`super::participant`] for the customer's side of the same chats).

use super::Faults;
use crate::ids::{ContactId, ParticipantToken};
use crate::ports::{ChatRequest, ContactCenter, PortResult, StartedChat};
use std::sync::{Arc, Mutex};

/// Connect's chats; clones share them. Implements both Connect ports, so a chat the participant side
/// finds gone is one the test ended here.
#[derive(Clone, Default)]
pub struct FakeConnect {
    pub(super) chats: Arc<Mutex<Vec<Chat>>>,
    pub(super) faults: Arc<Faults>,
}

/// One chat as Connect holds it.
#[derive(Debug, Clone)]
pub struct Chat {
    pub contact_id: ContactId,
    pub request: ChatRequest,
    pub(super) participant_token: ParticipantToken,
    /// The connection tokens it handed out.
    pub(super) connections: Vec<String>,
    /// What the customer side sent into it: (content type, content, client token), the initial message
    /// first (with no client token).
    pub messages: Vec<(String, String, String)>,
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
                    let messages = request
                        .initial_message
                        .iter()
                        .map(|(content_type, content)| (content_type.clone(), content.clone(), String::new()))
                        .collect();
                    let chat = Chat {
                        contact_id: ContactId::parse(&format!("contact-{n}")).expect("a contact id"),
                        request: request.clone(),
                        participant_token: ParticipantToken::new(format!("participant-{n}")),
                        connections: Vec::new(),
                        messages,
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
}
