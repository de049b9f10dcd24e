//! The contract of the media service's ports: `WhatsappMedia`, `ObjectStore`, `ChatAttachments` and
//! `Transcriber`.
//!
//! Each case is a function generic over the ports of a [`Backend`], run once on the in-memory fakes
//! (`bridge::fakes::FakeWhatsappMedia`, `FakeObjectStore`, `FakeAttachments`, `FakeTranscriber`) and
//! once on the AWS adapters (`EumMedia`, `S3Store`, `ParticipantAttachments`, `TranscribeStreaming`)
//! against the local twin and moto: the twin is the truth, so a case that passes there and fails on a
//! fake shows a bug in the fake. What the ports take from outside (a customer's file, what Transcribe
//! hears) or do not answer (the notes in the chat) each backend handles through [`Observe`], the fakes
//! with their accessors and the twin with its control API. The cases: a customer's media is
//! described, and copied into the bucket named as EUM names it; objects are put, read (within a size
//! limit), listed and deleted; a file uploaded to the chat by its ticket is downloaded as sent and
//! linked once completed, and an upload that breaks its ticket is refused; a note goes into the chat once per client token; a voice
//! note is heard as scripted, silence before. The twin's half is skipped (with a note) without `.venv`.

use bridge::aws::{EumMedia, ParticipantAttachments, S3Store, TranscribeStreaming};
use bridge::fakes::{FakeAttachments, FakeObjectStore, FakeTranscriber, FakeWhatsappMedia};
use bridge::ids::ConnectionToken;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use twin::{Adapters, control, customer_sends, open_chat, sha};

#[path = "media_ports/cases.rs"]
mod cases;
// Each test file uses part of it.
#[allow(dead_code, unused_macros)]
#[macro_use]
mod twin;

/// One backend's ports, the customer's connection to a chat there, and what it shows beyond them.
struct Backend<W, S, A, T, O> {
    whatsapp: W,
    store: S,
    attachments: A,
    transcriber: T,
    token: ConnectionToken,
    seen: O,
}

/// What the ports take from outside, and what they do not answer.
trait Observe {
    /// The customer sends a file on WhatsApp; its media id.
    async fn customer_sends(&self, mime: &str, bytes: &[u8]) -> String;
    /// What Transcribe hears in `audio` from now on.
    async fn hears(&self, audio: &[u8], text: &str);
    /// The texts in the chat of the backend's connection, oldest first.
    async fn notes(&self) -> Vec<String>;
}

struct Fakes {
    whatsapp: FakeWhatsappMedia,
    attachments: FakeAttachments,
    transcriber: FakeTranscriber,
    /// Files the customer sent so far.
    files: AtomicUsize,
}

impl Fakes {
    fn backend() -> Backend<FakeWhatsappMedia, FakeObjectStore, FakeAttachments, FakeTranscriber, Fakes> {
        let store = FakeObjectStore::default();
        let seen = Fakes {
            whatsapp: FakeWhatsappMedia::new(&store, &[]),
            attachments: FakeAttachments::default(),
            transcriber: FakeTranscriber::default(),
            files: AtomicUsize::new(0),
        };
        Backend {
            whatsapp: seen.whatsapp.clone(),
            store,
            attachments: seen.attachments.clone(),
            transcriber: seen.transcriber.clone(),
            token: ConnectionToken::new("connection"),
            seen,
        }
    }
}

impl Observe for Fakes {
    async fn customer_sends(&self, mime: &str, bytes: &[u8]) -> String {
        let media_id = (1_000 + self.files.fetch_add(1, Ordering::Relaxed)).to_string();
        self.whatsapp.add_file(&media_id, mime, bytes);
        media_id
    }

    async fn hears(&self, _audio: &[u8], text: &str) {
        self.transcriber.now_hearing(text);
    }

    async fn notes(&self) -> Vec<String> {
        self.attachments.texts().into_iter().map(|(text, _)| text).collect()
    }
}

/// A twin and moto of the case's own (no handlers), with a chat open.
struct OnTwin {
    stack: local_aws::Stack,
    contact_id: String,
}

impl OnTwin {
    /// `None` where moto is missing.
    async fn backend() -> Option<Backend<EumMedia, S3Store, ParticipantAttachments, TranscribeStreaming, OnTwin>> {
        let stack = twin::stack().await?;
        let a = Adapters::new(&stack.url(), stack.moto_url().unwrap());
        let (contact_id, token) = open_chat(stack.twin()).await;
        Some(Backend {
            whatsapp: a.eum,
            store: a.s3,
            attachments: a.attachments,
            transcriber: a.transcribe,
            token,
            seen: OnTwin { stack, contact_id },
        })
    }
}

impl Observe for OnTwin {
    async fn customer_sends(&self, mime: &str, bytes: &[u8]) -> String {
        let kind = match mime.split('/').next() {
            Some("image") => "image",
            Some("audio") => "audio",
            _ => "document",
        };
        let object = json!({"data": twin::b64(bytes), "mime_type": mime});
        customer_sends(&self.stack.url(), kind, object).await.id
    }

    async fn hears(&self, audio: &[u8], text: &str) {
        let script = json!({"sha256": sha(audio), "text": text, "language_code": "en-US"});
        control(&self.stack.url(), reqwest::Method::POST, "/transcripts", Some(script)).await;
    }

    async fn notes(&self) -> Vec<String> {
        let transcript = twin::transcript(&self.stack.url(), &self.contact_id).await;
        let notes = transcript
            .iter()
            .filter(|item| item["role"] == "CUSTOMER" && item["type"] == "MESSAGE");
        notes.map(|item| item["content"].as_str().unwrap().to_owned()).collect()
    }
}

contract!(
    fake: super::Fakes::backend(),
    twin: super::OnTwin::backend().await,
    cases: a_customers_media_is_described_and_copied_where_eum_puts_it,
    objects_are_put_read_within_a_limit_listed_and_deleted,
    a_file_uploaded_by_its_ticket_is_downloaded_as_sent,
    an_upload_that_breaks_its_ticket_is_refused,
    a_note_goes_into_the_chat_once_per_client_token,
    a_voice_note_is_heard_as_scripted_and_silence_before,
);
