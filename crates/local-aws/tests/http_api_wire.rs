//! The twin's HTTP API front over HTTP, with stand-in functions (this test binary, re-executed in
//! "stand-in mode") as HandoffAuthorizer and HandoffApi: an allowed request reaches the function with
//! the authorizer's context and its answer comes back; a denied one is 403 without the function ever
//! running; an authorizer that breaks is 500; bodies are base64 both ways when they are not text; the
//! gateway's timeouts and size quotas answer as API Gateway does; the IAM route wants SigV4 from a
//! registered caller; and a stack whose Handoff binaries are not built still starts.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_runtime::{LambdaEvent, service_fn};
use local_aws::{FunctionName, Stack, StackOptions, Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};

const STAND_IN: &str = "LOCAL_AWS_HTTP_API_STAND_IN";
/// How long a stand-in takes over a request that asks it to be slow.
const SLOW: Duration = Duration::from_secs(2);
const BINARY: [u8; 5] = [0, 159, 146, 150, 255];

/// Stand-in mode: only does something when spawned by the twin with `STAND_IN` set.
#[test]
#[ignore = "entry point of the stand-in functions"]
fn stand_in_main() {
    if std::env::var(STAND_IN).is_err() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(lambda_runtime::run(service_fn(stand_in))).unwrap();
}

async fn stand_in(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let event = event.payload;
    // One line per invocation: the test counts and reads them in the function's logs.
    println!("{}", json!({ "event": event }));
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME").as_deref() {
        Ok("HandoffAuthorizer") => authorizer(&event).await,
        _ => api(&event).await,
    }
}

async fn authorizer(event: &Value) -> Result<Value, lambda_runtime::Error> {
    let allowed = json!({ "isAuthorized": true, "context": { "client_id": "acme-bot" } });
    match event["headers"]["authorization"].as_str() {
        Some("Bearer good") => Ok(allowed),
        Some("Bearer slow") => {
            tokio::time::sleep(SLOW).await;
            Ok(allowed)
        }
        Some("Bearer broken") => Err("the authorizer broke".into()),
        Some("Bearer garbled") => Ok(json!({ "allow": "yes" })),
        _ => Ok(json!({ "isAuthorized": false })),
    }
}

async fn api(event: &Value) -> Result<Value, lambda_runtime::Error> {
    let path = event["rawPath"].as_str().unwrap_or_default();
    match path.rsplit('/').next() {
        Some("fail") => return Err("asked to fail".into()),
        Some("slow") => tokio::time::sleep(SLOW).await,
        Some("plain") => return Ok(json!({ "plain": true })),
        Some("binary") => {
            return Ok(json!({
                "statusCode": 200,
                "headers": { "content-type": "application/octet-stream" },
                "body": STANDARD.encode(BINARY),
                "isBase64Encoded": true,
            }));
        }
        _ => {}
    }
    Ok(json!({
        "statusCode": 201,
        "headers": { "content-type": "application/json", "x-stand-in": "HandoffApi" },
        "cookies": ["seen=1"],
        "body": json!({ "event": event }).to_string(),
        "isBase64Encoded": false,
    }))
}

