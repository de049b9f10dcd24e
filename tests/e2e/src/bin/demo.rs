//! `make demo`: a whole WhatsApp ⇄ Amazon Connect conversation, offline, through the real handler binaries.
//!
//! Starts moto, the twin and both handlers, plays customer and agent through the twin's control API, and
//! prints the conversation as each side saw it: the customer's WhatsApp screen and the agent's chat.
//! Issue #5 shows here too: a flow's picker arrives as WhatsApp buttons, the customer's tap reaches Connect
//! as the option's title, and the agent sees their message marked read. Issue #4 too: a photo arrives
//! as an attachment with its caption after it, and a voice note as a WAV with its transcript.
//! One stack serves two business numbers routed apart (`NUMBER_ROUTES`): Diego writes in Spanish to
//! the first, whose chats start in the Spanish flow and hear the bridge in Spanish; João writes in
//! Portuguese to the second (`demo/portuguese.rs`), with its own flow and language.
//! A last act (issue #23, `demo/handoff.rs`) shows a bot handing its conversation to an agent through
//! the Handoff API and the signed events its webhook gets back.

#[path = "demo/handoff.rs"]
mod handoff;
#[path = "demo/portuguese.rs"]
mod portuguese;

use base64::Engine;
use e2e::{TestStack, Twin, repo_root};
use local_aws::time::{iso_millis, now_ms};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CUSTOMER: &str = "5215550150";
const NAME: &str = "Diego";
const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";

/// One customer's WhatsApp side of the demo.
struct Demo {
    twin: Twin,
    customer: &'static str,
    name: &'static str,
    /// The Meta phone number id of the business number they write to.
    number: String,
    /// What the customer typed, with the time, for the WhatsApp screen.
    typed: Vec<(String, String)>,
}

impl Demo {
    /// The customer sends `message` to their business number; `shown` is how it looks on their screen.
    async fn customer_sends(&mut self, shown: &str, mut message: Value, what: &str) {
        self.typed.push((iso_millis(now_ms()), shown.to_owned()));
        message["business_number"] = json!(self.number);
        let (_, outcome) = self.twin.customer_sends(self.customer, message).await;
        assert!(outcome.ok, "WhatsappHandler failed: {:?}", outcome.error);
        self.twin.settle().await;
        step(what);
    }

    async fn customer(&mut self, text: &str) {
        let message = json!({"type": "text", "text": {"body": text}, "profile_name": self.name});
        let what = format!("{} writes on WhatsApp: {text:?}", self.name);
        self.customer_sends(text, message, &what).await;
    }

    async fn agent(&self, contact_id: &str, action: Value, what: &str) {
        let outcomes = self.twin.agent(contact_id, action).await;
        assert!(outcomes.iter().all(|o| o.ok), "ConnectHandler failed: {outcomes:?}");
        self.twin.settle().await;
        step(what);
    }

