//! Every sample event goes through its handler without error; malformed input gets a one-line reason
//! and opens no chat.

use e2e::{TestStack, customer_texts, fixture, fixture_names};
use serde_json::json;

#[tokio::test]
async fn every_fixture_goes_through_its_handler() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let names = fixture_names();
    assert!(names.len() >= 39, "fixtures missing: {names:?}");
    for name in names {
        let function = if name.starts_with("eum-") {
            "WhatsappHandler"
        } else {
            "ConnectHandler"
        };
        let outcome = twin.invoke(function, fixture(&name)).await;
        assert!(outcome.ok, "{name}: {outcome:?}");
    }
    twin.settle().await;
    for function in ["WhatsappHandler", "ConnectHandler"] {
        let logs = twin.logs(function).await;
        assert!(
            !logs.iter().any(|l| l.contains("panicked")),
            "{function} panicked: {logs:#?}"
        );
    }
}

#[tokio::test]
async fn malformed_events_are_rejected_with_a_reason_and_open_nothing() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let text = fixture("eum-text.json");
    let with_message = |message: serde_json::Value| {
        let mut event = text.clone();
        event["Records"][0]["Sns"]["Message"] = message;
        event
    };
    let entry_with = |message: serde_json::Value| {
        with_message(json!(json!({"context": {}, "whatsAppWebhookEntry": json!({"id": "1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "106540352242922"}, "messages": [message]}}]}).to_string()}).to_string()))
    };
    let cases = [
        ("not_sns_event", json!({"hello": "world"})),
        ("not_sns_event", json!({"Records": "many"})),
        // Wrong types at every layer.
        ("malformed_sns_record", json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": 7}}]})),
        ("malformed_eum_header", with_message(json!(json!({"whatsAppWebhookEntry": 12}).to_string()))),
        ("malformed_message", entry_with(json!({"from": "16505551234", "id": "wamid.T", "timestamp": 1762843882, "type": "text", "text": {"body": "x"}}))),
        ("malformed_message", entry_with(json!({"from": "16505551234", "id": "wamid.T2", "timestamp": "1762843882", "type": "text", "text": {"body": 5}}))),
        // Missing fields.
        ("malformed_message", entry_with(json!({"id": "wamid.NOFROM", "timestamp": "1762843882", "type": "text", "text": {"body": "x"}}))),
        ("malformed_webhook_entry", with_message(json!(json!({"whatsAppWebhookEntry": json!({"changes": [{"value": {"messages": []}}]}).to_string()}).to_string()))),
        // Absurd sizes: larger than SNS allows, and an id longer than any wamid.
        ("oversized_message", with_message(json!("x".repeat(300 * 1024)))),
        ("malformed_message", entry_with(json!({"from": "16505551234", "id": "w".repeat(5000), "timestamp": "1762843882", "type": "text", "text": {"body": "x"}}))),
        // A status without its timestamp.
        ("malformed_status", with_message(json!(json!({"context": {}, "whatsAppWebhookEntry": json!({"id": "1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "106540352242922"}, "statuses": [{"id": "wamid.S", "status": "exploded"}]}}]}).to_string()}).to_string()))),
        ("malformed_sns_record", json!({"Records": [{"Sns": 42}]})),
        ("malformed_eum_header", with_message(json!("not json"))),
        ("malformed_webhook_entry", with_message(json!(json!({"whatsAppWebhookEntry": "{broken"}).to_string()))),
        (
            "malformed_message",
            with_message(json!(json!({"context": {}, "whatsAppWebhookEntry": json!({"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "106540352242922"},
                "messages": [{"from": "16505551234", "id": "wamid.BAD", "timestamp": "soon", "type": "text", "text": {"body": "x"}}]}}]}).to_string()}).to_string())),
        ),
        (
            "unknown_phone_number",
            with_message(json!(json!({"context": {}, "whatsAppWebhookEntry": json!({"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "999999999"},
                "messages": [{"from": "16505551234", "id": "wamid.OTHER", "timestamp": "1762843882", "type": "text", "text": {"body": "x"}}]}}]}).to_string()}).to_string())),
        ),
    ];
    for (reason, event) in cases {
        let outcome = twin.invoke("WhatsappHandler", event).await;
        assert!(outcome.ok, "{reason}: a bad event must not be retried: {outcome:?}");
        let logs = twin.logs("WhatsappHandler").await;
        assert!(
            logs.iter().any(|l| l.contains(&format!("\"reason\":\"{reason}\""))),
            "no log line with reason {reason}: {logs:#?}"
        );
    }
    let bad_item = fixture("connect-stream-agent-message.json");
    let mut broken = bad_item.clone();
    broken["Records"][0]["Sns"]["Message"] = json!("{\"Id\": 5}");
    assert!(twin.invoke("ConnectHandler", broken).await.ok);
    assert!(
        twin.logs("ConnectHandler")
            .await
            .iter()
            .any(|l| l.contains("malformed_chat_item"))
    );

    twin.settle().await;
    assert!(twin.contacts().await.is_empty());
    // No log line quotes the message text or the customer's number.
    for function in ["WhatsappHandler", "ConnectHandler"] {
        for line in twin.logs(function).await {
            assert!(!line.contains("16505551234"), "{line}");
        }
    }
}

#[tokio::test]
async fn a_profile_name_longer_than_connect_takes_still_opens_the_chat() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550390";
    let name = "Ñandú ".repeat(50);
    let (_, sent) = twin
        .customer_sends(
            customer,
            json!({"type": "text", "text": {"body": "hola"}, "profile_name": name}),
        )
        .await;
    assert!(sent.ok, "{sent:?}");
    let contacts = twin.contacts_of(customer).await;
    assert_eq!(
        contacts.len(),
        1,
        "Connect takes a display name of at most 256 characters"
    );
    let shown = contacts[0]["customer_display_name"].as_str().unwrap_or_default();
    assert_eq!(shown.chars().count(), 256);
    assert!(name.starts_with(shown));
    assert_eq!(customer_texts(&contacts[0]), ["hola"]);
}
