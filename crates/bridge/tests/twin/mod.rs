//! What the tests of the AWS adapters on the local twin share: the stack (skipped without moto), SDK
//! clients and the bridge's configuration pointed at it, the media adapters built on them, the twin's
//! control API, a customer's media and an open chat; and [`contract!`], which runs a port contract's
//! cases on both backends.

use base64::Engine;
use bridge::aws::{ConnectCenter, EumMedia, ParticipantAttachments, ParticipantService, S3Store, TranscribeStreaming};
use bridge::config::Config;
use bridge::ids::ConnectionToken;
use bridge::media::service::{MediaService, MediaSettings};
use bridge::ports::{ChatRequest, ContactCenter, Participant};
use bridge::whatsapp::{Media, MediaKind};
use local_aws::{Stack, StackOptions, Twin};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

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
    // The launcher is in the repository; what it runs is the venv's Python (`scripts/moto-server`).
    let python = local_aws::stack::repo_root().join(".venv/bin/python");
    if opts.moto_bin.exists() && python.exists() {
        return Some(Stack::start(opts).await.unwrap());
    }
    let python = python.display();
    eprintln!("skipping: {python} missing (run scripts/setup-venv.sh)");
    None
}

/// The SDK configuration of every client here: the twin (or moto) at `url`, with any credentials.
pub fn sdk_config(url: &str) -> aws_config::SdkConfig {
    use aws_sdk_connect::config::{Credentials, Region, SharedCredentialsProvider};
    let credentials = Credentials::new("test", "test", None, None, "twin");
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
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
    let request = reqwest::Client::new().request(method, format!("{url}/_twin{path}"));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let answer = request.send().await.expect("control call");
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap_or(Value::Null)
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

/// What the bridge asks `StartChatContact` for, with `client_token`.
pub fn chat_request(client_token: &str) -> ChatRequest {
    ChatRequest {
        display_name: "Diego".into(),
        attributes: HashMap::from([("CustomerId".to_owned(), CUSTOMER.to_owned())]),
        client_token: client_token.into(),
        related_contact_id: None,
        persistent: false,
        initial_message: None,
        contact_flow_id: None,
    }
}

/// The bridge's configuration as the handlers get it from this twin.
pub fn config(twin: &Twin) -> Config {
    let env: HashMap<String, String> = twin
        .handler_env(None, "whatsapp-bridge-state", BUCKET, &[])
        .into_iter()
        .collect();
    Config::from_lookup(|name| env.get(name).cloned()).unwrap()
}

/// A chat started and joined as the customer: its contact id and the customer's connection token.
pub async fn open_chat(twin: &Twin) -> (String, ConnectionToken) {
    let shared = sdk_config(&twin.url());
    let center = ConnectCenter::new(aws_sdk_connect::Client::new(&shared), &config(twin));
    let started = center.start_chat(&chat_request("open-chat")).await.unwrap();
    let participant = ParticipantService::new(aws_sdk_connectparticipant::Client::new(&shared));
    let connection = participant.connect(&started.participant_token).await.unwrap();
    (started.contact_id.as_str().to_owned(), connection.connection_token)
}

/// The contact's transcript as `GET /_twin/contacts` shows it.
pub async fn transcript(url: &str, contact: &str) -> Vec<Value> {
    let contacts = control(url, reqwest::Method::GET, "/contacts", None).await;
    let mut contacts = contacts.as_array().unwrap().iter();
    let found = contacts.find(|c| c["contact_id"] == contact);
    found
        .and_then(|c| c["transcript"].as_array().cloned())
        .unwrap_or_default()
}

/// Runs each case of a port contract (a function of `cases`, given a backend) on the fakes and on the
/// adapters against the twin, as two tests named after it: `fake` builds the fakes' backend, `twin` an
/// `Option` of the twin's (`None` where it cannot start, and the case is skipped).
macro_rules! contract {
    (fake: $fake:expr, twin: $twin:expr, cases: $($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fake() {
                super::cases::$case(&$fake).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn twin() {
                if let Some(backend) = $twin {
                    super::cases::$case(&backend).await;
                }
            }
        }
    )*};
}
