//! The demo's second act (issue #23): a web-widget assistant hands its conversation to a Connect agent
//! through the Handoff API, answers the agent's list by the option id its webhook brought, receives the
//! agent's file as a download link, and gets the conversation back; then the bot's side, as its webhook
//! received it.

use super::{Demo, INTERACTIVE, print_chats, step};
use base64::Engine;
use e2e::TestStack;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CLIENT: &str = "acme-bot";
/// A retried start with the same key returns the same handoff, never a second chat.
const IDEMPOTENCY_KEY: &[(&str, &str)] = &[("idempotency-key", "widget-4711-1")];

pub async fn act(stack: &TestStack, demo: &Demo) {
    println!("\n══ Act 3 — a bot hands its conversation to an agent (Handoff API) ══");
    let twin = stack.twin();
    let key = stack.add_client(CLIENT);
    step(&format!(
        "operator: $ client add {CLIENT} --rps 50   # prints the bot's key once"
    ));
    let url = format!("{}/_twin/webhooks/{CLIENT}", twin.url());
    let secret = stack.set_webhook(CLIENT, &url);
    step(&format!(
        "operator: $ client set-webhook {CLIENT} --url {url}   # prints the signing secret once"
    ));
    // The twin's receiver plays the bot's webhook endpoint and checks each signature with the secret.
    twin.put(&format!("/webhooks/{CLIENT}"), json!({"secrets": [secret]}))
        .await;
    let call = |method: &'static str, path: String, headers: &'static [(&'static str, &'static str)], body| {
        let key = key.clone();
        async move { twin.handoff_api(Some(&key), (method, &path), headers, Some(body)).await }
    };

    let history: Vec<Value> = [
        ("user", "Hi, I sent my headphones back two weeks ago."),
        ("bot", "Thanks! Return #R-2210 reached our warehouse on 24 November."),
        ("user", "Then where is my refund? It's been 14 days."),
        ("bot", "Refunds take 5-7 days. I can't look into a late one myself."),
        ("user", "I'd like to talk to a person, please."),
    ]
    .iter()
    .map(|(source, text)| json!({"source": {"type": source}, "type": "text", "payload": {"text": text}}))
    .collect();
    let request = json!({"external_conversation_id": "widget-4711", "user": {"id": "u-4711", "name": "Maya"},
        "title": "Refund overdue", "description": "Return #R-2210 arrived 14 days ago; no refund yet",
        "message_history": history});
    let (status, created) = call("POST", "/v1/handoffs".into(), IDEMPOTENCY_KEY, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = created["handoff_id"].as_str().unwrap();
    let contact = created["contact_id"].as_str().unwrap();
    step(&format!(
        "the widget's assistant hands off Maya's refund question with 5 messages: POST /v1/handoffs \
         (Idempotency-Key: widget-4711-1) → {status}, handoff {id}, {}",
        created["status"].as_str().unwrap_or_default()
    ));

    demo.agent(
        contact,
        json!({"action": "join", "display_name": "Carla"}),
        "Agent Carla accepts the chat: the reason and the bot's conversation are already in it",
    )
    .await;
    demo.agent(
        contact,
        json!({"action": "message", "display_name": "Carla",
        "content": "Hi Maya, I'm Carla. Your refund was held by mistake; I can release it now."}),
        "Carla answers",
    )
    .await;
    let picker = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
        "title": "How would you like your refund?",
        "elements": [{"title": "Back to my card"}, {"title": "Store credit (+10%)"}]}}});
    demo.agent(
        contact,
        json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE,
        "content": picker.to_string()}),
        "the flow offers refund options (a ListPicker)",
    )
    .await;
    let is_choice = |d: &Value| d["body"]["data"]["content"]["type"] == "choice";
    let received = until_received(demo, is_choice).await;
    let choice = &received
        .iter()
        .find(|d| is_choice(d))
        .expect("the list reached the bot")["body"]["data"]["content"];
    let option = &choice["options"][0];
    let answer = json!({"client_message_id": "widget-4711-m6", "type": "option", "option_id": option["id"]});
    let (status, _) = call("POST", format!("/v1/handoffs/{id}/messages"), &[], answer).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    demo.twin.settle().await;
    step(&format!(
        "Maya picks {} in the widget; the bot answers with its option_id from the handoff.message event",
        option["title"]
    ));
    demo.agent(
        contact,
        json!({"action": "message", "display_name": "Carla",
        "content": "Done: the refund is on its way to your card. Have a nice day!"}),
        "Carla confirms",
    )
    .await;
    let receipt = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 refund receipt R-2210");
    demo.agent(
        contact,
        json!({"action": "attachment", "name": "receipt-R-2210.pdf", "content_type": "application/pdf",
        "data": receipt}),
        "Carla attaches the refund receipt: the bot gets it with a download link",
    )
    .await;
    demo.agent(
        contact,
        json!({"action": "end"}),
        "Carla ends the chat: the conversation returns to the bot",
    )
    .await;
    let received = until_received(demo, |d| d["body"]["type"] == "handoff.ended").await;

    let chats: Vec<Value> = twin
        .contacts()
        .await
        .into_iter()
        .filter(|c| c["contact_id"] == contact)
        .collect();
    print_chats(&chats);
    println!("\n══ The bot's webhook — what {CLIENT} received ══");
    for delivery in &received {
        let kind = delivery["body"]["type"].as_str().unwrap_or_default();
        let data = &delivery["body"]["data"];
        let valid = delivery["signature_valid"] == true;
        let signed = if valid { "signature ✓" } else { "UNSIGNED" };
        let sequence = data["sequence"].as_u64().unwrap_or_default();
        let line = format!("  #{sequence:<2} {kind:<21} {signed}  {}", detail(kind, data));
        println!("{}", line.trim_end());
    }

    assert!(
        received.iter().all(|d| d["signature_valid"] == true),
        "every event signed"
    );
    let sequences = received.iter().map(|d| d["body"]["data"]["sequence"].as_u64());
    assert!(
        sequences.eq((1..).take(received.len()).map(Some)),
        "each once, in order"
    );
    assert_eq!(received.last().unwrap()["body"]["type"], "handoff.ended");
}

