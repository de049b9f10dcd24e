//! DynamoDB: handoff records, in the bridge's state table beside the conversations (see
//! [`crate::handoff::store`] for what the port promises).
//!
//! | item | `pk` | holds |
//! |---|---|---|
//! | handoff | `handoff#<handoff id>` | the client, the bot's conversation id, the create's client token and request digest, the chat (contact id, participant and connection tokens), the lifecycle (`status`, `agent`, `ever_joined`, `ended_by`, `seq`) and its times |
//! | idempotency key | `hkey#<client token>` | the handoff created under it |
//! | handoff contact | `hcontact#<contact id>` | the handoff whose chat it is (`handoff_id`), for ConnectHandler |
//! | handoff item | `hitem#<handoff id>#<Connect item id>` | that the item moved the handoff (kept an hour) |
//! | handoff event | `hevent#<handoff id>#<sequence>` | an event owed to the bot: its `type` (`kind`) and `body` |
//!
//! The create writes both in one transaction, each conditional on not existing, and asks for the key's
//! item back when its condition fails: a retried create learns its handoff from the failed write itself.
//! Every move is conditional on `seq`, the lifecycle's sequence number, which each move that owes the bot
//! an event advances, and writes the events it owes and the item that caused it (conditional on not
//! existing: a duplicate) in the same transaction. Attaching the chat writes the contact's item and
//! `handoff.created` with it. The items live [`HANDOFF_RETENTION_S`] after the create, for a bot that
//! reads a transcript or retries a create days later. The delivery's state is on the handoff's item (see
//! `crate::aws::handoff_outbox`), and so is `offered`: the chat's last interactive message as the bot
//! was shown it, with its menu (JSON), which the bot answers by option id.

use super::items::{
    Item, TransactError, cancellation, check_failed, corrupt, get_item, get_n, get_s, invalid, landed, n, s, transact,
};
use super::{Boxed, classify};
use crate::handoff::lifecycle::{EndReason, Lifecycle, Status};
use crate::handoff::message::OfferedChoice;
use crate::handoff::request::HandoffId;
use crate::handoff::store::{Created, HandoffRecord, HandoffStore, Owed, Step, Written};
use crate::ids::{ConnectionToken, ContactId, ParticipantToken};
use crate::ports::{ActiveChat, PortResult};
use crate::telemetry::now_ms;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Handoffs and their keys are kept 30 days after the create.
pub const HANDOFF_RETENTION_S: i64 = 30 * 24 * 3600;
/// An item that moved a handoff is remembered this long: Connect's stream and Lambda's retries
/// redeliver within minutes.
const ITEM_RETENTION_S: i64 = 3600;

pub struct DynamoHandoffStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoHandoffStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    pub(crate) async fn get(&self, pk: String) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, true).await
    }

    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub(crate) fn table(&self) -> &str {
        &self.table
    }
}

pub(crate) fn handoff_pk(id: &HandoffId) -> String {
    format!("handoff#{id}")
}

pub(crate) fn event_pk(id: &HandoffId, sequence: u64) -> String {
    format!("hevent#{id}#{sequence}")
}

fn contact_pk(contact_id: &ContactId) -> String {
    format!("hcontact#{contact_id}")
}

fn retained(created_ms: i64) -> AttributeValue {
    n(created_ms / 1000 + HANDOFF_RETENTION_S)
}

fn key_pk(client_token: &str) -> String {
    format!("hkey#{client_token}")
}

/// A lifecycle enum as its API name (`agent_joined`), the spelling the bot sees too.
fn name_of(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse_name<T: DeserializeOwned>(item: &Item, attribute: &str) -> Option<T> {
    get_s(item, attribute).and_then(|raw| serde_json::from_value(raw.into()).ok())
}

/// The attributes a move writes: the lifecycle and its times.
fn lifecycle_attributes(record: &HandoffRecord) -> Vec<(&'static str, Option<AttributeValue>)> {
    let lifecycle = &record.lifecycle;
    vec![
        ("status", Some(s(name_of(&lifecycle.status)))),
        ("agent", lifecycle.agent.as_deref().map(s)),
        ("ever_joined", Some(AttributeValue::Bool(lifecycle.agent_ever_joined))),
        ("ended_by", lifecycle.ended_by.as_ref().map(|r| s(name_of(r)))),
        ("seq", Some(n(lifecycle.sequence))),
        ("joined_ms", record.agent_joined_ms.map(n)),
        ("ended_ms", record.ended_ms.map(n)),
    ]
}

fn chat_attributes(chat: &ActiveChat) -> [(&'static str, AttributeValue); 4] {
    [
        ("contact", s(chat.contact_id.as_str())),
        ("ptok", s(chat.participant_token.expose())),
        ("ctok", s(chat.connection_token.expose())),
        ("cexp", n(chat.connection_expires_at)),
    ]
}

fn record_item(record: &HandoffRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(handoff_pk(&record.id))),
        ("client".to_owned(), s(&record.client)),
        ("ext".to_owned(), s(&record.external_conversation_id)),
        ("token".to_owned(), s(&record.client_token)),
        ("digest".to_owned(), s(&record.request_digest)),
        ("created_ms".to_owned(), n(record.created_ms)),
        (
            "expires_at".to_owned(),
            n(record.created_ms / 1000 + HANDOFF_RETENTION_S),
        ),
    ]);
    let chat = record.chat.iter().flat_map(chat_attributes);
    let lifecycle = lifecycle_attributes(record)
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)));
    item.extend(chat.chain(lifecycle).map(|(name, value)| (name.to_owned(), value)));
    item
}

