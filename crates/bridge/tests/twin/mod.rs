//! What the tests of the AWS adapters on the local twin share: the stack (skipped without moto), SDK
//! clients pointed at it, the bridge's adapters built on them, the twin's control API, a customer's
//! media and an open chat.

use aws_sdk_connect::types::{ChatStreamingConfiguration, ParticipantDetails};
use aws_sdk_connectparticipant::types::ConnectionType;
use base64::Engine;
use bridge::aws::{EumMedia, ParticipantAttachments, S3Store, TranscribeStreaming};
use bridge::ids::ConnectionToken;
use bridge::media::service::{MediaService, MediaSettings};
use bridge::whatsapp::{Media, MediaKind};
use local_aws::{Stack, StackOptions, TwinConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ORIGINATION: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";
pub const CUSTOMER: &str = "14255550150";
pub const BUCKET: &str = "whatsapp-bridge-media";
pub const VOICE: &[u8] = include_bytes!("../../../../tests/media/voice-note.ogg");

pub fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Moto, the twin and no handlers; `None`, with a note, where the venv's moto is missing.
pub async fn stack() -> Option<Stack> {
    let opts = StackOptions {
        echo_logs: false,
        ..StackOptions::default().without_handlers()
    };
    if !opts.moto_bin.exists() {
        eprintln!(
            "skipping: {} missing (run scripts/setup-venv.sh)",
            opts.moto_bin.display()
        );
        return None;
    }
    Some(Stack::start(opts).await.unwrap())
}

pub fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_connect::config::SharedCredentialsProvider::new(
            aws_sdk_connect::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build()
}

/// The media service's adapters on the twin (EUM, Connect, Transcribe) and moto (S3).
pub struct Adapters {
    pub eum: EumMedia,
    pub s3: S3Store,
    pub attachments: ParticipantAttachments,
    pub transcribe: TranscribeStreaming,
    pub settings: MediaSettings,
}

impl Adapters {
    pub fn new(twin: &str, moto: &str) -> Self {
        let t = sdk_config(twin);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config(moto))
                .force_path_style(true)
                .build(),
        );
        Self {
            eum: EumMedia::new(
                aws_sdk_socialmessaging::Client::new(&t),
                aws_sdk_socialmessaging::Client::new(&t),
                "v20.0".into(),
            ),
            s3: S3Store::new(s3),
            attachments: ParticipantAttachments::new(aws_sdk_connectparticipant::Client::new(&t)),
            // Four times real time keeps the test short; the twin accepts it.
            transcribe: TranscribeStreaming::new(aws_sdk_transcribestreaming::Client::new(&t), 4.0),
            settings: MediaSettings::from_lookup(|k| match k {
                "MEDIA_BUCKET_NAME" => Some(BUCKET.into()),
                "TRANSCRIBE_LANGUAGE_OPTIONS" => Some("en-US,es-US".into()),
                _ => None,
            })
            .unwrap(),
        }
    }

    pub fn service(&self) -> MediaService<'_, EumMedia, S3Store, ParticipantAttachments, TranscribeStreaming> {
        MediaService {
            whatsapp: &self.eum,
            store: &self.s3,
            attachments: &self.attachments,
            transcriber: &self.transcribe,
            settings: &self.settings,
        }
    }
}

/// A call of the twin's control API (`/_twin…`), which must succeed; its answer.
pub async fn control(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{url}/_twin{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// The customer sends media through the twin; returns the Meta media object the bridge would get.
pub async fn customer_sends(url: &str, kind: &str, object: Value) -> Media {
    control(
        url,
        reqwest::Method::POST,
        &format!("/customers/{CUSTOMER}/messages"),
        Some(json!({"type": kind, kind: object})),
    )
    .await;
    let published = control(url, reqwest::Method::GET, "/sns/published", None).await;
    let header = &published.as_array().unwrap().last().unwrap()["message"];
    let entry: Value = serde_json::from_str(header["whatsAppWebhookEntry"].as_str().unwrap()).unwrap();
    let mut media: Media = serde_json::from_value(entry["changes"][0]["value"]["messages"][0][kind].clone()).unwrap();
    media.kind = match kind {
        "image" => MediaKind::Image,
        "audio" => MediaKind::Audio,
        "video" => MediaKind::Video,
        "sticker" => MediaKind::Sticker,
        _ => MediaKind::Document,
    };
    media
}

/// A chat started and joined as the customer, outside the bridge's own adapters: its contact id and
/// the customer's connection token.
pub async fn open_chat(url: &str) -> (String, ConnectionToken) {
    let cfg = TwinConfig::default();
    let shared = sdk_config(url);
    let started = aws_sdk_connect::Client::new(&shared)
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("Diego").build().unwrap())
        .chat_streaming_configuration(
            ChatStreamingConfiguration::builder()
                .streaming_endpoint_arn(&cfg.connect_stream_topic_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let conn = aws_sdk_connectparticipant::Client::new(&shared)
        .create_participant_connection()
        .participant_token(started.participant_token().unwrap())
        .r#type(ConnectionType::ConnectionCredentials)
        .connect_participant(true)
        .send()
        .await
        .unwrap();
    (
        started.contact_id().unwrap().to_owned(),
        ConnectionToken::new(conn.connection_credentials().unwrap().connection_token().unwrap()),
    )
}

/// The contact's transcript as `GET /_twin/contacts` shows it.
pub async fn transcript(url: &str, contact: &str) -> Vec<Value> {
    let contacts = control(url, reqwest::Method::GET, "/contacts", None).await;
    contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == contact)
        .and_then(|c| c["transcript"].as_array().cloned())
        .unwrap_or_default()
}
