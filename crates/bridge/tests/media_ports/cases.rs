//! The cases of the media ports' contract (see `tests/media_ports.rs`), each generic over the
//! [`Backend`] and given a fresh one.

use super::twin::{BUCKET, ORIGINATION, VOICE};
use super::{Backend, Observe};
use bridge::error::FailureKind;
use bridge::ids::OriginationId;
use bridge::media::ports::{
    Capped, ChatAttachments, FileStream, MediaInfo, ObjectStore, TranscribeLanguage, Transcriber, UploadTicket,
    WhatsappMedia,
};
use bridge::ports::PortResult;

type Media<'a, W, S, A, T, O> = &'a Backend<W, S, A, T, O>;

const PDF: &[u8] = b"%PDF-1.4 return label";

fn from() -> OriginationId {
    OriginationId::parse(ORIGINATION).unwrap()
}

/// `result` is a refusal that retrying cannot help.
fn rejected<T: std::fmt::Debug>(result: PortResult<T>, what: &str) {
    assert_eq!(result.map_err(|e| e.kind).unwrap_err(), FailureKind::Rejected, "{what}");
}

/// An object's content type and bytes, read within `max_bytes`; `None` when there is none.
async fn read(store: &impl ObjectStore, key: &str, max_bytes: u64) -> Option<Capped<(Option<String>, Vec<u8>)>> {
    Some(match store.get(BUCKET, key, max_bytes).await.unwrap()? {
        Capped::Within(object) => Capped::Within((object.content_type, object.body.read_all().await.unwrap())),
        Capped::Over { size } => Capped::Over { size },
    })
}

pub async fn a_customers_media_is_described_and_copied_where_eum_puts_it(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    let jpeg: &[u8] = b"\xFF\xD8\xFF\xE0 photo bytes";
    for (mime, bytes, extension) in [
        ("image/jpeg", jpeg, ".jpg"),
        ("audio/ogg; codecs=opus", VOICE, ".ogg"),
        ("application/pdf", PDF, ".pdf"),
    ] {
        let media_id = b.seen.customer_sends(mime, bytes).await;
        let info = b.whatsapp.media_info(&from(), &media_id).await.unwrap();
        let expected = MediaInfo {
            mime_type: mime.to_owned(),
            size: bytes.len() as u64,
        };
        assert_eq!(info, expected);
        let prefix = format!("inbound/106540352242922/14255550150/wamid.{media_id}/");
        let copied = b
            .whatsapp
            .copy_to_bucket(&from(), &media_id, BUCKET, &prefix)
            .await
            .unwrap();
        assert_eq!(copied, expected);
        let keys = b.store.list(BUCKET, &prefix).await.unwrap();
        let key = format!("{prefix}{media_id}{extension}");
        assert_eq!(
            keys,
            std::slice::from_ref(&key),
            "the prefix, the media id and its type's extension"
        );
        let Some(Capped::Within((content_type, copy))) = read(&b.store, &key, 1 << 20).await else {
            panic!("{key} not found")
        };
        assert_eq!((content_type.as_deref(), copy.as_slice()), (Some(mime), bytes));
    }
    let unknown = b.whatsapp.media_info(&from(), "999999999").await;
    rejected(unknown, "media WhatsApp does not have");
}

pub async fn objects_are_put_read_within_a_limit_listed_and_deleted(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    for (key, content_type, bytes) in [
        ("outbound/contact-1/label.pdf", "application/pdf", PDF),
        ("outbound/contact-1/note.txt", "text/plain", b"hello".as_slice()),
        ("outbound/contact-2/label.pdf", "application/pdf", PDF),
    ] {
        b.store
            .put(BUCKET, key, content_type, FileStream::from(bytes.to_vec()))
            .await
            .unwrap();
    }
    assert_eq!(
        b.store.list(BUCKET, "outbound/contact-1/").await.unwrap(),
        ["outbound/contact-1/label.pdf", "outbound/contact-1/note.txt"]
    );
    assert_eq!(
        read(&b.store, "outbound/contact-1/label.pdf", PDF.len() as u64).await,
        Some(Capped::Within((Some("application/pdf".to_owned()), PDF.to_vec())))
    );
    assert_eq!(
        read(&b.store, "outbound/contact-1/label.pdf", 10).await,
        Some(Capped::Over { size: PDF.len() as u64 }),
        "refused from its size"
    );
    assert_eq!(read(&b.store, "outbound/contact-1/missing.pdf", 1 << 20).await, None);

    b.store.delete(BUCKET, "outbound/contact-1/label.pdf").await.unwrap();
    b.store
        .delete(BUCKET, "outbound/contact-1/label.pdf")
        .await
        .expect("deleting what is not there is no error");
    assert_eq!(read(&b.store, "outbound/contact-1/label.pdf", 1 << 20).await, None);
    assert_eq!(
        b.store.list(BUCKET, "outbound/contact-1/").await.unwrap(),
        ["outbound/contact-1/note.txt"]
    );
}

