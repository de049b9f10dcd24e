//! Media on the simulated EUM side and the simulated Amazon Transcribe.
//!
//! * WhatsApp media: what customers send (control API, bytes given as base64) and what the bridge
//!   uploads with `PostWhatsAppMessageMedia`, keyed by a Meta-style numeric media id.
//! * `GetWhatsAppMessageMedia` writes the real bytes into moto's S3 at `key + mediaId + .ext`, the
//!   extension of the file's type (the API reference's `S3File` example: media `123` of an Ogg file
//!   under `audio/` lands at `audio/123.ogg`, though media ids hold no dot), and
//!   `PostWhatsAppMessageMedia` reads them from it.
//! * A test can make a file's metadata lie about its size (`announced_size`), as a sender's client
//!   may: `fileSize` says one thing and the copy in S3 holds another.
//! * Transcribe streaming hears what a test registered for the audio's SHA-256
//!   (`POST /_twin/transcripts`); audio nobody registered is silence (an empty transcript).

use std::collections::HashMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::TwinConfig;
use crate::error::ApiError;

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One media object WhatsApp holds.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    pub media_id: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// `customer` or `business` (uploaded by the bridge).
    pub origin: &'static str,
    /// What `fileSize` reports when a test made it differ from the bytes.
    pub announced_size: Option<u64>,
}

impl StoredMedia {
    pub fn summary(&self) -> Value {
        json!({
            "media_id": self.media_id,
            "mime_type": self.mime_type,
            "size": self.bytes.len(),
            "sha256": self.sha256,
        })
    }

    /// The size GetWhatsAppMessageMedia reports.
    pub fn file_size(&self) -> u64 {
        self.announced_size.unwrap_or(self.bytes.len() as u64)
    }
}

/// The extension EUM gives a copied file of this type (the type's usual one; none when it has none).
pub fn extension_for(mime: &str) -> &'static str {
    let base = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match base.as_str() {
        "audio/ogg" | "audio/opus" => ".ogg",
        "audio/aac" => ".aac",
        "audio/amr" => ".amr",
        "audio/mpeg" => ".mp3",
        "audio/mp4" => ".m4a",
        "audio/wav" | "audio/x-wav" => ".wav",
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "image/heic" => ".heic",
        "video/mp4" => ".mp4",
        "video/3gpp" | "video/3gp" => ".3gp",
        "video/quicktime" => ".mov",
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        "text/csv" => ".csv",
        "application/rtf" => ".rtf",
        "application/msword" => ".doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => ".docx",
        "application/vnd.ms-excel" => ".xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => ".xlsx",
        "application/vnd.ms-powerpoint" => ".ppt",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => ".pptx",
        "application/zip" => ".zip",
        _ => "",
    }
}

/// A transcript registered for one audio file.
#[derive(Debug, Clone)]
pub struct Registered {
    pub text: String,
    pub language_code: Option<String>,
}

#[derive(Debug, Default)]
pub struct MediaState {
    media: HashMap<String, StoredMedia>,
    transcripts: HashMap<String, Registered>,
    s3_endpoint: Option<String>,
}

fn new_media_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10u128.pow(16);
    format!("{:016}", n.max(1))
}

impl MediaState {
    pub fn set_s3_endpoint(&mut self, url: &str) {
        self.s3_endpoint = Some(url.trim_end_matches('/').to_owned());
    }

    pub fn s3_endpoint(&self) -> Option<String> {
        self.s3_endpoint.clone()
    }

    pub fn reset(&mut self) {
        self.media.clear();
        self.transcripts.clear();
    }

    pub fn store(&mut self, mime_type: &str, bytes: Vec<u8>, origin: &'static str) -> StoredMedia {
        let m = StoredMedia {
            media_id: new_media_id(),
            mime_type: mime_type.to_owned(),
            sha256: sha256_hex(&bytes),
            bytes,
            origin,
            announced_size: None,
        };
        self.media.insert(m.media_id.clone(), m.clone());
        m
    }

    pub fn get(&self, media_id: &str) -> Option<&StoredMedia> {
        self.media.get(media_id)
    }

