//! The media service's tests, on in-memory fakes of its ports.

use super::*;
use crate::fakes::{FakeAttachments, FakeObjectStore, FakeTranscriber, FakeWhatsappMedia, Fault, Pieces};
use crate::media::ports::Chunks;
use crate::wording::english as bridge_wording;
use serde_json::json;
use std::sync::atomic::Ordering;

const VOICE: &[u8] = include_bytes!("../../../../tests/media/voice-note.ogg");
const STICKER: &[u8] = include_bytes!("../../../../tests/media/sticker.webp");

fn settings() -> MediaSettings {
    MediaSettings::from_lookup(|k| (k == "MEDIA_BUCKET_NAME").then(|| "bucket".to_owned())).unwrap()
}

fn media(kind: MediaKind, id: &str, mime: &str) -> Media {
    Media {
        kind,
        id: id.into(),
        mime_type: Some(mime.into()),
        sha256: None,
        caption: None,
        filename: None,
        voice: false,
        animated: false,
    }
}

struct World {
    store: FakeObjectStore,
    chat: FakeAttachments,
    ears: FakeTranscriber,
    settings: MediaSettings,
}

impl World {
    fn new() -> Self {
        Self {
            store: FakeObjectStore::default(),
            chat: FakeAttachments::default(),
            ears: FakeTranscriber::hearing("hello there"),
            settings: settings(),
        }
    }

    /// EUM with the customers' `files`, naming its copies in the bucket `<prefix><id><suffix>`.
    fn wa(&self, files: &[(&str, &str, &[u8])], suffix: &'static str) -> FakeWhatsappMedia {
        FakeWhatsappMedia::new(&self.store, files).naming_copies(suffix)
    }

