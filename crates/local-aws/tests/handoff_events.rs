//! The twin's pieces for the Handoff API's events, with a fake function (this test binary,
//! re-executed in "handler mode" through a real `lambda_runtime` client): the handoff chat stream
//! topic reaching ConnectHandler, and the webhook queue reaching WebhookSender through the SQS
//! event source mapping — deletion on success, partial batch failures, function errors,
//! `DelaySeconds`, and redrive to the dead-letter queue. The queue tests need moto and are skipped
//! (with a note) when `.venv` is not set up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use lambda_runtime::{LambdaEvent, service_fn};
use local_aws::{FunctionName, HandlerOptions, Stack, StackOptions, Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

mod support;

const ROLE_ENV: &str = "LOCAL_AWS_FAKE_HANDLER";
/// The queue's visibility timeout in these tests (the template's 30 s would make them slow), and
/// WebhookSender's timeout, which may not exceed it.
const VISIBILITY: Duration = Duration::from_secs(2);

/// Handler mode: only does something when spawned by the twin with `ROLE_ENV` set.
#[test]
#[ignore = "entry point of the fake handler process"]
fn fake_handler_main() {
    if std::env::var(ROLE_ENV).is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(lambda_runtime::run(service_fn(fake_handler))).unwrap();
}

/// Logs every record it is given; as WebhookSender, answers by the message bodies: `error` (first
/// receive) fails the invocation, `retry` (first receive) and `always-fail` are reported as batch
/// item failures, anything else is handled.
async fn fake_handler(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let payload = event.payload;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let records = payload["Records"].as_array().cloned().unwrap_or_default();
    let mut error = false;
    let mut failures = Vec::new();
    for r in &records {
        println!("{}", json!({ "function": function, "record": r }));
        if r["eventSource"] != "aws:sqs" {
            continue;
        }
        let first = r["attributes"]["ApproximateReceiveCount"] == "1";
        match r["body"].as_str().unwrap_or_default() {
            "error" if first => error = true,
            "retry" if first => failures.push(json!({ "itemIdentifier": r["messageId"] })),
            "always-fail" => failures.push(json!({ "itemIdentifier": r["messageId"] })),
            _ => {}
        }
    }
    if error {
        return Err("asked to fail".into());
    }
    Ok(json!({ "batchItemFailures": failures }))
}

/// A script that re-executes this test binary as the fake handler.
fn handler_script() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir().join(format!("local-aws-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fake-handler.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec '{}' --ignored --exact fake_handler_main --nocapture --test-threads=1\n",
            exe.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The records a function logged, in the order it was given them.
fn records(logs: &[String], function: FunctionName) -> Vec<Value> {
    logs.iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok())
        .filter(|v| v["function"] == function.as_str())
        .map(|v| v["record"].clone())
        .collect()
}

/// Receive counts with which WebhookSender was given the message with `body`.
fn receives(stack: &Stack, body: &str) -> Vec<String> {
    records(&stack.logs(FunctionName::WebhookSender), FunctionName::WebhookSender)
        .iter()
        .filter(|r| r["body"] == body)
        .map(|r| {
            r["attributes"]["ApproximateReceiveCount"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sqs(moto: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build(),
    )
}

/// A stack with moto and the fake handler as WebhookSender, its mapping paused so that a test can
/// queue a whole batch first; `None` without moto.
async fn queue_stack() -> Option<(Stack, aws_sdk_sqs::Client, String)> {
    let opts = support::moto_options()?;
    let opts = StackOptions {
        twin: TwinConfig {
            webhook_queue_visibility_timeout: VISIBILITY,
            webhook_sender_timeout: VISIBILITY,
            ..opts.twin.clone()
        },
        webhook_sender: Some(handler_script()),
        extra_env: vec![(ROLE_ENV.into(), "1".into())],
        ..opts
    };
    let stack = Stack::start(opts).await.expect("stack starts");
    assert!(stack.wait_ready(Duration::from_secs(60)).await);
    assert!(stack.twin().set_webhook_mapping_enabled(false));
    // A ReceiveMessage already waiting when the mapping was paused ends within its 1 s wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let client = sqs(stack.moto_url().unwrap());
    let url = stack.webhook_queue_url().expect("webhook queue");
    Some((stack, client, url))
}

async fn send(client: &aws_sdk_sqs::Client, url: &str, bodies: &[&str]) {
    for body in bodies {
        client
            .send_message()
            .queue_url(url)
            .message_body(*body)
            .send()
            .await
            .unwrap();
    }
}

/// `(visible, in flight, delayed)` messages of a queue.
async fn counts(client: &aws_sdk_sqs::Client, url: &str) -> (u64, u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let attributes = out.attributes().unwrap();
    let n = |a: A| attributes[&a].parse::<u64>().unwrap();
    (
        n(A::ApproximateNumberOfMessages),
        n(A::ApproximateNumberOfMessagesNotVisible),
        n(A::ApproximateNumberOfMessagesDelayed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_messages_are_deleted_and_only_failed_ones_come_back() {
    let Some((stack, client, url)) = queue_stack().await else {
        return;
    };
    send(&client, &url, &["ok-1", "retry", "ok-2"]).await;
    stack.twin().set_webhook_mapping_enabled(true);
    wait_until("the failed message comes back", Duration::from_secs(15), || {
        receives(&stack, "retry").len() == 2
    })
    .await;
    assert_eq!(receives(&stack, "retry"), ["1", "2"]);
    // The batch was one, and its handled messages were not given again after the visibility timeout.
    let batches = stack.twin().webhook_batches();
    assert_eq!(batches[0]["message_ids"].as_array().unwrap().len(), 3, "{batches:#?}");
    assert_eq!(batches[0]["deleted"], 2);
    assert_eq!(batches[0]["failed"].as_array().unwrap().len(), 1);
    tokio::time::sleep(VISIBILITY + Duration::from_secs(1)).await;
    assert_eq!(receives(&stack, "ok-1"), ["1"]);
    assert_eq!(receives(&stack, "ok-2"), ["1"]);
    assert_eq!(receives(&stack, "retry"), ["1", "2"]);
    assert_eq!(counts(&client, &url).await, (0, 0, 0));

    // The record is the documented `aws:sqs` one.
    let logs = stack.logs(FunctionName::WebhookSender);
    let record = &records(&logs, FunctionName::WebhookSender)[0];
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(
        record["eventSourceARN"],
        "arn:aws:sqs:us-east-1:123456789012:webhook-deliveries"
    );
    for key in ["messageId", "receiptHandle", "md5OfBody"] {
        assert!(record[key].as_str().is_some_and(|v| !v.is_empty()), "{key}: {record}");
    }
    for key in [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(record["attributes"][key].is_string(), "{key}: {record}");
    }
    assert_eq!(record["messageAttributes"], json!({}));
    assert!(logs.iter().any(|l| l.contains("[local-aws] SQS batch")), "{logs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_error_leaves_the_whole_batch() {
    let Some((stack, client, url)) = queue_stack().await else {
        return;
    };
    send(&client, &url, &["error", "sibling"]).await;
    stack.twin().set_webhook_mapping_enabled(true);
    wait_until("the batch comes back", Duration::from_secs(15), || {
        receives(&stack, "error").len() == 2 && receives(&stack, "sibling").len() == 2
    })
    .await;
    let batches = stack.twin().webhook_batches();
    assert_eq!(batches[0]["ok"], false, "{batches:#?}");
    assert_eq!(batches[0]["deleted"], 0);
    assert_eq!(batches[0]["message_ids"].as_array().unwrap().len(), 2);
    let deleted: u64 = batches[1..].iter().map(|b| b["deleted"].as_u64().unwrap()).sum();
    assert_eq!(deleted, 2, "{batches:#?}");
    assert_eq!(counts(&client, &url).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_message_waits_and_a_failing_one_is_redriven_after_five_receives() {
    let Some((stack, client, url)) = queue_stack().await else {
        return;
    };
    stack.twin().set_webhook_mapping_enabled(true);
    let sent = Instant::now();
    client
        .send_message()
        .queue_url(&url)
        .message_body("late")
        .delay_seconds(2)
        .send()
        .await
        .unwrap();
    send(&client, &url, &["always-fail"]).await;
    wait_until("the delayed message arrives", Duration::from_secs(10), || {
        !receives(&stack, "late").is_empty()
    })
    .await;
    assert!(sent.elapsed() >= Duration::from_millis(1900), "{:?}", sent.elapsed());

    let dlq = stack.webhook_dead_letter_queue_url().expect("webhook DLQ");
    let started = Instant::now();
    let moved = loop {
        let got = client
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            break m.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "redriven within 30 s");
    };
    assert_eq!(moved.body(), Some("always-fail"));
    assert_eq!(receives(&stack, "always-fail"), ["1", "2", "3", "4", "5"]);
    assert_eq!(receives(&stack, "late"), ["1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_are_named_to_every_function() {
    let Some(opts) = support::moto_options() else { return };
    let stack = Stack::start(opts).await.expect("stack starts");
    let moto = stack.moto_url().unwrap().to_owned();
    let env = stack.twin().handler_env(Some(&moto), "t", "b", &[]);
    let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("WEBHOOK_QUEUE_URL"), stack.webhook_queue_url());
    assert_eq!(
        get("WEBHOOK_DEAD_LETTER_QUEUE_URL"),
        stack.webhook_dead_letter_queue_url()
    );
    assert_eq!(get("AWS_ENDPOINT_URL_SQS").as_deref(), Some(moto.as_str()));
    let client = sqs(&moto);
    let attributes = client
        .get_queue_attributes()
        .queue_url(stack.webhook_queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    use aws_sdk_sqs::types::QueueAttributeName as A;
    assert_eq!(attributes[&A::VisibilityTimeout], "30");
    let redrive: Value = serde_json::from_str(&attributes[&A::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:123456789012:webhook-deliveries-dlq"
    );
    let config: Value = reqwest::get(format!("{}/_twin/config", stack.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["handoff_stream_topic_arn"],
        "arn:aws:sns:us-east-1:123456789012:handoff-chat-stream"
    );
    assert_eq!(
        config["webhook_queue"]["url"].as_str(),
        stack.webhook_queue_url().as_deref()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_streamed_to_the_handoff_topic_reaches_connect_handler() {
    let cfg = TwinConfig::default();
    let twin = Twin::start(cfg.clone(), TwinOptions::quiet()).await.unwrap();
    let env = twin.handler_env(None, "table", "bucket", &[(ROLE_ENV.into(), "1".into())]);
    let topic = env
        .iter()
        .find(|(k, _)| k == "HANDOFF_STREAM_TOPIC_ARN")
        .map(|(_, v)| v.clone());
    assert_eq!(topic.as_deref(), Some(cfg.handoff_stream_topic_arn.as_str()));
    twin.start_handlers(HandlerOptions {
        whatsapp_handler: None,
        connect_handler: Some(handler_script()),
        concurrency: 1,
        env,
    })
    .await
    .unwrap();
    let url = twin.url();
    let started = support::streaming_chat(&url, &cfg.handoff_stream_topic_arn, "Bot customer").await;
    let contact = started["ContactId"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let out: Value = client
        .post(format!("{url}/_twin/contacts/{contact}/agent"))
        .json(&json!({"action": "join", "display_name": "Ana"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(out["invocations"][0]["ok"], true, "{out}");
    let published: Value = reqwest::get(format!("{url}/_twin/sns/published"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = published.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["topic_arn"], cfg.handoff_stream_topic_arn.as_str());
    assert_eq!(last["subscriber"], "ConnectHandler");
    let logs = twin.logs(FunctionName::ConnectHandler);
    let handled = records(&logs, FunctionName::ConnectHandler);
    assert!(
        handled
            .iter()
            .any(|r| r["Sns"]["TopicArn"] == cfg.handoff_stream_topic_arn.as_str()),
        "{logs:#?}"
    );
}
