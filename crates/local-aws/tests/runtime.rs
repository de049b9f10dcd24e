//! The Lambda side of the twin with a real `lambda_runtime` client: a fake handler (this very
//! test binary, re-executed in "handler mode") is spawned as WhatsappHandler and ConnectHandler.
//! Covers invocation, errors, async retries + DLQ + replay, crash restart, timeouts, duplicates,
//! per-contact stream order, log capture, and the Lambda Invoke API with the real SDK client.

use std::path::PathBuf;
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use local_aws::{FunctionName, HandlerOptions, Stack, StackOptions, Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

mod support;

const ROLE_ENV: &str = "LOCAL_AWS_FAKE_HANDLER";
/// `ROLE_ENV`'s value for a runtime that speaks HTTP by hand, to pace its answers (see `slow_runtime`).
const SLOW_ANSWER: &str = "slow-answer";
const PAUSE: Duration = Duration::from_millis(300);
/// How long the fake handler takes over an event that asks it to nap.
const NAP: Duration = Duration::from_secs(3);

/// Handler mode: only does something when spawned by the twin with `ROLE_ENV` set.
#[test]
#[ignore = "entry point of the fake handler process"]
fn fake_handler_main() {
    match std::env::var(ROLE_ENV).ok().as_deref() {
        None => return,
        Some(SLOW_ANSWER) => return slow_runtime(),
        Some(_) => {}
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(lambda_runtime::run(service_fn(fake_handler))).unwrap();
}

async fn fake_handler(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let payload = event.payload;
    let sns = &payload["Records"][0]["Sns"];
    // For Connect items log the item id, for anything else the SNS message id.
    let id = sns["Message"]
        .as_str()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|m| m["Id"].as_str().map(str::to_owned))
        .or_else(|| sns["MessageId"].as_str().map(str::to_owned))
        .unwrap_or_default();
    println!(
        "{}",
        json!({ "handled": id, "function": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok() })
    );
    let text = payload.to_string();
    if text.contains("please crash") {
        std::process::exit(3);
    }
    if text.contains("please sleep") {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if text.contains("please nap") {
        tokio::time::sleep(NAP).await;
    }
    if text.contains("please call") {
        send_whatsapp_message().await?;
    }
    if text.contains("please fail") {
        return Err("asked to fail".into());
    }
    Ok(json!({ "echo": payload }))
}

/// One SendWhatsAppMessage to the twin (what a handler's AWS call looks like on the wire).
async fn send_whatsapp_message() -> Result<(), lambda_runtime::Error> {
    use base64::Engine;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SOCIALMESSAGING")?;
    let message = json!({"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"called"}});
    let body = json!({
        "originationPhoneNumberId": "phone-number-id-976c72a700aac43eaf573ae050b1e2f3",
        "metaApiVersion": "v20.0",
        "message": base64::engine::general_purpose::STANDARD.encode(message.to_string()),
    });
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/v1/whatsapp/send"))
        .json(&body)
        .send()
        .await?;
    if !resp.status().is_success() {
        return Err(format!("SendWhatsAppMessage: {}", resp.status()).into());
    }
    Ok(())
}

/// A Lambda runtime that takes `PAUSE` over each event, then sends its answer's headers, and its body
/// only `PAUSE` later: plain HTTP/1.1 over std's TCP, one connection per request.
fn slow_runtime() {
    use std::io::{Read, Write};
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    loop {
        let mut next = std::net::TcpStream::connect(&api).unwrap();
        write!(
            next,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            next.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_owned()))
                .unwrap()
        };
        let mut event = vec![0u8; header("content-length").parse().unwrap()];
        next.read_exact(&mut event).unwrap();
        std::thread::sleep(PAUSE);
        let mut answer = std::net::TcpStream::connect(&api).unwrap();
        let id = header("lambda-runtime-aws-request-id");
        write!(
            answer,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
        )
        .unwrap();
        answer.flush().unwrap();
        std::thread::sleep(PAUSE);
        answer.write_all(b"{}").unwrap();
        answer.read_exact(&mut [0u8; 12]).unwrap(); // "HTTP/1.1 202"
    }
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

async fn start(concurrency: usize) -> Twin {
    start_as(concurrency, "1").await
}

async fn start_as(concurrency: usize, role: &str) -> Twin {
    let cfg = TwinConfig {
        retry_delays: vec![Duration::from_millis(50), Duration::from_millis(50)],
        whatsapp_handler_timeout: Duration::from_secs(2),
        connect_handler_timeout: Duration::from_secs(2),
        ..TwinConfig::default()
    };
    start_with(cfg, concurrency, role).await
}

async fn start_with(cfg: TwinConfig, concurrency: usize, role: &str) -> Twin {
    let twin = Twin::start(cfg, TwinOptions::quiet()).await.unwrap();
    let script = handler_script();
    let env = twin.handler_env(None, "table", "bucket", &[(ROLE_ENV.into(), role.into())]);
    twin.start_handlers(HandlerOptions {
        whatsapp_handler: Some(script.clone()),
        connect_handler: Some(script),
        concurrency,
        env,
    })
    .await
    .unwrap();
    twin
}

async fn call(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{url}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str, path: &str, body: Value) -> Value {
    let (status, v) = call(url, reqwest::Method::POST, path, Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {v}");
    v
}

/// The customer texts the business: the twin's answer (wamid and invocation).
async fn customer_texts(url: &str, body: &str) -> Value {
    post(
        url,
        "/_twin/customers/16505551234/messages",
        json!({"type": "text", "text": {"body": body}}),
    )
    .await
}

async fn get(url: &str, path: &str) -> Value {
    call(url, reqwest::Method::GET, path, None).await.1
}

/// JSON log lines of the fake handler (libtest may prefix the first one with "test … ").
fn json_lines(logs: &[String]) -> Vec<Value> {
    logs.iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok())
        .collect()
}

fn handled(logs: &[String], id: &str) -> usize {
    json_lines(logs).iter().filter(|v| v["handled"] == id).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_run_retry_crash_and_time_out() {
    let twin = start(2).await;
    let url = twin.url();

    // Direct invocation returns the handler's response.
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"hello":"world"})).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["response"]["echo"]["hello"], "world");

    // A customer message is wrapped as an EUM SNS event.
    let out = customer_texts(&url, "hi").await;
    assert_eq!(out["invocation"]["ok"], true, "{out}");
    assert_eq!(out["invocation"]["attempts"], 1);
    assert!(out["wamid"].as_str().unwrap().starts_with("wamid."));

    // Errors are retried twice, then dead-lettered; replay tries once more.
    let out = customer_texts(&url, "please fail").await;
    let inv = &out["invocation"];
    assert_eq!(inv["ok"], false);
    assert!(inv["error"].as_str().unwrap().contains("asked to fail"), "{inv}");
    assert_eq!(inv["attempts"], 3);
    assert_eq!(inv["dead_lettered"], true);
    let dlq = get(&url, "/_twin/dlq").await;
    assert_eq!(dlq.as_array().unwrap().len(), 1);
    assert_eq!(dlq[0]["function"], "WhatsappHandler");
    assert_eq!(dlq[0]["attempts"], 3);
    assert_eq!(dlq[0]["condition"], "RetriesExhausted");
    assert_eq!(dlq[0]["event"]["Records"][0]["EventSource"], "aws:sns");
    let replay = post(&url, "/_twin/dlq/replay", json!({})).await;
    assert_eq!(replay[0]["ok"], false);
    assert_eq!(get(&url, "/_twin/dlq").await[0]["attempts"], 4);
    call(&url, reqwest::Method::DELETE, "/_twin/dlq", None).await;
    assert_eq!(get(&url, "/_twin/dlq").await, json!([]));

    // A crashing process fails its invocation and is replaced.
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"x":"please crash"})).await;
    assert_eq!(out["ok"], false);
    assert!(out["error"].as_str().unwrap().contains("exited"), "{out}");
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"x":"after the crash"})).await;
    assert_eq!(out["ok"], true, "{out}");

    // Timeouts kill the process; the next invocation runs on a fresh one.
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"x":"please sleep"})).await;
    assert!(out["error"].as_str().unwrap().contains("timed out"), "{out}");
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"x":"awake"})).await;
    assert_eq!(out["ok"], true, "{out}");

    // Statuses travel the same topic.
    let out = post(
        &url,
        "/_twin/customers/16505551234/statuses",
        json!({"id":"wamid.ABC","status":"delivered"}),
    )
    .await;
    assert_eq!(out["invocation"]["ok"], true);

    // Duplicates: the same SNS message is delivered twice.
    post(&url, "/_twin/sns", json!({"duplicate_rate":1.0,"seed":7})).await;
    customer_texts(&url, "dup").await;
    assert_eq!(
        post(&url, "/_twin/wait-idle?timeout_ms=5000", json!({})).await["idle"],
        true
    );
    let published = get(&url, "/_twin/sns/published").await;
    let last_id = published.as_array().unwrap().last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let logs: Vec<String> = serde_json::from_value(get(&url, "/_twin/logs?function=WhatsappHandler").await).unwrap();
    assert_eq!(handled(&logs, &last_id), 2, "{logs:#?}");
    assert_eq!(twin.logs(FunctionName::WhatsappHandler).len(), logs.len());
    assert!(logs.iter().any(|l| l.contains("restarting")));
}

