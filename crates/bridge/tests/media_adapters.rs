//! The media service on the real AWS adapters against the local twin and moto: a photo, a voice
//! note (WAV + transcript through Transcribe streaming's event-stream protocol), a transcription
//! failure, an attachment-upload refusal, and an agent's PDF sent by media id. Skipped (with a
//! note) without `.venv`.

use bridge::ids::{CustomerId, OriginationId};
use bridge::media::service::{Delivery, InboundRequest, OutboundOutcome, OutboundRequest, Transcript};
use bridge::wording::english as bridge_wording;
use serde_json::{Value, json};
use twin::{Adapters, CUSTOMER, ORIGINATION, VOICE, b64, control, customer_sends, open_chat, sha};

// Each test file uses part of it.
#[allow(dead_code, unused_macros)]
mod twin;

/// The attachments of the contact's transcript.
async fn attachments(url: &str, contact: &str) -> Vec<Value> {
    twin::transcript(url, contact)
        .await
        .iter()
        .flat_map(|i| i["attachments"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_both_ways_through_the_twin() {
    let Some(stack) = twin::stack().await else {
        return;
    };
    let url = stack.url();
    let a = Adapters::new(&url, stack.moto_url().unwrap());
    let service = a.service();
    let origination = OriginationId::parse(ORIGINATION).unwrap();
    let (contact, token) = open_chat(stack.twin()).await;

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
        wording: bridge_wording(),
        transcribe: None,
    };
    let out = service.deliver_inbound(req).await.unwrap();
    assert!(matches!(out.delivery, Delivery::Attached(_)), "{out:?}");
    assert_eq!(out.chat_texts(bridge_wording()), vec!["the box".to_owned()]);
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
            wording: bridge_wording(),
            transcribe: None,
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
            wording: bridge_wording(),
            transcribe: None,
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
            wording: bridge_wording(),
            transcribe: None,
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
    let customer = CustomerId::parse(CUSTOMER).unwrap();
    let out = service
        .deliver_outbound(OutboundRequest {
            token: &token,
            origination: &origination,
            to: &customer,
            attachment_id: att["AttachmentId"].as_str().unwrap(),
            name: att["AttachmentName"].as_str().unwrap(),
            content_type: att["ContentType"].as_str().unwrap(),
            prefix: &format!("outbound/{contact}/"),
            wording: bridge_wording(),
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
