//! Handoff records in memory, with the conditions of [`crate::aws::DynamoHandoffStore`]: a create
//! claims its idempotency key or finds the handoff that did, a chat is attached once, and a move is
//! written only over the sequence number it was computed from.

use super::Faults;
use crate::handoff::request::HandoffId;
use crate::handoff::store::{Created, HandoffRecord, HandoffStore, Written};
use crate::ports::{ActiveChat, PortResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The in-memory handoff items; clones share them.
#[derive(Clone, Default)]
pub struct FakeHandoffStore {
    table: Arc<Mutex<Table>>,
    faults: Arc<Faults>,
}

#[derive(Default)]
struct Table {
    handoffs: HashMap<HandoffId, HandoffRecord>,
    /// `hkey#<client token>` → the handoff created under it.
    keys: HashMap<String, HandoffId>,
}

impl FakeHandoffStore {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every handoff stored, in no particular order.
    pub fn handoffs(&self) -> Vec<HandoffRecord> {
        self.table.lock().unwrap().handoffs.values().cloned().collect()
    }
}

impl HandoffStore for FakeHandoffStore {
    async fn create(&self, record: &HandoffRecord) -> PortResult<Created> {
        let answer = self.faults.enter("create").await?;
        let mut table = self.table.lock().unwrap();
        let created = match table.keys.get(&record.client_token) {
            Some(id) => Created::Existing(Box::new(table.handoffs[id].clone())),
            None => {
                table.keys.insert(record.client_token.clone(), record.id.clone());
                table.handoffs.insert(record.id.clone(), record.clone());
                Created::New
            }
        };
        answer.give(Ok(created))
    }

    async fn load(&self, id: &HandoffId) -> PortResult<Option<HandoffRecord>> {
        let answer = self.faults.enter("load").await?;
        let found = self.table.lock().unwrap().handoffs.get(id).cloned();
        answer.give(Ok(found))
    }

    async fn attach_chat(&self, id: &HandoffId, chat: &ActiveChat) -> PortResult<Written> {
        let answer = self.faults.enter("attach_chat").await?;
        let mut table = self.table.lock().unwrap();
        let written = match table.handoffs.get_mut(id) {
            Some(record) if record.chat.as_ref().is_none_or(|c| c.contact_id == chat.contact_id) => {
                record.chat = Some(chat.clone());
                Written::Done
            }
            _ => Written::Stale,
        };
        answer.give(Ok(written))
    }

    async fn advance(&self, from: &HandoffRecord, moved: &HandoffRecord) -> PortResult<Written> {
        let answer = self.faults.enter("advance").await?;
        let mut table = self.table.lock().unwrap();
        let written = match table.handoffs.get_mut(&from.id) {
            Some(record) if record.lifecycle.sequence == from.lifecycle.sequence => {
                record.lifecycle = moved.lifecycle.clone();
                record.agent_joined_ms = moved.agent_joined_ms;
                record.ended_ms = moved.ended_ms;
                Written::Done
            }
            _ => Written::Stale,
        };
        answer.give(Ok(written))
    }
}