    async fn inbound(&self, wa: &FakeWhatsappMedia, m: &Media) -> InboundOutcome {
        let service = MediaService {
            whatsapp: wa,
            store: &self.store,
            attachments: &self.chat,
            transcriber: &self.ears,
            settings: &self.settings,
        };
        let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
        let token = ConnectionToken::new("t");
        // A message per media id: Connect starts one upload per client token, which the wamid names.
        let wamid = format!("wamid.{}=", m.id);
        service
            .deliver_inbound(InboundRequest {
                origination: &origination,
                token: &token,
                media: m,
                prefix: "inbound/106540352242922/14255550150/",
                wamid: &wamid,
                wording: bridge_wording(),
                transcribe: None,
            })
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn photo_with_caption_is_attached_then_captioned() {
    let w = World::new();
    let wa = w.wa(&[("111", "image/jpeg", b"\xFF\xD8jpeg")], "");
    let mut m = media(MediaKind::Image, "111", "image/jpeg");
    m.caption = Some("my receipt".into());
    let out = w.inbound(&wa, &m).await;
    let Delivery::Attached(f) = &out.delivery else {
        panic!("{out:?}")
    };
    assert_eq!(
        (f.name.as_str(), f.content_type.as_str()),
        ("photo-111.jpg", "image/jpeg")
    );
    assert_eq!(out.chat_texts(bridge_wording()), vec!["my receipt".to_owned()]);
    assert_eq!(w.chat.attached()[0].2, b"\xFF\xD8jpeg");
    assert_eq!(w.chat.put_chunks(), [3], "passed on as it was read, not gathered");
    assert!(out.customer_notice.is_none());
    assert!(w.store.is_empty(), "deleted once in the chat");
}

#[tokio::test]
async fn a_failed_delete_is_no_failure_of_the_message() {
    let w = World::new();
    let refused = PortError::new(FailureKind::Transient, "DeleteObject", "AccessDenied");
    w.store.faults().always("delete", Fault::Fail(refused));
    let wa = w.wa(&[("112", "image/jpeg", b"\xFF\xD8jpeg")], ".jpg");
    let out = w.inbound(&wa, &media(MediaKind::Image, "112", "image/jpeg")).await;
    assert!(matches!(out.delivery, Delivery::Attached(_)), "{out:?}");
    // Left under the conversation's prefix, named as EUM names it, for the lifecycle rule.
    let keys = w.store.keys();
    assert_eq!(
        keys,
        vec!["bucket/inbound/106540352242922/14255550150/wamid.112_/112.jpg".to_owned()]
    );
}

#[tokio::test]
async fn a_file_larger_than_its_metadata_says_is_refused_at_the_limit_and_not_kept() {
    let mut w = World::new();
    w.settings.limits.max_bytes = 10;
    let wa = w
        .wa(
            &[("445", "application/pdf", b"%PDF-1.4 much larger than ten bytes")],
            ".pdf",
        )
        .understating_sizes();
    let mut m = media(MediaKind::Document, "445", "application/pdf");
    m.filename = Some("scan.pdf".into());
    let out = w.inbound(&wa, &m).await;
    assert_eq!(out.delivery, Delivery::TooLarge { size: 35, limit: 10 }, "{out:?}");
    assert!(w.chat.attached().is_empty());
    let note = out.agent_note.as_deref().unwrap();
    assert!(note.contains("scan.pdf") && note.contains("larger"), "{note}");
    assert!(out.customer_notice.unwrap().contains("too large"));
    assert!(w.store.is_empty(), "the copy is deleted");
}

#[tokio::test]
async fn voice_note_becomes_wav_and_transcript_even_with_the_samples_key_naming() {
    let w = World::new();
    let wa = w.wa(&[("222", "audio/ogg; codecs=opus", VOICE)], ".ogg");
    let mut m = media(MediaKind::Audio, "222", "audio/ogg; codecs=opus");
    m.voice = true;
    let out = w.inbound(&wa, &m).await;
    let Delivery::Attached(f) = &out.delivery else {
        panic!("{out:?}")
    };
    assert_eq!(f.content_type, "audio/wav");
    assert!(f.name.ends_with(".wav"), "{}", f.name);
    let secs = f.duration.unwrap().as_secs_f64();
    assert!((secs - 3.0).abs() < 0.15, "{secs}");
    assert_eq!(
        out.chat_texts(bridge_wording()),
        vec!["🎤 Transcription: hello there".to_owned()]
    );
    assert_eq!(out.transcript_text(), Some("hello there"));
    assert!(w.chat.attached()[0].2.starts_with(b"RIFF"));
    assert!(
        w.ears.heard()[0].starts_with(b"OggS"),
        "the original Ogg/Opus goes to Transcribe"
    );
}

#[tokio::test]
async fn transcription_failure_still_attaches_the_audio() {
    let w = World::new();
    let timeout = PortError::new(FailureKind::Transient, "StartStreamTranscription", "timeout");
    w.ears.faults().always("transcribe", Fault::Fail(timeout));
    let wa = w.wa(&[("333", "audio/ogg", VOICE)], "");
    let mut m = media(MediaKind::Audio, "333", "audio/ogg");
    m.voice = true;
    let out = w.inbound(&wa, &m).await;
    assert!(matches!(out.delivery, Delivery::Attached(_)));
    assert!(matches!(out.transcript, Some(Transcript::Failed(_))));
    assert!(out.chat_texts(bridge_wording())[0].contains("transcript of this voice message is missing"));
}

#[tokio::test]
async fn a_voice_note_longer_than_the_invocation_has_left_is_delivered_untranscribed() {
    let w = World::new();
    let wa = w.wa(&[("334", "audio/ogg", VOICE)], "");
    let mut m = media(MediaKind::Audio, "334", "audio/ogg");
    m.voice = true;
    // 3 s of audio + the time to post it do not fit in 5 s; they fit in a minute.
    let out = claims::within_deadline(now_ms() + 5_000, w.inbound(&wa, &m)).await;
    assert!(matches!(out.delivery, Delivery::Attached(_)));
    assert!(
        matches!(out.transcript, Some(Transcript::TooLong(d)) if d.as_secs() == 3),
        "{out:?}"
    );
    assert!(
        out.chat_texts(bridge_wording())[0].contains("at 3 s it is too long to transcribe"),
        "{:?}",
        out.chat_texts(bridge_wording())
    );
    let out = claims::within_deadline(now_ms() + 60_000, w.inbound(&wa, &m)).await;
    assert_eq!(out.transcript_text(), Some("hello there"));
}

/// The handlers run a current-thread runtime, on which a conversion that held the thread would stop
/// every task beside it, the claim's heartbeat among them, for as long as it decodes (seconds for a
/// long voice note). Converted off that thread, the task beside it keeps its turns.
#[tokio::test]
async fn a_conversion_leaves_the_runtime_thread_to_the_tasks_beside_it() {
    let mut w = World::new();
    w.settings.transcribe = None;
    let wa = w.wa(&[("335", "audio/ogg", VOICE), ("556", "image/webp", STICKER)], "");
    let turns = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let beside = tokio::spawn({
        let turns = turns.clone();
        async move {
            loop {
                turns.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        }
    });
    tokio::task::yield_now().await;
    for (kind, id, mime) in [
        (MediaKind::Audio, "335", "audio/ogg"),
        (MediaKind::Sticker, "556", "image/webp"),
    ] {
        let before = turns.load(Ordering::SeqCst);
        let out = w.inbound(&wa, &media(kind, id, mime)).await;
        assert!(matches!(out.delivery, Delivery::Attached(_)), "{out:?}");
        // Holding the thread, the conversion would leave the task only the few turns the service's
        // own awaits give it; beside a conversion off the thread, it runs all along.
        let during = turns.load(Ordering::SeqCst) - before;
        assert!(during > 100, "{id}: {during} turns beside the conversion");
    }
    beside.abort();
}

#[tokio::test]
async fn forwarded_audio_is_converted_but_not_transcribed() {
    let w = World::new();
    let wa = w.wa(&[("334", "audio/ogg", VOICE)], "");
    let out = w.inbound(&wa, &media(MediaKind::Audio, "334", "audio/ogg")).await;
    assert!(matches!(out.delivery, Delivery::Attached(_)));
    assert!(out.transcript.is_none());
}

#[tokio::test]
async fn too_large_is_not_downloaded_and_both_sides_are_told() {
    let mut w = World::new();
    w.settings.limits.max_bytes = 10;
    let wa = w.wa(&[("444", "application/pdf", b"%PDF-1.4 larger than ten bytes")], "");
    let mut m = media(MediaKind::Document, "444", "application/pdf");
    m.filename = Some("contract.pdf".into());
    let out = w.inbound(&wa, &m).await;
    assert!(matches!(out.delivery, Delivery::TooLarge { limit: 10, .. }));
    assert!(w.store.is_empty(), "nothing copied");
    assert!(out.agent_note.as_deref().unwrap().contains("contract.pdf"));
    assert!(out.customer_notice.is_some());
}

#[tokio::test]
async fn sticker_becomes_png() {
    let w = World::new();
    let wa = w.wa(&[("555", "image/webp", STICKER)], "");
    let out = w.inbound(&wa, &media(MediaKind::Sticker, "555", "image/webp")).await;
    let Delivery::Attached(f) = &out.delivery else {
        panic!("{out:?}")
    };
    assert_eq!(f.content_type, "image/png");
    assert!(w.chat.attached()[0].2.starts_with(b"\x89PNG"));
}

#[tokio::test]
async fn refused_upload_and_unknown_types_come_back_as_notes() {
    let w = World::new();
    let refused = |kind| Fault::Fail(PortError::new(kind, "StartAttachmentUpload", "ValidationException"));
    w.chat.faults().always("start_upload", refused(FailureKind::Rejected));
    let wa = w.wa(
        &[("666", "application/pdf", b"%PDF"), ("777", "application/zip", b"PK")],
        "",
    );
    let out = w
        .inbound(&wa, &media(MediaKind::Document, "666", "application/pdf"))
        .await;
    assert!(matches!(out.delivery, Delivery::UploadRefused { .. }));
    assert!(out.agent_note.unwrap().starts_with("[file: "));
    assert!(w.store.is_empty(), "the copy is deleted");
    let out = w
        .inbound(&wa, &media(MediaKind::Document, "777", "application/zip"))
        .await;
    assert!(matches!(out.delivery, Delivery::NotAccepted { .. }));
    assert!(out.agent_note.is_some() && out.customer_notice.is_some());
    // A transient failure is the caller's to retry.
    w.chat.faults().always("start_upload", refused(FailureKind::Transient));
    let service = MediaService {
        whatsapp: &wa,
        store: &w.store,
        attachments: &w.chat,
        transcriber: &w.ears,
        settings: &w.settings,
    };
    let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
    let m = media(MediaKind::Document, "666", "application/pdf");
    let r = service
        .deliver_inbound(InboundRequest {
            origination: &origination,
            token: &ConnectionToken::new("t"),
            media: &m,
            prefix: "p/",
            wamid: "w",
            wording: bridge_wording(),
            transcribe: None,
        })
        .await;
    assert!(r.unwrap_err().is_retryable());
}

async fn try_outbound(
    w: &World,
    wa: &FakeWhatsappMedia,
    id: &str,
    name: &str,
    ct: &str,
) -> PortResult<OutboundOutcome> {
    let service = MediaService {
        whatsapp: wa,
        store: &w.store,
        attachments: &w.chat,
        transcriber: &w.ears,
        settings: &w.settings,
    };
    let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
    service
        .deliver_outbound(OutboundRequest {
            token: &ConnectionToken::new("t"),
            origination: &origination,
            to: &CustomerId::parse("14255550150").unwrap(),
            attachment_id: id,
            name,
            content_type: ct,
            prefix: "outbound/c1/",
            wording: bridge_wording(),
        })
        .await
}

async fn outbound(w: &World, wa: &FakeWhatsappMedia, id: &str, name: &str, ct: &str) -> OutboundOutcome {
    try_outbound(w, wa, id, name, ct).await.unwrap()
}

#[tokio::test]
async fn agent_files_go_by_media_id() {
    let w = World::new();
    w.chat.add_file("a1", b"\x89PNGimage");
    w.chat.add_file("a2", b"%PDF-1.4");
    w.chat.add_file("a3", b"PK zip");
    let wa = w.wa(&[], "");
    let OutboundOutcome::Sent { message, .. } = outbound(&w, &wa, "a1", "map.png", "image/png").await else {
        panic!()
    };
    assert_eq!(message["type"], "image");
    assert_eq!(message["image"], json!({"id": "m1"}));
    assert_eq!(message["to"], "14255550150");
    let OutboundOutcome::Sent { message, .. } =
        outbound(&w, &wa, "a2", "guía de devolución.pdf", "application/pdf").await
    else {
        panic!()
    };
    assert_eq!(message["type"], "document");
    assert_eq!(message["document"]["filename"], "guía de devolución.pdf");
    let OutboundOutcome::Sent { message, .. } = outbound(&w, &wa, "a3", "files.zip", "application/zip").await else {
        panic!()
    };
    assert_eq!(message["type"], "document");
    assert_eq!(wa.sent().len(), 3);
    let up = wa.uploaded();
    assert!(up[0].0.starts_with("outbound/c1/a1/"));
    assert_eq!(up[1].1, "application/pdf");
    assert!(w.store.is_empty(), "deleted once WhatsApp has them");
    assert_eq!(w.store.put_chunks(), [3, 3, 3], "passed on as downloaded, not gathered");
}

#[tokio::test]
async fn a_file_that_runs_past_its_announced_length_is_not_passed_on() {
    struct Longer;
    impl Chunks for Longer {
        fn next_chunk(&mut self) -> crate::media::ports::BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
            Box::pin(std::future::ready(Some(Ok(vec![0; 1000]))))
        }
    }
    let mut body = FileStream::new(1500, Longer);
    assert_eq!(body.next_chunk().await.unwrap().unwrap().len(), 1000);
    let e = body.next_chunk().await.unwrap().unwrap_err();
    assert!(
        e.is_retryable() && e.detail.contains("past its announced 1500 bytes"),
        "{e}"
    );
    let short = FileStream::new(4, Pieces([b"abc".to_vec()].into()));
    let e = short.read_all().await.unwrap_err();
    assert!(e.detail.contains("ended after 3 of its 4 bytes"), "{e}");
}

#[tokio::test]
async fn an_agent_file_over_the_limit_is_not_fetched_and_both_sides_are_told() {
    let mut w = World::new();
    w.settings.limits.max_bytes = 10;
    w.chat.add_file("a9", b"%PDF-1.4 more than ten bytes");
    let wa = w.wa(&[], "");
    let out = outbound(&w, &wa, "a9", "manual.pdf", "application/pdf").await;
    let OutboundOutcome::TooLarge { limit, notice, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(limit, 10);
    let notes = w.chat.texts();
    assert_eq!(notes.len(), 1, "one note: {notes:?}");
    assert!(
        notes[0].0.contains("manual.pdf") && notes[0].0.contains("not sent"),
        "{notes:?}"
    );
    assert!(wa.uploaded().is_empty() && w.store.is_empty());
    let sent = wa.sent();
    assert_eq!(sent.len(), 1, "one notice: {sent:?}");
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(sent[0]["to"], "14255550150");
    assert_eq!(sent[0]["text"]["body"], notice.as_str());
    assert!(notice.contains("too large"), "{notice}");
}

/// The agent's note goes with a client token (Connect sends it once, however often it is asked);
/// the customer's notice has none. So the note goes first, and a note that failed fails the call
/// before the customer is told: the retry tells the customer once.
#[tokio::test]
async fn a_failed_note_about_a_file_too_large_leaves_the_customer_untold_until_the_retry() {
    let mut w = World::new();
    w.settings.limits.max_bytes = 10;
    w.chat.add_file("a9", b"%PDF-1.4 more than ten bytes");
    w.chat.faults().always("send_text", Fault::throttled("SendMessage"));
    let wa = w.wa(&[], "");
    let failed = try_outbound(&w, &wa, "a9", "manual.pdf", "application/pdf").await;
    assert!(failed.unwrap_err().is_retryable());
    assert!(wa.sent().is_empty(), "the customer is not told yet");
    w.chat.faults().clear("send_text");
    let out = outbound(&w, &wa, "a9", "manual.pdf", "application/pdf").await;
    assert!(matches!(out, OutboundOutcome::TooLarge { .. }), "{out:?}");
    assert_eq!(wa.sent().len(), 1, "told once");
    assert_eq!(w.chat.texts().len(), 1);
}

#[test]
fn settings_from_env() {
    let s = MediaSettings::from_lookup(|k| match k {
        "MEDIA_BUCKET_NAME" => Some("b".into()),
        "TRANSCRIBE_LANGUAGE_OPTIONS" => Some("en-US, es-US".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        s.transcribe,
        Some(TranscribeLanguage::Identify(vec!["en-US".into(), "es-US".into()]))
    );
    let s = MediaSettings::from_lookup(|k| match k {
        "MEDIA_BUCKET_NAME" => Some("b".into()),
        "TRANSCRIBE_LANGUAGE" => Some("es-ES".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(s.transcribe, Some(TranscribeLanguage::Fixed("es-ES".into())));
    assert_eq!((s.stream_speed, s.echo_transcript), (1.0, true));
    let s = MediaSettings::from_lookup(|k| match k {
        "MEDIA_BUCKET_NAME" => Some("b".into()),
        "TRANSCRIBE_VOICE_NOTES" => Some("false".into()),
        "TRANSCRIBE_STREAM_SPEED" => Some("4".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!((s.transcribe, s.stream_speed), (None, 4.0));
    assert!(
        MediaSettings::from_lookup(|k| match k {
            "MEDIA_BUCKET_NAME" => Some("b".into()),
            "TRANSCRIBE_STREAM_SPEED" => Some("0".into()),
            _ => None,
        })
        .is_err()
    );
    assert!(MediaSettings::from_lookup(|_| None).is_err());
}
