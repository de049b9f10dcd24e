//! "Nothing lost", end to end: a customer message that keeps failing is retried by (simulated)
//! Lambda, lands in WhatsappHandler's dead-letter queue as Lambda's on-failure record, and is
//! delivered exactly once by `replay` after the fault is gone — through the real handler binaries,
//! the real SQS client against moto and the real Lambda client against the twin's Invoke API.
//!
//! Needs `cargo build --workspace --bins` (the handlers) and `scripts/setup-venv.sh` (moto).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::{run_binary, sdk_config};
use local_aws::{FunctionName, Stack, StackOptions};
use ops::replay::{Options, Summary, replay_queue};
use serde_json::{Value, json};

const CUSTOMER: &str = "14255550150";

/// `target/debug`, found from this test binary (`target/debug/deps/replay_twin-…`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .to_path_buf()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start_stack() -> Stack {
    let bins = bin_dir();
    let options = StackOptions {
        moto_bin: repo_root().join("scripts/moto-server"),
        whatsapp_handler: Some(bins.join("whatsapp-handler")),
        connect_handler: Some(bins.join("connect-handler")),
        echo_logs: std::env::var_os("E2E_ECHO_LOGS").is_some(),
        ..StackOptions::default()
    };
    for binary in [&options.whatsapp_handler, &options.connect_handler]
        .into_iter()
        .flatten()
    {
        assert!(
            binary.exists(),
            "{} is not built: run `cargo build --workspace --bins`",
            binary.display()
        );
    }
    assert!(
        options.moto_bin.exists(),
        "{} is missing: run scripts/setup-venv.sh",
        options.moto_bin.display()
    );
    Stack::start(options).await.expect("local stack starts")
}

struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}/_twin{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Value {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Connect takes no customer text for good: a chat's first text goes in with StartChatContact and
    /// the next ones with SendMessage, so both fail and every attempt of an inbound text fails.
    async fn break_delivery(&self) {
        for (service, operation, error) in [
            ("connect", "StartChatContact", "InternalServiceException"),
            ("connectparticipant", "SendMessage", "InternalServerException"),
        ] {
            self.post(
                "/faults",
                json!({"service": service, "operation": operation, "error": error, "times": 1000}),
            )
            .await;
        }
    }

    /// The customer's texts in all their contacts' transcripts.
    async fn customer_texts(&self) -> Vec<String> {
        let contacts = self.get("/contacts").await;
        contacts
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["transcript"].as_array().cloned().unwrap_or_default())
            .filter(|i| i["role"] == "CUSTOMER" && i["type"] == "MESSAGE")
            .filter_map(|i| i["content"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Messages in the queue, visible or not (moto's counts are exact).
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    let count = |name: QueueAttributeName| -> u64 {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

/// The bodies in the queue, read without hiding them (visibility timeout 0).
async fn peek(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .expect("ReceiveMessage");
    out.messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("JSON body"))
        .collect()
}

/// Runs the built `replay` binary the way an operator would, against moto and the twin.
async fn run_replay_binary(queue_url: &str, moto: &str, twin: &str) -> (i32, String) {
    run_binary(
        env!("CARGO_BIN_EXE_replay"),
        &["--queue-url", queue_url],
        &[("AWS_ENDPOINT_URL_SQS", moto), ("AWS_ENDPOINT_URL_LAMBDA", twin)],
    )
    .await
}

/// The customer texts while delivery is broken; the event must end dead-lettered.
async fn text_until_dead_lettered(control: &Control, body: &str) {
    let out = control
        .post(
            &format!("/customers/{CUSTOMER}/messages"),
            json!({"type":"text","text":{"body": body}}),
        )
        .await;
    let inv = &out["invocation"];
    assert_eq!(inv["dead_lettered"], true, "{out}");
    assert_eq!(inv["attempts"], 3, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_text_is_replayed_exactly_once() {
    let stack = start_stack().await;
    let twin_url = stack.url();
    let moto = stack.moto_url().expect("moto").to_owned();
    let control = Control {
        base: twin_url.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(180))
            .build()
            .unwrap(),
    };
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&moto));
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&twin_url));
    let queue = stack
        .dlq_url(FunctionName::WhatsappHandler)
        .expect("WhatsappHandler DLQ");
    let config = control.get("/config").await;
    assert_eq!(config["dead_letter_queues"]["WhatsappHandler"], json!(queue));
    assert!(config["dead_letter_queues"]["ConnectHandler"].is_string(), "{config}");

    // 1. A permanent fault: the text is retried by Lambda and dead-lettered.
    control.break_delivery().await;
    text_until_dead_lettered(&control, "hi").await;
    let list = control.get("/dlq").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["function"], "WhatsappHandler");
    assert_eq!(control.customer_texts().await, Vec::<String>::new());

    // ... and as Lambda's on-failure destination record in the function's SQS queue.
    assert_eq!(queue_depth(&sqs, &queue).await, 1);
    let records = peek(&sqs, &queue).await;
    let record = &records[0];
    assert_eq!(record["version"], "1.0");
    let ctx = &record["requestContext"];
    assert_eq!(
        ctx["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:WhatsappHandler:$LATEST"
    );
    assert_eq!(ctx["condition"], "RetriesExhausted");
    assert_eq!(ctx["approximateInvokeCount"], 3);
    assert_eq!(ctx["requestId"], list[0]["request_id"]);
    assert_eq!(record["requestPayload"], list[0]["event"]);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert!(record["responsePayload"]["errorMessage"].is_string(), "{record}");

    // Clearing the twin's list leaves the queue alone.
    control.delete("/dlq").await;
    assert_eq!(control.get("/dlq").await, json!([]));
    assert_eq!(queue_depth(&sqs, &queue).await, 1);

    // 2. The fix: faults gone. A dry run changes nothing.
    control.delete("/faults").await;
    let dry = replay_queue(
        &sqs,
        &lambda,
        &queue,
        &Options {
            dry_run: true,
            ..Options::default()
        },
        |_| {},
    )
    .await;
    assert_eq!(dry.line(), "replayed 0, failed 0, skipped 1", "{dry:?}");
    assert_eq!(queue_depth(&sqs, &queue).await, 1);
    assert_eq!(control.customer_texts().await, Vec::<String>::new());

    // 3. Replay (library): delivered once, queue empty.
    let summary: Summary = replay_queue(&sqs, &lambda, &queue, &Options::default(), |r| eprintln!("{r}")).await;
    assert_eq!(summary.line(), "replayed 1, failed 0, skipped 0", "{summary:?}");
    assert_eq!(summary.exit_code(), 0);
    assert_eq!(control.customer_texts().await, vec!["hi"]);
    assert_eq!(queue_depth(&sqs, &queue).await, 0);
    let invokes: Vec<Value> = control
        .get("/calls")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["service"] == "lambda")
        .collect();
    assert_eq!(invokes.len(), 1, "{invokes:?}");
    assert_eq!(invokes[0]["operation"], "Invoke");
    assert_eq!(invokes[0]["status"], 200);

    // 4. The binary: a second text dead-lettered; replaying while still broken leaves it ...
    control.break_delivery().await;
    text_until_dead_lettered(&control, "are you there?").await;
    assert_eq!(queue_depth(&sqs, &queue).await, 1);
    let (code, stdout) = run_replay_binary(&queue, &moto, &twin_url).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("replayed 0, failed 1, skipped 0"), "{stdout}");
    assert_eq!(queue_depth(&sqs, &queue).await, 1);

    // ... and after the fix delivers it.
    control.delete("/faults").await;
    let (code, stdout) = run_replay_binary(&queue, &moto, &twin_url).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("replayed 1, failed 0, skipped 0"), "{stdout}");
    assert_eq!(control.customer_texts().await, vec!["hi", "are you there?"]);
    assert_eq!(queue_depth(&sqs, &queue).await, 0);

    // 5. Replaying again changes nothing.
    let (code, stdout) = run_replay_binary(&queue, &moto, &twin_url).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("replayed 0, failed 0, skipped 0"), "{stdout}");
    let again = replay_queue(&sqs, &lambda, &queue, &Options::default(), |_| {}).await;
    assert_eq!(again, Summary::default());
    assert!(control.post("/wait-idle?timeout_ms=30000", json!({})).await["idle"] == true);
    assert_eq!(control.customer_texts().await, vec!["hi", "are you there?"]);
    assert_eq!(control.get("/contacts").await.as_array().map(Vec::len), Some(1));

    stack.shutdown().await;
}
