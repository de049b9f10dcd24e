//! Media through the twin with the real SDK clients: Connect Participant attachments (upload URL
//! with exact headers, completion streamed as an ATTACHMENT item, GetAttachment download), EUM
//! media (GetWhatsAppMessageMedia into moto's S3, PostWhatsAppMessageMedia from it, send by id)
//! and Transcribe streaming's event-stream protocol. Skipped (with a note) without `.venv`.

use aws_sdk_connect::types::{ChatStreamingConfiguration, ParticipantDetails};
use aws_sdk_connectparticipant::types::ConnectionType;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_transcribestreaming::types::{
    AudioEvent, AudioStream, LanguageCode, MediaEncoding, TranscriptResultStream,
};
use aws_smithy_types::Blob;
use base64::Engine;
use local_aws::{Stack, StackOptions, TwinConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connect-chat-stream";
const BUCKET: &str = "whatsapp-bridge-media";
const ORIGINATION: &str = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";

async fn stack() -> Option<Stack> {
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
    Some(Stack::start(opts).await.expect("stack starts"))
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

fn s3(moto: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config(moto))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn media_file(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/media")
            .join(name),
    )
    .unwrap()
}

async fn control(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{url}/_twin{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control call");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A chat with streaming and a customer connection: (contact id, connection token).
async fn open_chat(url: &str) -> (String, String) {
    let cfg = TwinConfig::default();
    let shared = sdk_config(url);
    let c = aws_sdk_connect::Client::new(&shared);
    let started = c
        .start_chat_contact()
        .instance_id(&cfg.instance_id)
        .contact_flow_id(&cfg.contact_flow_id)
        .participant_details(ParticipantDetails::builder().display_name("Sheena").build().unwrap())
        .chat_streaming_configuration(
            ChatStreamingConfiguration::builder()
                .streaming_endpoint_arn(TOPIC)
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
        conn.connection_credentials()
            .unwrap()
            .connection_token()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_upload_with_exact_headers_and_download() {
    let Some(stack) = stack().await else { return };
    let url = stack.url();
    let (contact, token) = open_chat(&url).await;
    let p = aws_sdk_connectparticipant::Client::new(&sdk_config(&url));
    let pdf = b"%PDF-1.4 a tiny test document".to_vec();

    // Types Connect chat refuses are refused at the start.
    let err = p
        .start_attachment_upload()
        .connection_token(&token)
        .content_type("audio/ogg")
        .attachment_name("voice.ogg")
        .attachment_size_in_bytes(10)
        .client_token("t0")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ValidationException"));

    let started = p
        .start_attachment_upload()
        .connection_token(&token)
        .content_type("application/pdf")
        .attachment_name("invoice.pdf")
        .attachment_size_in_bytes(pdf.len() as i64)
        .client_token("t1")
        .send()
        .await
        .unwrap();
    let id = started.attachment_id().unwrap().to_owned();
    let meta = started.upload_metadata().unwrap();
    let headers = meta.headers_to_include().unwrap().clone();
    let http = reqwest::Client::new();

    // Completing before the upload is refused; a PUT without the headers is 403.
    let early = p
        .complete_attachment_upload()
        .connection_token(&token)
        .attachment_ids(&id)
        .client_token("c0")
        .send()
        .await
        .unwrap_err();
    assert_eq!(early.into_service_error().meta().code(), Some("ValidationException"));
    let bare = http.put(meta.url().unwrap()).body(pdf.clone()).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 403);
    // S3 takes a PUT only with its Content-Length: a chunked body is refused whatever its headers.
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(pdf.clone())]);
    let mut chunked = http.put(meta.url().unwrap()).body(reqwest::Body::wrap_stream(chunks));
    for (k, v) in &headers {
        chunked = chunked.header(k, v);
    }
    assert_eq!(chunked.send().await.unwrap().status().as_u16(), 411);
    let mut put = http.put(meta.url().unwrap()).body(pdf.clone());
    for (k, v) in &headers {
        put = put.header(k, v);
    }
    assert_eq!(put.send().await.unwrap().status().as_u16(), 200);
    p.complete_attachment_upload()
        .connection_token(&token)
        .attachment_ids(&id)
        .client_token("c1")
        .send()
        .await
        .unwrap();

    // Streamed as an ATTACHMENT item with Connect's shape.
    let (_, published) = control(&url, reqwest::Method::GET, "/sns/published", None).await;
    let item = published
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["message"])
        .find(|m| m["Type"] == "ATTACHMENT")
        .expect("attachment streamed")
        .clone();
    assert_eq!(item["ParticipantRole"], "CUSTOMER");
    assert_eq!(
        item["Attachments"],
        json!([{"ContentType":"application/pdf","AttachmentId":id,"AttachmentName":"invoice.pdf","Status":"APPROVED"}])
    );
    let (_, contacts) = control(&url, reqwest::Method::GET, "/contacts", None).await;
    let c = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == contact)
        .unwrap();
    let att = c["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "ATTACHMENT")
        .unwrap();
    assert_eq!(att["attachments"][0]["sha256"], sha(&pdf));
    assert_eq!(att["attachments"][0]["size"], pdf.len());

    // GetAttachment gives a URL the twin serves.
    let got = p
        .get_attachment()
        .connection_token(&token)
        .attachment_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.attachment_size_in_bytes(), pdf.len() as i64);
    let body = http
        .get(got.url().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.to_vec(), pdf);

    // The agent sends a file through the control API.
    let (s, _) = control(
        &url,
        reqwest::Method::POST,
        &format!("/contacts/{contact}/agent"),
        Some(json!({"action":"join"})),
    )
    .await;
    assert_eq!(s, 200);
    let png = media_file("sticker.webp");
    let (s, v) = control(
        &url,
        reqwest::Method::POST,
        &format!("/contacts/{contact}/agent"),
        Some(json!({"action":"attachment","name":"map.webp","content_type":"image/webp","data":b64(&png)})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let item_id = v["items"][0].as_str().unwrap().to_owned();
    let (_, published) = control(&url, reqwest::Method::GET, "/sns/published", None).await;
    let m = published
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["message"])
        .find(|m| m["Id"] == item_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(m["ParticipantRole"], "AGENT");
    let agent_att = m["Attachments"][0]["AttachmentId"].as_str().unwrap();
    let got = p
        .get_attachment()
        .connection_token(&token)
        .attachment_id(agent_att)
        .send()
        .await
        .unwrap();
    let body = http
        .get(got.url().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.to_vec(), png);
}

/// The `kind` object of the last customer message the twin published (Meta's shape).
async fn last_media(url: &str, kind: &str) -> Value {
    let (_, published) = control(url, reqwest::Method::GET, "/sns/published", None).await;
    let header = &published.as_array().unwrap().last().unwrap()["message"];
    let entry: Value = serde_json::from_str(header["whatsAppWebhookEntry"].as_str().unwrap()).unwrap();
    entry["changes"][0]["value"]["messages"][0][kind].clone()
}

async fn media_metadata(
    social: &aws_sdk_socialmessaging::Client,
    media_id: &str,
) -> aws_sdk_socialmessaging::operation::get_whats_app_message_media::GetWhatsAppMessageMediaOutput {
    social
        .get_whats_app_message_media()
        .media_id(media_id)
        .origination_phone_number_id(ORIGINATION)
        .metadata_only(true)
        .send()
        .await
        .unwrap()
}

/// GetWhatsAppMessageMedia into the bucket, `key` as the destination.
async fn media_to_bucket(social: &aws_sdk_socialmessaging::Client, media_id: &str, key: &str) {
    social
        .get_whats_app_message_media()
        .media_id(media_id)
        .origination_phone_number_id(ORIGINATION)
        .destination_s3_file(
            aws_sdk_socialmessaging::types::S3File::builder()
                .bucket_name(BUCKET)
                .key(key)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_media_through_s3() {
    let Some(stack) = stack().await else { return };
    let url = stack.url();
    let moto = stack.moto_url().unwrap().to_owned();
    let social = aws_sdk_socialmessaging::Client::new(&sdk_config(&url));
    let jpeg = b"\xFF\xD8\xFF\xE0 not really a jpeg".to_vec();

    // The customer sends a photo: the twin stores the bytes and delivers Meta's shape.
    let (s, v) = control(
        &url,
        reqwest::Method::POST,
        "/customers/14255550150/messages",
        Some(json!({"type":"image","image":{"data":b64(&jpeg),"mime_type":"image/jpeg","caption":"my receipt"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let image = &last_media(&url, "image").await;
    let media_id = image["id"].as_str().unwrap().to_owned();
    assert!(image.get("data").is_none());
    assert_eq!(image["sha256"], sha(&jpeg));
    assert_eq!(image["caption"], "my receipt");

    let meta = media_metadata(&social, &media_id).await;
    assert_eq!(meta.mime_type(), Some("image/jpeg"));
    assert_eq!(meta.file_size(), Some(jpeg.len() as i64));

    media_to_bucket(&social, &media_id, "media/conv1/").await;
    let s3 = s3(&moto);
    let obj = s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("media/conv1/{media_id}.jpg"))
        .send()
        .await
        .expect("written at key + mediaId + the type's extension");
    assert_eq!(obj.body.collect().await.unwrap().into_bytes().to_vec(), jpeg);

    // Unknown media and two destinations are refused.
    let err = social
        .get_whats_app_message_media()
        .media_id("999")
        .origination_phone_number_id(ORIGINATION)
        .metadata_only(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ResourceNotFoundException")
    );

    // The business uploads a PDF from S3 and sends it by id.
    let pdf = b"%PDF-1.4 from the agent".to_vec();
    s3.put_object()
        .bucket(BUCKET)
        .key("out/guide.pdf")
        .content_type("application/pdf")
        .body(ByteStream::from(pdf.clone()))
        .send()
        .await
        .unwrap();
    let posted = social
        .post_whats_app_message_media()
        .origination_phone_number_id(ORIGINATION)
        .source_s3_file(
            aws_sdk_socialmessaging::types::S3File::builder()
                .bucket_name(BUCKET)
                .key("out/guide.pdf")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = posted.media_id().unwrap().to_owned();
    let resp = reqwest::get(format!("{url}/_twin/whatsapp/media/{id}")).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), pdf);
    let send = |msg: Value| {
        social
            .send_whats_app_message()
            .origination_phone_number_id(ORIGINATION)
            .meta_api_version("v20.0")
            .message(Blob::new(msg.to_string()))
            .send()
    };
    send(
        json!({"messaging_product":"whatsapp","to":"+14255550150","type":"document",
                "document":{"id":id,"filename":"guide.pdf"}}),
    )
    .await
    .unwrap();
    // A customer's media id is not the business's to send.
    let err = send(json!({"messaging_product":"whatsapp","to":"+14255550150","type":"image","image":{"id":media_id}}))
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ValidationException"));
    let (_, sent) = control(&url, reqwest::Method::GET, "/whatsapp/sent", None).await;
    assert_eq!(sent[0]["media"]["sha256"], sha(&pdf));
    assert_eq!(sent[0]["media"]["mime_type"], "application/pdf");
}

fn transcribe(url: &str) -> aws_sdk_transcribestreaming::Client {
    aws_sdk_transcribestreaming::Client::new(&sdk_config(url))
}

fn audio_stream(
    bytes: Vec<u8>,
) -> aws_sdk_transcribestreaming::primitives::event_stream::EventStreamSender<
    AudioStream,
    aws_sdk_transcribestreaming::types::error::AudioStreamError,
> {
    let chunks: Vec<Result<AudioStream, aws_sdk_transcribestreaming::types::error::AudioStreamError>> = bytes
        .chunks(4096)
        .map(|c| {
            Ok(AudioStream::AudioEvent(
                AudioEvent::builder().audio_chunk(Blob::new(c)).build(),
            ))
        })
        .collect();
    futures_util::stream::iter(chunks).into()
}

async fn final_text(
    mut out: aws_sdk_transcribestreaming::operation::start_stream_transcription::StartStreamTranscriptionOutput,
) -> (String, Option<String>) {
    let mut text = Vec::new();
    let mut language = None;
    while let Some(event) = out.transcript_result_stream.recv().await.expect("stream") {
        if let TranscriptResultStream::TranscriptEvent(e) = event {
            for r in e.transcript().map(|t| t.results()).unwrap_or_default() {
                if !r.is_partial() {
                    language = r.language_code().map(|l| l.as_str().to_owned());
                    for a in r.alternatives().iter().take(1) {
                        text.push(a.transcript().unwrap_or_default().to_owned());
                    }
                }
            }
        }
    }
    (text.join(" "), language)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcribe_streaming_hears_what_was_registered() {
    let Some(stack) = stack().await else { return };
    let url = stack.url();
    let voice = media_file("voice-note.ogg");
    let said = "Hello, I would like to check the status of my order, please.";
    let (s, _) = control(
        &url,
        reqwest::Method::POST,
        "/transcripts",
        Some(json!({"sha256": sha(&voice), "text": said, "language_code": "en-US"})),
    )
    .await;
    assert_eq!(s, 200);
    let t = transcribe(&url);
    let out = t
        .start_stream_transcription()
        .language_code(LanguageCode::EnUs)
        .media_encoding(MediaEncoding::OggOpus)
        .media_sample_rate_hertz(48_000)
        .audio_stream(audio_stream(voice.clone()))
        .send()
        .await
        .expect("StartStreamTranscription");
    assert_eq!(final_text(out).await, (said.to_owned(), Some("en-US".to_owned())));

    // Identification among options.
    let out = t
        .start_stream_transcription()
        .identify_language(true)
        .language_options("es-US,en-US")
        .media_encoding(MediaEncoding::OggOpus)
        .media_sample_rate_hertz(48_000)
        .audio_stream(audio_stream(voice.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(final_text(out).await, (said.to_owned(), Some("en-US".to_owned())));

    // Unregistered audio is silence.
    let other = media_file("stereo-48k.ogg");
    let out = t
        .start_stream_transcription()
        .language_code(LanguageCode::EnUs)
        .media_encoding(MediaEncoding::OggOpus)
        .media_sample_rate_hertz(48_000)
        .audio_stream(audio_stream(other))
        .send()
        .await
        .unwrap();
    assert_eq!(final_text(out).await.0, "");

    // Parameters are validated as the service does.
    let bad = t
        .start_stream_transcription()
        .language_code(LanguageCode::EnUs)
        .identify_language(true)
        .language_options("es-US,en-US")
        .media_encoding(MediaEncoding::OggOpus)
        .media_sample_rate_hertz(48_000)
        .audio_stream(audio_stream(voice.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.into_service_error().meta().code(), Some("BadRequestException"));
    let bad = t
        .start_stream_transcription()
        .language_code(LanguageCode::EnUs)
        .media_encoding(MediaEncoding::OggOpus)
        .media_sample_rate_hertz(96_000)
        .audio_stream(audio_stream(voice))
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.into_service_error().meta().code(), Some("BadRequestException"));
}

/// A sender's metadata may understate a file: `announced_size` makes `fileSize` say so, while the
/// copy in S3 holds every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_file_whose_metadata_understates_its_size() {
    let Some(stack) = stack().await else { return };
    let url = stack.url();
    let moto = stack.moto_url().unwrap().to_owned();
    let social = aws_sdk_socialmessaging::Client::new(&sdk_config(&url));
    let pdf = vec![b'%'; 4096];
    let (s, v) = control(
        &url,
        reqwest::Method::POST,
        "/customers/14255550150/messages",
        Some(json!({"type":"document","document":{"data":b64(&pdf),"mime_type":"application/pdf","announced_size":0}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let document = last_media(&url, "document").await;
    assert!(
        document.get("announced_size").is_none(),
        "a twin-only field: {document}"
    );
    let media_id = document["id"].as_str().unwrap().to_owned();
    assert_eq!(media_metadata(&social, &media_id).await.file_size(), Some(0));
    media_to_bucket(&social, &media_id, "media/conv2/").await;
    let obj = s3(&moto)
        .get_object()
        .bucket(BUCKET)
        .key(format!("media/conv2/{media_id}.pdf"))
        .send()
        .await
        .expect("written whole");
    assert_eq!(obj.content_length(), Some(pdf.len() as i64));
}
