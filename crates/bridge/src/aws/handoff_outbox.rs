//! DynamoDB: the handoff outbox's delivery state (see [`crate::handoff::outbox`] for what the port
//! promises), kept on the handoff's own item beside the sequence number the events take, so the
//! release "only when nothing more is owed" is one condition on one item.
//!
//! | attribute | holds |
//! |---|---|
//! | `dcur` | the last sequence number done with (absent: 0) |
//! | `downer`, `dlease` | the drainer holding the delivery, and until when (epoch ms) |
//! | `dtries`, `dfirst`, `dnext` | the next event's failed attempts, its first attempt's time, when it is due |
//!
//! The events themselves are the `hevent#<handoff id>#<sequence>` items the moves write.

use super::DynamoHandoffStore;
use super::handoff_store::{event_pk, handoff_pk};
use super::items::{corrupt, get_n, get_s, landed, n, s};
use super::{Boxed, classify};
use crate::handoff::outbox::{Delivery, Lease, Outbox, Progress, Taken};
use crate::handoff::request::HandoffId;
use crate::handoff::webhook::{Envelope, EventKind, WebhookId};
use crate::ports::PortResult;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

fn count(value: Option<i64>) -> u64 {
    value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

impl Outbox for DynamoHandoffStore {
    async fn take(&self, id: &HandoffId, lease: Lease<'_>) -> PortResult<Taken> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(handoff_pk(id)))
            .update_expression("SET downer = :owner, dlease = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(dlease) OR dlease < :now OR downer = :owner)",
            )
            .expression_attribute_values(":owner", s(lease.owner))
            .expression_attribute_values(":until", n(lease.until_ms))
            .expression_attribute_values(":now", n(lease.now_ms))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .boxed()
            .await;
        let err = match result {
            Ok(out) => {
                let item = out
                    .attributes()
                    .ok_or_else(|| corrupt("UpdateItem", "no attributes returned"))?;
                return Ok(Taken::Held(Delivery {
                    client: get_s(item, "client")
                        .ok_or_else(|| corrupt("UpdateItem", "client"))?
                        .to_owned(),
                    delivered: count(get_n(item, "dcur")),
                    owed: count(get_n(item, "seq")),
                    attempts: u32::try_from(count(get_n(item, "dtries"))).unwrap_or(u32::MAX),
                    first_attempt_ms: get_n(item, "dfirst"),
                    not_before_ms: get_n(item, "dnext"),
                }));
            }
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => Ok(if e.item().is_some() {
                Taken::Busy
            } else {
                Taken::Unknown
            }),
            _ => Err(classify("UpdateItem", err, false)),
        }
    }

    async fn event(&self, id: &HandoffId, sequence: u64) -> PortResult<Option<Envelope>> {
        let Some(item) = self.get(event_pk(id, sequence)).await? else {
            return Ok(None);
        };
        let kind = get_s(&item, "kind")
            .and_then(EventKind::from_type_name)
            .ok_or_else(|| corrupt("GetItem", "kind"))?;
        let body = get_s(&item, "body").ok_or_else(|| corrupt("GetItem", "body"))?;
        Ok(Some(Envelope {
            id: WebhookId::of(id.as_str(), sequence),
            kind,
            body: body.to_owned(),
        }))
    }

    async fn record(&self, id: &HandoffId, owner: &str, progress: Progress) -> PortResult<bool> {
        let update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(handoff_pk(id)))
            .condition_expression("downer = :owner")
            .expression_attribute_values(":owner", s(owner));
        let update = match progress {
            Progress::Through(sequence) => update
                .update_expression("SET dcur = :seq REMOVE dtries, dfirst, dnext")
                .expression_attribute_values(":seq", n(sequence)),
            Progress::Postponed {
                attempts,
                first_attempt_ms,
                not_before_ms,
            } => update
                .update_expression("SET dtries = :tries, dfirst = :first, dnext = :next")
                .expression_attribute_values(":tries", n(attempts))
                .expression_attribute_values(":first", n(first_attempt_ms))
                .expression_attribute_values(":next", n(not_before_ms)),
        };
        landed(update.send().boxed().await)
    }

    async fn release(&self, id: &HandoffId, owner: &str, caught_up: Option<u64>) -> PortResult<bool> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(handoff_pk(id)))
            .update_expression("REMOVE downer, dlease")
            .expression_attribute_values(":owner", s(owner));
        update = match caught_up {
            Some(through) => update
                .condition_expression("downer = :owner AND #seq <= :through")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":through", n(through)),
            None => update.condition_expression("downer = :owner"),
        };
        landed(update.send().boxed().await)
    }
}
