//! The state table in memory, with the conditions of [`crate::aws::DynamoStore`].
//!
//! Items are typed records instead of attribute maps, but every write checks what the adapter's
//! condition expression checks and changes what its update expression changes; a condition that fails
//! does what the adapter does with `ConditionalCheckFailedException` (nothing, `None`, or the error).
//! Writes the adapter makes in one transaction happen under one lock here. Items do not expire: DynamoDB
//! deletes expired items only eventually, and no decision of the bridge depends on their going.

use super::{Answer, Faults};
use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ConversationKey, ItemId, short_hash};
use crate::ports::{
    ActiveChat, Claim, ClaimTerms, ContactRecord, Conversation, ConversationState, ConversationView, Finished,
    Inflight, ItemClaim, ItemInFlight, ItemTerms, MediaAftermath, MessageClaim, OpenedWith, Opener, PortResult,
    Progress, Renewal, Said, SentRecord, StartLock, StateStore, Step,
};
use crate::rich::menu::Menu;
use crate::telemetry::now_ms;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// How long a bridged Connect item stays known on its mapping: its hour's set and the one before.
const HOUR_MS: i64 = 3_600_000;
/// At most this many expired claims are removed by one completing write.
const EXPIRED_PER_WRITE: usize = 20;

/// The in-memory state table; clones share it.
#[derive(Clone, Default)]
pub struct FakeStateStore {
    table: Arc<Mutex<Table>>,
    faults: Arc<Faults>,
}

#[derive(Default)]
struct Table {
    conversations: HashMap<ConversationKey, ConversationItem>,
    contacts: HashMap<ContactId, ContactItem>,
    claims: HashMap<(String, String), ClaimItem>,
    sent: HashMap<String, SentRecord>,
}

/// `conv#…`: `generation` is `None` until a chat became active or a start was retired.
#[derive(Default)]
struct ConversationItem {
    generation: Option<u64>,
    active: Option<bool>,
    contact_id: Option<ContactId>,
    chat: Option<ActiveChat>,
    activated_ms: i64,
    ended_by: Option<String>,
    opener: Option<Opener>,
    tried: BTreeSet<String>,
    opened_with: Option<OpenedWith>,
    inflight: BTreeMap<String, Inflight>,
    menu: Option<Menu>,
    last_wamid: Option<String>,
    typing_at: Option<i64>,
}

/// `contact#…`: the mapping, its items' claims (by hash), the bridged hashes by hour, and what failed
/// attempts sent.
struct ContactItem {
    record: ContactRecord,
    claims: BTreeMap<String, ItemEntry>,
    done: BTreeMap<i64, BTreeSet<String>>,
    parts: HashMap<String, usize>,
}

struct ItemEntry {
    lease: i64,
    owner: String,
    at: i64,
}

/// `msg#<source>#<id>`.
#[derive(Default)]
struct ClaimItem {
    done: bool,
    lease_until: Option<i64>,
    fast: Option<bool>,
    owner: Option<String>,
    taken_ms: Option<i64>,
    summary: Option<String>,
    said: BTreeSet<String>,
    media: Option<MediaAftermath>,
}

fn conflict(operation: &'static str) -> PortError {
    PortError::new(FailureKind::Conflict, operation, "ConditionalCheckFailedException")
}

fn item_name(hash: &str) -> String {
    format!("i_{hash}")
}

impl ConversationItem {
    fn is_active(&self) -> bool {
        self.active == Some(true)
    }

    fn opener_is(&self, tag: &str) -> bool {
        self.opener.as_ref().is_some_and(|o| o.tag == tag)
    }

    fn view(&self, key: &ConversationKey) -> ConversationView {
        let conversation = self.generation.map(|generation| {
            let state = match (&self.chat, self.is_active()) {
                (Some(chat), true) => ConversationState::Active(chat.clone()),
                _ => ConversationState::Ended,
            };
            Conversation {
                key: key.clone(),
                generation,
                ended_by: match state {
                    ConversationState::Ended => self.ended_by.clone(),
                    ConversationState::Active(_) => None,
                },
                opened_with: match state {
                    ConversationState::Active(_) => self.opened_with.clone(),
                    ConversationState::Ended => None,
                },
                state,
                previous_contact_id: self.contact_id.clone(),
                activated_ms: self.activated_ms,
            }
        });
        ConversationView {
            conversation,
            opener: self.opener.clone(),
            inflight: self.inflight.values().cloned().collect(),
            menu: self.menu.clone(),
            tried: self.tried.iter().cloned().collect(),
        }
    }
}

