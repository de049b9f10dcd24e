//! The media service on the real AWS adapters against the local twin and moto: a photo, a voice
//! note (WAV + transcript through Transcribe streaming's event-stream protocol), a transcription
//! failure, an attachment-upload refusal, and an agent's PDF sent by media id. Skipped (with a
//! note) without `.venv`.

use aws_sdk_connect::types::{ChatStreamingConfiguration, ParticipantDetails};
use aws_sdk_connectparticipant::types::ConnectionType;
use base64::Engine;
use bridge::aws::{EumMedia, ParticipantAttachments, S3Store, TranscribeStreaming};
use bridge::ids::{ConnectionToken, CustomerId, OriginationId};
use bridge::media::service::{
    Delivery, InboundRequest, MediaService, MediaSettings, OutboundOutcome, OutboundRequest, Transcript,
};
use bridge::whatsapp::{Media, MediaKind};
use local_aws::{Stack, StackOptions, TwinConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ORIGINATION: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";
const VOICE: &[u8] = include_bytes!("../../../tests/media/voice-note.ogg");

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_connect::config::SharedCredentialsProvider::new(
            aws_sdk_connect::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build()
}

struct Adapters {
    eum: EumMedia,
    s3: S3Store,
    attachments: ParticipantAttachments,
    transcribe: TranscribeStreaming,
    settings: MediaSettings,
}

impl Adapters {
    fn new(twin: &str, moto: &str) -> Self {
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
                "MEDIA_BUCKET_NAME" => Some("whatsapp-bridge-media".into()),
                "TRANSCRIBE_LANGUAGE_OPTIONS" => Some("en-US,es-US".into()),
                _ => None,
            })
            .unwrap(),
        }
    }

    fn service(&self) -> MediaService<'_, EumMedia, S3Store, ParticipantAttachments, TranscribeStreaming> {
        MediaService {
            whatsapp: &self.eum,
            store: &self.s3,
            attachments: &self.attachments,
            transcriber: &self.transcribe,
            settings: &self.settings,
        }
    }
}

