//! The media bucket (S3) and EUM's media operations.

use super::{Boxed, classify, missing, presized};
use crate::ids::OriginationId;
use crate::media::ports::{MediaInfo, ObjectStore, StoredObject, WhatsappMedia};
use crate::ports::PortResult;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_socialmessaging::primitives::Blob;
use aws_sdk_socialmessaging::types::S3File;
use serde_json::Value;

pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, bucket: &str, key: &str, content_type: &str, bytes: Vec<u8>) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .boxed()
            .await
            .map_err(|e| classify("PutObject", e, false))?;
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> PortResult<Option<StoredObject>> {
        const OP: &str = "GetObject";
        let out = match self.client.get_object().bucket(bucket).key(key).send().boxed().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(classify(OP, e, false)),
        };
        let content_type = out.content_type().map(str::to_owned);
        let mut bytes = presized(out.content_length().and_then(|n| u64::try_from(n).ok()));
        let mut body = out.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| missing(OP, "a complete body"))?;
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(StoredObject { content_type, bytes }))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> PortResult<Vec<String>> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(50)
            .send()
            .boxed()
            .await
            .map_err(|e| classify("ListObjectsV2", e, false))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }
}

pub struct EumMedia {
    client: aws_sdk_socialmessaging::Client,
    meta_api_version: String,
}

impl EumMedia {
    pub fn new(client: aws_sdk_socialmessaging::Client, meta_api_version: String) -> Self {
        Self {
            client,
            meta_api_version,
        }
    }
}

fn s3_file(bucket: &str, key: &str, op: &'static str) -> PortResult<S3File> {
    S3File::builder()
        .bucket_name(bucket)
        .key(key)
        .build()
        .map_err(|_| missing(op, "bucket and key"))
}

impl WhatsappMedia for EumMedia {
    async fn media_info(&self, from: &OriginationId, media_id: &str) -> PortResult<MediaInfo> {
        const OP: &str = "GetWhatsAppMessageMedia";
        let out = self
            .client
            .get_whats_app_message_media()
            .media_id(media_id)
            .origination_phone_number_id(from.as_str())
            .metadata_only(true)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        Ok(MediaInfo {
            mime_type: out.mime_type().unwrap_or_default().to_owned(),
            size: out.file_size().unwrap_or_default().max(0) as u64,
        })
    }

    async fn copy_to_bucket(
        &self,
        from: &OriginationId,
        media_id: &str,
        bucket: &str,
        prefix: &str,
    ) -> PortResult<MediaInfo> {
        const OP: &str = "GetWhatsAppMessageMedia";
        let out = self
            .client
            .get_whats_app_message_media()
            .media_id(media_id)
            .origination_phone_number_id(from.as_str())
            .destination_s3_file(s3_file(bucket, prefix, OP)?)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        Ok(MediaInfo {
            mime_type: out.mime_type().unwrap_or_default().to_owned(),
            size: out.file_size().unwrap_or_default().max(0) as u64,
        })
    }

    async fn upload_from_bucket(&self, from: &OriginationId, bucket: &str, key: &str) -> PortResult<String> {
        const OP: &str = "PostWhatsAppMessageMedia";
        let out = self
            .client
            .post_whats_app_message_media()
            .origination_phone_number_id(from.as_str())
            .source_s3_file(s3_file(bucket, key, OP)?)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        out.media_id().map(str::to_owned).ok_or_else(|| missing(OP, "mediaId"))
    }

    async fn send_body(&self, from: &OriginationId, body: &Value) -> PortResult<String> {
        const OP: &str = "SendWhatsAppMessage";
        let out = self
            .client
            .send_whats_app_message()
            .origination_phone_number_id(from.as_str())
            .message(Blob::new(body.to_string()))
            .meta_api_version(&self.meta_api_version)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        out.message_id()
            .map(str::to_owned)
            .ok_or_else(|| missing(OP, "messageId"))
    }
}
