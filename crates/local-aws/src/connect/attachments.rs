//! Connect Participant attachments: StartAttachmentUpload → HTTP PUT to the upload URL (served by
//! the twin itself) → CompleteAttachmentUpload, and GetAttachment → HTTP GET of the download URL.
//!
//! The upload URL accepts the PUT only with exactly the headers `HeadersToInclude` named, carrying
//! exactly the declared number of bytes (403 otherwise, as S3 answers a presigned URL used
//! wrongly). Completing an upload adds a CUSTOMER (or AGENT) `ATTACHMENT` item with status
//! `APPROVED`, which streams like any other item.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{AgentAction, AgentError, ConnectSim, ItemType, Participant, TranscriptItem, Visibility, new_id};
use crate::error::ApiError;
use crate::time::iso_millis;

/// Connect chat's default per-file limit (an instance may configure up to 100 MB).
pub const MAX_ATTACHMENT_BYTES: u64 = 20_000_000;
/// How long an upload URL stays valid.
const UPLOAD_URL_TTL_MS: u64 = 5 * 60 * 1000;

/// What Connect chat accepts by default (Amazon Connect Administrator Guide, "Enable attachments").
pub const ACCEPTED_TYPES: &[&str] = &[
    "text/csv",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "image/jpeg",
    "application/pdf",
    "image/png",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "audio/wav",
    "audio/x-wav",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "video/mp4",
    "video/quicktime",
    "image/heic",
    "application/rtf",
];

/// One file of an `ATTACHMENT` transcript item.
#[derive(Debug, Clone)]
pub struct ItemAttachment {
    pub attachment_id: String,
    pub name: String,
    pub content_type: String,
    pub status: String,
    pub size: u64,
    pub sha256: String,
}

impl ItemAttachment {
    /// The shape Connect streams and GetTranscript returns.
    pub fn stream_json(&self) -> Value {
        json!({
            "ContentType": self.content_type,
            "AttachmentId": self.attachment_id,
            "AttachmentName": self.name,
            "Status": self.status,
        })
    }

    /// The shape `GET /_twin/contacts` shows.
    pub fn twin_json(&self) -> Value {
        json!({
            "attachment_id": self.attachment_id,
            "name": self.name,
            "content_type": self.content_type,
            "status": self.status,
            "size": self.size,
            "sha256": self.sha256,
        })
    }
}

