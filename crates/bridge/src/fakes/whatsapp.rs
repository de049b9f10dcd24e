//! EUM Social in memory: what the bridge sends customers, kept as the JSON EUM would receive.

use super::Faults;
use crate::ids::OriginationId;
use crate::ports::{PortResult, Whatsapp};
use crate::whatsapp::outgoing::OutgoingMessage;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// WhatsApp as the bridge sees it through EUM; clones share what was sent.
#[derive(Clone, Default)]
pub struct FakeWhatsapp {
    sent: Arc<Mutex<Vec<Sent>>>,
    read: Arc<Mutex<Vec<(String, bool)>>>,
    faults: Arc<Faults>,
}

/// One message sent to a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The id EUM answered with.
    pub id: String,
    /// The Cloud API message object (`to`, `type`, and the body).
    pub message: Value,
}

impl Sent {
    /// A text message's body; `None` for other types.
    pub fn text(&self) -> Option<&str> {
        self.message.pointer("/text/body").and_then(Value::as_str)
    }
}

impl FakeWhatsapp {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The messages sent so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The customer messages marked read, and whether with the typing indicator.
    pub fn read(&self) -> Vec<(String, bool)> {
        self.read.lock().unwrap().clone()
    }
}

impl Whatsapp for FakeWhatsapp {
    async fn send(&self, _from: &OriginationId, message: &OutgoingMessage) -> PortResult<String> {
        let answer = self.faults.enter("send").await?;
        let id = {
            let mut sent = self.sent.lock().unwrap();
            let id = format!("wamid.out-{}", sent.len() + 1);
            let message = serde_json::to_value(message).expect("an outgoing message serialises");
            sent.push(Sent {
                id: id.clone(),
                message,
            });
            id
        };
        answer.give(Ok(id))
    }

    async fn mark_read(&self, _from: &OriginationId, wamid: &str, typing: bool) -> PortResult<()> {
        let answer = self.faults.enter("mark_read").await?;
        self.read.lock().unwrap().push((wamid.to_owned(), typing));
        answer.give(Ok(()))
    }
}