/// A short line for an event: who said what, the options offered, who joined, why it ended.
fn detail(kind: &str, data: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let content = &data["content"];
    match kind {
        "handoff.message" => {
            let said = match content["type"].as_str() {
                Some("choice") => {
                    let titles: Vec<String> = content["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| text(&o["title"]))
                        .collect();
                    format!("{}  [ {} ]", text(&content["title"]), titles.join(" | "))
                }
                Some("file") => format!(
                    "file {} ({} bytes, download link until {})",
                    text(&content["name"]),
                    content["size"],
                    text(&content["download"]["expires_at"])
                ),
                _ => text(&content["text"]),
            };
            let sender = format!("{} {}", text(&data["sender"]["role"]), text(&data["sender"]["name"]));
            format!("{}: {said}", sender.trim_end())
        }
        "handoff.agent_joined" => text(&data["agent"]),
        "handoff.ended" | "handoff.failed" => format!(
            "reason {}, returns to bot: {}",
            text(&data["reason"]),
            data["returns_to_bot"]
        ),
        _ => String::new(),
    }
}

/// Waits (20 s at most) until the bot's webhook took a delivery `wanted` picks; every delivery so far.
async fn until_received(demo: &Demo, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = demo.twin.get(&format!("/webhooks?client={CLIENT}")).await;
        let all = all.as_array().cloned().unwrap_or_default();
        let taken = |d: &Value| (200..300).contains(&d["answered"].as_u64().unwrap_or(0));
        if all.iter().any(|d| taken(d) && wanted(d)) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "the bot's webhook did not get it within 20 s: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