/// A chat contact streaming to ConnectHandler, its customer connected (the flow's items handled).
async fn open_contact(url: &str) -> String {
    let cfg = TwinConfig::default();
    let started = support::streaming_chat(url, &cfg.connect_stream_topic_arn, "Sheena").await;
    let contact = started["ContactId"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let conn = client
        .post(format!("{url}/participant/connection"))
        .header("X-Amz-Bearer", started["ParticipantToken"].as_str().unwrap())
        .json(&json!({"Type": ["CONNECTION_CREDENTIALS"], "ConnectParticipant": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(conn.status().as_u16(), 200);
    contact
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_items_reach_connect_handler_in_order() {
    let twin = start(2).await;
    let url = twin.url();
    let contact = open_contact(&url).await;

    let agent = format!("/_twin/contacts/{contact}/agent");
    let out = post(&url, &agent, json!({"action":"join","display_name":"Ana"})).await;
    assert_eq!(out["invocations"][0]["ok"], true, "{out}");
    for i in 0..5 {
        post(&url, &agent, json!({"action":"message","content":format!("m{i}")})).await;
    }
    let out = post(&url, &agent, json!({"action":"message","content":"please fail"})).await;
    assert_eq!(out["invocations"][0]["attempts"], 3);
    let lost = post(
        &url,
        &agent,
        json!({"action":"message","content":"lost","stream":false}),
    )
    .await;
    assert_eq!(lost["invocations"], json!([]));
    let out = post(&url, &agent, json!({"action":"end"})).await;
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        post(&url, "/_twin/wait-idle?timeout_ms=5000", json!({})).await["idle"],
        true
    );

    let contacts = get(&url, "/_twin/contacts").await;
    let transcript: Vec<String> = contacts[0]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["content"] != "lost")
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let logs = twin.logs(FunctionName::ConnectHandler);
    let order: Vec<String> = json_lines(&logs)
        .iter()
        .filter_map(|v| v["handled"].as_str().map(str::to_owned))
        .collect();
    let mut dedup = order.clone();
    dedup.dedup();
    assert_eq!(dedup, transcript, "stream order follows the transcript");
    let (status, _) = call(
        &url,
        reqwest::Method::POST,
        "/_twin/contacts/nope/agent",
        Some(json!({"action":"join"})),
    )
    .await;
    assert_eq!(status, 404);
}

fn lambda_client(url: &str) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_invoke_api_with_the_sdk() {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType;

    let twin = start(1).await;
    let url = twin.url();
    let lambda = lambda_client(&url);

    // By name: the handler's response is the payload.
    let out = lambda
        .invoke()
        .function_name("WhatsappHandler")
        .payload(Blob::new(r#"{"hello":"world"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), None);
    assert_eq!(out.executed_version(), Some("$LATEST"));
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["echo"]["hello"], "world");

    // By qualified ARN (what a destination record names): a handler error is a function error,
    // one attempt, not dead-lettered.
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:ConnectHandler:$LATEST";
    let out = lambda
        .invoke()
        .function_name(arn)
        .payload(Blob::new(r#"{"x":"please fail"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["errorMessage"], "asked to fail", "{payload}");
    assert!(payload["errorType"].is_string());
    assert_eq!(get(&url, "/_twin/dlq").await, json!([]));

    // Event: accepted at once, run in the background (wait-idle covers it); DryRun: nothing runs.
    let out = lambda
        .invoke()
        .function_name("WhatsappHandler")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"Records":[{"Sns":{"MessageId":"event-invoke"}}]}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 202);
    assert_eq!(
        post(&url, "/_twin/wait-idle?timeout_ms=5000", json!({})).await["idle"],
        true
    );
    assert_eq!(handled(&twin.logs(FunctionName::WhatsappHandler), "event-invoke"), 1);
    let out = lambda
        .invoke()
        .function_name("WhatsappHandler")
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 204);

    // Unknown functions and versions are not found.
    for name in ["Nope", "WhatsappHandler:7", "whatsapphandler"] {
        let err = lambda.invoke().function_name(name).send().await.unwrap_err();
        let service = err.as_service_error().expect("service error");
        assert!(service.is_resource_not_found_exception(), "{name}: {service:?}");
    }

    // Faults apply to Invoke like to any other operation.
    post(
        &url,
        "/_twin/faults",
        json!({"service":"lambda","operation":"Invoke","error":"AccessDeniedException","times":1}),
    )
    .await;
    let err = lambda
        .invoke()
        .function_name("WhatsappHandler")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));

    let calls = get(&url, "/_twin/calls").await;
    let invokes: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == "lambda")
        .collect();
    assert!(invokes.iter().all(|c| c["operation"] == "Invoke"));
    let statuses: Vec<u64> = invokes.iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 200, 202, 204, 404, 404, 404, 403]);
    assert_eq!(invokes[1]["error"], "Unhandled");
}

