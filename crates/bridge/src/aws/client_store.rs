//! DynamoDB: the Handoff API's clients, in the bridge's state table beside the conversations and
//! handoffs (see [`crate::handoff::auth::store`] for what the port promises).
//!
//! | item | `pk` | holds |
//! |---|---|---|
//! | client | `client#<client id>` | `keys` (a list of maps `{hash, created_ms, expires_ms?}`: each key's SHA-256 in lowercase hex, never the key), `iam` (the IAM principals acting as the client, in their printed form), `rps` (requests per second), `disabled`; the request counter `win` (epoch s its window started) and `cnt` |
//! | IAM principal | `principal#<printed principal>` | `client`: the one client the principal acts as |
//! | webhook | `webhook#<client id>` | `url`, and `secrets` (a list of maps `{secret, expires_ms?}`, newest last): only `WebhookSender` and operators read it |
//!
//! A client and its principals' items are written in one transaction: each principal's item only if it
//! is new or already this client's, so two clients never share a principal; the items of principals the
//! record no longer names are deleted in the same transaction. The record is read first to learn those,
//! and the write is conditional on its principals being still what was read, so two concurrent writes
//! cannot leave a principal's item behind that no record names. The write leaves `win` and `cnt` alone:
//! rotating a key does not hand the client a fresh window.
//!
//! Counting a request is one conditional `UpdateItem` in the common case: add one if the stored window
//! is current and below the limit. When that fails, the item as it was (returned by the failed
//! condition, no second read) tells [`throttle()`] whether the client is over its limit or its window is
//! over; an old window is replaced by another conditional update that only succeeds over an older one,
//! so of two instances starting the same second one starts it and the other counts in it. No decision
//! is ever written over a value read earlier.
//!
//! Reads are strongly consistent, so a key revoked or a client disabled is refused on the next request.

use super::items::{Item, corrupt, get_item, get_n, get_s, n, s};
use super::{Boxed, classify};
use crate::error::{FailureKind, PortError};
use crate::handoff::auth::store::ClientStore;
use crate::handoff::auth::{ClientId, ClientRecord, IamPrincipal, KeyHash, StoredKey, Throttle, Window, throttle};
use crate::handoff::dispatch::EndpointStore;
use crate::handoff::webhook::endpoint::{StoredSecret, WebhookEndpoint, WebhookUrl};
use crate::ports::PortResult;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use std::num::NonZeroU32;

/// Rounds of counting before giving up. A round fails only when another instance started the window
/// this one meant to start, so the next round counts in it or is limited: two rounds suffice, and a
/// third covers an instance whose clock runs ahead starting yet another window in between.
const COUNT_ROUNDS: usize = 3;

pub struct DynamoClientStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn client_pk(id: &ClientId) -> String {
    format!("client#{id}")
}

fn principal_pk(printed: &str) -> String {
    format!("principal#{printed}")
}

fn key_item(key: &StoredKey) -> AttributeValue {
    let mut map = Item::from([
        ("hash".to_owned(), s(key.hash.to_hex())),
        ("created_ms".to_owned(), n(key.created_ms)),
    ]);
    if let Some(expires) = key.expires_ms {
        map.insert("expires_ms".to_owned(), n(expires));
    }
    AttributeValue::M(map)
}

fn parse_key(value: &AttributeValue) -> Option<StoredKey> {
    let map = value.as_m().ok()?;
    let millis = |name: &str| get_n(map, name).and_then(|ms| u64::try_from(ms).ok());
    Some(StoredKey {
        hash: KeyHash::from_hex(get_s(map, "hash")?)?,
        created_ms: millis("created_ms")?,
        expires_ms: match map.get("expires_ms") {
            None => None,
            Some(_) => Some(millis("expires_ms")?),
        },
    })
}

/// The record's principals as stored: printed, each once, in the record's order.
fn printed_principals(record: &ClientRecord) -> Vec<String> {
    let mut printed: Vec<String> = Vec::with_capacity(record.iam_principals.len());
    for principal in record.iam_principals.iter().map(ToString::to_string) {
        if !printed.contains(&principal) {
            printed.push(principal);
        }
    }
    printed
}

