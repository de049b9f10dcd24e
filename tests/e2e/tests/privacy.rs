//! Issue #20: nothing private in the logs, at any log level, and no read mark when read receipts are off.
//! A whole conversation through the real handlers at each level the template allows; the lines both
//! handlers wrote must hold none of what was said, nor the customer's phone number, user id or profile
//! name, nor the chat's tokens.

mod common;

use common::{PHONE, PROFILE_NAME, SAID, USER_ID};
use e2e::TestStack;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

async fn logs_at(level: &str) {
    let stack = TestStack::start_with(|o| {
        o.extra_env.extend([
            ("RUST_LOG".to_owned(), level.to_owned()),
            ("TRANSCRIBE_STREAM_SPEED".to_owned(), "8".to_owned()),
        ])
    })
    .await;
    let tokens = common::whole_conversation(&stack).await;
    assert!(tokens.len() >= 2, "the bridge held no tokens: {tokens:?}");
    let twin = stack.twin();
    let mut lines = twin.logs("WhatsappHandler").await;
    let inbound = lines.len();
    lines.extend(twin.logs("ConnectHandler").await);
    assert!(
        level == "warn" || level == "error" || (inbound > 0 && lines.len() > inbound),
        "{level}: both handlers log"
    );
    let private: Vec<&str> = SAID
        .iter()
        .copied()
        .chain([PHONE, USER_ID, PROFILE_NAME])
        .chain(tokens.iter().map(String::as_str))
        .collect();
    for line in &lines {
        for secret in &private {
            assert!(!line.contains(secret), "{level}: a log line holds {secret:?}: {line}");
        }
    }
    // The customer digest is keyed: it is not what hashing the phone number gives.
    let unkeyed: String = Sha256::digest(format!("{}#{USER_ID}", e2e::BUSINESS_NUMBER).as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let digests = |lines: &[String]| -> BTreeSet<String> {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|l| l["customer"].as_str().filter(|c| !c.is_empty()).map(str::to_owned))
            .collect()
    };
    let (inbound, outbound) = (digests(&lines[..inbound]), digests(&lines[inbound..]));
    assert!(
        !inbound.contains(&unkeyed) && !outbound.contains(&unkeyed),
        "{level}: unkeyed digest {unkeyed}"
    );
    if !matches!(level, "warn" | "error") {
        // One key for the deployment: both handlers name the customer alike.
        assert_eq!(inbound.len(), 1, "{level}: {inbound:?}");
        assert_eq!(inbound, outbound, "{level}: the handlers disagree");
    }
}

#[tokio::test]
async fn nothing_private_in_the_logs_at_trace() {
    logs_at("trace").await;
}

#[tokio::test]
async fn nothing_private_in_the_logs_at_debug() {
    logs_at("debug").await;
}

#[tokio::test]
async fn nothing_private_in_the_logs_at_info() {
    logs_at("info").await;
}

#[tokio::test]
async fn nothing_private_in_the_logs_at_warn() {
    logs_at("warn").await;
}

#[tokio::test]
async fn nothing_private_in_the_logs_at_error() {
    logs_at("error").await;
}

/// WhatsApp shows the typing indicator only with a read mark, which READ_RECEIPTS=off forbids.
#[tokio::test]
async fn agent_typing_marks_nothing_read_when_read_receipts_are_off() {
    let stack = TestStack::start_with(|o| o.extra_env.push(("READ_RECEIPTS".to_owned(), "off".to_owned()))).await;
    let twin = stack.twin();
    let (_, first) = twin.customer_texts(PHONE, "Is anyone there?").await;
    assert!(first.ok, "{first:?}");
    twin.settle().await;
    let contact_id = twin.contacts_of(PHONE).await[0]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    let typing = twin.agent(&contact_id, json!({"action": "typing"})).await;
    assert!(typing.iter().all(|i| i.ok), "{typing:?}");
    twin.agent_says(&contact_id, "Yes, how can I help?").await;
    let sent = twin.get("/whatsapp/sent").await;
    let read_marks: Vec<&Value> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["message"]["status"] == "read" || s["message"].get("typing_indicator").is_some())
        .collect();
    assert!(read_marks.is_empty(), "read marked: {read_marks:#?}");
    assert_eq!(
        twin.texts_to(PHONE).await.last().map(String::as_str),
        Some("Yes, how can I help?")
    );
}
