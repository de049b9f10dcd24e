//! The SNS envelope both handlers receive.
//!
//! The event is taken as raw JSON and split into records here, so one malformed record is rejected on
//! its own (with a reason) instead of failing the whole event's deserialisation, which Lambda would
//! retry forever.

use crate::error::{Rejection, describe_json_error};
use crate::telemetry::{Direction, log_rejection};
use aws_lambda_events::event::sns::SnsRecord;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// One SNS notification: the producer's payload (still a JSON string) and its string attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub message_id: String,
    pub message: String,
    pub attributes: HashMap<String, String>,
}

/// SNS caps a message at 256 KiB; anything larger did not come from SNS.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Splits a Lambda SNS event into notifications; each record parses (or is rejected) independently.
pub fn notifications(event: &Value) -> Result<Vec<Result<Notification, Rejection>>, Rejection> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| Rejection::new("not_sns_event", "the event has no Records array"))?;
    Ok(records.iter().map(notification).collect())
}

/// The event's notifications that `parse` reads, in order; what is not an SNS event, and each record that
/// does not parse, is logged with its reason (for `direction`) and left out.
pub fn parsed<T>(event: &Value, direction: Direction, parse: impl Fn(&Notification) -> Result<T, Rejection>) -> Vec<T> {
    let notifications = match notifications(event) {
        Ok(notifications) => notifications,
        Err(rejection) => {
            log_rejection(direction, &rejection);
            return Vec::new();
        }
    };
    notifications
        .into_iter()
        .filter_map(|notification| match notification.and_then(|n| parse(&n)) {
            Ok(parsed) => Some(parsed),
            Err(rejection) => {
                log_rejection(direction, &rejection);
                None
            }
        })
        .collect()
}

/// The topic an SNS event's notification came from (SNS invokes a function with one at a time).
pub fn topic_of(event: &Value) -> Option<&str> {
    event.get("Records")?.get(0)?.get("Sns")?.get("TopicArn")?.as_str()
}

fn notification(record: &Value) -> Result<Notification, Rejection> {
    // Read in place: the record is not copied into a new tree first.
    let record = SnsRecord::deserialize(record).map_err(|e| {
        Rejection::new(
            "malformed_sns_record",
            format!("SNS record does not parse: {}", describe_json_error(&e)),
        )
    })?;
    if record.sns.message.len() > MAX_MESSAGE_BYTES {
        return Err(Rejection::new(
            "oversized_message",
            format!(
                "SNS message of {} bytes exceeds {MAX_MESSAGE_BYTES}",
                record.sns.message.len()
            ),
        ));
    }
    Ok(Notification {
        message_id: record.sns.message_id,
        message: record.sns.message,
        attributes: record
            .sns
            .message_attributes
            .into_iter()
            .map(|(name, attribute)| (name, attribute.value))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_non_sns_events() {
        assert_eq!(notifications(&json!({"foo": 1})).unwrap_err().code, "not_sns_event");
    }

    #[test]
    fn a_bad_record_does_not_hide_a_good_one() {
        let good = json!({
            "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:x",
            "Sns": {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:t", "Subject": null,
                    "Message": "{}", "Timestamp": "2025-11-11T06:51:23.626Z", "SignatureVersion": "1",
                    "Signature": "s", "SigningCertURL": "https://c", "UnsubscribeURL": "https://u",
                    "MessageAttributes": {"Type": {"Type": "String", "Value": "MESSAGE"}}}
        });
        let parsed = notifications(&json!({"Records": [{"Sns": 3}, good]})).unwrap();
        assert_eq!(parsed[0].as_ref().unwrap_err().code, "malformed_sns_record");
        let n = parsed[1].as_ref().unwrap();
        assert_eq!(n.message_id, "m1");
        assert_eq!(n.attributes["Type"], "MESSAGE");
    }
}