/// An upload started for `bytes`, its ticket.
async fn ticket(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> UploadTicket {
    let client_token = format!("upload-{name}");
    b.attachments
        .start_upload(&b.token, name, content_type, bytes.len() as u64, &client_token)
        .await
        .unwrap()
}

/// The attachment's bytes, downloaded within `max_bytes`.
async fn download(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
    attachment_id: &str,
    max_bytes: u64,
) -> Capped<Vec<u8>> {
    match b
        .attachments
        .download(&b.token, attachment_id, max_bytes)
        .await
        .unwrap()
    {
        Capped::Within(body) => Capped::Within(body.read_all().await.unwrap()),
        Capped::Over { size } => Capped::Over { size },
    }
}

pub async fn a_file_uploaded_by_its_ticket_is_downloaded_as_sent(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    let png: &[u8] = b"\x89PNG photo";
    let mut attached = Vec::new();
    for (name, content_type, bytes) in [("label.pdf", "application/pdf", PDF), ("photo.png", "image/png", png)] {
        let ticket = ticket(b, name, content_type, bytes).await;
        b.attachments
            .put_file(&ticket, FileStream::from(bytes.to_vec()))
            .await
            .unwrap();
        let client_token = format!("complete-{name}");
        b.attachments
            .complete(&b.token, &ticket.attachment_id, &client_token)
            .await
            .unwrap();
        attached.push((ticket.attachment_id, bytes));
    }
    assert_ne!(attached[0].0, attached[1].0, "each upload is its own attachment");
    for (attachment_id, bytes) in &attached {
        let limit = bytes.len() as u64;
        assert_eq!(download(b, attachment_id, limit).await, Capped::Within(bytes.to_vec()));
        assert_eq!(
            download(b, attachment_id, limit - 1).await,
            Capped::Over { size: limit },
            "refused from its size"
        );
    }
    let unknown = b.attachments.download(&b.token, "no-such-attachment", 1 << 20).await;
    rejected(unknown, "an attachment the chat does not have, not a chat that is gone");
    for (attachment_id, bytes) in &attached {
        let link = b.attachments.link(&b.token, attachment_id).await.unwrap();
        assert_eq!(link.size, bytes.len() as u64);
        assert!(link.url.starts_with("http") && !link.expires_at.is_empty(), "{link:?}");
    }
    let pending = ticket(b, "pending.pdf", "application/pdf", PDF).await;
    let not_completed = b.attachments.link(&b.token, &pending.attachment_id).await;
    rejected(not_completed, "an upload not completed has no link yet");
    rejected(
        b.attachments.link(&b.token, "no-such-attachment").await,
        "no link to a file the chat does not have",
    );
}

pub async fn an_upload_that_breaks_its_ticket_is_refused(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    let longer = [PDF, b" and more"].concat();
    let sized = ticket(b, "sized.pdf", "application/pdf", PDF).await;
    let mut retyped = ticket(b, "typed.pdf", "application/pdf", PDF).await;
    retyped.headers.insert("Content-Type".into(), "image/png".into());
    for (ticket, body, what) in [
        (&sized, longer, "another size"),
        (&retyped, PDF.to_vec(), "another type"),
    ] {
        let refused = b
            .attachments
            .put_file(ticket, FileStream::from(body))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.kind, refused.operation),
            (FailureKind::Rejected, "AttachmentUpload"),
            "{what}: {refused}"
        );
        let completed = b
            .attachments
            .complete(&b.token, &ticket.attachment_id, "complete")
            .await;
        rejected(completed, &format!("{what}: nothing was uploaded to complete"));
    }
}

pub async fn a_note_goes_into_the_chat_once_per_client_token(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    for (text, client_token) in [
        ("A photo follows", "n1"),
        ("A photo follows", "n1"),
        ("Too large", "n2"),
    ] {
        b.attachments.send_text(&b.token, text, client_token).await.unwrap();
    }
    assert_eq!(b.seen.notes().await, ["A photo follows", "Too large"]);
}

pub async fn a_voice_note_is_heard_as_scripted_and_silence_before(
    b: Media<'_, impl WhatsappMedia, impl ObjectStore, impl ChatAttachments, impl Transcriber, impl Observe>,
) {
    let language = TranscribeLanguage::Identify(vec!["en-US".into(), "es-US".into()]);
    let heard = b.transcriber.transcribe_ogg_opus(VOICE, &language).await.unwrap();
    assert_eq!(heard, "", "nothing scripted: silence");
    let said = "Hello, I would like to check the status of my order, please.";
    b.seen.hears(VOICE, said).await;
    let heard = b.transcriber.transcribe_ogg_opus(VOICE, &language).await.unwrap();
    assert_eq!(heard, said);
}
