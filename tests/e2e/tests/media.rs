//! Issue #4: media both ways through the real handlers, the twin (EUM media, Connect attachments,
//! Transcribe streaming) and moto's S3.

use base64::Engine;
use e2e::{TestStack, Twin, customer_texts, repo_root};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CUSTOMER: &str = "14255550150";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/media").join(name)).unwrap()
}

async fn stack(env: &[(&str, &str)]) -> TestStack {
    let mut extra: Vec<(String, String)> = vec![("TRANSCRIBE_STREAM_SPEED".into(), "8".into())];
    extra.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    TestStack::start_with(|o| o.extra_env.extend(extra)).await
}

async fn contact(twin: &Twin) -> Value {
    twin.contacts_of(CUSTOMER).await.into_iter().next().expect("a chat")
}

/// The files in a contact's transcript: (role, name, content type, size, sha256).
fn files(contact: &Value) -> Vec<(String, String, String, u64, String)> {
    contact["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            let role = i["role"].as_str().unwrap_or_default().to_owned();
            i["attachments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| {
                    (
                        role.clone(),
                        a["name"].as_str().unwrap().to_owned(),
                        a["content_type"].as_str().unwrap().to_owned(),
                        a["size"].as_u64().unwrap(),
                        a["sha256"].as_str().unwrap().to_owned(),
                    )
                })
        })
        .collect()
}

#[tokio::test]
async fn photo_as_first_message_opens_a_chat_then_file_then_caption() {
    let stack = stack(&[]).await;
    let twin = stack.twin();
    let jpeg = b"\xFF\xD8\xFF\xE0 a photo of the box".to_vec();
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "image", "image": {"data": b64(&jpeg), "mime_type": "image/jpeg", "caption": "It arrived broken"}}),
        )
        .await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let c = contact(twin).await;
    let texts = customer_texts(&c);
    assert!(texts[0].contains("image"), "described first: {texts:?}");
    assert_eq!(texts.last().unwrap(), "It arrived broken");
    assert_eq!(
        texts.iter().filter(|t| t.contains("It arrived broken")).count(),
        1,
        "the caption once, after the file: {texts:?}"
    );
    let f = files(&c);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].2.as_str(), f[0].4.as_str()), ("image/jpeg", sha(&jpeg).as_str()));
    assert!(f[0].1.ends_with(".jpg"), "{f:?}");
}

#[tokio::test]
async fn pdf_video_and_sticker_as_png() {
    let stack = stack(&[]).await;
    let twin = stack.twin();
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let mp4 = b"\x00\x00\x00\x18ftypmp42 video".to_vec();
    for message in [
        json!({"type": "document", "document": {"data": b64(&pdf), "mime_type": "application/pdf", "filename": "invoice 42.pdf"}}),
        json!({"type": "video", "video": {"data": b64(&mp4), "mime_type": "video/mp4"}}),
        json!({"type": "sticker", "sticker": {"data": b64(&sample("sticker.webp")), "mime_type": "image/webp", "animated": false}}),
    ] {
        let (_, inv) = twin.customer_sends(CUSTOMER, message).await;
        assert!(inv.ok, "{inv:?}");
    }
    twin.settle().await;
    let f = files(&contact(twin).await);
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(
        (f[0].1.as_str(), f[0].2.as_str()),
        ("invoice 42.pdf", "application/pdf")
    );
    assert_eq!(f[0].4, sha(&pdf));
    assert_eq!(f[1].2, "video/mp4");
    assert_eq!(f[2].2, "image/png");
    assert!(f[2].1.ends_with(".png"));
}

#[tokio::test]
async fn voice_note_arrives_as_wav_with_its_transcript_echoed_to_the_customer() {
    let stack = stack(&[]).await;
    let twin = stack.twin();
    let said = "Hello, I would like to check the status of my order, please.";
    let (_, inv) = twin.customer_sends_voice_note(CUSTOMER, said).await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let c = contact(twin).await;
    let f = files(&c);
    assert_eq!(f[0].2, "audio/wav");
    // 16 kHz mono 16-bit: the WAV plays as long as the note (3 s) within 5 %.
    let seconds = (f[0].3 - 44) as f64 / 32_000.0;
    assert!((seconds - 3.0).abs() / 3.0 < 0.05, "{seconds}");
    assert!(
        customer_texts(&c).contains(&format!("🎤 Transcription: {said}")),
        "{:?}",
        customer_texts(&c)
    );
    assert!(twin.texts_to(CUSTOMER).await.iter().any(|t| t.contains(said)));
}

