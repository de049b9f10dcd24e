//! The twin's webhook receiver over HTTP: a client's endpoint set up with its secrets answers a
//! correctly signed delivery as scripted (failing twice, then taking it), refuses a wrongly signed one
//! with 401, answers 410 once the client is gone and 404 for a client with no endpoint, and lists every
//! delivery with whether its signature held.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use local_aws::{Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A delivery's headers as a Standard Webhooks sender signs it with `secret`.
fn signed(secret: &str, id: &str, body: &str) -> Vec<(&'static str, String)> {
    let at = (local_aws::time::now_ms() / 1000).to_string();
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{at}.{body}").as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", at),
        ("webhook-signature", format!("v1,{signature}")),
    ]
}

async fn deliver(url: &str, client: &str, headers: Vec<(&'static str, String)>, body: &str) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/_twin/webhooks/{client}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn set_up(url: &str, client: &str, setup: Value) {
    let status = reqwest::Client::new()
        .put(format!("{url}/_twin/webhooks/{client}"))
        .json(&setup)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_checked_answered_as_scripted_and_listed() {
    let twin = Twin::start(TwinConfig::default(), TwinOptions::quiet()).await.unwrap();
    let url = twin.url();
    let body = r#"{"type":"handoff.created","timestamp":"2026-12-07T12:00:00Z","data":{"sequence":1}}"#;

    assert_eq!(
        deliver(&url, "bot-a", signed(SECRET, "msg_1", body), body).await,
        404,
        "no endpoint yet"
    );
    set_up(
        &url,
        "bot-a",
        json!({"secrets": [SECRET], "fail_times": 2, "fail_status": 503}),
    )
    .await;
    let answers = [
        deliver(&url, "bot-a", signed(SECRET, "msg_1", body), body).await,
        deliver(&url, "bot-a", signed(SECRET, "msg_1", body), body).await,
        deliver(&url, "bot-a", signed(SECRET, "msg_1", body), body).await,
    ];
    assert_eq!(answers, [503, 503, 204], "fails twice, then takes it");
    let forged = signed("whsec_dGhlIG90aGVyIGtleQ==", "msg_2", body);
    assert_eq!(deliver(&url, "bot-a", forged, body).await, 401);
    set_up(&url, "bot-a", json!({"secrets": [SECRET], "gone": true})).await;
    assert_eq!(deliver(&url, "bot-a", signed(SECRET, "msg_3", body), body).await, 410);

    let listed = reqwest::get(format!("{url}/_twin/webhooks?client=bot-a"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let seen: Vec<(String, bool, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["webhook_id"].as_str().unwrap().to_owned(),
                d["signature_valid"].as_bool().unwrap(),
                d["answered"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("msg_1", true, 503),
        ("msg_1", true, 503),
        ("msg_1", true, 204),
        ("msg_2", false, 401),
        ("msg_3", true, 410),
    ]
    .map(|(id, valid, status)| (id.to_owned(), valid, status));
    assert_eq!(seen, expected);
    assert_eq!(listed[2]["body"]["data"]["sequence"], 1);
}