fn principals_value(printed: &[String]) -> AttributeValue {
    AttributeValue::L(printed.iter().map(s).collect())
}

fn parse_record(operation: &'static str, item: &Item) -> PortResult<ClientRecord> {
    let list = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_l().ok())
            .ok_or_else(|| corrupt(operation, name))
    };
    let id = get_s(item, "pk")
        .and_then(|pk| pk.strip_prefix("client#"))
        .and_then(|id| ClientId::parse(id).ok())
        .ok_or_else(|| corrupt(operation, "pk"))?;
    let keys = list("keys")?
        .iter()
        .map(parse_key)
        .collect::<Option<_>>()
        .ok_or_else(|| corrupt(operation, "keys"))?;
    let iam_principals = list("iam")?
        .iter()
        .map(|v| v.as_s().ok().and_then(|arn| IamPrincipal::parse(arn)))
        .collect::<Option<_>>()
        .ok_or_else(|| corrupt(operation, "iam"))?;
    let requests_per_second = get_n(item, "rps")
        .and_then(|rps| u32::try_from(rps).ok())
        .and_then(NonZeroU32::new)
        .ok_or_else(|| corrupt(operation, "rps"))?;
    let disabled = *item
        .get("disabled")
        .and_then(|v| v.as_bool().ok())
        .ok_or_else(|| corrupt(operation, "disabled"))?;
    Ok(ClientRecord {
        id,
        keys,
        iam_principals,
        requests_per_second,
        disabled,
    })
}

/// The request counter of a client's item; `None` before its first request.
fn parse_window(item: &Item) -> PortResult<Option<Window>> {
    let (Some(start_s), Some(count)) = (get_n(item, "win"), get_n(item, "cnt")) else {
        return Ok(None);
    };
    match (u64::try_from(start_s), u32::try_from(count)) {
        (Ok(start_s), Ok(count)) => Ok(Some(Window { start_s, count })),
        _ => Err(corrupt("UpdateItem", "win")),
    }
}

fn rejected(operation: &'static str, detail: impl Into<String>) -> PortError {
    PortError::new(FailureKind::Rejected, operation, detail)
}

