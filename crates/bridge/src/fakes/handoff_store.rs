//! Handoff records and their outboxes in memory, with the conditions of
//! [`crate::aws::DynamoHandoffStore`]: a create claims its idempotency key or finds the handoff that
//! did, a chat is attached once (mapping its contact), a move is written only over the sequence number
//! it was computed from and only once per item, and a delivery is held by one drainer at a time.

use super::Faults;
use crate::handoff::message::OfferedChoice;
use crate::handoff::outbox::{Delivery, Lease, Outbox, Progress, Taken};
use crate::handoff::request::HandoffId;
use crate::handoff::store::{Created, HandoffRecord, HandoffStore, Owed, Step, Written};
use crate::handoff::webhook::Envelope;
use crate::ids::ContactId;
use crate::ports::{ActiveChat, PortResult};
use std::collections::{HashMap, HashSet};
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
    /// `hcontact#<contact id>` → the handoff whose chat it is.
    contacts: HashMap<String, HandoffId>,
    /// `hitem#…`: the chat's items that moved a handoff.
    items: HashSet<(HandoffId, String)>,
    events: HashMap<(HandoffId, u64), Envelope>,
    deliveries: HashMap<HandoffId, Cursor>,
    offered: HashMap<HandoffId, OfferedChoice>,
}

/// A handoff's delivery state.
#[derive(Default, Clone)]
struct Cursor {
    delivered: u64,
    attempts: u32,
    first_attempt_ms: Option<i64>,
    not_before_ms: Option<i64>,
    owner: Option<String>,
    lease_until_ms: i64,
}

impl FakeHandoffStore {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every handoff stored, in no particular order.
    pub fn handoffs(&self) -> Vec<HandoffRecord> {
        self.table.lock().unwrap().handoffs.values().cloned().collect()
    }

    /// The events owed by handoff `id`, by sequence number.
    pub fn events(&self, id: &HandoffId) -> Vec<(u64, Envelope)> {
        let table = self.table.lock().unwrap();
        let mut events: Vec<(u64, Envelope)> = table
            .events
            .iter()
            .filter(|((owner, _), _)| owner == id)
            .map(|((_, sequence), envelope)| (*sequence, envelope.clone()))
            .collect();
        events.sort_by_key(|(sequence, _)| *sequence);
        events
    }
}