/// An attachment from StartAttachmentUpload (or the agent) on.
#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    pub attachment_id: String,
    pub contact_id: String,
    pub participant_id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub headers: BTreeMap<String, String>,
    pub upload_expires_ms: u64,
    pub data: Option<Vec<u8>>,
    pub completed: bool,
    pub client_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartAttachmentUploadRequest {
    pub content_type: Option<String>,
    pub attachment_size_in_bytes: Option<i64>,
    pub attachment_name: Option<String>,
    pub client_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteAttachmentUploadRequest {
    pub attachment_ids: Option<Vec<String>>,
    pub client_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAttachmentRequest {
    pub attachment_id: Option<String>,
    pub url_expiry_in_seconds: Option<i64>,
    pub url_content_disposition: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Why an upload PUT was refused (the status S3 would give).
#[derive(Debug)]
pub struct UploadRefused {
    pub status: u16,
    pub message: String,
}

fn refused(status: u16, message: impl Into<String>) -> UploadRefused {
    UploadRefused {
        status,
        message: message.into(),
    }
}

impl ConnectSim {
    pub fn attachment(&self, id: &str) -> Option<&AttachmentRecord> {
        self.attachments.get(id)
    }

    pub fn start_attachment_upload(
        &mut self,
        connection_token: Option<&str>,
        req: StartAttachmentUploadRequest,
        base_url: &str,
        now: u64,
    ) -> Result<Value, ApiError> {
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        let ct = req
            .content_type
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::validation("ContentType is required"))?;
        let name = req
            .attachment_name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::validation("AttachmentName is required"))?;
        let size = req
            .attachment_size_in_bytes
            .ok_or_else(|| ApiError::validation("AttachmentSizeInBytes is required"))?;
        let token = req
            .client_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::validation("ClientToken is required"))?;
        if name.len() > 256 {
            return Err(ApiError::validation("AttachmentName must be at most 256 characters"));
        }
        if size < 1 {
            return Err(ApiError::validation("AttachmentSizeInBytes must be at least 1"));
        }
        if !ACCEPTED_TYPES.contains(&ct.as_str()) {
            return Err(ApiError::validation(format!(
                "ContentType {ct} is not a supported attachment type"
            )));
        }
        if size as u64 > MAX_ATTACHMENT_BYTES {
            return Err(ApiError::new(
                "ServiceQuotaExceededException",
                format!("Attachment size {size} exceeds the limit of {MAX_ATTACHMENT_BYTES} bytes"),
            ));
        }
        // A repeated client token returns the same upload.
        if let Some(existing) = self
            .attachments
            .values()
            .find(|a| a.contact_id == contact_id && a.client_token.as_deref() == Some(token.as_str()))
        {
            return Ok(upload_output(existing, base_url));
        }
        let id = new_id();
        let mut headers = BTreeMap::new();
        headers.insert("Content-Type".to_owned(), ct.clone());
        headers.insert("x-amz-meta-attachment-id".to_owned(), id.clone());
        let rec = AttachmentRecord {
            attachment_id: id.clone(),
            contact_id,
            participant_id,
            name,
            content_type: ct,
            size: size as u64,
            headers,
            upload_expires_ms: now + UPLOAD_URL_TTL_MS,
            data: None,
            completed: false,
            client_token: Some(token),
        };
        let out = upload_output(&rec, base_url);
        self.attachments.insert(id, rec);
        Ok(out)
    }

    /// The HTTP PUT to an upload URL. `headers` are the request's (lower-cased names).
    pub fn upload(
        &mut self,
        id: &str,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        now: u64,
    ) -> Result<(), UploadRefused> {
        let rec = self
            .attachments
            .get_mut(id)
            .ok_or_else(|| refused(403, "AccessDenied: no such upload"))?;
        if rec.completed {
            return Err(refused(403, "AccessDenied: the upload was already completed"));
        }
        if now > rec.upload_expires_ms {
            return Err(refused(403, "AccessDenied: Request has expired"));
        }
        // S3 (which the upload URL is) takes a PUT only with its length: a chunked body has none.
        if !headers.contains_key("content-length") {
            return Err(refused(
                411,
                "MissingContentLength: You must provide the Content-Length HTTP header.",
            ));
        }
        for (name, value) in &rec.headers {
            match headers.get(&name.to_ascii_lowercase()) {
                Some(v) if v == value => {}
                Some(v) => {
                    return Err(refused(
                        403,
                        format!("SignatureDoesNotMatch: header {name} is {v:?}, the URL was signed for {value:?}"),
                    ));
                }
                None => {
                    return Err(refused(403, format!("SignatureDoesNotMatch: header {name} is missing")));
                }
            }
        }
        // Signed x-amz-* headers must be exactly the listed ones.
        for name in headers.keys() {
            if name.starts_with("x-amz-") && !rec.headers.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                return Err(refused(403, format!("SignatureDoesNotMatch: unexpected header {name}")));
            }
        }
        if body.len() as u64 != rec.size {
            return Err(refused(
                400,
                format!(
                    "IncompleteBody: {} bytes were declared in StartAttachmentUpload, {} sent",
                    rec.size,
                    body.len()
                ),
            ));
        }
        rec.data = Some(body.to_vec());
        Ok(())
    }

    pub fn complete_attachment_upload(
        &mut self,
        connection_token: Option<&str>,
        req: CompleteAttachmentUploadRequest,
        now: u64,
    ) -> Result<Value, ApiError> {
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        let ids = req.attachment_ids.unwrap_or_default();
        if ids.is_empty() {
            return Err(ApiError::validation("AttachmentIds must contain at least one id"));
        }
        if req.client_token.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::validation("ClientToken is required"));
        }
        if self
            .replay_client_token(&contact_id, req.client_token.as_deref())
            .is_some()
        {
            return Ok(json!({}));
        }
        for id in &ids {
            let rec = self
                .attachments
                .get(id)
                .filter(|a| a.contact_id == contact_id)
                .ok_or_else(|| ApiError::validation(format!("Attachment {id} does not exist in this chat")))?;
            if rec.completed {
                return Err(ApiError::new(
                    "ConflictException",
                    format!("Attachment {id} is already completed"),
                ));
            }
            if rec.data.is_none() {
                return Err(ApiError::validation(format!("Attachment {id} has not been uploaded")));
            }
        }
        let sender = self
            .participant(&contact_id, &participant_id)
            .ok_or_else(|| ApiError::access_denied("Participant is no longer in the chat"))?;
        let mut last = String::new();
        for id in &ids {
            last = self.add_attachment_item(&contact_id, &sender, id, Visibility::All, true, now);
        }
        self.remember_client_token(&contact_id, req.client_token, &last, now);
        Ok(json!({}))
    }

    fn add_attachment_item(
        &mut self,
        contact_id: &str,
        sender: &Participant,
        attachment_id: &str,
        visibility: Visibility,
        stream: bool,
        now: u64,
    ) -> String {
        let Some(rec) = self.attachments.get_mut(attachment_id) else {
            return String::new();
        };
        rec.completed = true;
        let data = rec.data.as_deref().unwrap_or_default();
        let att = ItemAttachment {
            attachment_id: rec.attachment_id.clone(),
            name: rec.name.clone(),
            content_type: rec.content_type.clone(),
            status: "APPROVED".into(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
        };
        let item = TranscriptItem {
            id: new_id(),
            role: Some(sender.role),
            item_type: ItemType::Attachment,
            content_type: rec.content_type.clone(),
            content: None,
            display_name: Some(sender.display_name.clone()),
            participant_id: Some(sender.participant_id.clone()),
            visibility,
            time_ms: now,
            receipts: Vec::new(),
            attachments: vec![att],
        };
        self.push_item(contact_id, item, stream)
    }

    pub fn get_attachment(
        &mut self,
        connection_token: Option<&str>,
        req: GetAttachmentRequest,
        base_url: &str,
        now: u64,
    ) -> Result<Value, ApiError> {
        let (contact_id, _) = self.resolve_connection(connection_token, now)?;
        let id = req
            .attachment_id
            .filter(|i| !i.is_empty())
            .ok_or_else(|| ApiError::validation("AttachmentId is required"))?;
        let expiry = req.url_expiry_in_seconds.unwrap_or(300);
        if !(5..=300).contains(&expiry) {
            return Err(ApiError::validation("UrlExpiryInSeconds must be between 5 and 300"));
        }
        if let Some(d) = &req.url_content_disposition
            && d != "ATTACHMENT"
            && d != "INLINE"
        {
            return Err(ApiError::validation(
                "UrlContentDisposition must be ATTACHMENT or INLINE",
            ));
        }
        let rec = self
            .attachments
            .get(&id)
            .filter(|a| a.contact_id == contact_id && a.completed)
            // GetAttachment models no ResourceNotFoundException; an id this chat does not have is
            // invalid input (AccessDenied would say the token is bad, which the bridge reads as gone).
            .ok_or_else(|| ApiError::validation(format!("Attachment {id} is not an attachment of this chat")))?;
        let expires = now + expiry as u64 * 1000;
        Ok(json!({
            "Url": format!("{base_url}/_download/{id}?expires={expires}"),
            "UrlExpiry": iso_millis(expires),
            "AttachmentSizeInBytes": rec.data.as_ref().map_or(0, Vec::len),
        }))
    }

    /// The HTTP GET of a download URL: `(content type, bytes)`.
    pub fn download(&self, id: &str, expires: Option<u64>, now: u64) -> Result<(String, Vec<u8>), UploadRefused> {
        let rec = self
            .attachments
            .get(id)
            .filter(|a| a.completed)
            .ok_or_else(|| refused(404, "NoSuchKey"))?;
        if expires.is_none_or(|e| now > e) {
            return Err(refused(403, "AccessDenied: Request has expired"));
        }
        Ok((rec.content_type.clone(), rec.data.clone().unwrap_or_default()))
    }

    /// Control API: the agent sends a file.
    pub(super) fn agent_attachment(
        &mut self,
        contact_id: &str,
        agent: &Participant,
        action: &AgentAction,
        visibility: Visibility,
        stream: bool,
        now: u64,
    ) -> Result<String, AgentError> {
        let name = action
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| AgentError::BadRequest("name is required".into()))?;
        let ct = action
            .content_type
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AgentError::BadRequest("content_type is required".into()))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(action.data.as_deref().unwrap_or_default())
            .map_err(|e| AgentError::BadRequest(format!("data is not base64: {e}")))?;
        if data.is_empty() {
            return Err(AgentError::BadRequest("data is required".into()));
        }
        let id = new_id();
        self.attachments.insert(
            id.clone(),
            AttachmentRecord {
                attachment_id: id.clone(),
                contact_id: contact_id.to_owned(),
                participant_id: agent.participant_id.clone(),
                name,
                content_type: ct,
                size: data.len() as u64,
                headers: BTreeMap::new(),
                upload_expires_ms: now,
                data: Some(data),
                completed: false,
                client_token: None,
            },
        );
        Ok(self.add_attachment_item(contact_id, agent, &id, visibility, stream, now))
    }
}

fn upload_output(rec: &AttachmentRecord, base_url: &str) -> Value {
    json!({
        "AttachmentId": rec.attachment_id,
        "UploadMetadata": {
            "Url": format!("{base_url}/_upload/{}", rec.attachment_id),
            "UrlExpiry": iso_millis(rec.upload_expires_ms),
            "HeadersToInclude": rec.headers,
        },
    })
}