/// A restart answers only once the old processes are gone and what they ran has failed, so an event
/// sent right after it cannot be taken by a process about to die.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_answers_once_the_old_processes_are_gone() {
    let twin = start(2).await;
    let url = twin.url().to_owned();
    let running = {
        let url = url.clone();
        tokio::spawn(async move { customer_texts(&url, "please sleep").await })
    };
    // Both processes up, one of them in the middle of the sleeping invocation.
    let old = loop {
        let processes = get(&url, "/_twin/processes").await;
        let polled: Vec<Value> = processes
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["function"] == "WhatsappHandler" && !p["first_poll_us"].is_null())
            .cloned()
            .collect();
        let logs: Vec<String> =
            serde_json::from_value(get(&url, "/_twin/logs?function=WhatsappHandler").await).unwrap();
        if polled.len() == 2 && json_lines(&logs).iter().any(|l| !l["handled"].is_null()) {
            break polled;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let answer = post(&url, "/_twin/processes/restart", json!({"function": "WhatsappHandler"})).await;
    assert_eq!(answer["restarted"], 2, "{answer}");
    let processes = get(&url, "/_twin/processes").await;
    for before in &old {
        let now = processes
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == before["pid"])
            .unwrap_or_else(|| panic!("{processes:#}"));
        assert!(!now["exited_us"].is_null(), "still running after the answer: {now}");
    }
    let next = customer_texts(&url, "hello").await;
    assert_eq!(next["invocation"]["ok"], true, "{next}");
    let interrupted = running.await.unwrap();
    assert_eq!(interrupted["invocation"]["ok"], false, "{interrupted}");
    assert!(
        interrupted["invocation"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("restarted on request")),
        "{interrupted}"
    );
}