fn keep(table: &mut Table, id: &HandoffId, owed: &[Owed]) {
    for event in owed {
        table
            .events
            .insert((id.clone(), event.sequence), event.envelope.clone());
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

    async fn attach_chat(&self, record: &HandoffRecord, chat: &ActiveChat, created: &Owed) -> PortResult<Written> {
        let id = &record.id;
        let answer = self.faults.enter("attach_chat").await?;
        let mut table = self.table.lock().unwrap();
        let written = match table.handoffs.get_mut(id) {
            Some(record) if record.chat.as_ref().is_none_or(|c| c.contact_id == chat.contact_id) => {
                record.chat = Some(chat.clone());
                table.contacts.insert(chat.contact_id.as_str().to_owned(), id.clone());
                keep(&mut table, id, std::slice::from_ref(created));
                Written::Done
            }
            _ => Written::Stale,
        };
        answer.give(Ok(written))
    }

    async fn renew_connection(&self, id: &HandoffId, chat: &ActiveChat) -> PortResult<Written> {
        let answer = self.faults.enter("renew_connection").await?;
        let mut table = self.table.lock().unwrap();
        let written = match table.handoffs.get_mut(id) {
            Some(record) if record.chat.as_ref().is_some_and(|c| c.contact_id == chat.contact_id) => {
                record.chat = Some(chat.clone());
                Written::Done
            }
            _ => Written::Stale,
        };
        answer.give(Ok(written))
    }

    async fn find_by_contact(&self, initial_contact_id: &ContactId) -> PortResult<Option<HandoffId>> {
        let answer = self.faults.enter("find_by_contact").await?;
        let found = self
            .table
            .lock()
            .unwrap()
            .contacts
            .get(initial_contact_id.as_str())
            .cloned();
        answer.give(Ok(found))
    }

    async fn advance(&self, step: Step<'_>) -> PortResult<Written> {
        let answer = self.faults.enter("advance").await?;
        let mut guard = self.table.lock().unwrap();
        let table = &mut *guard;
        let id = &step.from.id;
        let item = step.item.map(|item| (id.clone(), item.to_owned()));
        let written = match table.handoffs.get_mut(id) {
            Some(record) if record.lifecycle.sequence == step.from.lifecycle.sequence => {
                if item.as_ref().is_some_and(|item| table.items.contains(item)) {
                    Written::Seen
                } else {
                    record.lifecycle = step.moved.lifecycle.clone();
                    record.agent_joined_ms = step.moved.agent_joined_ms;
                    record.ended_ms = step.moved.ended_ms;
                    table.items.extend(item);
                    keep(table, id, step.owed);
                    if let Some(offered) = step.offered {
                        table.offered.insert(id.clone(), offered.clone());
                    }
                    Written::Done
                }
            }
            _ => Written::Stale,
        };
        answer.give(Ok(written))
    }

    async fn load_offered(&self, id: &HandoffId) -> PortResult<Option<OfferedChoice>> {
        self.offered_of(id).await
    }
}

impl FakeHandoffStore {
    async fn offered_of(&self, id: &HandoffId) -> PortResult<Option<OfferedChoice>> {
        let answer = self.faults.enter("load_offered").await?;
        let found = self.table.lock().unwrap().offered.get(id).cloned();
        answer.give(Ok(found))
    }
}

impl Outbox for FakeHandoffStore {
    async fn take(&self, id: &HandoffId, lease: Lease<'_>) -> PortResult<Taken> {
        let answer = self.faults.enter("take").await?;
        let mut table = self.table.lock().unwrap();
        let Some(record) = table.handoffs.get(id) else {
            return answer.give(Ok(Taken::Unknown));
        };
        let (client, owed) = (record.client.clone(), record.lifecycle.sequence);
        let cursor = table.deliveries.entry(id.clone()).or_default();
        let free = cursor.lease_until_ms < lease.now_ms || cursor.owner.as_deref() == Some(lease.owner);
        let taken = if free {
            cursor.owner = Some(lease.owner.to_owned());
            cursor.lease_until_ms = lease.until_ms;
            Taken::Held(Delivery {
                client,
                delivered: cursor.delivered,
                owed,
                attempts: cursor.attempts,
                first_attempt_ms: cursor.first_attempt_ms,
                not_before_ms: cursor.not_before_ms,
            })
        } else {
            Taken::Busy
        };
        answer.give(Ok(taken))
    }

    async fn event(&self, id: &HandoffId, sequence: u64) -> PortResult<Option<Envelope>> {
        let answer = self.faults.enter("event").await?;
        let found = self.table.lock().unwrap().events.get(&(id.clone(), sequence)).cloned();
        answer.give(Ok(found))
    }

    async fn record(&self, id: &HandoffId, owner: &str, progress: Progress) -> PortResult<bool> {
        let answer = self.faults.enter("record").await?;
        let mut table = self.table.lock().unwrap();
        let cursor = table.deliveries.entry(id.clone()).or_default();
        if cursor.owner.as_deref() != Some(owner) {
            return answer.give(Ok(false));
        }
        match progress {
            Progress::Through(sequence) => {
                *cursor = Cursor {
                    delivered: sequence,
                    ..Cursor {
                        owner: cursor.owner.clone(),
                        lease_until_ms: cursor.lease_until_ms,
                        ..Cursor::default()
                    }
                };
            }
            Progress::Postponed {
                attempts,
                first_attempt_ms,
                not_before_ms,
            } => {
                cursor.attempts = attempts;
                cursor.first_attempt_ms = Some(first_attempt_ms);
                cursor.not_before_ms = Some(not_before_ms);
            }
        }
        answer.give(Ok(true))
    }

    async fn release(&self, id: &HandoffId, owner: &str, caught_up: Option<u64>) -> PortResult<bool> {
        let answer = self.faults.enter("release").await?;
        let mut table = self.table.lock().unwrap();
        let owed = table.handoffs.get(id).map_or(0, |record| record.lifecycle.sequence);
        let cursor = table.deliveries.entry(id.clone()).or_default();
        let released = cursor.owner.as_deref() == Some(owner) && caught_up.is_none_or(|through| through >= owed);
        if released {
            cursor.owner = None;
            cursor.lease_until_ms = 0;
        }
        answer.give(Ok(released))
    }
}
