//! EUM's media operations in memory: the customers' files by media id, copied into a
//! [`FakeObjectStore`] the way EUM names them, and the message bodies sent with media ids.

use super::{FakeObjectStore, Faults};
use crate::error::{FailureKind, PortError};
use crate::ids::OriginationId;
use crate::media::policy::extension;
use crate::media::ports::{Capped, MediaInfo, ObjectStore, WhatsappMedia};
use crate::ports::PortResult;
use crate::whatsapp::outgoing::OutgoingMessage;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The customers' files: media id → (MIME type, bytes).
type Files = HashMap<String, (String, Vec<u8>)>;

/// EUM's media API; clones share the customers' files and what was uploaded and sent.
#[derive(Clone)]
pub struct FakeWhatsappMedia {
    files: Arc<Mutex<Files>>,
    bucket: FakeObjectStore,
    /// What EUM appends to the destination key after the media id; `None`: as EUM does, the usual
    /// extension of the file's type (`<prefix><id>.jpg`).
    suffix: Option<&'static str>,
    /// The metadata says 0 bytes, whatever the file holds.
    understate: bool,
    /// (key, content type) of each upload from the bucket.
    uploaded: Arc<Mutex<Vec<(String, String)>>>,
    sent: Arc<Mutex<Vec<Value>>>,
    faults: Arc<Faults>,
}

impl FakeWhatsappMedia {
    /// The customers' `files` (media id, MIME type, bytes), copied into `bucket` on request.
    pub fn new(bucket: &FakeObjectStore, files: &[(&str, &str, &[u8])]) -> Self {
        Self {
            files: Arc::new(Mutex::new(
                files
                    .iter()
                    .map(|(id, mime, bytes)| ((*id).to_owned(), ((*mime).to_owned(), bytes.to_vec())))
                    .collect(),
            )),
            bucket: bucket.clone(),
            suffix: None,
            understate: false,
            uploaded: Arc::default(),
            sent: Arc::default(),
            faults: Arc::default(),
        }
    }

    /// A customer's file, sent after the fake was made.
    pub fn add_file(&self, media_id: &str, mime: &str, bytes: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(media_id.to_owned(), (mime.to_owned(), bytes.to_vec()));
    }

    /// Copies are named `<prefix><id><suffix>` instead of as EUM names them.
    pub fn naming_copies(mut self, suffix: &'static str) -> Self {
        self.suffix = Some(suffix);
        self
    }

    /// The metadata reports every file as empty.
    pub fn understating_sizes(mut self) -> Self {
        self.understate = true;
        self
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// (key, content type) of each file uploaded from the bucket, oldest first.
    pub fn uploaded(&self) -> Vec<(String, String)> {
        self.uploaded.lock().unwrap().clone()
    }

    /// The message bodies sent, oldest first.
    pub fn sent(&self) -> Vec<Value> {
        self.sent.lock().unwrap().clone()
    }
}

impl WhatsappMedia for FakeWhatsappMedia {
    async fn media_info(&self, _from: &OriginationId, media_id: &str) -> PortResult<MediaInfo> {
        let answer = self.faults.enter("media_info").await?;
        let info = self
            .files
            .lock()
            .unwrap()
            .get(media_id)
            .map(|(mime, bytes)| MediaInfo {
                mime_type: mime.clone(),
                size: if self.understate { 0 } else { bytes.len() as u64 },
            })
            .ok_or_else(|| PortError::new(FailureKind::Rejected, "GetWhatsAppMessageMedia", "ResourceNotFound"));
        answer.give(info)
    }

    async fn copy_to_bucket(
        &self,
        from: &OriginationId,
        media_id: &str,
        bucket: &str,
        prefix: &str,
    ) -> PortResult<MediaInfo> {
        let info = self.media_info(from, media_id).await?;
        let (mime, bytes) = self.files.lock().unwrap()[media_id].clone();
        let suffix = match self.suffix {
            Some(suffix) => suffix.to_owned(),
            None => extension(&mime).map(|e| format!(".{e}")).unwrap_or_default(),
        };
        let key = format!("{prefix}{media_id}{suffix}");
        self.bucket.put(bucket, &key, &mime, bytes.into()).await?;
        Ok(info)
    }

    async fn upload_from_bucket(&self, _from: &OriginationId, bucket: &str, key: &str) -> PortResult<String> {
        let answer = self.faults.enter("upload_from_bucket").await?;
        let Some(Capped::Within(object)) = self.bucket.get(bucket, key, u64::MAX).await? else {
            return Err(PortError::new(
                FailureKind::Rejected,
                "PostWhatsAppMessageMedia",
                "NoSuchKey",
            ));
        };
        let mut uploaded = self.uploaded.lock().unwrap();
        uploaded.push((key.to_owned(), object.content_type.unwrap_or_default()));
        answer.give(Ok(format!("m{}", uploaded.len())))
    }

    async fn send_body(&self, _from: &OriginationId, body: &OutgoingMessage) -> PortResult<String> {
        let answer = self.faults.enter("send_body").await?;
        let mut sent = self.sent.lock().unwrap();
        // As EUM would receive it.
        sent.push(serde_json::to_value(body).unwrap_or_default());
        answer.give(Ok(format!("wamid.media-{}", sent.len())))
    }
}