/// The benchmark's handler time is what the runtime spends between the event's last bytes and its
/// answer's first bytes: the twin's own reading of the answer counts as waiting on the twin, as it does
/// for an AWS call. The slow runtime works `PAUSE`, then takes `PAUSE` again to send its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_is_timed_at_the_runtimes_socket() {
    let twin = start_as(1, SLOW_ANSWER).await;
    let url = twin.url();
    let out = post(&url, "/_twin/invoke/WhatsappHandler", json!({"hello": "world"})).await;
    assert_eq!(out["ok"], true, "{out}");
    let invocations = get(&url, "/_twin/invocations?function=WhatsappHandler").await;
    let inv = &invocations[0];
    let (handed_out, finished) = (
        inv["handed_out_us"].as_u64().unwrap(),
        inv["finished_us"].as_u64().unwrap(),
    );
    let pause = PAUSE.as_micros() as u64;
    let handler = finished - handed_out;
    assert!(
        (pause..pause + pause / 2).contains(&handler),
        "handler time {handler} µs, not the runtime's own {pause} µs: {inv}"
    );
}

/// The hand-out times (µs) of a function's invocations, in order, with their request ids.
async fn handed_out(url: &str, function: &str) -> Vec<(String, u64)> {
    let invocations = get(url, &format!("/_twin/invocations?function={function}")).await;
    invocations
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["request_id"].as_str().unwrap().to_owned(),
                i["handed_out_us"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `n` WhatsApp messages sent, waiting (within a generous bound) for ones still under way.
async fn sends_reach(url: &str, n: usize) {
    for _ in 0..200 {
        if get(url, "/_twin/whatsapp/sent").await.as_array().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(url, "/_twin/whatsapp/sent").await.as_array().unwrap().len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_killed_mid_invocation_is_retried_at_the_scaled_minute() {
    // 30 times faster than AWS: the retry comes 2 s after the failure, not 60 s or at once.
    let twin = start_with(TwinConfig::default().with_aws_time_scale(30), 1, "1").await;
    let url = twin.url();
    let config = get(&url, "/_twin/config").await;
    assert_eq!(config["retry_delays_ms"], json!([2000, 4000]));
    assert_eq!(
        config["function_timeouts_ms"],
        json!({"WhatsappHandler": 10000, "ConnectHandler": 1000})
    );
    post(
        &url,
        "/_twin/faults",
        json!({"service":"socialmessaging","operation":"SendWhatsAppMessage","kill_caller":true,"times":1}),
    )
    .await;
    let inv = customer_texts(&url, "please call").await["invocation"].clone();
    assert_eq!(inv["attempts"], 2, "{inv}");
    assert!(inv["error"].as_str().unwrap().starts_with("Runtime.ExitError"), "{inv}");
    // The killed process never sent; the retry, on a new process, did.
    sends_reach(&url, 1).await;
    let calls = get(&url, "/_twin/calls").await;
    assert_eq!(calls[0]["error"], "CallerKilled", "{calls}");
    let attempts = handed_out(&url, "WhatsappHandler").await;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].0, attempts[1].0, "one request id across the retries");
    let gap = attempts[1].1 - attempts[0].1;
    assert!((1_950_000..30_000_000).contains(&gap), "retried after {gap} µs");
    let processes = get(&url, "/_twin/processes").await;
    let whatsapp = processes
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["function"] == "WhatsappHandler");
    assert_eq!(whatsapp.count(), 2, "the killed process was replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_hanging_past_the_timeout_times_out_and_still_takes_effect() {
    // 60 times faster: WhatsappHandler times out after 5 s, the retry comes 1 s later.
    let twin = start_with(TwinConfig::default().with_aws_time_scale(60), 1, "1").await;
    let url = twin.url();
    post(
        &url,
        "/_twin/faults",
        json!({"service":"socialmessaging","operation":"SendWhatsAppMessage","latency_ms":7000,"times":1}),
    )
    .await;
    let inv = customer_texts(&url, "please call").await["invocation"].clone();
    assert_eq!(inv["attempts"], 2, "{inv}");
    assert!(inv["error"].as_str().unwrap().starts_with("Sandbox.Timedout"), "{inv}");
    let attempts = handed_out(&url, "WhatsappHandler").await;
    let gap = attempts[1].1 - attempts[0].1;
    assert!((5_950_000..60_000_000).contains(&gap), "retried after {gap} µs");
    // The retry sent once; the hung call, received before its caller died, takes effect too.
    sends_reach(&url, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_older_than_the_maximum_age_goes_to_the_destination() {
    // 60 times faster, and a maximum event age of 90 s (1.5 s): attempt 2 runs 1 s after the
    // first failure, attempt 3 would run 2 s after that, past the age, so it never does.
    let cfg = TwinConfig {
        whatsapp_handler_event_age: Duration::from_secs(90),
        connect_handler_event_age: Duration::from_secs(90),
        ..TwinConfig::default()
    }
    .with_aws_time_scale(60);
    let twin = start_with(cfg, 1, "1").await;
    let url = twin.url();
    let inv = customer_texts(&url, "please fail").await["invocation"].clone();
    assert_eq!(inv["attempts"], 2, "{inv}");
    assert_eq!(inv["dead_lettered"], true);
    let dlq = get(&url, "/_twin/dlq").await;
    assert_eq!(dlq[0]["condition"], "EventAgeExceeded", "{dlq}");
    assert_eq!(dlq[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stream_delivery_lets_a_later_item_overtake() {
    let cfg = TwinConfig {
        connect_handler_timeout: Duration::from_secs(20),
        ..TwinConfig::default()
    };
    let twin = start_with(cfg, 2, "1").await;
    let url = twin.url();
    let contact = open_contact(&url).await;
    let agent = format!("/_twin/contacts/{contact}/agent");
    post(&url, &agent, json!({"action":"join"})).await;
    assert_eq!(get(&url, "/_twin/sns").await["concurrent"], false);
    assert_eq!(
        post(&url, "/_twin/sns", json!({"concurrent": true})).await["concurrent"],
        true
    );
    let (u, a) = (url.clone(), agent.clone());
    let napping = tokio::spawn(async move { post(&u, &a, json!({"action":"message","content":"please nap"})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each item is its own invocation: the later one does not wait for the earlier one to finish.
    let quick = post(&url, &agent, json!({"action":"message","content":"quick"})).await;
    assert_eq!(quick["invocations"][0]["ok"], true, "{quick}");
    assert!(!napping.is_finished(), "the later item waited for the earlier one");
    assert_eq!(napping.await.unwrap()["invocations"][0]["ok"], true);
    post(&url, "/_twin/reset", json!({})).await;
    assert_eq!(
        get(&url, "/_twin/sns").await["concurrent"],
        false,
        "in order by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_calls_wait_until_the_handlers_are_up() {
    let script = handler_script();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = StackOptions {
        port,
        whatsapp_handler: Some(script.clone()),
        connect_handler: Some(script),
        extra_env: vec![(ROLE_ENV.into(), "1".into())],
        echo_logs: false,
        ..StackOptions::default()
    };
    if !opts.moto_bin.exists() {
        eprintln!(
            "skipping: {} missing (run scripts/setup-venv.sh)",
            opts.moto_bin.display()
        );
        return;
    }
    let starting = tokio::spawn(Stack::start(opts));
    // The port answers at once, while moto is still starting and no handler runs yet.
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out = customer_texts(&format!("http://127.0.0.1:{port}"), "first").await;
    assert_eq!(out["invocation"]["ok"], true, "{out}");
    let stack = starting.await.unwrap().expect("stack starts");
    assert!(stack.wait_ready(Duration::from_secs(1)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_duplicate_comes_when_asked_and_never_past_the_maximum_age() {
    let cfg = TwinConfig {
        whatsapp_handler_event_age: Duration::from_secs(3),
        connect_handler_event_age: Duration::from_secs(3),
        ..TwinConfig::default()
    };
    let twin = start_with(cfg, 1, "1").await;
    let url = twin.url();
    // Every event is delivered again `after_ms` later; returns once all is delivered.
    let text_with_a_copy_after = async |after_ms: u64| {
        let chaos = json!({"duplicate_rate": 1.0, "duplicate_after_ms": after_ms});
        post(&url, "/_twin/sns", chaos).await;
        customer_texts(&url, "hello").await;
        let idle = post(&url, "/_twin/wait-idle?timeout_ms=20000", json!({})).await;
        assert_eq!(idle["idle"], true);
    };
    text_with_a_copy_after(1500).await;
    let attempts = handed_out(&url, "WhatsappHandler").await;
    assert_eq!(attempts.len(), 2);
    let gap = attempts[1].1 - attempts[0].1;
    assert!((1_450_000..20_000_000).contains(&gap), "redelivered after {gap} µs");
    // Lambda delivers nothing at or past the maximum age: no copy, and no dead letter either.
    text_with_a_copy_after(3000).await;
    assert_eq!(handed_out(&url, "WhatsappHandler").await.len(), 3);
    assert_eq!(get(&url, "/_twin/dlq").await, json!([]));
}
