//! The outside world as the media service needs it: EUM's media API, the media bucket, the Connect
//! Participant attachment API and Transcribe streaming. The AWS adapters are in `crate::aws`
//! (`media_store`, `attachments`, `transcribe`); the service's tests use in-memory fakes.

use crate::ids::{ConnectionToken, OriginationId};
use crate::ports::PortResult;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

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

    /// `SendWhatsAppMessage` with a complete Meta message body; returns the message id.
    fn send_body(&self, from: &OriginationId, body: &Value) -> impl Future<Output = PortResult<String>> + Send;
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

/// An object read from the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The media bucket (S3).
pub trait ObjectStore: Send + Sync {
    fn put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// `Ok(None)` when there is no such object; [`Capped::Over`] when it is larger than `max_bytes`.
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

/// A file to attach to the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
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
    /// The HTTP PUT of the bytes with exactly the ticket's headers.
    fn put_bytes(&self, ticket: &UploadTicket, bytes: Vec<u8>) -> impl Future<Output = PortResult<()>> + Send;
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
    /// `GetAttachment` and the download of its URL, refused beyond `max_bytes`.
    fn download(
        &self,
        token: &ConnectionToken,
        attachment_id: &str,
        max_bytes: u64,
    ) -> impl Future<Output = PortResult<Capped<Vec<u8>>>> + Send;
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