impl ContactItem {
    fn bridged(&self, hash: &str, now_ms: i64) -> bool {
        let hour = now_ms.div_euclid(HOUR_MS);
        [hour, hour - 1]
            .iter()
            .any(|h| self.done.get(h).is_some_and(|set| set.contains(hash)))
    }

    fn in_flight(&self) -> Vec<ItemInFlight> {
        self.claims
            .iter()
            .map(|(hash, entry)| ItemInFlight {
                name: item_name(hash),
                at_ms: entry.at,
                until_ms: entry.lease,
            })
            .collect()
    }

    /// The hours' sets no claim looks in any more.
    fn expired(&self, now_ms: i64) -> Vec<String> {
        let oldest_kept = now_ms.div_euclid(HOUR_MS) - 1;
        self.done
            .keys()
            .filter(|hour| **hour < oldest_kept)
            .take(EXPIRED_PER_WRITE)
            .map(|hour| format!("d_{hour}"))
            .collect()
    }
}

impl ClaimItem {
    fn progress(&self) -> Progress {
        Progress {
            said: self.said.iter().filter_map(|name| Said::parse(name)).collect(),
            media: self.media.clone(),
        }
    }

    fn held_by(&self, owner: &str) -> bool {
        !self.done && self.owner.as_deref() == Some(owner)
    }
}

impl FakeStateStore {
    /// The faults to script for its operations (named as the trait's methods).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The message's claim is done (bridged).
    pub fn is_done(&self, source: &str, id: &str) -> bool {
        let table = self.table.lock().unwrap();
        table
            .claims
            .get(&(source.to_owned(), id.to_owned()))
            .is_some_and(|c| c.done)
    }

    /// Ends a message's claim lease now, as if its holder had died and the lease run out: time passes
    /// for the claim without the test waiting for it.
    pub fn lapse(&self, source: &str, id: &str) {
        let mut table = self.table.lock().unwrap();
        if let Some(claim) = table.claims.get_mut(&(source.to_owned(), id.to_owned()))
            && !claim.done
        {
            claim.lease_until = Some(0);
        }
    }

    fn with<T>(&self, work: impl FnOnce(&mut Table) -> T) -> T {
        work(&mut self.table.lock().unwrap())
    }

    async fn call<T>(&self, operation: &'static str, work: impl FnOnce(&mut Table) -> PortResult<T>) -> PortResult<T> {
        let answer: Answer = self.faults.enter(operation).await?;
        answer.give(self.with(work))
    }
}

impl StateStore for FakeStateStore {
    async fn load_conversation(&self, key: &ConversationKey) -> PortResult<ConversationView> {
        self.call("load_conversation", |t| {
            Ok(t.conversations.get(key).map(|c| c.view(key)).unwrap_or_default())
        })
        .await
    }

    async fn register(
        &self,
        key: &ConversationKey,
        inflight: &Inflight,
        wamid: &str,
        left_behind: Option<&str>,
        opener_until: Option<i64>,
    ) -> PortResult<ConversationView> {
        self.call("register", |t| {
            if left_behind == Some(inflight.tag.as_str()) {
                // One update expression cannot both set and remove an attribute.
                return Err(PortError::new(
                    FailureKind::Rejected,
                    "UpdateItem",
                    "ValidationException",
                ));
            }
            let c = t.conversations.entry(key.clone()).or_default();
            c.inflight.insert(inflight.tag.clone(), inflight.clone());
            c.last_wamid = Some(wamid.to_owned());
            if let Some(until_ms) = opener_until
                && c.opener.is_none()
            {
                c.opener = Some(Opener {
                    tag: inflight.tag.clone(),
                    until_ms,
                });
            }
            if let Some(tag) = left_behind {
                c.inflight.remove(tag);
            }
            Ok(c.view(key))
        })
        .await
    }

