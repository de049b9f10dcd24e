//! Migrating from the AWS sample without editing flows (docs/migration.md): WhatsappHandler's service on
//! the in-memory fakes, with `SAMPLE_CONTACT_ATTRIBUTES` and `TRANSCRIPT_STYLE` as a deployment sets
//! them, and as it leaves them by default.

// Shared with the other services' tests; this one needs no agent's message.
#[allow(dead_code)]
mod services;

use bridge::config::Config;
use bridge::fakes::{
    FakeAttachments, FakeConnect, FakeObjectStore, FakeStateStore, FakeTranscriber, FakeWhatsapp, FakeWhatsappMedia,
};
use bridge::inbound::InboundBridge;
use bridge::media::handler::MediaBridge;
use bridge::media::service::MediaSettings;
use bridge::telemetry::now_ms;
use serde_json::{Value, json};
use services::{BUSINESS_NUMBER, CUSTOMER, invocation, sns};
use std::collections::HashMap;
use std::sync::Arc;

const VOICE: &[u8] = include_bytes!("../../../tests/media/voice-note.ogg");
const VOICE_ID: &str = "2754859441498128";
const ORIGINATION: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";

/// The service with media, on fakes whose Transcribe hears `heard`, under the variables `env` adds to a
/// valid configuration; and the Connect it starts chats in.
fn service(
    env: &[(&'static str, &'static str)],
    heard: &str,
) -> (
    InboundBridge<FakeStateStore, FakeConnect, FakeConnect, FakeWhatsapp>,
    FakeConnect,
) {
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("CONNECT_INSTANCE_ID", "5d1f0a3c-8e2b-4c6d-9f1a-2b3c4d5e6f70"),
        ("CONNECT_CONTACT_FLOW_ID", "9e8d7c6b-5a49-4382-b1c0-f9e8d7c6b5a4"),
        (
            "CONNECT_STREAM_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:connect-chat-stream",
        ),
        ("STATE_TABLE_NAME", "whatsapp-bridge-state"),
        ("CUSTOMER_HASH_KEY", "k3y0f7h1s7es7d3pl0ym3n7abcdefghij"),
        ("MEDIA_BUCKET_NAME", "media"),
    ]);
    vars.extend(env.iter().copied());
    let lookup = |name: &str| vars.get(name).map(|v| (*v).to_owned());
    let connect = FakeConnect::default();
    let bucket = FakeObjectStore::default();
    let media = MediaBridge {
        whatsapp: FakeWhatsappMedia::new(&bucket, &[(VOICE_ID, "audio/ogg; codecs=opus", VOICE)]),
        store: bucket,
        attachments: FakeAttachments::default(),
        transcriber: FakeTranscriber::hearing(heard),
        settings: MediaSettings::from_lookup(lookup).unwrap(),
    };
    let service = InboundBridge::new(
        Config::from_lookup(lookup).unwrap(),
        FakeStateStore::default(),
        connect.clone(),
        connect.clone(),
        FakeWhatsapp::default(),
    )
    .with_media(Arc::new(media));
    (service, connect)
}

/// EUM's event for the customer's message `wamid` of type `kind`, sent `ago_s` seconds ago by `sender`
/// (the fields that name the customer: `from`, and `from_user_id` when WhatsApp sends one) under the
/// profile name `name`.
fn customer_message(wamid: &str, ago_s: i64, sender: Value, name: Option<&str>, kind: &str, content: Value) -> Value {
    let mut message = json!({"id": wamid, "timestamp": (now_ms() / 1000 - ago_s).to_string(), "type": kind});
    message[kind] = content;
    let mut contact = json!({"wa_id": sender["from"]});
    if let Some(user_id) = sender.get("from_user_id") {
        contact["user_id"] = user_id.clone();
    }
    if let Some(name) = name {
        contact["profile"] = json!({"name": name});
    }
    for (field, value) in sender.as_object().unwrap() {
        message[field] = value.clone();
    }
    let entry = json!({"id": "102290129340398", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": BUSINESS_NUMBER},
        "contacts": [contact],
        "messages": [message]}}]});
    sns(
        json!({
            "context": {"MetaWabaIds": [], "MetaPhoneNumberIds": [{"metaPhoneNumberId": BUSINESS_NUMBER,
                "arn": format!("arn:aws:social-messaging:us-east-1:123456789012:{}", ORIGINATION.replacen("phone-number-id-", "phone-number-id/", 1))}]},
            "whatsAppWebhookEntry": entry.to_string(),
            "aws_account_id": "123456789012",
            "message_timestamp": "2025-11-11T06:51:23.476795989Z"
        })
        .to_string(),
        &[],
    )
}