async fn control(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{url}/_twin{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// The customer sends media through the twin; returns the Meta media object the bridge would get.
async fn customer_sends(url: &str, kind: &str, object: Value) -> Media {
    control(
        url,
        reqwest::Method::POST,
        "/customers/14255550150/messages",
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

async fn open_chat(url: &str) -> (String, ConnectionToken) {
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

/// The attachments of the contact's transcript as `GET /_twin/contacts` shows them.
async fn attachments(url: &str, contact: &str) -> Vec<Value> {
    let contacts = control(url, reqwest::Method::GET, "/contacts", None).await;
    let c = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == contact)
        .unwrap()
        .clone();
    c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["attachments"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_both_ways_through_the_twin() {
    let opts = StackOptions {
        echo_logs: false,
        ..StackOptions::default().without_handlers()
    };
    if !opts.moto_bin.exists() {
        eprintln!(
            "skipping: {} missing (run scripts/setup-venv.sh)",
            opts.moto_bin.display()
        );
        return;
    }
    let stack = Stack::start(opts).await.unwrap();
    let url = stack.url();
    let a = Adapters::new(&url, stack.moto_url().unwrap());
    let service = a.service();
    let origination = OriginationId::parse(ORIGINATION).unwrap();
    let (contact, token) = open_chat(&url).await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);

    // A photo with a caption.
    let jpeg = b"\xFF\xD8\xFF\xE0 photo bytes".to_vec();
    let photo = customer_sends(
        &url,
        "image",
        json!({"data": b64(&jpeg), "mime_type": "image/jpeg", "caption": "the box"}),
    )
    .await;
    let req = InboundRequest {
        origination: &origination,
        token: &token,
        media: &photo,
        prefix: "inbound/106540352242922/14255550150/",
        wamid: "wamid.photo",
    };
    let out = service.deliver_inbound(req).await.unwrap();
    assert!(matches!(out.delivery, Delivery::Attached(_)), "{out:?}");
    assert_eq!(out.chat_texts(), vec!["the box".to_owned()]);
    let atts = attachments(&url, &contact).await;
    assert_eq!(atts[0]["content_type"], "image/jpeg");
    assert_eq!(atts[0]["sha256"], sha(&jpeg));

    // A voice note: WAV attachment of the right length and the transcript.
    let said = "Hello, I would like to check the status of my order, please.";
    control(
        &url,
        reqwest::Method::POST,
        "/transcripts",
        Some(json!({"sha256": sha(VOICE), "text": said, "language_code": "en-US"})),
    )
    .await;
    let voice = customer_sends(
        &url,
        "audio",
        json!({"data": b64(VOICE), "mime_type": "audio/ogg; codecs=opus", "voice": true}),
    )
    .await;
    let out = service
        .deliver_inbound(InboundRequest {
            media: &voice,
            wamid: "wamid.voice",
            ..req
        })
        .await
        .unwrap();
    let Delivery::Attached(file) = &out.delivery else {
        panic!("{out:?}")
    };
    assert_eq!(file.content_type, "audio/wav");
    assert_eq!(out.transcript, Some(Transcript::Text(said.to_owned())));
    let atts = attachments(&url, &contact).await;
    let wav = atts.iter().find(|a| a["content_type"] == "audio/wav").unwrap();
    let seconds = (wav["size"].as_u64().unwrap() - 44) as f64 / 32_000.0;
    assert!((seconds - 3.0).abs() / 3.0 < 0.05, "{seconds}");

    // Transcribe fails: the audio still arrives, the agent is told the transcript is missing.
    control(
        &url,
        reqwest::Method::POST,
        "/faults",
        Some(json!({"service": "transcribe", "error": "BadRequestException", "times": 1})),
    )
    .await;
    let out = service
        .deliver_inbound(InboundRequest {
            media: &voice,
            wamid: "wamid.voice2",
            ..req
        })
        .await
        .unwrap();
    assert!(matches!(out.delivery, Delivery::Attached(_)));
    assert!(matches!(out.transcript, Some(Transcript::Failed(_))));

    // The chat refuses the upload: the customer and the agent get notes instead.
    control(
        &url,
        reqwest::Method::POST,
        "/faults",
        Some(json!({"service": "connectparticipant", "operation": "StartAttachmentUpload", "error": "ValidationException", "times": 1})),
    )
    .await;
    let out = service
        .deliver_inbound(InboundRequest {
            wamid: "wamid.photo2",
            ..req
        })
        .await
        .unwrap();
    assert!(matches!(out.delivery, Delivery::UploadRefused { .. }), "{out:?}");
    assert!(out.agent_note.is_some() && out.customer_notice.is_some());

    // The agent sends a PDF: it goes to WhatsApp by media id, with its file name.
    control(
        &url,
        reqwest::Method::POST,
        &format!("/contacts/{contact}/agent"),
        Some(json!({"action": "join"})),
    )
    .await;
    let pdf = b"%PDF-1.4 return label".to_vec();
    let done = control(
        &url,
        reqwest::Method::POST,
        &format!("/contacts/{contact}/agent"),
        Some(
            json!({"action": "attachment", "name": "label.pdf", "content_type": "application/pdf", "data": b64(&pdf)}),
        ),
    )
    .await;
    let item = done["items"][0].as_str().unwrap();
    let published = control(&url, reqwest::Method::GET, "/sns/published", None).await;
    let msg = published
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["message"])
        .find(|m| m["Id"] == item)
        .unwrap()
        .clone();
    let att = &msg["Attachments"][0];
    let customer = CustomerId::parse("14255550150").unwrap();
    let out = service
        .deliver_outbound(OutboundRequest {
            token: &token,
            origination: &origination,
            to: &customer,
            attachment_id: att["AttachmentId"].as_str().unwrap(),
            name: att["AttachmentName"].as_str().unwrap(),
            content_type: att["ContentType"].as_str().unwrap(),
            prefix: &format!("outbound/{contact}/"),
        })
        .await
        .unwrap();
    let OutboundOutcome::Sent { message, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(message["document"]["filename"], "label.pdf");
    let sent = control(&url, reqwest::Method::GET, "/whatsapp/sent", None).await;
    let last = sent.as_array().unwrap().last().unwrap();
    assert_eq!(last["message"]["type"], "document");
    assert_eq!(last["media"]["sha256"], sha(&pdf));
}