    async fn extend(&self, renewal: &Renewal<'_>) -> PortResult<()> {
        self.call("extend", |t| {
            let claim = t.claims.get_mut(&(renewal.source.to_owned(), renewal.id.to_owned()));
            if let Some(claim) = claim.filter(|c| c.held_by(renewal.owner)) {
                claim.lease_until = Some(renewal.until_ms);
                claim.fast = Some(false);
            }
            if let Some(c) = t.conversations.get_mut(renewal.key) {
                if let Some(registration) = c.inflight.get_mut(renewal.tag) {
                    registration.until_ms = renewal.until_ms;
                }
                if renewal.opening
                    && let Some(opener) = c.opener.as_mut().filter(|o| o.tag == renewal.tag)
                {
                    opener.until_ms = renewal.until_ms;
                }
            }
            Ok(())
        })
        .await
    }

    async fn unregister(&self, key: &ConversationKey, tag: &str) -> PortResult<()> {
        self.call("unregister", |t| {
            t.conversations.entry(key.clone()).or_default().inflight.remove(tag);
            Ok(())
        })
        .await
    }

    async fn take_start_lock(
        &self,
        key: &ConversationKey,
        opener: &Opener,
        now_ms: i64,
        replaced: Option<&str>,
    ) -> PortResult<Option<ConversationView>> {
        self.call("take_start_lock", |t| {
            let c = t.conversations.entry(key.clone()).or_default();
            let free = c
                .opener
                .as_ref()
                .is_none_or(|o| o.until_ms < now_ms || o.tag == opener.tag);
            if c.is_active() || !free {
                return Ok(None);
            }
            c.opener = Some(opener.clone());
            c.tried.extend(replaced.map(str::to_owned));
            Ok(Some(c.view(key)))
        })
        .await
    }

    async fn activate(
        &self,
        lock: &StartLock,
        chat: &ActiveChat,
        opened_with: Option<&OpenedWith>,
        _ttl_s: i64,
    ) -> PortResult<ConversationView> {
        self.call("activate", |t| {
            let c = t
                .conversations
                .get_mut(&lock.key)
                .filter(|c| c.opener_is(&lock.tag))
                .ok_or_else(|| conflict("UpdateItem"))?;
            c.active = Some(true);
            c.generation = Some(lock.generation);
            c.contact_id = Some(chat.contact_id.clone());
            c.chat = Some(chat.clone());
            c.activated_ms = now_ms();
            c.opened_with = opened_with.cloned();
            c.tried.clear();
            Ok(c.view(&lock.key))
        })
        .await
    }

    async fn abandon_start(&self, lock: &StartLock, retire: bool) -> PortResult<()> {
        self.call("abandon_start", |t| {
            let Some(c) = t
                .conversations
                .get_mut(&lock.key)
                .filter(|c| c.opener_is(&lock.tag) && !c.is_active())
            else {
                return Ok(());
            };
            c.opener = None;
            if retire {
                c.generation = Some(lock.generation);
                c.active = Some(false);
                c.tried.clear();
            } else {
                c.tried.insert(lock.tag.clone());
            }
            Ok(())
        })
        .await
    }

