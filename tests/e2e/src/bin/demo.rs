//! `make demo`: a whole WhatsApp ⇄ Amazon Connect conversation, offline, through the real handler binaries.
//!
//! Starts moto, the twin and both handlers, plays customer and agent through the twin's control API, and
//! prints the conversation as each side saw it: the customer's WhatsApp screen and the agent's chat.
//! Issue #5 shows here too: a flow's picker arrives as WhatsApp buttons, the customer's tap reaches Connect
//! as the option's title, and the agent sees their message marked read. Issue #4 too: a photo arrives
//! as an attachment with its caption after it, and a voice note as a WAV with its transcript.
//! A second act (issue #23, `demo/handoff.rs`) shows a bot handing its conversation to an agent through
//! the Handoff API and the signed events its webhook gets back.

#[path = "demo/handoff.rs"]
mod handoff;

use base64::Engine;
use e2e::{TestStack, Twin, repo_root};
use local_aws::time::{iso_millis, now_ms};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CUSTOMER: &str = "14255550150";
const NAME: &str = "Diego";
const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";

struct Demo {
    twin: Twin,
    /// What the customer typed, with the time, for the WhatsApp screen.
    typed: Vec<(String, String)>,
}

impl Demo {
    /// The customer sends `message`; `shown` is how it looks on their WhatsApp screen.
    async fn customer_sends(&mut self, shown: &str, message: Value, what: &str) {
        self.typed.push((iso_millis(now_ms()), shown.to_owned()));
        let (_, outcome) = self.twin.customer_sends(CUSTOMER, message).await;
        assert!(outcome.ok, "WhatsappHandler failed: {:?}", outcome.error);
        self.twin.settle().await;
        step(what);
    }

    async fn customer(&mut self, text: &str) {
        let message = json!({"type": "text", "text": {"body": text}, "profile_name": NAME});
        self.customer_sends(text, message, &format!("{NAME} writes on WhatsApp: {text:?}"))
            .await;
    }

    async fn agent(&self, contact_id: &str, action: Value, what: &str) {
        let outcomes = self.twin.agent(contact_id, action).await;
        assert!(outcomes.iter().all(|o| o.ok), "ConnectHandler failed: {outcomes:?}");
        self.twin.settle().await;
        step(what);
    }