fn voice_note(wamid: &str, ago_s: i64) -> Value {
    customer_message(
        wamid,
        ago_s,
        json!({"from": CUSTOMER}),
        Some("Sheena"),
        "audio",
        json!({"mime_type": "audio/ogg; codecs=opus", "id": VOICE_ID, "voice": true}),
    )
}

async fn handle(service: &InboundBridge<FakeStateStore, FakeConnect, FakeConnect, FakeWhatsapp>, event: &Value) {
    invocation(service.handle(event)).await.expect("bridged");
}

/// The attributes of the first chat Connect started.
fn attributes(connect: &FakeConnect) -> HashMap<String, String> {
    connect.chats()[0].request.attributes.clone()
}

#[tokio::test]
async fn with_both_options_a_flow_built_for_the_sample_finds_its_attributes_and_the_customers_words() {
    let (service, connect) = service(
        &[
            ("SAMPLE_CONTACT_ATTRIBUTES", "true"),
            ("TRANSCRIPT_STYLE", "customer_words"),
        ],
        "where is my order",
    );
    let hi = customer_message(
        "wamid.hi",
        2,
        json!({"from": CUSTOMER}),
        Some("Sheena"),
        "text",
        json!({"body": "Hi"}),
    );
    handle(&service, &hi).await;
    handle(&service, &voice_note("wamid.voice", 1)).await;

    let got = attributes(&connect);
    for (name, value) in [
        ("Channel", "Whatsapp"),
        ("customerId", CUSTOMER),
        ("customerName", "Sheena"),
        ("systemNumber", ORIGINATION),
        // The bridge's own stay beside them.
        ("CustomerId", CUSTOMER),
        ("CustomerPhoneNumber", CUSTOMER),
        ("OriginationPhoneNumberId", ORIGINATION),
        ("BusinessPhoneNumberId", BUSINESS_NUMBER),
    ] {
        assert_eq!(got.get(name).map(String::as_str), Some(value), "{name} in {got:?}");
    }
    let texts = connect.chats()[0]
        .texts()
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(texts.first().map(String::as_str), Some("Hi"), "{texts:?}");
    assert_eq!(
        texts.last().map(String::as_str),
        Some("where is my order"),
        "the transcript alone, as the customer's text: {texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("Transcription")), "{texts:?}");
}

#[tokio::test]
async fn a_customer_without_a_shared_number_or_a_profile_name_is_named_as_the_sample_would() {
    let (service, connect) = service(&[("SAMPLE_CONTACT_ATTRIBUTES", "true")], "");
    let user_id = "US.13491208655302741918";
    let hi = customer_message(
        "wamid.hi",
        1,
        json!({"from_user_id": user_id}),
        None,
        "text",
        json!({"body": "Hi"}),
    );
    handle(&service, &hi).await;

    let got = attributes(&connect);
    assert_eq!(got["customerId"], user_id, "{got:?}");
    assert_eq!(got["customerName"], "NN", "{got:?}");
}

#[tokio::test]
async fn a_silent_voice_note_keeps_its_labelled_note_in_the_customer_words_style() {
    let (service, connect) = service(&[("TRANSCRIPT_STYLE", "customer_words")], "");
    handle(&service, &voice_note("wamid.voice", 1)).await;

    let chat = &connect.chats()[0];
    assert_eq!(
        chat.texts().last().copied(),
        Some("🎤 Transcription: (no speech recognised)"),
        "the bridge's remark is not passed off as the customer's words: {:?}",
        chat.texts()
    );
}

#[tokio::test]
async fn by_default_the_bridge_sets_only_its_own_attributes_and_labels_the_transcript() {
    let (service, connect) = service(&[], "where is my order");
    handle(&service, &voice_note("wamid.voice", 1)).await;

    let got = attributes(&connect);
    assert_eq!(got["Channel"], "WhatsApp");
    for sample_only in ["customerId", "customerName", "systemNumber"] {
        assert!(!got.contains_key(sample_only), "{sample_only} in {got:?}");
    }
    assert_eq!(
        connect.chats()[0].texts().last().copied(),
        Some("🎤 Transcription: where is my order")
    );
}