    async fn update_connection(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<()> {
        self.call("update_connection", |t| {
            if let Some(c) = t.conversations.get_mut(key)
                && c.is_active()
                && c.contact_id.as_ref() == Some(&chat.contact_id)
                && let Some(stored) = c.chat.as_mut()
            {
                stored.connection_token = chat.connection_token.clone();
                stored.connection_expires_at = chat.connection_expires_at;
            }
            Ok(())
        })
        .await
    }

    async fn mark_ended(&self, key: &ConversationKey, contact_id: &ContactId, by: &str) -> PortResult<bool> {
        self.call("mark_ended", |t| {
            let Some(c) = t.conversations.get_mut(key) else {
                return Ok(false);
            };
            let on_contact = c.contact_id.as_ref() == Some(contact_id);
            if c.is_active() && on_contact {
                c.active = Some(false);
                c.ended_by = Some(by.to_owned());
                c.menu = None;
                c.opener = None;
                return Ok(true);
            }
            Ok(c.active == Some(false) && on_contact && c.ended_by.as_deref() == Some(by))
        })
        .await
    }

    async fn save_menu(&self, key: &ConversationKey, contact_id: &ContactId, menu: &Menu) -> PortResult<()> {
        self.call("save_menu", |t| {
            if let Some(c) = t.conversations.get_mut(key)
                && c.contact_id.as_ref() == Some(contact_id)
            {
                c.menu = Some(menu.clone());
            }
            Ok(())
        })
        .await
    }

    async fn take_typing_slot(&self, key: &ConversationKey, now_ms: i64, gap_ms: i64) -> PortResult<Option<String>> {
        self.call("take_typing_slot", |t| {
            let Some(c) = t.conversations.get_mut(key) else {
                return Ok(None);
            };
            if c.last_wamid.is_none() || c.typing_at.is_some_and(|at| at > now_ms - gap_ms) {
                return Ok(None);
            }
            c.typing_at = Some(now_ms);
            Ok(c.last_wamid.clone())
        })
        .await
    }

    async fn load_sent(&self, wa_message_id: &str) -> PortResult<Option<SentRecord>> {
        self.call("load_sent", |t| Ok(t.sent.get(wa_message_id).cloned())).await
    }

    async fn load_quote(&self, wa_message_id: &str) -> PortResult<Option<String>> {
        self.call("load_quote", |t| {
            if let Some(sent) = t.sent.get(wa_message_id) {
                return Ok(Some(sent.summary.clone()));
            }
            let claim = t.claims.get(&("wa".to_owned(), wa_message_id.to_owned()));
            Ok(claim.and_then(|c| c.summary.clone()))
        })
        .await
    }

    async fn put_contact(&self, contact: &ContactRecord, _ttl_s: i64) -> PortResult<()> {
        self.call("put_contact", |t| {
            // A put replaces the whole item, claims and all.
            t.contacts.insert(
                contact.initial_contact_id.clone(),
                ContactItem {
                    record: contact.clone(),
                    claims: BTreeMap::new(),
                    done: BTreeMap::new(),
                    parts: HashMap::new(),
                },
            );
            Ok(())
        })
        .await
    }

    async fn load_contact(&self, initial_contact_id: &ContactId) -> PortResult<Option<ContactRecord>> {
        self.call("load_contact", |t| {
            Ok(t.contacts.get(initial_contact_id).map(|c| c.record.clone()))
        })
        .await
    }

    async fn claim(&self, source: &str, id: &str, terms: &ClaimTerms<'_>) -> PortResult<MessageClaim> {
        self.call("claim", |t| {
            let now = terms.now_ms;
            let key = (source.to_owned(), id.to_owned());
            let free = t.claims.get(&key).is_none_or(|c| {
                !c.done && (c.lease_until.is_some_and(|l| l < now) || c.owner.as_deref() == Some(terms.owner))
            });
            if !free {
                let done = t.claims.get(&key).is_some_and(|c| c.done);
                return Ok(MessageClaim {
                    claim: if done { Claim::Done } else { Claim::Busy },
                    progress: Progress::default(),
                });
            }
            let existed = t.claims.contains_key(&key);
            let c = t.claims.entry(key).or_default();
            let claim = match (&c.owner, c.fast) {
                (Some(owner), _) if owner == terms.owner => Claim::Acquired,
                (_, Some(true)) if existed => Claim::Replay {
                    first_ms: c.taken_ms.unwrap_or(now),
                },
                _ => Claim::Acquired,
            };
            let progress = c.progress();
            c.lease_until = Some(now + terms.lease_ms);
            c.fast = Some(terms.fast);
            c.owner = Some(terms.owner.to_owned());
            c.taken_ms = Some(c.taken_ms.unwrap_or(now));
            if let Some(summary) = terms.summary {
                c.summary = Some(summary.to_owned());
            }
            Ok(MessageClaim { claim, progress })
        })
        .await
    }

    async fn record(&self, source: &str, id: &str, owner: &str, step: Step<'_>) -> PortResult<()> {
        self.call("record", |t| {
            let claim = t.claims.get_mut(&(source.to_owned(), id.to_owned()));
            if let Some(c) = claim.filter(|c| c.held_by(owner)) {
                match step {
                    Step::Said(said) => {
                        c.said.insert(said.name());
                    }
                    Step::Media(aftermath) => c.media = Some(aftermath.clone()),
                }
            }
            Ok(())
        })
        .await
    }

    async fn complete(&self, source: &str, id: &str, finished: Option<&Finished<'_>>) -> PortResult<()> {
        self.call("complete", |t| {
            let c = t.claims.entry((source.to_owned(), id.to_owned())).or_default();
            c.done = true;
            c.lease_until = None;
            c.fast = None;
            c.said.clear();
            c.media = None;
            if let Some(finished) = finished {
                let conversation = t.conversations.entry(finished.key.clone()).or_default();
                conversation.inflight.remove(finished.tag);
                if finished.clear_menu {
                    conversation.menu = None;
                }
                for tag in finished.lapsed {
                    conversation.inflight.remove(tag);
                }
            }
            Ok(())
        })
        .await
    }

    async fn claim_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        terms: &ItemTerms<'_>,
    ) -> PortResult<ItemClaim> {
        self.call("claim_item", |t| {
            let now = terms.now_ms;
            let hash = short_hash(item_id.as_str());
            let Some(contact) = t.contacts.get_mut(initial_contact_id) else {
                return Ok(ItemClaim {
                    claim: Claim::Acquired,
                    me: None,
                    in_flight: Vec::new(),
                    parts_sent: 0,
                    contact: None,
                    expired: Vec::new(),
                });
            };
            let free = contact
                .claims
                .get(&hash)
                .is_none_or(|entry| entry.lease < now || entry.owner == terms.owner);
            if contact.bridged(&hash, now) || !free {
                return Ok(ItemClaim {
                    claim: if contact.bridged(&hash, now) {
                        Claim::Done
                    } else {
                        Claim::Busy
                    },
                    me: None,
                    in_flight: Vec::new(),
                    parts_sent: 0,
                    contact: Some(contact.record.clone()),
                    expired: Vec::new(),
                });
            }
            contact.claims.insert(
                hash.clone(),
                ItemEntry {
                    lease: now + terms.lease_ms,
                    owner: terms.owner.to_owned(),
                    at: terms.at_ms,
                },
            );
            let name = item_name(&hash);
            let (me, in_flight): (Vec<_>, Vec<_>) = contact.in_flight().into_iter().partition(|i| i.name == name);
            Ok(ItemClaim {
                claim: Claim::Acquired,
                me: me.into_iter().next(),
                in_flight,
                parts_sent: contact.parts.get(&hash).copied().unwrap_or(0),
                contact: Some(contact.record.clone()),
                expired: contact.expired(now),
            })
        })
        .await
    }