    pub fn register_transcript(&mut self, sha256: &str, text: &str, language_code: Option<String>) {
        self.transcripts.insert(
            sha256.to_ascii_lowercase(),
            Registered {
                text: text.to_owned(),
                language_code,
            },
        );
    }

    pub fn transcript_for(&self, sha256: &str) -> Option<Registered> {
        self.transcripts.get(sha256).cloned()
    }
}

const MEDIA_KINDS: &[&str] = &["image", "audio", "video", "document", "sticker"];

/// Control API: a customer media message whose object carries base64 `data`. The bytes become a
/// WhatsApp media object and the message gets Meta's inbound shape (`id`, `mime_type`, `sha256`).
/// An `announced_size` (bytes) in the object is what the media's metadata will say instead of its
/// real size; it is removed from the message.
pub fn take_inline_media(state: &mut MediaState, message: &mut Map<String, Value>) -> Result<(), String> {
    let Some(kind) = message.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Ok(());
    };
    if !MEDIA_KINDS.contains(&kind.as_str()) {
        return Ok(());
    }
    let Some(Value::Object(obj)) = message.get_mut(&kind) else {
        return Ok(());
    };
    let Some(data) = obj.remove("data") else {
        return Ok(());
    };
    let data = data.as_str().ok_or("data must be a base64 string")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("data is not valid base64: {e}"))?;
    let mime = obj
        .get("mime_type")
        .and_then(Value::as_str)
        .ok_or("a media object with data needs mime_type")?
        .to_owned();
    let announced = match obj.remove("announced_size") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or("announced_size must be a number of bytes")?),
    };
    let mut stored = state.store(&mime, bytes, "customer");
    if announced.is_some() {
        stored.announced_size = announced;
        state.media.insert(stored.media_id.clone(), stored.clone());
    }
    obj.insert("id".into(), json!(stored.media_id));
    obj.entry("sha256").or_insert(json!(stored.sha256));
    Ok(())
}

// ------------------------------------------------------------------------------------------ S3

/// moto does not verify signatures, but treats unsigned requests as anonymous (403 on private
/// objects); EUM acts with the account's credentials, so the twin presents some.
const S3_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, \
                       SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000";

fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn s3_put(endpoint: &str, bucket: &str, key: &str, mime: &str, bytes: Vec<u8>) -> Result<(), String> {
    let url = format!("{endpoint}/{bucket}/{}", encode_key(key));
    let resp = reqwest::Client::new()
        .put(&url)
        .header("authorization", S3_AUTH)
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .map_err(|e| format!("S3 PutObject {url}: {e}"))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(format!("S3 PutObject {bucket}/{key}: {status} {body}"));
    }
    Ok(())
}

/// `Ok(None)` when the object (or bucket) does not exist.
pub async fn s3_get(endpoint: &str, bucket: &str, key: &str) -> Result<Option<(String, Vec<u8>)>, String> {
    let url = format!("{endpoint}/{bucket}/{}", encode_key(key));
    let resp = reqwest::Client::new()
        .get(&url)
        .header("authorization", S3_AUTH)
        .send()
        .await
        .map_err(|e| format!("S3 GetObject {url}: {e}"))?;
    if resp.status().as_u16() == 404 {
        return Ok(None);
    }
    if !resp.status().is_success() {
        return Err(format!("S3 GetObject {bucket}/{key}: {}", resp.status()));
    }
    let mime = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let bytes = resp.bytes().await.map_err(|e| format!("S3 GetObject body: {e}"))?;
    Ok(Some((mime, bytes.to_vec())))
}

// ----------------------------------------------------------------------------------- EUM media

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3File {
    pub bucket_name: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetMediaRequest {
    pub media_id: Option<String>,
    pub origination_phone_number_id: Option<String>,
    pub metadata_only: Option<bool>,
    pub destination_s3_file: Option<S3File>,
    pub destination_s3_presigned_url: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostMediaRequest {
    pub origination_phone_number_id: Option<String>,
    pub source_s3_file: Option<S3File>,
    pub source_s3_presigned_url: Option<Value>,
}

fn check_origination(cfg: &TwinConfig, id: Option<&str>) -> Result<(), ApiError> {
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation("originationPhoneNumberId is required"))?;
    let known = cfg
        .business_numbers
        .iter()
        .any(|n| n.aws_id == id || n.arn(&cfg.region, &cfg.account_id) == id);
    if known {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "originationPhoneNumberId {id} is not a phone number of this account"
        )))
    }
}

