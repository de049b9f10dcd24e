//! A handoff's events back to the bot through the real binaries: ConnectHandler relays what the
//! agent does in the handoff's chat, WebhookSender (fed by the twin's SQS event source) delivers each
//! event to the client's webhook, and the twin's receiver checks every signature. The bot receives
//! every event once, in order; answers the agent's list by option id; sends a file and gets the
//! agent's; transfers its queued handoff (one `handoff.transferred` however often asked, none once an
//! agent has the chat) and hears of the agent's transfer; and a webhook that fails three times, then recovers, loses nothing and keeps
//! the order.

use e2e::{TestStack, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CLIENT: &str = "acme-bot";

struct Bot {
    stack: TestStack,
    key: String,
}

impl Bot {
    /// A stack with the Handoff API and WebhookSender, and a client whose webhook is the twin's
    /// receiver, answering as `receiver` sets it up.
    async fn start(receiver: Value) -> Self {
        let stack = TestStack::start_with(TestStack::with_handoff_api).await;
        let key = stack.add_client(CLIENT);
        let url = format!("{}/_twin/webhooks/{CLIENT}", stack.twin().url());
        let secret = stack.set_webhook(CLIENT, &url);
        let mut setup = receiver;
        setup["secrets"] = json!([secret]);
        stack.twin().put(&format!("/webhooks/{CLIENT}"), setup).await;
        Self { stack, key }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let twin = self.stack.twin();
        twin.handoff_api(Some(&self.key), (method, path), headers, body).await
    }

    /// Hands a conversation with a 12-message history off; the handoff's id and its contact.
    async fn hand_off(&self) -> (String, String) {
        let history: Vec<Value> = (0..12)
            .map(|i| {
                let source = if i % 2 == 0 { "user" } else { "bot" };
                json!({"source": {"type": source}, "type": "text", "payload": {"text": format!("{source} says {i}")}})
            })
            .collect();
        let body = json!({"external_conversation_id": "conv-7", "user": {"id": "u-7", "name": "Ana Souza"},
                          "title": "Refund", "description": "Asks for a refund", "message_history": history});
        let (status, created) = self
            .call("POST", "/v1/handoffs", &[("idempotency-key", "h-1")], Some(body))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{created}");
        let field = |name: &str| created[name].as_str().unwrap().to_owned();
        (field("handoff_id"), field("contact_id"))
    }

    async fn agent(&self, contact: &str, action: Value) {
        self.stack.twin().agent(contact, action).await;
    }

    /// What the receiver took (answered 2xx), in the order it got them.
    async fn taken(&self) -> Vec<Value> {
        let all = self.stack.twin().get(&format!("/webhooks?client={CLIENT}")).await;
        all.as_array()
            .unwrap()
            .iter()
            .filter(|d| (200..300).contains(&d["answered"].as_u64().unwrap_or(0)))
            .cloned()
            .collect()
    }

    /// Waits until the receiver took an event of type `kind`; every delivery so far.
    async fn until_taken(&self, kind: &str, patience: Duration) -> Vec<Value> {
        self.until_taken_where(kind, |d| d["body"]["type"] == kind, patience)
            .await
    }

    /// Waits until the receiver took a delivery that is `what`; every delivery so far.
    async fn until_taken_where(&self, what: &str, is: impl Fn(&Value) -> bool, patience: Duration) -> Vec<Value> {
        let deadline = Instant::now() + patience;
        loop {
            let taken = self.taken().await;
            if taken.iter().any(&is) {
                return self
                    .stack
                    .twin()
                    .get(&format!("/webhooks?client={CLIENT}"))
                    .await
                    .as_array()
                    .unwrap()
                    .clone();
            }
            assert!(Instant::now() < deadline, "no {what} within {patience:?}: {taken:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn types(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d["body"]["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Each delivery is signed, the taken ones are numbered 1, 2, 3… without a repeat, and all name the handoff.
fn assert_once_in_order_and_signed(deliveries: &[Value], handoff: &str) {
    for d in deliveries {
        assert_eq!(d["signature_valid"], true, "{d}");
        assert_eq!(d["body"]["data"]["handoff_id"], handoff);
        assert_eq!(d["body"]["data"]["external_conversation_id"], "conv-7");
    }
    let taken: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["answered"].as_u64() < Some(300))
        .collect();
    let sequences: Vec<u64> = taken
        .iter()
        .map(|d| d["body"]["data"]["sequence"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=sequences.len() as u64).collect();
    assert_eq!(sequences, expected, "once each, in order");
    let mut ids: Vec<&str> = taken.iter().map(|d| d["webhook_id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), taken.len(), "a webhook-id per event");
}

/// The sample list picker, as the agent sends it.
fn list_picker() -> Value {
    let event = fixture("connect-stream-interactive-listpicker.json");
    let message: Value = serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    json!({"action": "message", "content": message["Content"], "content_type": message["ContentType"],
           "display_name": "Ana"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_receives_every_event_of_its_handoff_once_in_order_and_signed() {
    let bot = Bot::start(json!({})).await;
    let (id, contact) = bot.hand_off().await;

    bot.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    bot.agent(
        &contact,
        json!({"action": "message", "content": "Hi, I'm Ana. Let me look.", "display_name": "Ana"}),
    )
    .await;
    bot.agent(&contact, list_picker()).await;
    bot.agent(&contact, json!({"action": "typing"})).await;
    let deliveries = bot.until_taken("handoff.typing", Duration::from_secs(20)).await;
    let list = deliveries
        .iter()
        .find(|d| d["body"]["data"]["content"]["type"] == "choice")
        .expect("the list reached the bot");
    let choice = &list["body"]["data"]["content"];
    assert_eq!(choice["template"], "list_picker");
    let option = choice["options"][1].clone();

    let answer = json!({"client_message_id": "answer-1", "type": "option", "option_id": option["id"]});
    let (status, _) = bot
        .call("POST", &format!("/v1/handoffs/{id}/messages"), &[], Some(answer))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let said = bot.stack.twin().contacts().await;
    let customer_said = e2e::customer_texts(&said[0]);
    assert!(
        customer_said
            .iter()
            .any(|t| t.contains(option["title"].as_str().unwrap())),
        "the agent reads the chosen option: {customer_said:?}"
    );
    bot.agent(
        &contact,
        json!({"action": "message", "content": "Refund approved.", "display_name": "Ana"}),
    )
    .await;
    bot.agent(&contact, json!({"action": "end"})).await;
    let deliveries = bot.until_taken("handoff.ended", Duration::from_secs(20)).await;

    assert_eq!(
        types(&deliveries),
        [
            "handoff.created",
            "handoff.message",
            "handoff.agent_joined",
            "handoff.message",
            "handoff.message",
            "handoff.typing",
            "handoff.message",
            "handoff.agent_left",
            "handoff.ended",
        ],
        "the flow's greeting first; the bot's own answer is not echoed; the agent's leaving and the end last"
    );
    assert_eq!(
        deliveries[1]["body"]["data"]["sender"]["role"], "system",
        "the flow's greeting"
    );
    assert_once_in_order_and_signed(&deliveries, &id);
    let ended = &deliveries.last().unwrap()["body"]["data"];
    assert_eq!(
        (ended["reason"].as_str(), ended["returns_to_bot"].as_bool()),
        (Some("agent_ended"), Some(true))
    );
    let (_, view) = bot.call("GET", &format!("/v1/handoffs/{id}"), &[], None).await;
    assert_eq!(view["status"], "ended");
    assert_eq!(view["agent"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_three_times_then_recovers_loses_nothing_and_keeps_order() {
    let bot = Bot::start(json!({"fail_times": 3, "fail_status": 503})).await;
    let (id, contact) = bot.hand_off().await;
    bot.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    for text in ["One", "Two", "Three"] {
        bot.agent(
            &contact,
            json!({"action": "message", "content": text, "display_name": "Ana"}),
        )
        .await;
    }
    let (status, _) = bot
        .call(
            "POST",
            &format!("/v1/handoffs/{id}/end"),
            &[],
            Some(json!({"reason": "resolved"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The first attempt, then retries 5, 15 and 35 s after it.
    let deliveries = bot.until_taken("handoff.ended", Duration::from_secs(60)).await;

    let failed: Vec<&Value> = deliveries.iter().filter(|d| d["answered"] == 503).collect();
    assert_eq!(failed.len(), 3, "{deliveries:#?}");
    assert!(
        failed.iter().all(|d| d["body"]["type"] == "handoff.created"),
        "the later events waited behind the first"
    );
    let taken = bot.taken().await;
    assert_eq!(
        types(&taken),
        [
            "handoff.created",
            "handoff.message",
            "handoff.agent_joined",
            "handoff.message",
            "handoff.message",
            "handoff.message",
            "handoff.ended",
        ]
    );
    let texts: Vec<&str> = taken[3..6]
        .iter()
        .map(|d| d["body"]["data"]["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["One", "Two", "Three"]);
    assert_eq!(taken[6]["body"]["data"]["reason"], "api");
    assert_once_in_order_and_signed(&deliveries, &id);
    let retried_id = failed[0]["webhook_id"].clone();
    assert_eq!(
        taken[0]["webhook_id"], retried_id,
        "the same webhook-id on every attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_endpoint_refused_goes_on_again_with_replay() {
    let bot = Bot::start(json!({"fail_times": 1, "fail_status": 400})).await;
    let (id, contact) = bot.hand_off().await;
    bot.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    let deliveries = bot.until_taken("handoff.agent_joined", Duration::from_secs(20)).await;
    assert_eq!(deliveries[0]["answered"], 400, "handoff.created refused for good");
    assert_eq!(deliveries[0]["body"]["type"], "handoff.created");
    let refused_id = deliveries[0]["webhook_id"].clone();

    // The operator replays the dead-letter queue to WebhookSender.
    let stack = bot.stack.stack();
    let out = std::process::Command::new(e2e::bin_dir().join("replay"))
        .args([
            "--queue-url",
            &stack.webhook_dead_letter_queue_url().expect("the webhook DLQ"),
        ])
        .args(["--function-name", "WebhookSender"])
        .env("AWS_ENDPOINT_URL_SQS", stack.moto_url().expect("moto"))
        .env("AWS_ENDPOINT_URL_LAMBDA", stack.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("replay runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("replayed 1, failed 0, skipped 0"), "{report}");

    let taken = bot.taken().await;
    let again = taken.last().unwrap();
    assert_eq!(again["body"]["type"], "handoff.created");
    assert_eq!(again["webhook_id"], refused_id, "the same event, under its id");
    assert_eq!(again["signature_valid"], true);
    assert_eq!(again["body"]["data"]["handoff_id"], id.as_str());
}

/// Serves `bytes` over plain HTTP on loopback, to every GET, as a bot's file host would (with its
/// length); the URL.
async fn file_host(name: &str, bytes: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/files/{name}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = [0u8; 4096];
            let _ = socket.read(&mut head).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.write_all(bytes).await;
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_each_way_between_the_bot_and_the_agent() {
    use base64::Engine;
    const RECEIPT: &[u8] = b"%PDF-1.7 the customer's receipt";
    const LABEL: &[u8] = b"%PDF-1.7 the return label";
    let bot = Bot::start(json!({})).await;
    let (id, contact) = bot.hand_off().await;
    bot.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;

    let url = file_host("r.pdf", RECEIPT).await;
    let file = json!({"client_message_id": "file-1", "type": "file",
                      "file": {"url": url, "name": "receipt.pdf", "content_type": "application/pdf"}});
    let path = format!("/v1/handoffs/{id}/messages");
    let (sent, answer) = bot.call("POST", &path, &[], Some(file.clone())).await;
    assert_eq!(sent, StatusCode::ACCEPTED, "{answer}");
    let (resent, _) = bot.call("POST", &path, &[], Some(file)).await;
    assert_eq!(resent, StatusCode::ACCEPTED);
    let chat = &bot.stack.twin().contacts().await[0];
    let customer_files: Vec<Value> = chat["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["role"] == "CUSTOMER")
        .filter_map(|item| item["attachments"].as_array())
        .flatten()
        .cloned()
        .collect();
    assert_eq!(customer_files.len(), 1, "once, the retry included: {chat:#}");
    assert_eq!(customer_files[0]["name"], "receipt.pdf");
    assert_eq!(customer_files[0]["size"], RECEIPT.len());

    let data = base64::engine::general_purpose::STANDARD.encode(LABEL);
    bot.agent(
        &contact,
        json!({"action": "attachment", "name": "label.pdf", "content_type": "application/pdf", "data": data}),
    )
    .await;
    let is_file = |d: &Value| d["body"]["data"]["content"]["type"] == "file";
    let deliveries = bot
        .until_taken_where("the agent's file", is_file, Duration::from_secs(20))
        .await;
    let delivered = deliveries
        .iter()
        .find(|d| is_file(d))
        .expect("the agent's file reached the bot");
    let content = &delivered["body"]["data"]["content"];
    assert_eq!(
        (
            content["name"].as_str(),
            content["content_type"].as_str(),
            content["size"].as_u64()
        ),
        (Some("label.pdf"), Some("application/pdf"), Some(LABEL.len() as u64))
    );
    let http = reqwest::Client::new();
    let download = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    let linked = content["download"]["url"].as_str().expect("a download link").to_owned();
    assert_eq!(download(linked).await.as_ref(), LABEL);
    let attachment = content["attachment_id"].as_str().unwrap();
    let (status, fresh) = bot
        .call("GET", &format!("/v1/handoffs/{id}/attachments/{attachment}"), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert!(fresh["expires_at"].is_string());
    assert_eq!(
        download(fresh["url"].as_str().unwrap().to_owned()).await.as_ref(),
        LABEL
    );
    assert_once_in_order_and_signed(&bot.taken().await, &id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_by_the_bot_and_by_the_agent_reach_the_bot_once_each() {
    let bot = Bot::start(json!({})).await;
    let (id, contact) = bot.hand_off().await;
    let path = format!("/v1/handoffs/{id}/transfer");
    let (queue, other) = (
        "0a1b2c3d-0000-4000-8000-000000000002",
        "0a1b2c3d-0000-4000-8000-000000000003",
    );
    let attribute = || async {
        let chats = bot.stack.twin().contacts().await;
        let chat = chats
            .iter()
            .find(|c| c["contact_id"] == contact.as_str())
            .expect("the chat");
        chat["attributes"]["HandoffTransferQueueId"].clone()
    };

    for _ in 0..2 {
        let (status, view) = bot.call("POST", &path, &[], Some(json!({"queue_id": queue}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{view}");
        assert_eq!(
            (view["handoff_id"].as_str(), view["status"].as_str()),
            (Some(id.as_str()), Some("queued"))
        );
    }
    assert_eq!(attribute().await, queue, "for the handoff's queue flow to read");

    bot.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    bot.until_taken("handoff.agent_joined", Duration::from_secs(20)).await;
    let (status, refused) = bot.call("POST", &path, &[], Some(json!({"queue_id": other}))).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    assert_eq!(attribute().await, queue, "the agent's chat is left as it is");

    // The agent's own transfer (a quick connect), then the next agent.
    bot.agent(&contact, json!({"action": "transfer"})).await;
    bot.agent(&contact, json!({"action": "join", "display_name": "Bruno"}))
        .await;
    bot.agent(&contact, json!({"action": "end"})).await;
    let deliveries = bot.until_taken("handoff.ended", Duration::from_secs(20)).await;
    let transferred: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["body"]["type"] == "handoff.transferred")
        .collect();
    assert_eq!(
        transferred.len(),
        2,
        "the bot's once, however often asked, and the agent's: {:#?}",
        types(&deliveries)
    );
    assert_eq!(transferred[0]["body"]["data"]["to"], queue);
    assert_eq!(
        transferred[1]["body"]["data"].get("to"),
        None,
        "Connect's stream does not say where"
    );
    let agents: Vec<&str> = deliveries
        .iter()
        .filter(|d| d["body"]["type"] == "handoff.agent_joined")
        .map(|d| d["body"]["data"]["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["Ana", "Bruno"]);
    assert_once_in_order_and_signed(&deliveries, &id);
}
