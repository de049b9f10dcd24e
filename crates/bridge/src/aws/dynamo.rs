//! DynamoDB: the bridge's state, in one table keyed by a single string `pk`.
//!
//! | item | `pk` | holds |
//! |---|---|---|
//! | conversation | `conv#<phone number id>#<customer id>` | state, generation, chat tokens, and one `q_<hash>` attribute per message in flight; `ended_by`, the message or item whose event ended the last chat |
//! | contact | `contact#<initial contact id>` | the conversation the chat belongs to; an `i_<hash>` claim per Connect item being bridged (with a lease, its owner and its time), the hashes of those bridged in `d_<hour>` string sets, and `p_<hash>`, how many WhatsApp messages a failed attempt of an item sent |
//! | claim | `msg#<source>#<message id>` | in progress (with a lease; `hold` fast or exclusive, the `owner` invocation, `taken_ms`) or done; a customer message's summary, for quoting |
//! | sent | `sent#<WhatsApp message id>` | the Connect item a message the bridge sent came from, and its text |
//!
//! The conversation item also keeps what the customer was last shown and sent (`menu`, `last_wamid`,
//! `typing_at`) and when its chat became active (`activated_ms`), so the customer's answer finds its
//! menu in the read the inbound path does anyway.
//!
//! Both lookups the handlers need (by customer and by contact) are single `GetItem`s. Every write that
//! changes a conversation's chat is conditional on what it changes: the activation on holding the start
//! lock, a new connection token and the end on the chat being the one it read. So concurrent invocations
//! cannot both start a chat or overwrite each other's tokens. Items carry `expires_at` for DynamoDB's TTL.
//!
//! Longer than a file should be, for a reason: it is the one adapter of [`StateStore`], whose methods
//! must live in one `impl` block, and each method is a single conditional write whose expression, names
//! and values read best together. The item layouts and their parsing sit above it.

use super::items::{Item, corrupt, get_item, get_n, get_s, n, s};
use super::{Boxed, classify};
use crate::error::{FailureKind, PortError};
use crate::ids::{
    ConnectionToken, ContactId, ConversationKey, CustomerId, ItemId, OriginationId, ParticipantToken, PhoneNumberId,
    short_hash,
};
use crate::ports::{
    ActiveChat, Claim, ClaimTerms, ContactRecord, Conversation, ConversationState, ConversationView, Finished,
    Inflight, ItemClaim, ItemInFlight, ItemTerms, MediaAftermath, MessageClaim, OpenedWith, Opener, PortResult,
    Progress, Renewal, Said, SentRecord, StartLock, StateStore, Step,
};
use crate::rich::menu::Menu;
use crate::rounds::behind;
use crate::telemetry::now_ms;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use std::collections::HashMap;

/// Claims are kept long enough to cover Lambda's retries and a dead-letter replay days later.
const CLAIM_RETENTION_S: i64 = 14 * 24 * 3600;
/// Receipts and failures arrive within days; quotes of older messages are not worth keeping.
const SENT_RETENTION_S: i64 = 14 * 24 * 3600;
const HOLD_FAST: &str = "fast";
const HOLD_EXCLUSIVE: &str = "exclusive";
/// A conversation whose chat never became active is forgotten after a day.
const STARTING_RETENTION_S: i64 = 24 * 3600;

pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }
}

fn conversation_pk(key: &ConversationKey) -> String {
    format!("conv#{}#{}", key.phone_number_id, key.customer_id)
}

fn contact_pk(contact_id: &ContactId) -> String {
    format!("contact#{contact_id}")
}

fn sent_pk(wa_message_id: &str) -> String {
    format!("sent#{wa_message_id}")
}

fn claim_pk(source: &str, id: &str) -> String {
    format!("msg#{source}#{id}")
}

/// A conditional write that lost because the item already moved on is not a failure for these callers.
fn tolerate_conflict<T>(result: PortResult<T>) -> PortResult<()> {
    match result {
        Err(e) if !is_conflict(&e) => Err(e),
        _ => Ok(()),
    }
}

fn is_conflict(e: &PortError) -> bool {
    e.kind == FailureKind::Conflict
}

/// What a customer message's claim recorded of an attempt that failed (see [`Progress`]). A record that
/// cannot be read is as good as none: the retry redoes the work, as it would have without it.
fn parse_progress(item: &Item) -> Progress {
    let said = item
        .get("said")
        .and_then(|v| v.as_ss().ok())
        .map(|names| names.iter().filter_map(|name| Said::parse(name)).collect())
        .unwrap_or_default();
    let media = get_s(item, "media").and_then(|json| serde_json::from_str::<MediaAftermath>(json).ok());
    Progress { said, media }
}

const INFLIGHT_PREFIX: &str = "q_";
/// The conversation's start lock (see [`Opener`]).
const OPENER: &str = "opener";

/// The messages whose starts of the next chat may have landed (see [`ConversationView::tried`]): a
/// string set, absent when empty.
const TRIED: &str = "tried";
/// The active chat's [`OpenedWith`].
const OPENED_WITH: &str = "opened_with";

fn opened_with_entry(opened_with: &OpenedWith) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("tags".to_owned(), AttributeValue::Ss(opened_with.tags.clone())),
        ("digest".to_owned(), s(&opened_with.digest)),
    ]))
}

