//! The outside world as the media service needs it: EUM's media API, the media bucket, the Connect
//! Participant attachment API and Transcribe streaming. The AWS adapters are in `crate::aws`
//! (`media_store`, `attachments`, `transcribe`); the service's tests use in-memory fakes.

use crate::error::{FailureKind, PortError};
use crate::ids::{ConnectionToken, OriginationId};
use crate::ports::PortResult;
use crate::whatsapp::outgoing::OutgoingMessage;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, for traits that must stay object-safe (a file's chunks, the media handler).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Type and size of a WhatsApp media object, as EUM reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    pub mime_type: String,
    pub size: u64,
}

/// AWS End User Messaging Social's media operations (and sending a ready Meta message body).
pub trait WhatsappMedia: Send + Sync {
    /// `GetWhatsAppMessageMedia` with `metadataOnly`: nothing is copied.
    fn media_info(&self, from: &OriginationId, media_id: &str) -> impl Future<Output = PortResult<MediaInfo>> + Send;

    /// `GetWhatsAppMessageMedia` into `bucket`, with `prefix` as the destination key (EUM appends
    /// to it; where exactly is what [`ObjectStore::list`] finds out).
    fn copy_to_bucket(
        &self,
        from: &OriginationId,
        media_id: &str,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = PortResult<MediaInfo>> + Send;

    /// `PostWhatsAppMessageMedia` from an object in the bucket; returns the new media id.
    fn upload_from_bucket(
        &self,
        from: &OriginationId,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = PortResult<String>> + Send;

    /// `SendWhatsAppMessage` with a message to the customer; returns the message id.
    fn send_body(
        &self,
        from: &OriginationId,
        body: &OutgoingMessage,
    ) -> impl Future<Output = PortResult<String>> + Send;
}

/// A body read no further than a size limit: files larger than the bridge takes are refused from
/// their announced size, or as soon as their bytes pass the limit, never buffered whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capped<T> {
    Within(T),
    /// Over the limit: the announced size, or the bytes counted when the read stopped.
    Over {
        size: u64,
    },
}

/// The bytes of a [`FileStream`], a chunk at a time.
pub trait Chunks: Send {
    /// The next chunk; `None` after the last.
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>>;
}

/// A file passed on as it arrives, so a handler holds a chunk of it at a time, never the whole
/// file. Its length is known before the first byte (the sender's Content-Length, already checked
/// against the limit), and it is held to it: a source that runs on past it, or ends short of it,
/// fails instead of passing on a file other than the one announced.
pub struct FileStream {
    len: u64,
    read: u64,
    chunks: Box<dyn Chunks>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A file already in memory: one chunk.
struct InMemory(Option<Vec<u8>>);

impl Chunks for InMemory {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
        Box::pin(std::future::ready(self.0.take().map(Ok)))
    }
}

impl From<Vec<u8>> for FileStream {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes.len() as u64, InMemory(Some(bytes)))
    }
}

