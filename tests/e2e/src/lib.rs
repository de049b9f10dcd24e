//! End-to-end harness: the real handler binaries, the local twin and moto, driven through the twin's
//! control API exactly as a person or an outside test would drive it (`docs/local-twin.md`).
//!
//! [`TestStack`] starts a private stack on ephemeral ports for one test and stops it on drop, so tests
//! run in parallel without sharing state.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

pub use local_aws;

/// The twin's simulated contact flow greets every new chat with this SYSTEM message.
pub const GREETING: &str = "Thanks for contacting us. An agent will be with you shortly.";

/// The business number the twin's customers write to by default (Meta phone number id).
pub const BUSINESS_NUMBER: &str = "106540352242922";

/// A typed client of the twin's `/_twin` control API.
#[derive(Clone)]
pub struct Twin {
    base: String,
    http: reqwest::Client,
}

/// The handler's outcome of one delivery.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub ok: bool,
    pub error: Option<String>,
}

impl Invocation {
    fn from_json(v: &Value) -> Self {
        Self {
            ok: v["ok"].as_bool().unwrap_or(false),
            error: v["error"].as_str().map(str::to_owned),
        }
    }
}

impl Twin {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("HTTP client"),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_twin{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("twin {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "twin {path} answered {status}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Value {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// The customer sends a WhatsApp message (Meta inbound shape without from/id/timestamp).
    /// Returns the wamid and the WhatsappHandler's outcome.
    pub async fn customer_sends(&self, wa_id: &str, message: Value) -> (String, Invocation) {
        let answer = self.post(&format!("/customers/{wa_id}/messages"), message).await;
        (
            answer["wamid"].as_str().unwrap_or_default().to_owned(),
            Invocation::from_json(&answer["invocation"]),
        )
    }

    pub async fn customer_texts(&self, wa_id: &str, body: &str) -> (String, Invocation) {
        self.customer_sends(
            wa_id,
            json!({"type": "text", "text": {"body": body}, "profile_name": format!("Customer {wa_id}")}),
        )
        .await
    }

    /// The customer sends the sample voice note (`tests/media/voice-note.ogg`, 3 s of Opus), which
    /// the twin's Transcribe hears as `said`.
    pub async fn customer_sends_voice_note(&self, wa_id: &str, said: &str) -> (String, Invocation) {
        let voice = std::fs::read(repo_root().join("tests/media/voice-note.ogg")).expect("tests/media/voice-note.ogg");
        let sha256: String = Sha256::digest(&voice).iter().map(|b| format!("{b:02x}")).collect();
        self.post("/transcripts", json!({"sha256": sha256, "text": said})).await;
        let data = base64::engine::general_purpose::STANDARD.encode(&voice);
        self.customer_sends(
            wa_id,
            json!({"type": "audio", "audio": {"data": data, "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
        )
        .await
    }

    pub async fn customer_status(&self, wa_id: &str, status: Value) -> Invocation {
        let answer = self.post(&format!("/customers/{wa_id}/statuses"), status).await;
        Invocation::from_json(answer.get("invocation").unwrap_or(&answer))
    }

    /// An agent acts on a contact (`join`, `message`, `leave`, `end`, …); answers after ConnectHandler ran.
    pub async fn agent(&self, contact_id: &str, action: Value) -> Vec<Invocation> {
        let answer = self.post(&format!("/contacts/{contact_id}/agent"), action).await;
        answer["invocations"]
            .as_array()
            .map(|a| a.iter().map(Invocation::from_json).collect())
            .unwrap_or_default()
    }

    pub async fn agent_says(&self, contact_id: &str, text: &str) -> Vec<Invocation> {
        self.agent(
            contact_id,
            json!({"action": "message", "content": text, "display_name": "Ana"}),
        )
        .await
    }

    pub async fn invoke(&self, function: &str, event: Value) -> Invocation {
        Invocation::from_json(&self.post(&format!("/invoke/{function}"), event).await)
    }

    /// A call of the Handoff API the twin serves (API Gateway's HTTP API) with the client's `key`; the
    /// status and the JSON answer (`Null` when there is none).
    pub async fn handoff_api(
        &self,
        key: Option<&str>,
        (method, path): (&str, &str),
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .http
            .request(method.parse().expect("a method"), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await.expect("the twin answers");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn contacts(&self) -> Vec<Value> {
        self.get("/contacts").await.as_array().cloned().unwrap_or_default()
    }

    /// The contacts whose customer attribute is `wa_id`, oldest first.
    pub async fn contacts_of(&self, wa_id: &str) -> Vec<Value> {
        self.contacts()
            .await
            .into_iter()
            .filter(|c| c["attributes"]["CustomerId"] == wa_id)
            .collect()
    }

    /// Every WhatsApp message sent to `wa_id` (or to a business-scoped user id), as decoded Meta message
    /// objects, in send order.
    pub async fn sent_to(&self, wa_id: &str) -> Vec<Value> {
        self.get("/whatsapp/sent")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s["message"]["to"] == wa_id || s["message"]["recipient"] == wa_id)
            .collect()
    }

    /// The bodies of the text messages sent to `wa_id`.
    pub async fn texts_to(&self, wa_id: &str) -> Vec<String> {
        self.sent_to(wa_id)
            .await
            .iter()
            .filter_map(|s| s["message"]["text"]["body"].as_str().map(str::to_owned))
            .collect()
    }

    pub async fn calls(&self) -> Vec<Value> {
        self.get("/calls").await.as_array().cloned().unwrap_or_default()
    }

    /// How many times the handlers called `operation` so far.
    pub async fn calls_to(&self, operation: &str) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|c| c["operation"] == operation)
            .count()
    }

    /// The files (media messages) sent to `wa_id`, in send order.
    pub async fn media_sent_to(&self, wa_id: &str) -> Vec<Value> {
        self.sent_to(wa_id)
            .await
            .into_iter()
            .filter(|s| s.get("media").is_some())
            .collect()
    }

    pub async fn logs(&self, function: &str) -> Vec<String> {
        self.get(&format!("/logs?function={function}"))
            .await
            .as_array()
            .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    pub async fn fault(&self, fault: Value) {
        self.post("/faults", fault).await;
    }

    /// How many events are in the dead-letter queues.
    pub async fn dead_letters(&self) -> usize {
        self.get("/dlq").await.as_array().map_or(0, Vec::len)
    }

    /// Waits until every fault rule has fired its `times`.
    pub async fn until_faults_fired(&self) {
        let started = std::time::Instant::now();
        while self
            .get("/faults")
            .await
            .as_array()
            .is_some_and(|rules| !rules.is_empty())
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the fault never fired"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until no delivery is queued, running or waiting for a retry.
    pub async fn settle(&self) {
        self.post("/wait-idle?timeout_ms=120000", json!({})).await;
    }

    /// Waits until the customer's chat exists (its start and greeting may still be in flight elsewhere).
    pub async fn settle_customer(&self, wa_id: &str) {
        for _ in 0..600 {
            if !self.contacts_of(wa_id).await.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no chat was started for {wa_id}");
    }
}

/// The customer's messages as the agent sees them in a contact's transcript.
pub fn customer_texts(contact: &Value) -> Vec<String> {
    transcript_texts(contact, "CUSTOMER")
}

/// The texts a role wrote in a contact's transcript.
pub fn transcript_texts(contact: &Value, role: &str) -> Vec<String> {
    contact["transcript"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["role"] == role && i["type"] == "MESSAGE")
                .filter_map(|i| i["content"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The workspace's target directory, found from the running test binary (`target/debug/deps/…`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The repository root (for `.venv` and `tests/fixtures`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A private stack (moto, twin, both handlers) for one test; stopped when dropped.
pub struct TestStack {
    stack: local_aws::Stack,
    twin: Twin,
    state_table: String,
}

impl TestStack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a stack after `adjust` changed the defaults (concurrency, environment, …).
    pub async fn start_with(adjust: impl FnOnce(&mut local_aws::StackOptions)) -> Self {
        let bins = bin_dir();
        let mut options = local_aws::StackOptions {
            moto_bin: repo_root().join("scripts/moto-server"),
            whatsapp_handler: Some(bins.join("whatsapp-handler")),
            connect_handler: Some(bins.join("connect-handler")),
            // The Handoff API's functions only for the tests that call it (see `with_handoff_api`).
            handoff_api: None,
            handoff_authorizer: None,
            webhook_sender: None,
            echo_logs: std::env::var_os("E2E_ECHO_LOGS").is_some(),
            // A moto server of one's own (e.g. to watch its request log while debugging).
            moto_url: std::env::var("E2E_MOTO_URL").ok(),
            ..Default::default()
        };
        for (name, binary) in [
            ("whatsapp-handler", &options.whatsapp_handler),
            ("connect-handler", &options.connect_handler),
        ] {
            let binary = binary.as_ref().expect("handler path");
            assert!(
                binary.exists(),
                "{name} is not built at {}: run `cargo build --workspace --bins`",
                binary.display()
            );
        }
        adjust(&mut options);
        let state_table = options.state_table_name.clone();
        let stack = local_aws::Stack::start(options).await.expect("local stack starts");
        let twin = Twin::new(stack.url());
        Self {
            stack,
            twin,
            state_table,
        }
    }

    pub fn twin(&self) -> &Twin {
        &self.twin
    }

    /// Adds the Handoff API's functions (`HandoffApi`, `HandoffAuthorizer`) to a stack's options, and
    /// `WebhookSender` (fed by the webhook queue) when it is built.
    pub fn with_handoff_api(options: &mut local_aws::StackOptions) {
        let bins = bin_dir();
        for (name, binary) in [
            ("handoff-api", &mut options.handoff_api),
            ("handoff-authorizer", &mut options.handoff_authorizer),
        ] {
            let path = bins.join(name);
            assert!(
                path.exists(),
                "{name} is not built: run `cargo build --workspace --bins`"
            );
            *binary = Some(path);
        }
        // Not required: the sender is newer than the API, and the API's tests run without it.
        let sender = bins.join("webhook-sender");
        if sender.exists() {
            options.webhook_sender = Some(sender);
        }
    }

    pub fn business_numbers(&self) -> Vec<local_aws::BusinessNumber> {
        self.stack.twin().config().business_numbers.clone()
    }

    pub fn stack(&self) -> &local_aws::Stack {
        &self.stack
    }

    /// A Handoff API client added as an operator adds it (`client add`, the `ops` binary); its key.
    pub fn add_client(&self, id: &str) -> String {
        self.operator_client(&["add", id, "--rps", "50"])
    }

    /// Points `id`'s events at `url` as an operator does (`client set-webhook`); the signing secret.
    pub fn set_webhook(&self, id: &str, url: &str) -> String {
        self.operator_client(&["set-webhook", id, "--url", url])
    }

    /// Runs the `client` operator command on the state table; what it printed on stdout.
    fn operator_client(&self, args: &[&str]) -> String {
        let moto = self.stack.moto_url().expect("moto");
        let out = std::process::Command::new(bin_dir().join("client"))
            .args(args)
            .env("AWS_ENDPOINT_URL_DYNAMODB", moto)
            .env("STATE_TABLE_NAME", &self.state_table)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .expect("client runs");
        assert!(
            out.status.success(),
            "client {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
    }

    /// Calls moto's DynamoDB directly (its JSON protocol) on the bridge's state table, to look at or
    /// change the state behind the handlers' backs. Answers moto's JSON (`Item`, `Attributes`, …).
    pub async fn state_table(&self, operation: &str, mut body: Value) -> Value {
        let moto = self.stack.moto_url().expect("moto");
        body["TableName"] = json!(self.state_table);
        reqwest::Client::new()
            .post(moto)
            .header("X-Amz-Target", format!("DynamoDB_20120810.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("moto")
            .json()
            .await
            .expect("json")
    }
}

/// A sample Lambda event from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture file name, sorted.
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("tests/fixtures"))
        .expect("tests/fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}