    async fn latest_contact(&self) -> String {
        let contacts = self.twin.contacts_of(CUSTOMER).await;
        contacts
            .last()
            .and_then(|c| c["contact_id"].as_str())
            .expect("a chat was started")
            .to_owned()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn step(what: &str) {
    println!("  · {what}");
}

fn clock(time: &str) -> &str {
    time.get(11..19).unwrap_or(time)
}

#[tokio::main]
async fn main() {
    println!("Starting moto, the local twin, both handlers and the Handoff API's functions…");
    // Voice notes stream to the twin's Transcribe at 4× their pace, so the demo does not wait for them.
    // The Handoff API and WebhookSender run too, for the second act.
    let stack = TestStack::start_with(|o| {
        o.extra_env.push(("TRANSCRIBE_STREAM_SPEED".to_owned(), "4".to_owned()));
        TestStack::with_handoff_api(o);
    })
    .await;
    let mut demo = Demo {
        twin: stack.twin().clone(),
        typed: Vec::new(),
    };
    println!("Local stack up at {}\n", stack.twin().url());
    println!("Playing the conversation:");

    demo.customer("Hi! My order #4512 hasn't arrived yet.").await;
    let first = demo.latest_contact().await;
    step(&format!("WhatsappHandler started chat {first} in Amazon Connect"));
    demo.agent(
        &first,
        json!({"action": "join", "display_name": "Ana"}),
        "Agent Ana accepts the chat in CCP",
    )
    .await;
    demo.agent(
        &first,
        json!({"action": "message", "display_name": "Ana", "content": "Hi Diego, I'm Ana. Let me check order #4512 for you."}),
        "Ana answers",
    )
    .await;
    demo.customer("Thanks! It was due on Monday.").await;
    let photo = b"\xFF\xD8\xFF\xE0 (a photo of the delivery notice)".to_vec();
    demo.customer_sends(
        "[photo] This note was on my door",
        json!({"type": "image", "image": {"data": b64(&photo), "mime_type": "image/jpeg",
                                           "caption": "This note was on my door"}}),
        "Diego sends a photo with a caption: attached in the chat, the caption after it",
    )
    .await;
    let voice = std::fs::read(repo_root().join("tests/media/voice-note.ogg")).expect("tests/media/voice-note.ogg");
    let said = "The courier said they will come back tomorrow, is that right?";
    // What the twin's Transcribe hears in this recording.
    demo.twin
        .post("/transcripts", json!({"sha256": sha256(&voice), "text": said}))
        .await;
    demo.customer_sends(
        "[voice note 0:03]",
        json!({"type": "audio", "audio": {"data": b64(&voice), "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
        "Diego sends a voice note: Ana gets a WAV and its transcription; Diego sees what she read",
    )
    .await;
    demo.agent(
        &first,
        json!({"action": "message", "display_name": "Ana", "content_type": "text/markdown", "content": "It's with the courier and arrives **tomorrow**. Anything else?"}),
        "Ana answers (markdown)",
    )
    .await;
    demo.customer("No, that's all. Thank you!").await;
    demo.agent(&first, json!({"action": "end"}), "Ana ends the chat").await;
    demo.customer("Oh, one more thing: can I change the delivery address?")
        .await;
    let second = demo.latest_contact().await;
    step(&format!("the chat had ended, so a new chat {second} was started"));
    demo.agent(
        &second,
        json!({"action": "join", "display_name": "Ben"}),
        "Agent Ben accepts the new chat",
    )
    .await;
    demo.agent(
        &second,
        json!({"action": "message", "display_name": "Ben", "content": "Hi Diego, Ben here. Yes, send me the new address."}),
        "Ben answers",
    )
    .await;

    let picker = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
        "title": "When should we deliver?",
        "elements": [{"title": "Tomorrow morning"}, {"title": "Tomorrow afternoon"}, {"title": "Saturday"}]}}});
    demo.agent(
        &second,
        json!({"action": "message", "role": "SYSTEM", "content_type": INTERACTIVE, "content": picker.to_string()}),
        "the flow offers delivery slots (a ListPicker): WhatsApp shows reply buttons",
    )
    .await;
    let buttons =
        demo.twin.sent_to(CUSTOMER).await.last().expect("picker sent")["message"]["interactive"]["action"]["buttons"]
            .clone();
    let chosen = &buttons[1]["reply"];
    let title = chosen["title"].as_str().unwrap_or_default().to_owned();
    demo.typed.push((iso_millis(now_ms()), format!("[taps] {title}")));
    let (_, outcome) = demo
        .twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": chosen}}),
        )
        .await;
    assert!(outcome.ok, "WhatsappHandler failed: {:?}", outcome.error);
    demo.twin.settle().await;
    step(&format!(
        "{NAME} taps {title:?}; Connect receives it as the widget would send it"
    ));
    // WhatsApp reports that Diego read Ben's answer: Ben sees it marked read.
    let read: Vec<String> = demo
        .twin
        .sent_to(CUSTOMER)
        .await
        .iter()
        .filter(|s| {
            s["message"]["text"]["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("Hi Diego, Ben"))
        })
        .filter_map(|s| s["message_id"].as_str().map(str::to_owned))
        .collect();
    for id in read {
        demo.twin
            .customer_status(CUSTOMER, json!({"id": id, "status": "read"}))
            .await;
    }
    step("WhatsApp reports Ben's answer read; Ben sees ✓✓ read in CCP");

    print_whatsapp(&demo).await;
    let contacts = demo.twin.contacts_of(CUSTOMER).await;
    print_chats(&contacts);
    assert_eq!(contacts.len(), 2, "expected two chats");

    handoff::act(&stack, &demo).await;
    println!(
        "\nDone: {} WhatsApp chats and a bot's handoff, every message delivered once. Stopping the local stack.",
        contacts.len()
    );
}

async fn print_whatsapp(demo: &Demo) {
    println!("\n══ WhatsApp — what {NAME} (+{CUSTOMER}) saw ══");
    let mut lines: Vec<(String, String)> = demo
        .typed
        .iter()
        .map(|(time, text)| (time.clone(), format!("{:>60}  {}", text, clock(time))))
        .collect();
    for sent in demo.twin.sent_to(CUSTOMER).await {
        let time = sent["time"].as_str().unwrap_or_default().to_owned();
        let message = &sent["message"];
        let body = match message["type"].as_str() {
            Some("text") => message["text"]["body"].as_str().unwrap_or_default().to_owned(),
            Some("interactive") => {
                let interactive = &message["interactive"];
                let options: Vec<&str> = interactive["action"]["buttons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["reply"]["title"].as_str())
                    .collect();
                format!(
                    "{}  [ {} ]",
                    interactive["body"]["text"].as_str().unwrap_or_default(),
                    options.join(" | ")
                )
            }
            _ => "[non-text message]".to_owned(),
        };
        lines.push((time.clone(), format!("{}  {body}", clock(&time))));
    }
    // Stable: a reply logged in the same millisecond as the message it answers stays after it.
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, line) in lines {
        println!("  {line}");
    }
}

/// Each chat as the agent saw it in CCP.
fn print_chats(contacts: &[Value]) {
    for contact in contacts {
        println!(
            "\n══ Amazon Connect — chat {} ({}), as the agent saw it ══",
            contact["contact_id"].as_str().unwrap_or_default(),
            contact["state"].as_str().unwrap_or_default()
        );
        for item in contact["transcript"].as_array().into_iter().flatten() {
            let time = item["time"].as_str().unwrap_or_default();
            let who = match item["role"].as_str().unwrap_or_default() {
                "CUSTOMER" => contact["customer_display_name"]
                    .as_str()
                    .unwrap_or("Customer")
                    .to_owned(),
                "SYSTEM" => "Flow".to_owned(),
                "" => "Connect".to_owned(),
                _ => item["display_name"].as_str().unwrap_or("Agent").to_owned(),
            };
            match item["type"].as_str() {
                Some("MESSAGE") => {
                    let read = item["receipts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|r| r["read"].is_string());
                    let content = if item["content_type"] == INTERACTIVE {
                        "[interactive picker]"
                    } else {
                        &item["content"].as_str().unwrap_or_default().replace('\n', " — ")
                    };
                    println!(
                        "  {}  {who:>8}: {content}{}",
                        clock(time),
                        if read { "  ✓✓ read" } else { "" }
                    );
                }
                Some("ATTACHMENT") => {
                    for file in item["attachments"].as_array().into_iter().flatten() {
                        println!(
                            "  {}  {who:>8}: 📎 {} ({}, {} bytes)",
                            clock(time),
                            file["name"].as_str().unwrap_or_default(),
                            file["content_type"].as_str().unwrap_or_default(),
                            file["size"].as_u64().unwrap_or_default()
                        );
                    }
                }
                _ => {
                    let event = item["content_type"].as_str().unwrap_or_default();
                    let event = event.rsplit("event.").next().unwrap_or(event);
                    println!("  {}  {who:>8}  ({event})", clock(time));
                }
            }
        }
    }
}