/// A script that re-executes this test binary as a stand-in function.
fn stand_in_script() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir().join(format!("local-aws-http-api-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("stand-in.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec '{}' --ignored --exact stand_in_main --nocapture --test-threads=1\n",
            exe.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn start(cfg: TwinConfig) -> Twin {
    let twin = Twin::start(cfg, TwinOptions::quiet()).await.unwrap();
    let script = stand_in_script();
    let env = twin.handler_env(None, "table", "bucket", &[(STAND_IN.into(), "1".into())]);
    for function in [FunctionName::HandoffApi, FunctionName::HandoffAuthorizer] {
        twin.start_function(function, &script, 1, &env).await.unwrap();
    }
    twin
}

/// The events a stand-in was invoked with, oldest first.
fn events(twin: &Twin, function: FunctionName) -> Vec<Value> {
    twin.logs(function)
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok())
        .map(|v| v["event"].clone())
        .collect()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The event the echoing stand-in API was given.
    fn event(&self) -> Value {
        self.json()["event"].clone()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let resp = request.send().await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_reaches_the_api_with_the_authorizers_context() {
    let twin = start(TwinConfig::default()).await;
    let url = twin.url();

    let answer = send(
        client()
            .post(format!("{url}/v1/handoffs?limit=5&tag=a&tag=b%20c"))
            .header("authorization", "Bearer good")
            .header("content-type", "application/json")
            .header("x-multi", "1")
            .header("x-multi", "2")
            .header("cookie", "c=3; d=4")
            .body(r#"{"a":1}"#),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.headers["x-stand-in"], "HandoffApi");
    assert_eq!(answer.headers["set-cookie"], "seen=1");
    assert!(answer.headers.contains_key("apigw-requestid"));
    let event = answer.event();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "ANY /v1/{proxy+}");
    assert_eq!(event["rawPath"], "/v1/handoffs");
    assert_eq!(event["rawQueryString"], "limit=5&tag=a&tag=b%20c");
    assert_eq!(event["queryStringParameters"], json!({"limit": "5", "tag": "a,b c"}));
    assert_eq!(event["pathParameters"], json!({"proxy": "handoffs"}));
    assert_eq!(event["headers"]["x-multi"], "1,2");
    assert_eq!(event["headers"]["content-type"], "application/json");
    assert_eq!(event["headers"]["cookie"], Value::Null);
    assert_eq!(event["cookies"], json!(["c=3", "d=4"]));
    assert_eq!(event["body"], r#"{"a":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
    let context = &event["requestContext"];
    assert_eq!(context["authorizer"]["lambda"], json!({"client_id": "acme-bot"}));
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/v1/handoffs");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["routeKey"], "ANY /v1/{proxy+}");
    assert_eq!(context["accountId"], twin.config().account_id);
    assert_eq!(
        context["requestId"].as_str(),
        answer.headers["apigw-requestid"].to_str().ok()
    );
    assert!(context["timeEpoch"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(context["time"].as_str().unwrap().ends_with(" +0000"));

    let asked = events(&twin, FunctionName::HandoffAuthorizer);
    assert_eq!(asked.len(), 1);
    let asked = &asked[0];
    assert_eq!(asked["type"], "REQUEST");
    assert_eq!(asked["version"], "2.0");
    assert_eq!(asked["headers"]["authorization"], "Bearer good");
    assert_eq!(asked["requestContext"]["requestId"], context["requestId"]);
    assert!(
        asked["routeArn"]
            .as_str()
            .unwrap()
            .ends_with("/$default/POST/v1/handoffs"),
        "{asked}"
    );
    assert_eq!(asked.get("body"), None, "the authorizer never sees the body");

    // A JSON answer without a statusCode is a 200 of that JSON.
    let plain = send(
        client()
            .get(format!("{url}/v1/plain"))
            .header("authorization", "Bearer good"),
    )
    .await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.headers["content-type"], "application/json");
    assert_eq!(plain.json(), json!({"plain": true}));

    // A function error is API Gateway's 500.
    let failed = send(
        client()
            .post(format!("{url}/v1/handoffs/fail"))
            .header("authorization", "Bearer good"),
    )
    .await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json(), json!({"message": "Internal Server Error"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_or_broken_authorization_never_reaches_the_api() {
    let twin = start(TwinConfig::default()).await;
    let url = twin.url();
    let get = |auth: Option<&str>| {
        let request = client().get(format!("{url}/v1/handoffs/ho_1"));
        match auth {
            Some(auth) => request.header("authorization", auth),
            None => request,
        }
    };

    for denied in [Some("Bearer bad"), None] {
        let answer = send(get(denied)).await;
        assert_eq!(answer.status, 403, "{denied:?}");
        assert_eq!(answer.json(), json!({"message": "Forbidden"}));
    }
    for broken in ["Bearer broken", "Bearer garbled"] {
        let answer = send(get(Some(broken))).await;
        assert_eq!(answer.status, 500, "{broken}");
        assert_eq!(answer.json(), json!({"message": "Internal Server Error"}));
    }
    assert_eq!(events(&twin, FunctionName::HandoffAuthorizer).len(), 4);
    assert!(events(&twin, FunctionName::HandoffApi).is_empty());

    // End User Messaging Social keeps its own /v1/whatsapp/ paths on the same port.
    let eum = send(client().post(format!("{url}/v1/whatsapp/send")).body("{}")).await;
    assert_ne!(eum.json(), json!({"message": "Forbidden"}));
    assert_eq!(events(&twin, FunctionName::HandoffAuthorizer).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_text_travel_as_base64() {
    let twin = start(TwinConfig::default()).await;
    let url = twin.url();
    let post = |content_type: Option<&str>, body: Vec<u8>| {
        let request = client()
            .post(format!("{url}/v1/handoffs"))
            .header("authorization", "Bearer good")
            .body(body);
        match content_type {
            Some(t) => request.header("content-type", t),
            None => request,
        }
    };

    let octets = send(post(Some("application/octet-stream"), BINARY.to_vec())).await;
    assert_eq!(octets.status, 201);
    assert_eq!(octets.event()["isBase64Encoded"], true);
    assert_eq!(octets.event()["body"], STANDARD.encode(BINARY));
    // No content type, or a form: binary to API Gateway, even when the bytes are text.
    for content_type in [None, Some("application/x-www-form-urlencoded")] {
        let form = send(post(content_type, b"a=1&b=2".to_vec())).await;
        assert_eq!(form.event()["isBase64Encoded"], true, "{content_type:?}");
        assert_eq!(form.event()["body"], STANDARD.encode("a=1&b=2"));
    }
    let text = send(post(Some("text/plain; charset=utf-8"), "héllo".as_bytes().to_vec())).await;
    assert_eq!(text.event()["isBase64Encoded"], false);
    assert_eq!(text.event()["body"], "héllo");
    let empty = send(
        client()
            .get(format!("{url}/v1/handoffs"))
            .header("authorization", "Bearer good"),
    )
    .await;
    assert_eq!(empty.event().get("body"), None);
    assert_eq!(empty.event()["isBase64Encoded"], false);

    // The function's base64 answer reaches the client as bytes.
    let binary = send(
        client()
            .get(format!("{url}/v1/binary"))
            .header("authorization", "Bearer good"),
    )
    .await;
    assert_eq!(binary.status, 200);
    assert_eq!(binary.headers["content-type"], "application/octet-stream");
    assert_eq!(binary.body, BINARY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_timeouts_and_quotas_answer_as_api_gateway() {
    let cfg = TwinConfig {
        http_api_integration_timeout: SLOW / 2,
        http_api_authorizer_timeout: SLOW / 2,
        ..TwinConfig::default()
    };
    let twin = start(cfg).await;
    let url = twin.url();
    let authorized = |path: &str| {
        client()
            .get(format!("{url}{path}"))
            .header("authorization", "Bearer good")
    };

    // Both processes up (their first event may wait for them to start).
    let mut warm = 0;
    while send(authorized("/v1/warm")).await.status != 201 {
        warm += 1;
        assert!(warm < 20, "the stand-ins did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let slow_api = send(authorized("/v1/slow")).await;
    assert_eq!(slow_api.status, 503);
    assert_eq!(slow_api.json(), json!({"message": "Service Unavailable"}));
    let slow_authorizer = send(
        client()
            .get(format!("{url}/v1/handoffs"))
            .header("authorization", "Bearer slow"),
    )
    .await;
    assert_eq!(slow_authorizer.status, 500);
    assert_eq!(slow_authorizer.json(), json!({"message": "Internal Server Error"}));

    let too_large = send(
        client()
            .post(format!("{url}/v1/handoffs"))
            .header("authorization", "Bearer good")
            .header("content-type", "application/json")
            .body(vec![b' '; 10 * 1024 * 1024 + 1]),
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json(), json!({"message": "Request Entity Too Large"}));
    let long_header = send(authorized("/v1/handoffs").header("x-padding", "p".repeat(10_240))).await;
    assert_eq!(long_header.status, 431);
    assert_eq!(long_header.json()["message"], "Request Header Fields Too Large");
}

/// A syntactically valid SigV4 `Authorization` header (the twin does not check the signature).
fn sigv4(access_key: &str, region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20250101/{region}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={}",
        "0123456789abcdef".repeat(4)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iam_route_wants_sigv4_from_a_known_caller() {
    let twin = start(TwinConfig::default()).await;
    let url = twin.url();
    let role_session = "arn:aws:sts::111122223333:assumed-role/BotRole/bot-session";
    let signed = |authorization: String| {
        client()
            .post(format!("{url}/iam/v1/handoffs"))
            .header("authorization", authorization)
            .header("x-amz-date", "20250101T000000Z")
            .header("content-type", "application/json")
            .body("{}")
    };

    let unsigned = send(client().post(format!("{url}/iam/v1/handoffs")).body("{}")).await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.json(), json!({"message": "Forbidden"}));
    let bearer = send(signed("Bearer good".into())).await;
    assert_eq!(bearer.status, 403);
    assert!(
        bearer.json()["message"].as_str().unwrap().contains("'Credential'"),
        "{}",
        bearer.json()
    );
    let other_service = send(signed(sigv4("AKIDBOT", "us-east-1", "lambda"))).await;
    assert_eq!(other_service.status, 403);
    assert!(
        other_service.json()["message"]
            .as_str()
            .unwrap()
            .contains("execute-api")
    );
    let stranger = send(signed(sigv4("AKIDBOT", "us-east-1", "execute-api"))).await;
    assert_eq!(stranger.status, 403);
    assert_eq!(
        stranger.json(),
        json!({"message": "The security token included in the request is invalid."})
    );

    let registered = client()
        .put(format!("{url}/_twin/iam-callers/AKIDBOT"))
        .json(&json!({"userArn": role_session, "principalOrgId": "o-abc123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 204);
    let elsewhere = send(signed(sigv4("AKIDBOT", "eu-west-1", "execute-api"))).await;
    assert_eq!(elsewhere.status, 403);

    let answer = send(signed(sigv4("AKIDBOT", "us-east-1", "execute-api"))).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let event = answer.event();
    assert_eq!(event["routeKey"], "ANY /iam/v1/{proxy+}");
    assert_eq!(event["rawPath"], "/iam/v1/handoffs");
    let iam = &event["requestContext"]["authorizer"]["iam"];
    assert_eq!(iam["userArn"], role_session);
    assert_eq!(iam["accessKey"], "AKIDBOT");
    assert_eq!(iam["accountId"], "111122223333");
    assert_eq!(iam["principalOrgId"], "o-abc123");
    assert!(iam["userId"].as_str().unwrap().ends_with(":bot-session"), "{iam}");
    assert_eq!(iam["callerId"], iam["userId"]);
    assert_eq!(event["requestContext"]["authorizer"].get("lambda"), None);
    assert!(
        events(&twin, FunctionName::HandoffAuthorizer).is_empty(),
        "the IAM route has no Lambda authorizer"
    );

    let forgotten = client()
        .delete(format!("{url}/_twin/iam-callers/AKIDBOT"))
        .send()
        .await
        .unwrap();
    assert_eq!(forgotten.status().as_u16(), 204);
    assert_eq!(
        send(signed(sigv4("AKIDBOT", "us-east-1", "execute-api"))).await.status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_without_the_handoff_binaries_starts_and_answers_500() {
    let missing = std::env::temp_dir().join(format!("no-such-dir-{}", uuid::Uuid::new_v4()));
    let stack = Stack::start(StackOptions {
        no_moto: true,
        echo_logs: false,
        handoff_api: Some(missing.join("handoff-api")),
        handoff_authorizer: Some(missing.join("handoff-authorizer")),
        ..StackOptions::default().without_handlers()
    })
    .await
    .unwrap();
    assert!(stack.wait_ready(Duration::from_secs(10)).await);
    let answer = send(
        client()
            .get(format!("{}/v1/openapi.json", stack.url()))
            .header("authorization", "Bearer good"),
    )
    .await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json(), json!({"message": "Internal Server Error"}));
    stack.shutdown().await;
}