impl FileStream {
    /// `len` bytes from `chunks`.
    pub fn new(len: u64, chunks: impl Chunks + 'static) -> Self {
        Self {
            len,
            read: 0,
            chunks: Box::new(chunks),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next chunk; `None` after the last. An error when the source gives more or fewer bytes
    /// than announced.
    pub async fn next_chunk(&mut self) -> Option<PortResult<Vec<u8>>> {
        let short = |read: u64, len: u64| {
            PortError::new(
                FailureKind::Transient,
                "MediaTransfer",
                format!("the file ended after {read} of its {len} bytes"),
            )
        };
        match self.chunks.next_chunk().await {
            Some(Ok(chunk)) => {
                self.read += chunk.len() as u64;
                if self.read > self.len {
                    return Some(Err(PortError::new(
                        FailureKind::Transient,
                        "MediaTransfer",
                        format!("the file runs on past its announced {} bytes", self.len),
                    )));
                }
                Some(Ok(chunk))
            }
            Some(Err(e)) => Some(Err(e)),
            None if self.read < self.len => Some(Err(short(self.read, self.len))),
            None => None,
        }
    }

    /// The whole file, for what must see all of it (a conversion): only for files whose length
    /// is known to be small.
    pub async fn read_all(mut self) -> PortResult<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        while let Some(chunk) = self.next_chunk().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }
}

/// An object read from the bucket.
#[derive(Debug)]
pub struct StoredObject {
    pub content_type: Option<String>,
    pub body: FileStream,
}

/// The media bucket (S3).
pub trait ObjectStore: Send + Sync {
    fn put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        body: FileStream,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// `Ok(None)` when there is no such object; [`Capped::Over`] when it is larger than `max_bytes`,
    /// before its first byte is read.
    fn get(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> impl Future<Output = PortResult<Option<Capped<StoredObject>>>> + Send;
    /// Removes an object (no error when there is none).
    fn delete(&self, bucket: &str, key: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Keys under `prefix`.
    fn list(&self, bucket: &str, prefix: &str) -> impl Future<Output = PortResult<Vec<String>>> + Send;
}

/// Where and how to PUT an attachment's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    pub attachment_id: String,
    pub url: String,
    /// Exactly these headers must accompany the PUT.
    pub headers: BTreeMap<String, String>,
}

/// A presigned URL of a file in the chat.
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentLink {
    pub url: String,
    /// RFC 3339, as Connect gives it.
    pub expires_at: String,
    pub size: u64,
}

impl std::fmt::Debug for AttachmentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is a bearer credential to the file.
        f.debug_struct("AttachmentLink")
            .field("expires_at", &self.expires_at)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Files the bridge fetches from URLs it is given (the Handoff API's `file.url`).
pub trait WebFiles: Send + Sync {
    /// The file at `url`, refused beyond `max_bytes` before more than that is read. A URL the
    /// server refuses is a `Rejected` failure, one it fails to answer `Transient`.
    fn fetch(&self, url: &str, max_bytes: u64) -> impl Future<Output = PortResult<Capped<FileStream>>> + Send;
}

/// A file to attach to the chat.
#[derive(Debug)]
pub struct NewAttachment {
    pub name: String,
    pub content_type: String,
    pub body: FileStream,
}

/// The Connect Participant attachment API, as the customer.
pub trait ChatAttachments: Send + Sync {
    fn start_upload(
        &self,
        token: &ConnectionToken,
        name: &str,
        content_type: &str,
        size: u64,
        client_token: &str,
    ) -> impl Future<Output = PortResult<UploadTicket>> + Send;
    /// The HTTP PUT of the file with exactly the ticket's headers.
    fn put_file(&self, ticket: &UploadTicket, body: FileStream) -> impl Future<Output = PortResult<()>> + Send;
    fn complete(
        &self,
        token: &ConnectionToken,
        attachment_id: &str,
        client_token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// A text message in the chat as the customer participant (notes about files for the agent).
    fn send_text(
        &self,
        token: &ConnectionToken,
        text: &str,
        client_token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// `GetAttachment` alone: where the file can be downloaded until the link expires (for a bot
    /// that downloads it itself).
    fn link(
        &self,
        token: &ConnectionToken,
        attachment_id: &str,
    ) -> impl Future<Output = PortResult<AttachmentLink>> + Send;
    /// `GetAttachment` and the download of its URL, refused beyond `max_bytes` before its first
    /// byte is read.
    fn download(
        &self,
        token: &ConnectionToken,
        attachment_id: &str,
        max_bytes: u64,
    ) -> impl Future<Output = PortResult<Capped<FileStream>>> + Send;
}

/// Which language Transcribe listens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscribeLanguage {
    /// One language code (`TRANSCRIBE_LANGUAGE`).
    Fixed(String),
    /// Automatic identification among these (`TRANSCRIBE_LANGUAGE_OPTIONS`, comma-separated).
    Identify(Vec<String>),
}

/// Amazon Transcribe streaming.
pub trait Transcriber: Send + Sync {
    /// Transcribes an Ogg/Opus recording; the final results' text, joined (empty when nothing was heard).
    fn transcribe_ogg_opus(
        &self,
        audio: &[u8],
        language: &TranscribeLanguage,
    ) -> impl Future<Output = PortResult<String>> + Send;
}