fn s3_file(f: &S3File) -> Result<(String, String), ApiError> {
    let bucket = f
        .bucket_name
        .clone()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::validation("S3File.bucketName is required"))?;
    let key = f
        .key
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::validation("S3File.key is required"))?;
    Ok((bucket, key))
}

/// What GetWhatsAppMessageMedia has to do after validation (the S3 write happens outside the lock).
pub enum GetMediaPlan {
    Metadata(Value),
    Copy {
        endpoint: String,
        bucket: String,
        key: String,
        media: StoredMedia,
    },
}

pub fn plan_get_media(cfg: &TwinConfig, state: &MediaState, body: &Value) -> Result<GetMediaPlan, ApiError> {
    let req: GetMediaRequest = crate::aws::parse(body, "ValidationException")?;
    check_origination(cfg, req.origination_phone_number_id.as_deref())?;
    let media_id = req
        .media_id
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::validation("mediaId is required"))?;
    if media_id.len() > 100 || !media_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::validation("mediaId must match [A-Za-z0-9]+ (at most 100)"));
    }
    if req.destination_s3_file.is_some() && req.destination_s3_presigned_url.is_some() {
        return Err(ApiError::new(
            "InvalidParametersException",
            "Specify only one of destinationS3File and destinationS3PresignedUrl",
        ));
    }
    let media = state
        .get(&media_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Media {media_id} was not found")))?;
    let meta = json!({ "mimeType": media.mime_type, "fileSize": media.file_size() });
    if req.metadata_only == Some(true) {
        return Ok(GetMediaPlan::Metadata(meta));
    }
    if req.destination_s3_presigned_url.is_some() {
        return Err(ApiError::new(
            "InvalidParametersException",
            "local-aws supports destinationS3File only",
        ));
    }
    let Some(dest) = req.destination_s3_file else {
        return Err(ApiError::new(
            "InvalidParametersException",
            "One of destinationS3File, destinationS3PresignedUrl or metadataOnly is required",
        ));
    };
    let (bucket, prefix) = s3_file(&dest)?;
    let endpoint = state
        .s3_endpoint()
        .ok_or_else(|| ApiError::new("InternalServiceException", "local-aws runs without S3 (moto)"))?;
    Ok(GetMediaPlan::Copy {
        endpoint,
        bucket,
        key: format!("{prefix}{media_id}{}", extension_for(&media.mime_type)),
        media,
    })
}

pub fn plan_post_media(
    cfg: &TwinConfig,
    state: &MediaState,
    body: &Value,
) -> Result<(String, String, String), ApiError> {
    let req: PostMediaRequest = crate::aws::parse(body, "ValidationException")?;
    check_origination(cfg, req.origination_phone_number_id.as_deref())?;
    match (&req.source_s3_file, &req.source_s3_presigned_url) {
        (Some(_), Some(_)) | (None, None) => Err(ApiError::new(
            "InvalidParametersException",
            "Specify exactly one of sourceS3File and sourceS3PresignedUrl",
        )),
        (None, Some(_)) => Err(ApiError::new(
            "InvalidParametersException",
            "local-aws supports sourceS3File only",
        )),
        (Some(f), None) => {
            let (bucket, key) = s3_file(f)?;
            let endpoint = state
                .s3_endpoint()
                .ok_or_else(|| ApiError::new("InternalServiceException", "local-aws runs without S3 (moto)"))?;
            Ok((endpoint, bucket, key))
        }
    }
}

/// WhatsApp's size limit for an uploaded file of this type (Meta's WhatsApp Cloud API, "Supported
/// media types"); other types go as documents.
pub fn whatsapp_upload_limit(mime: &str) -> u64 {
    let base = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match base.as_str() {
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => 16_000_000,
        "image/jpeg" | "image/png" => 5_000_000,
        "image/webp" => 500_000,
        "video/mp4" | "video/3gpp" | "video/3gp" => 16_000_000,
        _ => 100_000_000,
    }
}