fn parse_chat(item: &Item) -> Option<ActiveChat> {
    Some(ActiveChat {
        contact_id: ContactId::parse(get_s(item, "contact")?).ok()?,
        participant_token: ParticipantToken::new(get_s(item, "ptok")?),
        connection_token: ConnectionToken::new(get_s(item, "ctok")?),
        connection_expires_at: get_n(item, "cexp")?,
    })
}

fn parse_record(operation: &'static str, item: &Item) -> PortResult<HandoffRecord> {
    let text = |name: &str| {
        get_s(item, name)
            .map(str::to_owned)
            .ok_or_else(|| corrupt(operation, name))
    };
    let id = get_s(item, "pk")
        .and_then(|pk| pk.strip_prefix("handoff#"))
        .and_then(HandoffId::parse)
        .ok_or_else(|| corrupt(operation, "pk"))?;
    let lifecycle = Lifecycle {
        status: parse_name::<Status>(item, "status").ok_or_else(|| corrupt(operation, "status"))?,
        agent: get_s(item, "agent").map(str::to_owned),
        agent_ever_joined: item.get("ever_joined").and_then(|v| v.as_bool().ok()) == Some(&true),
        ended_by: parse_name::<EndReason>(item, "ended_by"),
        sequence: get_n(item, "seq")
            .and_then(|seq| u64::try_from(seq).ok())
            .ok_or_else(|| corrupt(operation, "seq"))?,
    };
    Ok(HandoffRecord {
        id,
        client: text("client")?,
        external_conversation_id: text("ext")?,
        client_token: text("token")?,
        request_digest: text("digest")?,
        created_ms: get_n(item, "created_ms").ok_or_else(|| corrupt(operation, "created_ms"))?,
        chat: parse_chat(item),
        lifecycle,
        agent_joined_ms: get_n(item, "joined_ms"),
        ended_ms: get_n(item, "ended_ms"),
    })
}

fn put(table: &str, item: Item, on_conflict: ReturnValuesOnConditionCheckFailure) -> PortResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(on_conflict)
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An item written whatever was there (the same content again on a retry).
fn overwrite(table: &str, item: Item) -> PortResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(invalid)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The outbox's items for `owed`.
fn event_items(table: &str, record: &HandoffRecord, owed: &[Owed]) -> PortResult<Vec<TransactWriteItem>> {
    owed.iter()
        .map(|event| {
            overwrite(
                table,
                Item::from([
                    ("pk".to_owned(), s(event_pk(&record.id, event.sequence))),
                    ("kind".to_owned(), s(event.envelope.kind.type_name())),
                    ("body".to_owned(), s(&event.envelope.body)),
                    ("expires_at".to_owned(), retained(record.created_ms)),
                ]),
            )
        })
        .collect()
}

/// The idempotency key's item as the failed create found it, when its condition is what failed.
fn claimed_key(err: &TransactError) -> Option<Item> {
    // The key is the transaction's second item.
    let reasons = cancellation(err)?;
    check_failed(reasons, 1).then(|| reasons[1].item().cloned()).flatten()
}

/// What a move's transaction came to: its first item (the handoff's update) failing its condition is
/// `Stale`, its second (the item that caused it, or the contact's mapping) `Seen`; any other failure
/// is the caller's.
fn written(result: Result<(), TransactError>) -> PortResult<Written> {
    let err = match result {
        Ok(()) => return Ok(Written::Done),
        Err(err) => err,
    };
    match cancellation(&err) {
        Some(reasons) if check_failed(reasons, 0) => Ok(Written::Stale),
        Some(reasons) if check_failed(reasons, 1) => Ok(Written::Seen),
        _ => Err(classify("TransactWriteItems", err, false)),
    }
}