    async fn latest_contact(&self) -> String {
        let contacts = self.twin.contacts_of(self.customer).await;
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
    let numbers = local_aws::TwinConfig::default().business_numbers;
    let routes = json!({
        numbers[0].meta_phone_number_id.clone(): {"contact_flow_id": local_aws::SPANISH_FLOW_ID,
            "language": "es-419", "transcribe_languages": ["es-US"], "end_keyword": "#fin"},
        numbers[1].meta_phone_number_id.clone(): {"contact_flow_id": local_aws::PORTUGUESE_FLOW_ID,
            "language": "pt-BR", "transcribe_languages": ["pt-BR"], "end_keyword": "#sair"},
    });
    let stack = TestStack::start_with(|o| {
        o.extra_env.push(("TRANSCRIBE_STREAM_SPEED".to_owned(), "4".to_owned()));
        o.extra_env.push(("NUMBER_ROUTES".to_owned(), routes.to_string()));
        TestStack::with_handoff_api(o);
    })
    .await;
    let mut demo = Demo {
        twin: stack.twin().clone(),
        customer: CUSTOMER,
        name: NAME,
        number: numbers[0].meta_phone_number_id.clone(),
        typed: Vec::new(),
    };
    println!("Local stack up at {}\n", stack.twin().url());
    println!(
        "Number {} is routed to the Spanish flow (es-419), number {} to the Portuguese one (pt-BR).",
        numbers[0].meta_phone_number_id, numbers[1].meta_phone_number_id
    );
    println!("Playing the conversation on the first number:");

    demo.customer("¡Hola! Mi pedido #4512 todavía no llega.").await;
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
        json!({"action": "message", "display_name": "Ana", "content": "Hola Diego, soy Ana. Reviso tu pedido #4512."}),
        "Ana answers",
    )
    .await;
    demo.customer("¡Gracias! Debía llegar el lunes.").await;
    let photo = b"\xFF\xD8\xFF\xE0 (a photo of the delivery notice)".to_vec();
    demo.customer_sends(
        "[foto] Esta nota estaba en mi puerta",
        json!({"type": "image", "image": {"data": b64(&photo), "mime_type": "image/jpeg",
                                           "caption": "Esta nota estaba en mi puerta"}}),
        "Diego sends a photo with a caption: attached in the chat, the caption after it",
    )
    .await;
    let voice = std::fs::read(repo_root().join("tests/media/voice-note.ogg")).expect("tests/media/voice-note.ogg");
    let said = "El repartidor dijo que vuelve mañana, ¿es correcto?";
    // What the twin's Transcribe hears in this recording.
    demo.twin
        .post("/transcripts", json!({"sha256": sha256(&voice), "text": said}))
        .await;
    demo.customer_sends(
        "[nota de voz 0:03]",
        json!({"type": "audio", "audio": {"data": b64(&voice), "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
        "Diego sends a voice note: Ana gets a WAV and its transcription; Diego sees what she read",
    )
    .await;
    demo.agent(
        &first,
        json!({"action": "message", "display_name": "Ana", "content_type": "text/markdown", "content": "Está con el repartidor y llega **mañana**. ¿Algo más?"}),
        "Ana answers (markdown)",
    )
    .await;
    demo.customer("No, eso es todo. ¡Gracias!").await;
    demo.agent(&first, json!({"action": "end"}), "Ana ends the chat").await;
    demo.customer("Ah, una cosa más: ¿puedo cambiar la dirección de entrega?")
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
        json!({"action": "message", "display_name": "Ben", "content": "Hola Diego, soy Ben. Sí, envíame la nueva dirección."}),
        "Ben answers",
    )
    .await;

    let picker = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
        "title": "¿Cuándo entregamos?",
        "elements": [{"title": "Mañana en la mañana"}, {"title": "Mañana en la tarde"}, {"title": "El sábado"}]}}});
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
            json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": chosen},
                   "business_number": demo.number}),
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
                .is_some_and(|b| b.starts_with("Hola Diego, soy Ben"))
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

    let portuguese = portuguese::act(&demo, &numbers[1].meta_phone_number_id).await;
    handoff::act(&stack, &demo).await;
    println!(
        "\nDone: {} WhatsApp chats on two numbers in two languages and a bot's handoff, every message \
         delivered once. Stopping the local stack.",
        contacts.len() + portuguese
    );
}

async fn print_whatsapp(demo: &Demo) {
    println!("\n══ WhatsApp — what {} (+{}) saw ══", demo.name, demo.customer);
    let mut lines: Vec<(String, String)> = demo
        .typed
        .iter()
        .map(|(time, text)| (time.clone(), format!("{:>60}  {}", text, clock(time))))
        .collect();
    for sent in demo.twin.sent_to(demo.customer).await {
        let time = sent["time"].as_str().unwrap_or_default().to_owned();
        let message = &sent["message"];
        let body = match message["type"].as_str() {
            Some("text") => message["text"]["body"].as_str().unwrap_or_default().to_owned(),
            Some("interactive") => {
                let interactive = &message["interactive"];
                let buttons = interactive["action"]["buttons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["reply"]["title"].as_str());
                let rows = interactive["action"]["sections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s["rows"].as_array().into_iter().flatten())
                    .filter_map(|r| r["title"].as_str());
                let options: Vec<&str> = buttons.chain(rows).collect();
                let list_button = interactive["action"]["button"]
                    .as_str()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default();
                format!(
                    "{}{list_button}  [ {} ]",
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
