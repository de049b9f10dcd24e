//! Reading and writing DynamoDB attribute maps and transactions: the small helpers the table adapters
//! share.

use super::{Boxed, classify};
use crate::error::{FailureKind, PortError};
use crate::ports::PortResult;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub(crate) fn corrupt(operation: &'static str, what: &str) -> PortError {
    PortError::new(
        FailureKind::Rejected,
        operation,
        format!("stored item is corrupt: {what}"),
    )
}

/// Reads one item by key (`consistent`: a strongly consistent read, for what a write just changed).
pub(crate) async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    consistent: bool,
) -> PortResult<Option<Item>> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(consistent)
        .send()
        .boxed()
        .await
        .map_err(|e| classify("GetItem", e, false))?;
    Ok(out.item)
}

pub(crate) type TransactError = SdkError<TransactWriteItemsError, HttpResponse>;

/// Writes `items` in one transaction.
pub(crate) async fn transact(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), TransactError> {
    client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .boxed()
        .await
        .map(drop)
}

/// Why each item of a cancelled transaction failed, in the transaction's order; `None` when it was not
/// cancelled (another failure).
pub(crate) fn cancellation(err: &TransactError) -> Option<&[CancellationReason]> {
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    match service.err() {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(cancelled.cancellation_reasons()),
        _ => None,
    }
}

/// Whether the transaction's item `index` is what failed its condition.
pub(crate) fn check_failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .is_some_and(|reason| reason.code() == Some("ConditionalCheckFailed"))
}

/// Whether a conditional update landed (`false`: its condition failed); any other failure is the
/// caller's.
pub(crate) fn landed(result: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>) -> PortResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(false)
        }
        Err(e) => Err(classify("UpdateItem", e, false)),
    }
}

/// A transaction item that could not be built (a missing required field: a bug, not the input).
pub(crate) fn invalid(e: impl std::fmt::Display) -> PortError {
    PortError::new(FailureKind::Rejected, "TransactWriteItems", e.to_string())
}
