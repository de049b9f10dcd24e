//! Issue #6: the CloudWatch metrics. A short conversation through the real handlers, then their stdout
//! (the twin's `GET /_twin/logs`, which is what Lambda hands to CloudWatch Logs) is read back as
//! embedded-metric-format documents and checked: shape, dimensions, and the values the conversation
//! must have produced.

use e2e::{TestStack, Twin};
use serde_json::{Value, json};

const CUSTOMER: &str = "14255550177";
const NAMESPACE: &str = "WhatsAppConnectBridge";

/// The EMF documents among a function's output lines.
async fn emf(twin: &Twin, function: &str) -> Vec<Value> {
    twin.logs(function)
        .await
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("_aws").is_some())
        .collect()
}

/// Asserts the EMF specification's structure and returns the names of the metrics the document defines.
fn metric_names(doc: &Value, function: &str) -> Vec<String> {
    let timestamp = doc["_aws"]["Timestamp"]
        .as_i64()
        .expect("Timestamp in epoch milliseconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now - 600_000..=now).contains(&timestamp), "{doc}");
    assert_eq!(doc["FunctionName"], function, "{doc}");
    let mut names = Vec::new();
    for directive in doc["_aws"]["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics") {
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            for key in set.as_array().expect("a dimension set") {
                let key = key.as_str().unwrap();
                assert!(doc[key].is_string(), "dimension {key} has a string value: {doc}");
                assert!(
                    ["FunctionName", "Direction", "Kind", "Reason"].contains(&key),
                    "only low-cardinality dimensions: {key}"
                );
            }
        }
        for metric in directive["Metrics"].as_array().expect("Metrics") {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "metric {name} has a value: {doc}");
            assert!(metric["Unit"].is_string());
            names.push(name.to_owned());
        }
    }
    names
}

fn with<'a>(docs: &'a [Value], metric: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d.get(metric).is_some()).collect()
}

#[tokio::test]
async fn a_short_conversation_shows_up_in_the_metrics() {
    let stack = TestStack::start_with(|o| o.extra_env.push(("TRANSCRIBE_STREAM_SPEED".into(), "8".into()))).await;
    let twin = stack.twin();

    // The customer opens a chat with a text, the agent answers, the customer sends a voice note.
    let (_, inv) = twin.customer_texts(CUSTOMER, "Hi, my order is late").await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let contact = twin.contacts_of(CUSTOMER).await.remove(0);
    let contact_id = contact["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    let answered = twin.agent_says(&contact_id, "Let me check").await;
    assert!(answered.iter().all(|i| i.ok), "{answered:?}");
    let (_, inv) = twin.customer_sends_voice_note(CUSTOMER, "It was due on Monday").await;
    assert!(inv.ok, "{inv:?}");
    // Nothing else may be sending when the fault is armed: it must hit the agent's next message.
    twin.settle().await;
    // WhatsApp refuses the agent's next message for good; something that is not an SNS event arrives.
    twin.fault(json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "error": "ValidationException", "times": 1}))
        .await;
    twin.agent_says(&contact_id, "Which order number?").await;
    assert!(twin.invoke("WhatsappHandler", json!({"hello": "world"})).await.ok);
    twin.settle().await;

    let inbound = emf(twin, "WhatsappHandler").await;
    let outbound = emf(twin, "ConnectHandler").await;
    let mut all_names = Vec::new();
    for doc in &inbound {
        all_names.extend(metric_names(doc, "WhatsappHandler"));
    }
    for doc in &outbound {
        all_names.extend(metric_names(doc, "ConnectHandler"));
    }
    for expected in [
        "MessagesBridged",
        "HandlingTime",
        "EndToEndLatency",
        "MessagesFailed",
        "InputRejected",
        "ChatsStarted",
        "TranscriptionSeconds",
        "TranscriptionFailures",
    ] {
        assert!(
            all_names.iter().any(|n| n == expected),
            "{expected} missing: {all_names:?}"
        );
    }
    // Never an id or a number: neither as a dimension nor anywhere else in the documents.
    for doc in inbound.iter().chain(&outbound) {
        let text = doc.to_string();
        assert!(!text.contains(CUSTOMER) && !text.contains(&contact_id), "{text}");
    }

    // Inbound: the text and the voice note, each bridged once, with a latency no shorter than the
    // handling (WhatsApp's timestamp is in whole seconds, so the latency may read up to 1 s long).
    let bridged = with(&inbound, "MessagesBridged");
    let kinds: Vec<&str> = bridged.iter().filter_map(|d| d["Kind"].as_str()).collect();
    assert_eq!(kinds, ["text", "audio"], "{bridged:#?}");
    for doc in &bridged {
        assert_eq!(
            (doc["MessagesBridged"].as_f64(), doc["Direction"].as_str()),
            (Some(1.0), Some("inbound"))
        );
        let latency = doc["EndToEndLatency"].as_f64().expect("inbound latency");
        let handling = doc["HandlingTime"].as_f64().unwrap();
        assert!(
            handling > 0.0 && latency + 1.0 >= handling && latency < 60_000.0,
            "{doc}"
        );
    }
    let chats = with(&inbound, "ChatsStarted");
    assert_eq!(chats.len(), 1, "one chat for the customer: {chats:#?}");
    assert_eq!(chats[0]["ChatsStarted"], 1);
    let heard = with(&inbound, "TranscriptionSeconds");
    assert_eq!(heard.len(), 1, "{heard:#?}");
    let seconds = heard[0]["TranscriptionSeconds"].as_f64().unwrap();
    assert!((seconds - 3.0).abs() < 0.15, "the note plays 3 s: {seconds}");
    assert_eq!(heard[0]["TranscriptionFailures"], 0);
    let rejected = with(&inbound, "InputRejected");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["Reason"], "not_sns_event");
    assert!(with(&inbound, "MessagesFailed").is_empty());

    // Outbound: the agent's first answer bridged with Connect's timestamp; the second one failed, by
    // operation and kind of failure.
    let answers: Vec<&Value> = with(&outbound, "MessagesBridged")
        .into_iter()
        .filter(|d| d["Kind"] == "message text/plain")
        .collect();
    assert!(!answers.is_empty(), "{outbound:#?}");
    for doc in &answers {
        assert_eq!(doc["Direction"], "outbound");
        let latency = doc["EndToEndLatency"].as_f64().expect("Connect's AbsoluteTime");
        assert!((0.0..60_000.0).contains(&latency), "{doc}");
    }
    let failed = with(&outbound, "MessagesFailed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(
        (failed[0]["Reason"].as_str(), failed[0]["Kind"].as_str()),
        (Some("SendWhatsAppMessage/Rejected"), Some("message text/plain"))
    );
    assert!(failed[0].get("EndToEndLatency").is_none());
}