#[tokio::test]
async fn transcription_failure_still_delivers_the_audio() {
    let stack = stack(&[("TRANSCRIPT_ECHO", "false")]).await;
    let twin = stack.twin();
    twin.fault(json!({"service": "transcribe", "error": "ServiceUnavailableException"}))
        .await;
    let voice = sample("voice-note.ogg");
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "audio", "audio": {"data": b64(&voice), "mime_type": "audio/ogg", "voice": true}}),
        )
        .await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let c = contact(twin).await;
    assert_eq!(files(&c)[0].2, "audio/wav");
    assert!(
        customer_texts(&c)
            .iter()
            .any(|t| t.contains("transcript of this voice message is missing"))
    );
}

#[tokio::test]
async fn oversize_file_is_refused_and_both_sides_are_told() {
    let stack = stack(&[("CONNECT_MAX_ATTACHMENT_BYTES", "1000")]).await;
    let twin = stack.twin();
    let big = vec![b'%'; 5000];
    let (_, inv) = twin
        .customer_sends(
            CUSTOMER,
            json!({"type": "document", "document": {"data": b64(&big), "mime_type": "application/pdf", "filename": "scan.pdf"}}),
        )
        .await;
    assert!(inv.ok, "{inv:?}");
    twin.settle().await;
    let c = contact(twin).await;
    assert!(files(&c).is_empty());
    assert!(
        customer_texts(&c)
            .iter()
            .any(|t| t.contains("scan.pdf") && t.contains("larger")),
        "{:?}",
        customer_texts(&c)
    );
    assert!(twin.texts_to(CUSTOMER).await.iter().any(|t| t.contains("too large")));
}

#[tokio::test]
async fn agent_sends_image_pdf_and_an_unsupported_type() {
    let stack = stack(&[]).await;
    let twin = stack.twin();
    twin.customer_texts(CUSTOMER, "Can you send me the label?").await;
    twin.settle().await;
    let id = contact(twin).await["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&id, json!({"action": "join", "display_name": "Ana"})).await;
    let png = b"\x89PNG\r\n\x1a\n map".to_vec();
    // Large enough to arrive in many chunks, which the download writes into one buffer in order.
    let photo: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8))
        .collect();
    let pdf = b"%PDF-1.4 label".to_vec();
    let zip = b"PK\x03\x04 archive".to_vec();
    for (name, ct, data) in [
        ("map.png", "image/png", &png),
        ("photo.png", "image/png", &photo),
        ("label.pdf", "application/pdf", &pdf),
        ("all.zip", "application/zip", &zip),
    ] {
        let inv = twin
            .agent(
                &id,
                json!({"action": "attachment", "name": name, "content_type": ct, "data": b64(data)}),
            )
            .await;
        assert!(inv.iter().all(|i| i.ok), "{inv:?}");
    }
    twin.settle().await;
    let sent = twin.media_sent_to(CUSTOMER).await;
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert_eq!(sent[0]["message"]["type"], "image");
    assert_eq!(sent[0]["media"]["sha256"], sha(&png));
    assert_eq!(sent[1]["message"]["type"], "image");
    assert_eq!(sent[1]["media"]["sha256"], sha(&photo));
    assert_eq!(sent[2]["message"]["type"], "document");
    assert_eq!(sent[2]["message"]["document"]["filename"], "label.pdf");
    assert_eq!(sent[3]["message"]["type"], "document");
    assert_eq!(sent[3]["media"]["sha256"], sha(&zip));
}

#[tokio::test]
async fn an_agent_file_still_goes_when_the_stored_connection_token_was_refused() {
    let stack = stack(&[]).await;
    let twin = stack.twin();
    twin.customer_texts(CUSTOMER, "Please send the invoice").await;
    twin.settle().await;
    let id = contact(twin).await["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&id, json!({"action": "join", "display_name": "Ana"})).await;
    // Connect refuses the token ConnectHandler fetches the file with: it reconnects with the
    // participant token and fetches again, in the same invocation.
    twin.fault(
        json!({"service": "connectparticipant", "operation": "GetAttachment", "error": "ExpiredToken", "times": 1}),
    )
    .await;
    let pdf = b"%PDF-1.4 invoice".to_vec();
    let inv = twin
        .agent(
            &id,
            json!({"action": "attachment", "name": "invoice.pdf", "content_type": "application/pdf", "data": b64(&pdf)}),
        )
        .await;
    assert!(inv.iter().all(|i| i.ok), "{inv:?}");
    twin.settle().await;
    let sent = twin.media_sent_to(CUSTOMER).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["media"]["sha256"], sha(&pdf));
    assert_eq!(
        twin.calls_to("CreateParticipantConnection").await,
        2,
        "one connection at the start, one renewal"
    );
    // The customer's next message goes with the renewed token, without another connection.
    twin.customer_texts(CUSTOMER, "Got it, thanks").await;
    twin.settle().await;
    assert_eq!(twin.calls_to("CreateParticipantConnection").await, 2);
}