    async fn items_in_flight(&self, initial_contact_id: &ContactId) -> PortResult<Vec<ItemInFlight>> {
        self.call("items_in_flight", |t| {
            Ok(t.contacts
                .get(initial_contact_id)
                .map(ContactItem::in_flight)
                .unwrap_or_default())
        })
        .await
    }

    async fn complete_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        sent: &[SentRecord],
        expired: &[String],
    ) -> PortResult<()> {
        self.call("complete_item", |t| {
            let hash = short_hash(item_id.as_str());
            // The transaction is cancelled when the claim is gone: nothing is written.
            let contact = t
                .contacts
                .get_mut(initial_contact_id)
                .filter(|c| c.claims.contains_key(&hash))
                .ok_or_else(|| {
                    PortError::new(
                        FailureKind::Transient,
                        "TransactWriteItems",
                        "TransactionCanceledException",
                    )
                })?;
            contact.claims.remove(&hash);
            contact.parts.remove(&hash);
            contact
                .done
                .entry(now_ms().div_euclid(HOUR_MS))
                .or_default()
                .insert(hash);
            for name in expired {
                if let Some(hour) = name.strip_prefix("d_").and_then(|h| h.parse().ok()) {
                    contact.done.remove(&hour);
                } else if let Some(other) = name.strip_prefix("i_") {
                    contact.claims.remove(other);
                }
            }
            for record in sent {
                t.sent.insert(record.wa_message_id.clone(), record.clone());
            }
            Ok(())
        })
        .await
    }

    async fn release_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        owner: &str,
        parts_sent: usize,
    ) -> PortResult<()> {
        self.call("release_item", |t| {
            let hash = short_hash(item_id.as_str());
            if let Some(contact) = t.contacts.get_mut(initial_contact_id)
                && contact.claims.get(&hash).is_some_and(|entry| entry.owner == owner)
            {
                contact.claims.remove(&hash);
                if parts_sent > 0 {
                    contact.parts.insert(hash, parts_sent);
                }
            }
            Ok(())
        })
        .await
    }

    async fn release(&self, source: &str, id: &str, owner: &str) -> PortResult<()> {
        self.call("release", |t| {
            let claim = t.claims.get_mut(&(source.to_owned(), id.to_owned()));
            if let Some(c) = claim.filter(|c| c.held_by(owner)) {
                c.lease_until = Some(0);
                c.owner = None;
                c.fast = None;
                c.taken_ms = None;
            }
            Ok(())
        })
        .await
    }
}
