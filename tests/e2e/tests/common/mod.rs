//! One whole conversation through both handlers — text, photo, voice note, a menu and the customer's
//! pick, agent typing, an agent's reply and file, the end of the chat — for the tests that look at what
//! the handlers did along the way (their logs, their AWS calls) rather than at what was delivered.

use base64::Engine;
use e2e::{TestStack, Twin, repo_root};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub const PHONE: &str = "14255550777";
pub const USER_ID: &str = "US.13491208655302741918";
pub const PROFILE_NAME: &str = "Zelda Quartermain";

const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";

/// What the customer and the agent said: none of it may reach a log line.
pub const SAID: &[&str] = &[
    "My parcel 88213 never came, it was a birthday gift",
    "The box was crushed on the doorstep",
    "Please call me back after six on my landline",
    "Refund to my card 4242",
    "A replacement leaves the warehouse tomorrow morning",
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The customer sends `message`, as WhatsApp names them: phone number, user id and profile name.
async fn customer_says(twin: &Twin, message: Value) {
    let mut message = message;
    message["profile_name"] = json!(PROFILE_NAME);
    message["user_id"] = json!(USER_ID);
    let (_, outcome) = twin.customer_sends(PHONE, message).await;
    assert!(outcome.ok, "{outcome:?}");
    twin.settle().await;
}

/// The participant and connection tokens the bridge holds now (its state table).
async fn tokens(stack: &TestStack) -> BTreeSet<String> {
    let scan = stack.state_table("Scan", json!({})).await;
    scan["Items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| ["participant_token", "connection_token"].map(|name| item[name]["S"].as_str()))
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// Runs the conversation; returns every token the bridge held for it along the way.
pub async fn whole_conversation(stack: &TestStack) -> BTreeSet<String> {
    let twin = stack.twin();
    customer_says(twin, json!({"type": "text", "text": {"body": SAID[0]}})).await;
    let contact_id = twin.contacts_of(USER_ID).await[0]["contact_id"]
        .as_str()
        .expect("a chat")
        .to_owned();
    let mut tokens = tokens(stack).await;
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    let jpeg = b"\xFF\xD8\xFF\xE0 a photo of the box";
    customer_says(
        twin,
        json!({"type": "image", "image": {"data": b64(jpeg), "mime_type": "image/jpeg", "caption": SAID[1]}}),
    )
    .await;
    // The sample voice note, which the twin's Transcribe hears as what the customer said.
    let voice = std::fs::read(repo_root().join("tests/media/voice-note.ogg")).expect("tests/media/voice-note.ogg");
    let heard: String = Sha256::digest(&voice).iter().map(|b| format!("{b:02x}")).collect();
    twin.post("/transcripts", json!({"sha256": heard, "text": SAID[2]}))
        .await;
    customer_says(
        twin,
        json!({"type": "audio", "audio": {"data": b64(&voice), "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
    )
    .await;

    let titles = [
        "Track my parcel",
        "Change the address",
        "Talk to a person",
        SAID[3],
        "Something else",
    ];
    let elements: Vec<Value> = titles.iter().map(|t| json!({"title": t})).collect();
    let picker = json!({"templateType": "ListPicker", "version": "1.0",
                        "data": {"content": {"title": "How can we help?", "elements": elements}}});
    twin.agent(
        &contact_id,
        json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": picker.to_string()}),
    )
    .await;
    let menu = twin.sent_to(PHONE).await.last().expect("the menu")["message"].clone();
    let row = menu["interactive"]["action"]["sections"][0]["rows"][3].clone();
    assert_eq!(row["title"], SAID[3], "{menu}");
    customer_says(
        twin,
        json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row["id"], "title": row["title"]}}}),
    )
    .await;

    twin.agent(&contact_id, json!({"action": "typing"})).await;
    twin.agent_says(&contact_id, SAID[4]).await;
    twin.agent(
        &contact_id,
        json!({"action": "attachment", "name": "label.pdf", "content_type": "application/pdf",
               "data": b64(b"%PDF-1.4 label")}),
    )
    .await;
    tokens.extend(self::tokens(stack).await);
    twin.agent(&contact_id, json!({"action": "end"})).await;
    twin.settle().await;
    tokens
}