fn parse_opened_with(item: &Item) -> Option<OpenedWith> {
    let entry = item.get(OPENED_WITH)?.as_m().ok()?;
    Some(OpenedWith {
        tags: entry.get("tags")?.as_ss().ok()?.clone(),
        digest: get_s(entry, "digest")?.to_owned(),
    })
}

fn opener_entry(opener: &Opener) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("tag".to_owned(), s(&opener.tag)),
        ("until".to_owned(), n(opener.until_ms)),
    ]))
}

fn parse_view(key: &ConversationKey, item: Option<&Item>) -> ConversationView {
    let Some(item) = item else {
        return ConversationView::default();
    };
    let inflight = item
        .iter()
        .filter(|(name, _)| name.starts_with(INFLIGHT_PREFIX))
        .filter_map(|(name, value)| {
            let entry = value.as_m().ok()?;
            Some(Inflight {
                tag: name.clone(),
                timestamp: get_n(entry, "ts")?,
                // `at` (registration time, ms): what a registration of an earlier version carries.
                received_ns: get_n(entry, "rx")
                    .or_else(|| get_n(entry, "at").map(|ms| ms.saturating_mul(1_000_000)))?,
                until_ms: get_n(entry, "until")?,
            })
        })
        .collect();
    let opener = item.get(OPENER).and_then(|v| v.as_m().ok()).and_then(|entry| {
        Some(Opener {
            tag: get_s(entry, "tag")?.to_owned(),
            until_ms: get_n(entry, "until")?,
        })
    });
    ConversationView {
        conversation: parse_conversation(key, item),
        opener,
        inflight,
        // A menu that no longer parses (an older release's) is as good as none.
        menu: get_s(item, "menu").and_then(|m| serde_json::from_str::<Menu>(m).ok()),
        tried: item
            .get(TRIED)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
    }
}

/// `None` while the item only holds in-flight registrations (no chat was ever started: the first
/// activation writes the generation).
fn parse_conversation(key: &ConversationKey, item: &Item) -> Option<Conversation> {
    let generation = get_n(item, "generation")? as u64;
    let contact_id = get_s(item, "contact_id").and_then(|c| ContactId::parse(c).ok());
    let state = match get_s(item, "state") {
        Some("active") => {
            match (
                contact_id.clone(),
                get_s(item, "participant_token"),
                get_s(item, "connection_token"),
            ) {
                (Some(contact_id), Some(participant), Some(connection)) => ConversationState::Active(ActiveChat {
                    contact_id,
                    participant_token: ParticipantToken::new(participant),
                    connection_token: ConnectionToken::new(connection),
                    connection_expires_at: get_n(item, "connection_expires_at").unwrap_or_default(),
                }),
                // Unusable tokens: the next message starts a new chat rather than failing forever.
                _ => ConversationState::Ended,
            }
        }
        _ => ConversationState::Ended,
    };
    Some(Conversation {
        key: key.clone(),
        generation,
        ended_by: match state {
            ConversationState::Ended => get_s(item, "ended_by").map(str::to_owned),
            ConversationState::Active(_) => None,
        },
        opened_with: match state {
            ConversationState::Active(_) => parse_opened_with(item),
            ConversationState::Ended => None,
        },
        state,
        previous_contact_id: contact_id,
        activated_ms: get_n(item, "activated_ms").unwrap_or_default(),
    })
}

/// What finishing a customer's message removes from its conversation: its registration, a spent
/// menu, and registrations long past their lease (`#l0`, `#l1`, … in [`leave_names`]).
fn leave_expression(finished: &Finished<'_>) -> String {
    let mut expression = String::from("REMOVE #tag");
    if finished.clear_menu {
        expression.push_str(", menu");
    }
    for i in 0..finished.lapsed.len() {
        expression.push_str(&format!(", #l{i}"));
    }
    expression
}

fn leave_names(finished: &Finished<'_>) -> HashMap<String, String> {
    let mut names = HashMap::from([("#tag".to_owned(), finished.tag.to_owned())]);
    for (i, tag) in finished.lapsed.iter().enumerate() {
        names.insert(format!("#l{i}"), tag.clone());
    }
    names
}

fn invalid_transaction(e: aws_sdk_dynamodb::error::BuildError) -> PortError {
    PortError::new(FailureKind::Rejected, "TransactWriteItems", e.to_string())
}

/// The attribute of the contact item that claims one of the chat's Connect items.
fn item_claim_attribute(hash: &str) -> String {
    format!("{ITEM_CLAIM_PREFIX}{hash}")
}

/// How many of an item's WhatsApp messages a failed attempt sent (`p_<hash>`, beside its claim, which
/// a release removes); removed when the item is done.
fn item_parts_attribute(hash: &str) -> String {
    format!("p_{hash}")
}

const ITEM_CLAIM_PREFIX: &str = "i_";
/// How long a Connect item stays known as bridged on the contact mapping (at least; at most twice
/// this). SNS hands ConnectHandler one item per event: an event that failed released its claim, so
/// only a redelivery of one that succeeded (an SNS duplicate, a retry after a lost response) needs
/// it, and those come within minutes.
const ITEM_CLAIM_KEPT_MS: i64 = 3_600_000;
/// At most this many expired claims are removed by one completing write, to keep it small.
const EXPIRED_PER_WRITE: usize = 20;

