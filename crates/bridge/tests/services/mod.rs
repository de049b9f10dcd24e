//! What the services' tests on the fakes share: the events SNS hands the handlers, and running one
//! Lambda invocation.

use serde_json::{Value, json};

pub const BUSINESS_NUMBER: &str = "106540352242922";
pub const CUSTOMER: &str = "16505551234";

/// The Lambda event SNS delivers for one published message with its string attributes.
pub fn sns(message: String, attributes: &[(&str, &str)]) -> Value {
    let attributes: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!({"Type": "String", "Value": value})))
        .collect();
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:topic:08161b56-f029-bf8c-69c1-7ac85bfbfd14",
        "Sns": {
            "Type": "Notification",
            "MessageId": "dce7f3fc-7213-e387-53c6-1cd8044fd131",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
            "Subject": null,
            "Message": message,
            "Timestamp": "2025-11-11T06:51:23.626Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE==",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": attributes
        }
    }]})
}

/// Connect's streamed event for an agent's message `id` in the chat `contact_id`, received at `at_ms`.
pub fn agent_message(contact_id: &str, id: &str, content_type: &str, content: &str, at_ms: i64) -> Value {
    let at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap();
    sns(
        json!({
            "AbsoluteTime": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "Content": content,
            "ContentType": content_type,
            "Id": id,
            "Type": "MESSAGE",
            "ParticipantId": "0f1e2d3c-4b5a-4968-8776-655443322110",
            "DisplayName": "Ana",
            "ParticipantRole": "AGENT",
            "InitialContactId": contact_id,
            "ContactId": contact_id
        })
        .to_string(),
        &[("MessageVisibility", "ALL")],
    )
}

/// Runs `work` as one Lambda invocation: its claims name it, so two invocations of a test are two owners.
pub async fn invocation<F: Future>(work: F) -> F::Output {
    bridge::claims::within_deadline(bridge::telemetry::now_ms() + 60_000, work).await
}
