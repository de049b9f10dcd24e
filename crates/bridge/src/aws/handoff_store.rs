//! DynamoDB: handoff records, in the bridge's state table beside the conversations (see
//! [`crate::handoff::store`] for what the port promises).
//!
//! | item | `pk` | holds |
//! |---|---|---|
//! | handoff | `handoff#<handoff id>` | the client, the bot's conversation id, the create's client token and request digest, the chat (contact id, participant and connection tokens), the lifecycle (`status`, `agent`, `ever_joined`, `ended_by`, `seq`) and its times |
//! | idempotency key | `hkey#<client token>` | the handoff created under it |
//!
//! The create writes both in one transaction, each conditional on not existing, and asks for the key's
//! item back when its condition fails: a retried create learns its handoff from the failed write itself.
//! Every move is conditional on `seq`, the lifecycle's sequence number, which each move that owes the bot
//! an event advances. Both items live [`HANDOFF_RETENTION_S`] after the create, for a bot that reads a
//! transcript or retries a create days later.

use super::items::{Item, corrupt, get_item, get_n, get_s, n, s};
use super::{Boxed, classify};
use crate::error::{FailureKind, PortError};
use crate::handoff::lifecycle::{EndReason, Lifecycle, Status};
use crate::handoff::request::HandoffId;
use crate::handoff::store::{Created, HandoffRecord, HandoffStore, Written};
use crate::ids::{ConnectionToken, ContactId, ParticipantToken};
use crate::ports::{ActiveChat, PortResult};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Handoffs and their keys are kept 30 days after the create.
pub const HANDOFF_RETENTION_S: i64 = 30 * 24 * 3600;

pub struct DynamoHandoffStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoHandoffStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get(&self, pk: String) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, true).await
    }
}

fn handoff_pk(id: &HandoffId) -> String {
    format!("handoff#{id}")
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
        .map_err(|e| PortError::new(FailureKind::Rejected, "TransactWriteItems", e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The idempotency key's item as the failed create found it, when its condition is what failed.
fn claimed_key(err: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>) -> Option<Item> {
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else {
        return None;
    };
    // The key is the transaction's second item.
    let reason = cancelled.cancellation_reasons().get(1)?;
    (reason.code() == Some("ConditionalCheckFailed"))
        .then(|| reason.item().cloned())
        .flatten()
}

/// A conditional update that lost is `Stale`; any other failure is the caller's.
fn written(
    result: Result<(), SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> PortResult<Written> {
    match result {
        Ok(()) => Ok(Written::Done),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(Written::Stale)
        }
        Err(e) => Err(classify("UpdateItem", e, false)),
    }
}

impl HandoffStore for DynamoHandoffStore {
    async fn create(&self, record: &HandoffRecord) -> PortResult<Created> {
        let key = Item::from([
            ("pk".to_owned(), s(key_pk(&record.client_token))),
            ("handoff_id".to_owned(), s(record.id.as_str())),
            (
                "expires_at".to_owned(),
                n(record.created_ms / 1000 + HANDOFF_RETENTION_S),
            ),
        ]);
        let items = vec![
            put(
                &self.table,
                record_item(record),
                ReturnValuesOnConditionCheckFailure::None,
            )?,
            put(&self.table, key, ReturnValuesOnConditionCheckFailure::AllOld)?,
        ];
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .boxed()
            .await;
        let err = match sent {
            Ok(_) => return Ok(Created::New),
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

    async fn attach_chat(&self, id: &HandoffId, chat: &ActiveChat) -> PortResult<Written> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(handoff_pk(id)))
            .update_expression("SET #contact = :contact, #ptok = :ptok, #ctok = :ctok, #cexp = :cexp")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#contact) OR #contact = :contact)");
        for (name, value) in chat_attributes(chat) {
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), value);
        }
        written(update.send().boxed().await.map(drop))
    }

    async fn advance(&self, from: &HandoffRecord, moved: &HandoffRecord) -> PortResult<Written> {
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        let mut update = self
            .client
            .update_item()
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
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        written(update.update_expression(expression).send().boxed().await.map(drop))
    }
}