/// Bridged items are filed by hash in one string set per [`ITEM_CLAIM_KEPT_MS`] (`d_<hour>`), and
/// a claim looks in this hour's set and the last one's. Every claim returns the whole contact item
/// and DynamoDB bills a write by the item's size, so a busy chat's hundreds of bridged items must be
/// cheap to carry: a set element is the 16-character hash, where an attribute per item costs its
/// name and value and, in the SDK, a map entry of its own to parse on every claim.
const DONE_SET_PREFIX: &str = "d_";

fn done_hour(at_ms: i64) -> i64 {
    at_ms.div_euclid(ITEM_CLAIM_KEPT_MS)
}

fn done_set_attribute(hour: i64) -> String {
    format!("{DONE_SET_PREFIX}{hour}")
}

/// When an earlier release's `i_<hash>` claim was done; `None` while it is in progress. Those
/// releases kept a done claim as its done time (or `{state: done, done_at}`; one without `done_at`
/// never expires); they are read until they expire.
fn item_done_at(claim: &AttributeValue) -> Option<i64> {
    match claim {
        AttributeValue::N(at) => at.parse().ok(),
        AttributeValue::M(entry) if get_s(entry, "state") == Some("done") => {
            Some(get_n(entry, "done_at").unwrap_or(i64::MAX))
        }
        _ => None,
    }
}

/// Whether the contact item records the item with this hash as bridged, as a claim at `now_ms` sees it.
fn item_bridged(item: &Item, hash: &str, now_ms: i64) -> bool {
    let hour = done_hour(now_ms);
    let filed = [hour, hour - 1].into_iter().any(|h| {
        item.get(&done_set_attribute(h))
            .and_then(|set| set.as_ss().ok())
            .is_some_and(|set| set.iter().any(|done| done == hash))
    });
    filed || item.get(&item_claim_attribute(hash)).and_then(item_done_at).is_some()
}

/// The chat's items being bridged, as the contact item shows them (claims of earlier releases, which
/// carry no time, take no part in the order).
fn items_in_flight(item: &Item) -> Vec<ItemInFlight> {
    item.iter()
        .filter(|(name, _)| name.starts_with(ITEM_CLAIM_PREFIX))
        .filter_map(|(name, value)| {
            let entry = value.as_m().ok()?;
            (get_s(entry, "state") == Some("in_progress")).then_some(())?;
            Some(ItemInFlight {
                name: name.clone(),
                at_ms: get_n(entry, "at")?,
                until_ms: get_n(entry, "lease")?,
            })
        })
        .collect()
}

/// What the next completing write removes from a contact item: the sets of hours no claim looks in
/// any more, and earlier releases' done claims older than [`ITEM_CLAIM_KEPT_MS`].
fn expired_item_claims(item: &Item, now_ms: i64) -> Vec<String> {
    let oldest_kept = done_hour(now_ms) - 1;
    item.iter()
        .filter(|(name, value)| {
            if let Some(hour) = name.strip_prefix(DONE_SET_PREFIX) {
                return hour.parse::<i64>().is_ok_and(|hour| hour < oldest_kept);
            }
            name.starts_with(ITEM_CLAIM_PREFIX)
                && item_done_at(value).is_some_and(|at| at.saturating_add(ITEM_CLAIM_KEPT_MS) < now_ms)
        })
        .take(EXPIRED_PER_WRITE)
        .map(|(name, _)| name.clone())
        .collect()
}

fn parse_contact(operation: &'static str, initial_contact_id: &ContactId, item: &Item) -> PortResult<ContactRecord> {
    let field = |name: &str| get_s(item, name).ok_or_else(|| corrupt(operation, name));
    Ok(ContactRecord {
        initial_contact_id: initial_contact_id.clone(),
        phone_number_id: PhoneNumberId::parse(field("phone_number_id")?)
            .map_err(|_| corrupt(operation, "phone_number_id"))?,
        customer_id: CustomerId::parse(field("customer_id")?).map_err(|_| corrupt(operation, "customer_id"))?,
        phone: match get_s(item, "phone") {
            Some(phone) => Some(CustomerId::parse(phone).map_err(|_| corrupt(operation, "phone"))?),
            None => None,
        },
        origination_id: OriginationId::parse(field("origination_id")?)
            .map_err(|_| corrupt(operation, "origination_id"))?,
    })
}

impl DynamoStore {
    async fn transact(&self, items: Vec<TransactWriteItem>) -> PortResult<()> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("TransactWriteItems", e, false))?;
        Ok(())
    }

    /// Reads one item by key; used for the write-once items (contact mapping, sent-message map).
    async fn get(&self, pk: String) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, false).await
    }
}