/// Why a `put_client` transaction was cancelled, when a condition of ours is the reason: the client's
/// item (the first) changed since it was read, or a principal's item is another client's.
fn put_conflict(
    err: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Option<PortError> {
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else {
        return None;
    };
    let failed = |reason: &aws_sdk_dynamodb::types::CancellationReason| reason.code() == Some("ConditionalCheckFailed");
    let reasons = cancelled.cancellation_reasons();
    let detail = if reasons.first().is_some_and(failed) {
        "the client's principals changed while it was written"
    } else if reasons.iter().skip(1).any(failed) {
        "an IAM principal acts as another client"
    } else {
        return None;
    };
    Some(PortError::new(FailureKind::Conflict, "TransactWriteItems", detail))
}

impl DynamoClientStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get(&self, pk: String) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, true).await
    }

    /// An update of the client's counter, with the item as it became, or as it was when the condition
    /// failed (`Err(None)`: there is no such client).
    async fn update_counter(
        &self,
        id: &ClientId,
        update: impl FnOnce(UpdateItemFluentBuilder) -> UpdateItemFluentBuilder,
    ) -> PortResult<Result<Item, Option<Item>>> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(client_pk(id)))
            .expression_attribute_names("#win", "win")
            .expression_attribute_names("#cnt", "cnt")
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match update(request).send().boxed().await {
            Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
            Err(e) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = e.as_service_error() {
                    return Ok(Err(failed.item.clone()));
                }
                Err(classify("UpdateItem", e, false))
            }
        }
    }

    /// One more request in the stored window, if it is current and has room; else the window as stored.
    async fn add_to_window(
        &self,
        id: &ClientId,
        now_s: u64,
        limit: NonZeroU32,
    ) -> PortResult<Result<Window, Option<Window>>> {
        let updated = self
            .update_counter(id, |update| {
                update
                    .update_expression("SET #cnt = #cnt + :one")
                    .condition_expression("#win >= :now AND #cnt < :limit")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":now", n(now_s))
                    .expression_attribute_values(":limit", n(limit))
            })
            .await?;
        match updated {
            Ok(item) => parse_window(&item)?.map(Ok).ok_or_else(|| corrupt("UpdateItem", "cnt")),
            Err(Some(item)) => Ok(Err(parse_window(&item)?)),
            Err(None) => Err(rejected("UpdateItem", "no such client")),
        }
    }

    /// Starts `fresh` as the client's window if the stored one is older (or there is none); `false` when
    /// another instance started it first.
    async fn start_window(&self, id: &ClientId, fresh: Window) -> PortResult<bool> {
        let updated = self
            .update_counter(id, |update| {
                update
                    .update_expression("SET #win = :win, #cnt = :cnt")
                    .condition_expression("attribute_exists(pk) AND (attribute_not_exists(#win) OR #win < :win)")
                    .expression_attribute_values(":win", n(fresh.start_s))
                    .expression_attribute_values(":cnt", n(fresh.count))
            })
            .await?;
        match updated {
            Ok(_) => Ok(true),
            Err(Some(_)) => Ok(false),
            Err(None) => Err(rejected("UpdateItem", "no such client")),
        }
    }

    /// The client's item update of a `put_client`: its fields, leaving the counter, conditional on its
    /// principals being those read (`None`: on there being no item yet).
    fn record_update(
        &self,
        record: &ClientRecord,
        printed: &[String],
        seen: Option<&AttributeValue>,
    ) -> PortResult<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(client_pk(&record.id)))
            .update_expression("SET #keys = :keys, #iam = :iam, #rps = :rps, #disabled = :disabled")
            .expression_attribute_names("#iam", "iam")
            .expression_attribute_values(":keys", AttributeValue::L(record.keys.iter().map(key_item).collect()))
            .expression_attribute_values(":iam", principals_value(printed))
            .expression_attribute_values(":rps", n(record.requests_per_second))
            .expression_attribute_values(":disabled", AttributeValue::Bool(record.disabled));
        // `keys` is one of DynamoDB's reserved words; every name goes through a placeholder alike.
        for name in ["keys", "rps", "disabled"] {
            update = update.expression_attribute_names(format!("#{name}"), name);
        }
        update = match seen {
            Some(principals) => update
                .condition_expression("#iam = :seen")
                .expression_attribute_values(":seen", principals.clone()),
            None => update.condition_expression("attribute_not_exists(pk)"),
        };
        let update = update
            .build()
            .map_err(|e| rejected("TransactWriteItems", e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A principal's item, made this client's unless it is another's.
    fn principal_put(&self, id: &ClientId, printed: &str) -> PortResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(principal_pk(printed)))
            .item("client", s(id.as_str()))
            .condition_expression("attribute_not_exists(pk) OR #client = :client")
            .expression_attribute_names("#client", "client")
            .expression_attribute_values(":client", s(id.as_str()))
            .build()
            .map_err(|e| rejected("TransactWriteItems", e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A principal's item removed, unless it is another client's.
    fn principal_delete(&self, id: &ClientId, printed: &str) -> PortResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(principal_pk(printed)))
            .condition_expression("attribute_not_exists(pk) OR #client = :client")
            .expression_attribute_names("#client", "client")
            .expression_attribute_values(":client", s(id.as_str()))
            .build()
            .map_err(|e| rejected("TransactWriteItems", e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

impl ClientStore for DynamoClientStore {
    async fn load_client(&self, id: &ClientId) -> PortResult<Option<ClientRecord>> {
        self.get(client_pk(id))
            .await?
            .map(|item| parse_record("GetItem", &item))
            .transpose()
    }

    async fn client_of(&self, principal: &IamPrincipal) -> PortResult<Option<ClientRecord>> {
        let Some(entry) = self.get(principal_pk(&principal.to_string())).await? else {
            return Ok(None);
        };
        let id = get_s(&entry, "client")
            .and_then(|id| ClientId::parse(id).ok())
            .ok_or_else(|| corrupt("GetItem", "client"))?;
        // The entry and the record are written together; the record still has the last word.
        let record = self.load_client(&id).await?;
        Ok(record.filter(|record| record.iam_principals.contains(principal)))
    }

    async fn count_request(&self, record: &ClientRecord, now_ms: u64) -> PortResult<Throttle> {
        let limit = record.requests_per_second;
        for _ in 0..COUNT_ROUNDS {
            let stored = match self.add_to_window(&record.id, now_ms / 1000, limit).await? {
                Ok(counted) => return Ok(Throttle::Allowed(counted)),
                Err(stored) => stored,
            };
            match throttle(limit, stored, now_ms) {
                limited @ Throttle::Limited { .. } => return Ok(limited),
                Throttle::Allowed(fresh) if stored.is_none_or(|old| old.start_s < fresh.start_s) => {
                    if self.start_window(&record.id, fresh).await? {
                        return Ok(Throttle::Allowed(fresh));
                    }
                }
                // The stored window had room after all: it moved between the two updates; count again.
                Throttle::Allowed(_) => {}
            }
        }
        Err(PortError::new(
            FailureKind::Transient,
            "UpdateItem",
            "the request counter kept moving",
        ))
    }

    async fn put_client(&self, record: &ClientRecord) -> PortResult<()> {
        let seen = self.get(client_pk(&record.id)).await?;
        let seen_principals = match &seen {
            Some(item) => Some(item.get("iam").ok_or_else(|| corrupt("GetItem", "iam"))?),
            None => None,
        };
        let before: Vec<String> = seen_principals
            .and_then(|v| v.as_l().ok())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_s().ok().cloned())
            .collect();
        let printed = printed_principals(record);
        let mut items = vec![self.record_update(record, &printed, seen_principals)?];
        for principal in &printed {
            items.push(self.principal_put(&record.id, principal)?);
        }
        for principal in before.iter().filter(|p| !printed.contains(p)) {
            items.push(self.principal_delete(&record.id, principal)?);
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .boxed()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(err) => Err(put_conflict(&err).unwrap_or_else(|| classify("TransactWriteItems", err, false))),
        }
    }
}

fn webhook_pk(client: &str) -> String {
    format!("webhook#{client}")
}

fn parse_secret(value: &AttributeValue) -> Option<StoredSecret> {
    let map = value.as_m().ok()?;
    Some(StoredSecret {
        secret: get_s(map, "secret")?.to_owned(),
        expires_ms: get_n(map, "expires_ms").and_then(|at| u64::try_from(at).ok()),
    })
}

impl EndpointStore for DynamoClientStore {
    async fn load_webhook(&self, client: &str) -> PortResult<Option<WebhookEndpoint>> {
        const OP: &str = "GetItem";
        let Some(item) = self.get(webhook_pk(client)).await? else {
            return Ok(None);
        };
        let url = get_s(&item, "url")
            .and_then(|url| WebhookUrl::parse(url).ok())
            .ok_or_else(|| corrupt(OP, "url"))?;
        let secrets = item
            .get("secrets")
            .and_then(|v| v.as_l().ok())
            .ok_or_else(|| corrupt(OP, "secrets"))?
            .iter()
            .map(|v| parse_secret(v).ok_or_else(|| corrupt(OP, "secrets")))
            .collect::<PortResult<Vec<_>>>()?;
        Ok(Some(WebhookEndpoint { url, secrets }))
    }

    async fn put_webhook(&self, client: &str, endpoint: &WebhookEndpoint) -> PortResult<()> {
        let secrets = endpoint
            .secrets
            .iter()
            .map(|kept| {
                let mut map = Item::from([("secret".to_owned(), s(&kept.secret))]);
                if let Some(at) = kept.expires_ms {
                    map.insert("expires_ms".to_owned(), n(at));
                }
                AttributeValue::M(map)
            })
            .collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(webhook_pk(client)))
            .item("url", s(endpoint.url.as_str()))
            .item("secrets", AttributeValue::L(secrets))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("PutItem", e, false))?;
        Ok(())
    }
}
