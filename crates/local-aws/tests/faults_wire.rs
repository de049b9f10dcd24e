//! Faults that AWS's own failures look like, through the real aws-sdk-rust clients: an answer lost
//! after the call took effect, latency longer than the SDK's attempt timeout (the call still takes
//! effect once the caller gave up on it), and the same faults on the handlers' DynamoDB and S3
//! calls when the twin proxies moto (those tests are skipped when `.venv` is not set up).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_socialmessaging::primitives::Blob;
use local_aws::{Stack, Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

mod support;

const PHONE: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";
/// The bridge's SDK attempt timeout is 10 s; shorter here so the test is quick.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(800);

async fn control(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{url}/_twin{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

async fn fault(url: &str, rule: Value) {
    control(url, reqwest::Method::POST, "/faults", Some(rule)).await;
}

async fn calls_of(url: &str, operation: &str) -> Vec<Value> {
    let calls = control(url, reqwest::Method::GET, "/calls", None).await;
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == operation)
        .cloned()
        .collect()
}

/// Polls until `count()` reaches `want` (generous bound: a loaded machine is slow, not wrong).
async fn eventually(what: &str, want: usize, mut count: impl AsyncFnMut() -> usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = count().await;
        if n == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {n}, expected {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SDK as the bridge configures it: standard retries (3 attempts) and an attempt timeout.
fn social(url: &str) -> aws_sdk_socialmessaging::Client {
    use aws_sdk_socialmessaging::config::{BehaviorVersion, Credentials, Region, retry, timeout};
    aws_sdk_socialmessaging::Client::from_conf(
        aws_sdk_socialmessaging::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(retry::RetryConfig::standard().with_initial_backoff(Duration::from_millis(10)))
            .timeout_config(
                timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .build(),
    )
}

async fn send(client: &aws_sdk_socialmessaging::Client, text: &str) {
    let msg = json!({"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":text}});
    client
        .send_whats_app_message()
        .origination_phone_number_id(PHONE)
        .meta_api_version("v20.0")
        .message(Blob::new(msg.to_string()))
        .send()
        .await
        .expect("the SDK's retry succeeds");
}

async fn sent_texts(url: &str, text: &str) -> usize {
    let sent = control(url, reqwest::Method::GET, "/whatsapp/sent", None).await;
    sent.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message"]["text"]["body"] == text)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_slow_answer_still_took_effect() {
    let twin = Twin::start(TwinConfig::default(), TwinOptions::quiet()).await.unwrap();
    let url = twin.url();
    let client = social(&url);

    // Lost answer: the first send is applied, its answer never comes, the SDK sends it again.
    fault(
        &url,
        json!({"service":"socialmessaging","operation":"SendWhatsAppMessage","lose_answer":true,"times":1}),
    )
    .await;
    send(&client, "lost").await;
    assert_eq!(sent_texts(&url, "lost").await, 2);
    let calls = calls_of(&url, "SendWhatsAppMessage").await;
    assert_eq!(calls[0]["status"], 200, "{calls:?}");
    assert_eq!(calls[0]["error"], "AnswerLost");
    assert_eq!(calls[1]["error"], Value::Null);

    // Slower than the attempt timeout: the SDK gives up on the first attempt and its retry is
    // answered at once, but the first request still takes effect when its latency is over.
    fault(
        &url,
        json!({"service":"socialmessaging","operation":"SendWhatsAppMessage","latency_ms":2500,"times":1}),
    )
    .await;
    send(&client, "slow").await;
    eventually("slow sends applied", 2, async || sent_texts(&url, "slow").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_reach_the_handlers_dynamodb_and_s3_calls() {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry, timeout};
    let Some(opts) = support::moto_options() else { return };
    let table = opts.state_table_name.clone();
    let bucket = opts.media_bucket_name.clone();
    let stack = Stack::start(opts).await.expect("stack starts");
    let url = stack.url();
    let proxy = stack.twin().proxy_moto(stack.moto_url().unwrap()).await.unwrap();
    let retries = retry::RetryConfig::standard().with_initial_backoff(Duration::from_millis(10));
    let timeouts = timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&proxy)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(retries.clone())
            .timeout_config(timeouts.clone())
            .build(),
    );
    let add_one = || {
        ddb.update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("counter".into()))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
    };
    let count = async || {
        let item = ddb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("counter".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let n = item
            .item()
            .and_then(|i| i.get("n"))
            .and_then(|n| n.as_n().ok().cloned());
        n.map_or(0, |n| n.parse::<usize>().unwrap())
    };

    // The UpdateItem whose answer is lost took effect: the SDK's retry applies it a second time.
    fault(
        &url,
        json!({"service":"dynamodb","operation":"UpdateItem","lose_answer":true,"times":1}),
    )
    .await;
    add_one().await.expect("the retry is answered");
    assert_eq!(count().await, 2);
    let updates = calls_of(&url, "UpdateItem").await;
    assert_eq!(updates[0]["error"], "AnswerLost", "{updates:?}");

    // Slower than the attempt timeout: applied by the retry and, later, by the first attempt too.
    fault(
        &url,
        json!({"service":"dynamodb","operation":"UpdateItem","latency_ms":2500,"times":1}),
    )
    .await;
    add_one().await.expect("the retry is answered");
    eventually("counter", 4, count).await;

    // Injected errors arrive as the typed errors of each protocol; `*` leaves moto's calls alone.
    fault(&url, json!({"error":"InternalServerException"})).await;
    fault(
        &url,
        json!({"service":"dynamodb","operation":"UpdateItem","error":"ConditionalCheckFailedException","times":1}),
    )
    .await;
    let err = add_one().await.unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_conditional_check_failed_exception(),
        "{err:?}"
    );
    assert_eq!(count().await, 4);

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&proxy)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
            .build(),
    );
    s3.put_object()
        .bucket(&bucket)
        .key("media/a")
        .body(b"bytes".to_vec().into())
        .send()
        .await
        .unwrap();
    fault(
        &url,
        json!({"service":"s3","operation":"GetObject","error":"NoSuchKey","times":1}),
    )
    .await;
    let err = s3.get_object().bucket(&bucket).key("media/a").send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_no_such_key(), "{err:?}");
    fault(
        &url,
        json!({"service":"s3","operation":"DeleteObject","lose_answer":true,"times":1}),
    )
    .await;
    s3.delete_object().bucket(&bucket).key("media/a").send().await.unwrap();
    let gone = s3.get_object().bucket(&bucket).key("media/a").send().await.unwrap_err();
    assert!(gone.as_service_error().unwrap().is_no_such_key(), "{gone:?}");
    let deletes = calls_of(&url, "DeleteObject").await;
    assert_eq!(deletes[0]["error"], "AnswerLost", "{deletes:?}");
}