impl StateStore for DynamoStore {
    async fn load_conversation(&self, key: &ConversationKey) -> PortResult<ConversationView> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            .consistent_read(true)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("GetItem", e, false))?;
        Ok(parse_view(key, out.item()))
    }

    async fn register(
        &self,
        key: &ConversationKey,
        inflight: &Inflight,
        wamid: &str,
        left_behind: Option<&str>,
        opener_until: Option<i64>,
    ) -> PortResult<ConversationView> {
        let entry = AttributeValue::M(HashMap::from([
            ("ts".to_owned(), n(inflight.timestamp)),
            ("rx".to_owned(), n(inflight.received_ns)),
            ("until".to_owned(), n(inflight.until_ms)),
        ]));
        let mut expression =
            String::from("SET #tag = :entry, last_wamid = :wamid, expires_at = if_not_exists(expires_at, :ttl)");
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)));
        if let Some(until_ms) = opener_until {
            // Nobody holds the lock only while no chat is active: the opener keeps it with its chat.
            expression.push_str(", #opener = if_not_exists(#opener, :opener)");
            let opener = Opener {
                tag: inflight.tag.clone(),
                until_ms,
            };
            call = call
                .expression_attribute_names("#opener", OPENER)
                .expression_attribute_values(":opener", opener_entry(&opener));
        }
        if let Some(tag) = left_behind {
            expression.push_str(" REMOVE #left");
            call = call.expression_attribute_names("#left", tag);
        }
        let out = call
            .update_expression(expression)
            .expression_attribute_names("#tag", &inflight.tag)
            .expression_attribute_values(":entry", entry)
            .expression_attribute_values(":wamid", s(wamid))
            .expression_attribute_values(":ttl", n(now_ms() / 1000 + STARTING_RETENTION_S))
            .return_values(ReturnValue::AllNew)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false))?;
        Ok(parse_view(key, out.attributes()))
    }

    async fn extend(&self, renewal: &Renewal<'_>) -> PortResult<()> {
        let claim = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim_pk(renewal.source, renewal.id)))
            .update_expression("SET lease_until = :until, #hold = :hold")
            .condition_expression("#state = :in_progress AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#hold", "hold")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":owner", s(renewal.owner))
            .expression_attribute_values(":hold", s(HOLD_EXCLUSIVE))
            .expression_attribute_values(":until", n(renewal.until_ms))
            .send()
            .boxed();
        let registration = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(renewal.key)))
            .update_expression("SET #tag.#until = :until")
            .condition_expression("attribute_exists(#tag)")
            .expression_attribute_names("#tag", renewal.tag)
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":until", n(renewal.until_ms))
            .send()
            .boxed();
        let lock = async {
            if !renewal.opening {
                return Ok(());
            }
            // Only the holder's own lock: one taken over since (it lapsed) stays with its new holder.
            let renewed = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(conversation_pk(renewal.key)))
                .update_expression("SET #opener.#until = :until")
                .condition_expression("#opener.#tag = :tag")
                .expression_attribute_names("#opener", OPENER)
                .expression_attribute_names("#until", "until")
                .expression_attribute_names("#tag", "tag")
                .expression_attribute_values(":tag", s(renewal.tag))
                .expression_attribute_values(":until", n(renewal.until_ms))
                .send()
                .boxed()
                .await;
            tolerate_conflict(renewed.map_err(|e| classify("UpdateItem", e, false)))
        };
        let (claim, registration, lock) = tokio::join!(claim, behind(registration), behind(lock));
        // A claim already done (or taken over), or a registration already gone, needs no longer hold.
        tolerate_conflict(claim.map_err(|e| classify("UpdateItem", e, false)))?;
        tolerate_conflict(registration.map_err(|e| classify("UpdateItem", e, false)))?;
        lock
    }

    async fn unregister(&self, key: &ConversationKey, tag: &str) -> PortResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            .update_expression("REMOVE #tag")
            .expression_attribute_names("#tag", tag)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false))?;
        Ok(())
    }

    async fn take_start_lock(
        &self,
        key: &ConversationKey,
        opener: &Opener,
        now_ms: i64,
        replaced: Option<&str>,
    ) -> PortResult<Option<ConversationView>> {
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)));
        let call = match replaced {
            Some(replaced) => call
                .update_expression("SET #opener = :opener ADD #tried :replaced")
                .expression_attribute_names("#tried", TRIED)
                .expression_attribute_values(":replaced", AttributeValue::Ss(vec![replaced.to_owned()])),
            None => call.update_expression("SET #opener = :opener"),
        };
        let result = call
            .condition_expression(
                "(attribute_not_exists(#state) OR #state <> :active) AND (attribute_not_exists(#opener) OR \
                 #opener.#until < :now OR #opener.#tag = :tag)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#opener", OPENER)
            .expression_attribute_names("#until", "until")
            .expression_attribute_names("#tag", "tag")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":opener", opener_entry(opener))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":tag", s(&opener.tag))
            .return_values(ReturnValue::AllNew)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false));
        match result {
            Ok(out) => Ok(Some(parse_view(key, out.attributes()))),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn activate(
        &self,
        lock: &StartLock,
        chat: &ActiveChat,
        opened_with: Option<&OpenedWith>,
        ttl_s: i64,
    ) -> PortResult<ConversationView> {
        const SET: &str = "SET #state = :active, generation = :g, contact_id = :contact, participant_token = :pt, \
                           connection_token = :ct, connection_expires_at = :exp, activated_ms = :now, \
                           expires_at = :ttl";
        let now = now_ms();
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(&lock.key)))
            .expression_attribute_names("#tried", TRIED)
            .expression_attribute_names("#opened", OPENED_WITH);
        // The lock stays with the chat: while it is active, no registration takes it.
        let call = match opened_with {
            Some(opened_with) => call
                .update_expression(format!("{SET}, #opened = :opened REMOVE #tried"))
                .expression_attribute_values(":opened", opened_with_entry(opened_with)),
            None => call.update_expression(format!("{SET} REMOVE #tried, #opened")),
        };
        let out = call
            .condition_expression("#opener.#tag = :tag")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#opener", OPENER)
            .expression_attribute_names("#tag", "tag")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":g", n(lock.generation))
            .expression_attribute_values(":tag", s(&lock.tag))
            .expression_attribute_values(":contact", s(chat.contact_id.as_str()))
            .expression_attribute_values(":pt", s(chat.participant_token.expose()))
            .expression_attribute_values(":ct", s(chat.connection_token.expose()))
            .expression_attribute_values(":exp", n(chat.connection_expires_at))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(now / 1000 + ttl_s))
            .return_values(ReturnValue::AllNew)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false))?;
        Ok(parse_view(&lock.key, out.attributes()))
    }

    async fn abandon_start(&self, lock: &StartLock, retire: bool) -> PortResult<()> {
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(&lock.key)))
            .condition_expression("#opener.#tag = :tag AND (attribute_not_exists(#state) OR #state <> :active)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#opener", OPENER)
            .expression_attribute_names("#tag", "tag")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":tag", s(&lock.tag))
            .expression_attribute_names("#tried", TRIED);
        let call = if retire {
            call.update_expression("SET generation = :g, #state = :ended REMOVE #opener, #tried")
                .expression_attribute_values(":g", n(lock.generation))
                .expression_attribute_values(":ended", s("ended"))
        } else {
            call.update_expression("REMOVE #opener ADD #tried :me")
                .expression_attribute_values(":me", AttributeValue::Ss(vec![lock.tag.clone()]))
        };
        let result = call.send().boxed().await.map_err(|e| classify("UpdateItem", e, false));
        tolerate_conflict(result)
    }

    async fn update_connection(&self, key: &ConversationKey, chat: &ActiveChat) -> PortResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            .update_expression("SET connection_token = :ct, connection_expires_at = :exp")
            .condition_expression("#state = :active AND contact_id = :contact")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":contact", s(chat.contact_id.as_str()))
            .expression_attribute_values(":ct", s(chat.connection_token.expose()))
            .expression_attribute_values(":exp", n(chat.connection_expires_at))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false));
        // The conversation moved on to another chat meanwhile; the new token is simply not kept.
        tolerate_conflict(result)
    }

    async fn mark_ended(&self, key: &ConversationKey, contact_id: &ContactId, by: &str) -> PortResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            // The chat's menu dies with it: a number typed into the next chat answers nothing. So does
            // its start lock: the next message to register opens the next chat.
            .update_expression("SET #state = :ended, ended_by = :by REMOVE menu, #opener")
            .condition_expression("#state = :active AND contact_id = :contact")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#opener", OPENER)
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":ended", s("ended"))
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":contact", s(contact_id.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .boxed()
            .await;
        let err = match result {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        match err.as_service_error() {
            // Ended before: by this very event (a retry) only if nothing changed since.
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => Ok(e.item().is_some_and(|old| {
                get_s(old, "state") == Some("ended")
                    && get_s(old, "contact_id") == Some(contact_id.as_str())
                    && get_s(old, "ended_by") == Some(by)
            })),
            _ => Err(classify("UpdateItem", err, false)),
        }
    }

    async fn save_menu(&self, key: &ConversationKey, contact_id: &ContactId, menu: &Menu) -> PortResult<()> {
        let json = serde_json::to_string(menu)
            .map_err(|e| PortError::new(FailureKind::Rejected, "UpdateItem", e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            .update_expression("SET menu = :menu")
            .condition_expression("contact_id = :contact")
            .expression_attribute_values(":menu", s(json))
            .expression_attribute_values(":contact", s(contact_id.as_str()))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false));
        // The conversation moved on to another chat: the menu belongs to a chat that is over.
        tolerate_conflict(result)
    }

    async fn take_typing_slot(&self, key: &ConversationKey, now_ms: i64, gap_ms: i64) -> PortResult<Option<String>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(key)))
            .update_expression("SET typing_at = :now")
            .condition_expression(
                "attribute_exists(last_wamid) AND (attribute_not_exists(typing_at) OR typing_at <= :cut)",
            )
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":cut", n(now_ms - gap_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false));
        match result {
            Ok(out) => Ok(out.attributes().and_then(|a| get_s(a, "last_wamid")).map(str::to_owned)),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn load_sent(&self, wa_message_id: &str) -> PortResult<Option<SentRecord>> {
        const OP: &str = "GetItem";
        let Some(item) = self.get(sent_pk(wa_message_id)).await? else {
            return Ok(None);
        };
        let item = &item;
        let field = |name: &str| get_s(item, name).ok_or_else(|| corrupt(OP, name));
        Ok(Some(SentRecord {
            wa_message_id: wa_message_id.to_owned(),
            contact_id: ContactId::parse(field("contact_id")?).map_err(|_| corrupt(OP, "contact_id"))?,
            item_id: ItemId::parse(field("item_id")?).map_err(|_| corrupt(OP, "item_id"))?,
            summary: get_s(item, "summary").unwrap_or_default().to_owned(),
        }))
    }

    async fn load_quote(&self, wa_message_id: &str) -> PortResult<Option<String>> {
        // Both reads at once: a reply quotes the agent's messages far more often, but which side sent
        // the quoted message is not in the event.
        let (sent, claimed) = tokio::join!(
            self.load_sent(wa_message_id),
            behind(self.get(claim_pk("wa", wa_message_id)))
        );
        if let Some(sent) = sent? {
            return Ok(Some(sent.summary));
        }
        Ok(claimed?.and_then(|item| get_s(&item, "summary").map(str::to_owned)))
    }

    async fn put_contact(&self, contact: &ContactRecord, ttl_s: i64) -> PortResult<()> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(contact_pk(&contact.initial_contact_id)))
            .item("phone_number_id", s(contact.phone_number_id.as_str()))
            .item("customer_id", s(contact.customer_id.as_str()))
            .item("origination_id", s(contact.origination_id.as_str()))
            .item("expires_at", n(now_ms() / 1000 + ttl_s));
        if let Some(phone) = &contact.phone {
            put = put.item("phone", s(phone.as_str()));
        }
        put.send().boxed().await.map_err(|e| classify("PutItem", e, false))?;
        Ok(())
    }

    async fn load_contact(&self, initial_contact_id: &ContactId) -> PortResult<Option<ContactRecord>> {
        match self.get(contact_pk(initial_contact_id)).await? {
            Some(item) => parse_contact("GetItem", initial_contact_id, &item).map(Some),
            None => Ok(None),
        }
    }

    async fn claim_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        terms: &ItemTerms<'_>,
    ) -> PortResult<ItemClaim> {
        const OP: &str = "UpdateItem";
        let now_ms = terms.now_ms;
        let hash = short_hash(item_id.as_str());
        let hour = done_hour(now_ms);
        let entry = AttributeValue::M(HashMap::from([
            ("state".to_owned(), s("in_progress")),
            ("lease".to_owned(), n(now_ms + terms.lease_ms)),
            ("owner".to_owned(), s(terms.owner)),
            ("at".to_owned(), n(terms.at_ms)),
        ]));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(initial_contact_id)))
            .update_expression("SET #item = :entry")
            // Never creates the mapping: an item of a chat that is not ours claims nothing.
            .condition_expression(
                "attribute_exists(pk) AND NOT contains(#done, :hash) AND NOT contains(#done_before, :hash) \
                 AND (attribute_not_exists(#item) OR (#item.#state = :in_progress \
                 AND (#item.lease < :now OR #item.#owner = :owner)))",
            )
            .expression_attribute_names("#item", item_claim_attribute(&hash))
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(terms.owner))
            .expression_attribute_names("#done", done_set_attribute(hour))
            .expression_attribute_names("#done_before", done_set_attribute(hour - 1))
            .expression_attribute_values(":entry", entry)
            .expression_attribute_values(":hash", s(&hash))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .boxed()
            .await;
        let err = match result {
            Ok(out) => {
                let item = out.attributes().ok_or_else(|| corrupt(OP, "no attributes returned"))?;
                let name = item_claim_attribute(&hash);
                let (me, in_flight) = items_in_flight(item).into_iter().partition(|other| other.name == name);
                return Ok(ItemClaim {
                    claim: Claim::Acquired,
                    me: Vec::into_iter(me).next(),
                    in_flight,
                    parts_sent: get_n(item, &item_parts_attribute(&hash))
                        .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
                    contact: Some(parse_contact(OP, initial_contact_id, item)?),
                    expired: expired_item_claims(item, now_ms),
                });
            }
            Err(err) => err,
        };
        let old = match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => e.item().cloned(),
            _ => return Err(classify(OP, err, false)),
        };
        // The old item was not returned: read it to tell an unknown contact, done and busy apart.
        let old = match old {
            Some(old) => Some(old),
            None => self.get(contact_pk(initial_contact_id)).await?,
        };
        let Some(old) = old else {
            return Ok(ItemClaim {
                claim: Claim::Acquired,
                me: None,
                in_flight: Vec::new(),
                parts_sent: 0,
                contact: None,
                expired: Vec::new(),
            });
        };
        let claim = if item_bridged(&old, &hash, now_ms) {
            Claim::Done
        } else {
            Claim::Busy
        };
        Ok(ItemClaim {
            claim,
            me: None,
            in_flight: Vec::new(),
            parts_sent: 0,
            contact: Some(parse_contact(OP, initial_contact_id, &old)?),
            expired: Vec::new(),
        })
    }

    async fn items_in_flight(&self, initial_contact_id: &ContactId) -> PortResult<Vec<ItemInFlight>> {
        let item = self.get(contact_pk(initial_contact_id)).await?;
        Ok(item.as_ref().map(items_in_flight).unwrap_or_default())
    }

    async fn complete_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        sent: &[SentRecord],
        expired: &[String],
    ) -> PortResult<()> {
        // Done, the claim becomes its hash in this hour's set (see `DONE_SET_PREFIX`). The expired
        // sets are of hours before the claim's last one, so never this hour's.
        let hash = short_hash(item_id.as_str());
        let mut expression = String::from("ADD #done :hash REMOVE #item, #parts");
        let mut names = HashMap::from([
            ("#item".to_owned(), item_claim_attribute(&hash)),
            ("#parts".to_owned(), item_parts_attribute(&hash)),
            ("#done".to_owned(), done_set_attribute(done_hour(now_ms()))),
        ]);
        for (i, name) in expired.iter().enumerate() {
            expression.push_str(&format!(", #x{i}"));
            names.insert(format!("#x{i}"), name.clone());
        }
        let done = Update::builder()
            .table_name(&self.table)
            .key("pk", s(contact_pk(initial_contact_id)))
            .update_expression(expression)
            .condition_expression("attribute_exists(#item)")
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":hash", AttributeValue::Ss(vec![hash]))
            .build()
            .map_err(invalid_transaction)?;
        let mut items = vec![TransactWriteItem::builder().update(done).build()];
        let expires_at = n(now_ms() / 1000 + SENT_RETENTION_S);
        for record in sent {
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", s(sent_pk(&record.wa_message_id)))
                .item("contact_id", s(record.contact_id.as_str()))
                .item("item_id", s(record.item_id.as_str()))
                .item("summary", s(&record.summary))
                .item("expires_at", expires_at.clone())
                .build()
                .map_err(invalid_transaction)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // One write: what was sent is recorded exactly when the item counts as bridged.
        self.transact(items).await
    }

    async fn release_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        owner: &str,
        parts_sent: usize,
    ) -> PortResult<()> {
        let hash = short_hash(item_id.as_str());
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(initial_contact_id)))
            .update_expression("REMOVE #item")
            .condition_expression("#item.#state = :in_progress AND #item.#owner = :owner")
            .expression_attribute_names("#item", item_claim_attribute(&hash))
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":owner", s(owner));
        if parts_sent > 0 {
            call = call
                .update_expression("SET #parts = :parts REMOVE #item")
                .expression_attribute_names("#parts", item_parts_attribute(&hash))
                .expression_attribute_values(":parts", n(parts_sent));
        }
        let result = call.send().boxed().await.map_err(|e| classify("UpdateItem", e, false));
        tolerate_conflict(result)
    }

    async fn claim(&self, source: &str, id: &str, terms: &ClaimTerms<'_>) -> PortResult<MessageClaim> {
        let now = terms.now_ms;
        let mut set = String::from(
            "SET #state = :in_progress, lease_until = :lease, expires_at = :ttl, #hold = :hold, \
             #owner = :owner, taken_ms = if_not_exists(taken_ms, :now)",
        );
        if terms.summary.is_some() {
            set.push_str(", summary = :summary");
        }
        let mut call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim_pk(source, id)))
            .update_expression(set)
            // Our own claim is ours again: the SDK retried a write whose answer was lost.
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :in_progress AND (lease_until < :now OR #owner = :owner))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#hold", "hold")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":owner", s(terms.owner))
            .expression_attribute_values(":lease", n(now + terms.lease_ms))
            .expression_attribute_values(":ttl", n(now / 1000 + CLAIM_RETENTION_S))
            .expression_attribute_values(":hold", s(if terms.fast { HOLD_FAST } else { HOLD_EXCLUSIVE }))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(summary) = terms.summary {
            call = call.expression_attribute_values(":summary", s(summary));
        }
        let err = match call.send().boxed().await {
            // The item before: none for a first claim, else the expired lease of a holder that went quiet.
            Ok(out) => {
                let claim = match out.attributes() {
                    Some(old) if get_s(old, "owner") == Some(terms.owner) => Claim::Acquired,
                    Some(old) if get_s(old, "hold") == Some(HOLD_FAST) => Claim::Replay {
                        first_ms: get_n(old, "taken_ms").unwrap_or(now),
                    },
                    _ => Claim::Acquired,
                };
                let progress = out.attributes().map(parse_progress).unwrap_or_default();
                return Ok(MessageClaim { claim, progress });
            }
            Err(err) => err,
        };
        let existing = err
            .as_service_error()
            .and_then(|e| match e {
                UpdateItemError::ConditionalCheckFailedException(e) => Some(e),
                _ => None,
            })
            .map(|e| e.item().and_then(|item| get_s(item, "state").map(str::to_owned)));
        let claim = match existing {
            Some(Some(state)) if state == "done" => Claim::Done,
            Some(Some(_)) => Claim::Busy,
            // The old item was not returned: read it to tell done from busy.
            Some(None) => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(claim_pk(source, id)))
                    .consistent_read(true)
                    .send()
                    .boxed()
                    .await
                    .map_err(|e| classify("GetItem", e, false))?;
                match out.item().and_then(|item| get_s(item, "state")) {
                    Some("done") => Claim::Done,
                    _ => Claim::Busy,
                }
            }
            None => return Err(classify("UpdateItem", err, false)),
        };
        // Taken by nobody: what it did is not this invocation's to know.
        Ok(MessageClaim {
            claim,
            progress: Progress::default(),
        })
    }

    async fn record(&self, source: &str, id: &str, owner: &str, step: Step<'_>) -> PortResult<()> {
        let call = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim_pk(source, id)))
            .condition_expression("#state = :in_progress AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":owner", s(owner));
        let call = match step {
            Step::Said(said) => call
                .update_expression("ADD said :said")
                .expression_attribute_values(":said", AttributeValue::Ss(vec![said.name()])),
            Step::Media(aftermath) => {
                let json = serde_json::to_string(aftermath).map_err(|e| {
                    PortError::new(
                        FailureKind::Rejected,
                        "UpdateItem",
                        format!("unrecordable media result: {e}"),
                    )
                })?;
                call.update_expression("SET media = :media")
                    .expression_attribute_values(":media", s(json))
            }
        };
        let result = call.send().boxed().await.map_err(|e| classify("UpdateItem", e, false));
        // Taken over (the lease lapsed): the new holder starts from what was recorded before.
        tolerate_conflict(result)
    }

    async fn complete(&self, source: &str, id: &str, finished: Option<&Finished<'_>>) -> PortResult<()> {
        // What a failed attempt recorded is of no use once the message is done (and the media result holds
        // the customer's words, kept no longer than needed).
        const DONE: &str = "SET #state = :done REMOVE lease_until, #hold, said, media";
        let Some(finished) = finished else {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(claim_pk(source, id)))
                .update_expression(DONE)
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#hold", "hold")
                .expression_attribute_values(":done", s("done"))
                .send()
                .boxed()
                .await
                .map_err(|e| classify("UpdateItem", e, false))?;
            return Ok(());
        };
        let done = Update::builder()
            .table_name(&self.table)
            .key("pk", s(claim_pk(source, id)))
            .update_expression(DONE)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#hold", "hold")
            .expression_attribute_values(":done", s("done"))
            .build()
            .map_err(invalid_transaction)?;
        let leave = Update::builder()
            .table_name(&self.table)
            .key("pk", s(conversation_pk(finished.key)))
            .update_expression(leave_expression(finished))
            .set_expression_attribute_names(Some(leave_names(finished)))
            .build()
            .map_err(invalid_transaction)?;
        // One write for both: the claim is never done while the message still blocks later ones.
        self.transact(vec![
            TransactWriteItem::builder().update(done).build(),
            TransactWriteItem::builder().update(leave).build(),
        ])
        .await
    }

    async fn release(&self, source: &str, id: &str, owner: &str) -> PortResult<()> {
        // Kept with what it recorded, free for anyone (a lapsed lease), and taken afresh: not a replay.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim_pk(source, id)))
            .update_expression("SET lease_until = :free REMOVE #owner, #hold, taken_ms")
            .condition_expression("#state = :in_progress AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#hold", "hold")
            .expression_attribute_values(":in_progress", s("in_progress"))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":free", n(0))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("UpdateItem", e, false));
        tolerate_conflict(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MaximumEventAgeInSeconds` of a function in template.yaml: the oldest event Lambda still retries.
    fn maximum_event_age_s(function: &str) -> i64 {
        let template = include_str!("../../../../template.yaml");
        let start = template
            .find(&format!("\n  {function}:\n    Type: AWS::Serverless::Function"))
            .unwrap_or_else(|| panic!("{function} in template.yaml"));
        let rest = &template[start..];
        let value = rest
            .split("MaximumEventAgeInSeconds:")
            .nth(1)
            .unwrap_or_else(|| panic!("{function} sets MaximumEventAgeInSeconds"));
        value.split_whitespace().next().unwrap().parse().unwrap()
    }

    #[test]
    fn done_claims_outlast_every_redelivery_lambda_makes() {
        assert!(
            maximum_event_age_s("ConnectHandler") * 1000 <= ITEM_CLAIM_KEPT_MS,
            "a Connect item retried after its done claim is forgotten is sent to the customer again"
        );
        assert!(maximum_event_age_s("WhatsappHandler") <= CLAIM_RETENTION_S);
    }

    fn claim(state: &str, done_at: Option<i64>) -> AttributeValue {
        let mut entry = HashMap::from([("state".to_owned(), s(state))]);
        if let Some(at) = done_at {
            entry.insert("done_at".to_owned(), n(at));
        }
        AttributeValue::M(entry)
    }

    fn done_set(hashes: &[&str]) -> AttributeValue {
        AttributeValue::Ss(hashes.iter().map(|h| (*h).to_owned()).collect())
    }

    #[test]
    fn only_the_sets_no_claim_looks_in_and_old_done_claims_expire() {
        // Half-way through hour 10.
        let now = 10 * ITEM_CLAIM_KEPT_MS + ITEM_CLAIM_KEPT_MS / 2;
        let item: Item = HashMap::from([
            ("pk".to_owned(), s("contact#c1")),
            ("d_10".to_owned(), done_set(&["a"])),
            ("d_9".to_owned(), done_set(&["b"])),
            ("d_8".to_owned(), done_set(&["c"])),
            ("d_3".to_owned(), done_set(&["d"])),
            ("i_old".to_owned(), n(now - ITEM_CLAIM_KEPT_MS - 1)),
            ("i_recent".to_owned(), n(now - 1_000)),
            (
                "i_old_map".to_owned(),
                claim("done", Some(now - ITEM_CLAIM_KEPT_MS - 1)),
            ),
            ("i_busy".to_owned(), claim("in_progress", None)),
            ("i_legacy".to_owned(), claim("done", None)),
            ("q_other".to_owned(), claim("done", Some(0))),
        ]);
        let mut expired = expired_item_claims(&item, now);
        expired.sort();
        assert_eq!(expired, ["d_3", "d_8", "i_old", "i_old_map"]);
        let many: Item = (0..50).map(|i| (format!("i_{i}"), n(0))).collect();
        assert_eq!(expired_item_claims(&many, now).len(), EXPIRED_PER_WRITE);
    }

    #[test]
    fn an_item_is_bridged_when_its_hash_is_in_this_or_the_last_hours_set_or_an_old_claim_is_done() {
        let now = 10 * ITEM_CLAIM_KEPT_MS + 5;
        let item: Item = HashMap::from([
            ("d_10".to_owned(), done_set(&["now"])),
            ("d_9".to_owned(), done_set(&["last_hour"])),
            ("d_8".to_owned(), done_set(&["too_old"])),
            ("i_legacy".to_owned(), n(now - 1_000)),
            ("i_legacy_map".to_owned(), claim("done", None)),
            ("i_busy".to_owned(), claim("in_progress", None)),
        ]);
        for hash in ["now", "last_hour", "legacy", "legacy_map"] {
            assert!(item_bridged(&item, hash, now), "{hash}");
        }
        for hash in ["too_old", "busy", "unknown"] {
            assert!(!item_bridged(&item, hash, now), "{hash}");
        }
    }
}