impl HandoffStore for DynamoHandoffStore {
    async fn create(&self, record: &HandoffRecord) -> PortResult<Created> {
        let key = Item::from([
            ("pk".to_owned(), s(key_pk(&record.client_token))),
            ("handoff_id".to_owned(), s(record.id.as_str())),
            ("expires_at".to_owned(), retained(record.created_ms)),
        ]);
        let items = vec![
            put(
                &self.table,
                record_item(record),
                ReturnValuesOnConditionCheckFailure::None,
            )?,
            put(&self.table, key, ReturnValuesOnConditionCheckFailure::AllOld)?,
        ];
        let err = match transact(&self.client, items).await {
            Ok(()) => return Ok(Created::New),
            Err(err) => err,
        };
        let Some(claimed) = claimed_key(&err) else {
            return Err(classify("TransactWriteItems", err, false));
        };
        let id = get_s(&claimed, "handoff_id")
            .and_then(HandoffId::parse)
            .ok_or_else(|| corrupt("TransactWriteItems", "handoff_id"))?;
        match self.load(&id).await? {
            Some(existing) => Ok(Created::Existing(Box::new(existing))),
            None => Err(corrupt("GetItem", "the idempotency key's handoff")),
        }
    }

    async fn load(&self, id: &HandoffId) -> PortResult<Option<HandoffRecord>> {
        self.get(handoff_pk(id))
            .await?
            .map(|item| parse_record("GetItem", &item))
            .transpose()
    }

    async fn attach_chat(&self, record: &HandoffRecord, chat: &ActiveChat, created: &Owed) -> PortResult<Written> {
        let id = &record.id;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(handoff_pk(id)))
            .update_expression("SET #contact = :contact, #ptok = :ptok, #ctok = :ctok, #cexp = :cexp")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#contact) OR #contact = :contact)");
        for (name, value) in chat_attributes(chat) {
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), value);
        }
        let mapping = Item::from([
            ("pk".to_owned(), s(contact_pk(&chat.contact_id))),
            ("handoff_id".to_owned(), s(id.as_str())),
            ("expires_at".to_owned(), retained(record.created_ms)),
        ]);
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update.build().map_err(invalid)?)
                .build(),
            overwrite(&self.table, mapping)?,
        ];
        items.extend(event_items(&self.table, record, std::slice::from_ref(created))?);
        written(transact(&self.client, items).await)
    }

    async fn load_offered(&self, id: &HandoffId) -> PortResult<Option<OfferedChoice>> {
        let Some(item) = self.get(handoff_pk(id)).await? else {
            return Ok(None);
        };
        get_s(&item, "offered")
            .map(|json| serde_json::from_str(json).map_err(|_| corrupt("GetItem", "offered")))
            .transpose()
    }

    async fn renew_connection(&self, id: &HandoffId, chat: &ActiveChat) -> PortResult<Written> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(handoff_pk(id)))
            .update_expression("SET #ctok = :ctok, #cexp = :cexp")
            .condition_expression("#contact = :contact")
            .expression_attribute_names("#ctok", "ctok")
            .expression_attribute_names("#cexp", "cexp")
            .expression_attribute_names("#contact", "contact")
            .expression_attribute_values(":ctok", s(chat.connection_token.expose()))
            .expression_attribute_values(":cexp", n(chat.connection_expires_at))
            .expression_attribute_values(":contact", s(chat.contact_id.as_str()))
            .send()
            .boxed()
            .await;
        Ok(if landed(result)? { Written::Done } else { Written::Stale })
    }

    async fn find_by_contact(&self, initial_contact_id: &ContactId) -> PortResult<Option<HandoffId>> {
        let item = self.get(contact_pk(initial_contact_id)).await?;
        Ok(item
            .as_ref()
            .and_then(|item| get_s(item, "handoff_id"))
            .and_then(HandoffId::parse))
    }

    async fn advance(&self, step: Step<'_>) -> PortResult<Written> {
        let (from, moved) = (step.from, step.moved);
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(handoff_pk(&from.id)))
            .condition_expression("#seq = :from")
            .expression_attribute_values(":from", n(from.lifecycle.sequence));
        // Every name through a placeholder: `status` is one of DynamoDB's reserved words.
        for (name, value) in lifecycle_attributes(moved) {
            update = update.expression_attribute_names(format!("#{name}"), name);
            match value {
                Some(value) => {
                    sets.push(format!("#{name} = :{name}"));
                    update = update.expression_attribute_values(format!(":{name}"), value);
                }
                None => removes.push(format!("#{name}")),
            }
        }
        if let Some(offered) = step.offered {
            sets.push("#offered = :offered".to_owned());
            update = update
                .expression_attribute_names("#offered", "offered")
                .expression_attribute_values(":offered", s(serde_json::to_string(offered).map_err(invalid)?));
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = update.update_expression(expression).build().map_err(invalid)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(item) = step.item {
            let seen = Item::from([
                ("pk".to_owned(), s(format!("hitem#{}#{item}", from.id))),
                ("expires_at".to_owned(), n(now_ms() / 1000 + ITEM_RETENTION_S)),
            ]);
            items.push(put(&self.table, seen, ReturnValuesOnConditionCheckFailure::None)?);
        }
        items.extend(event_items(&self.table, from, step.owed)?);
        written(transact(&self.client, items).await)
    }
}
