//! The media bucket (S3) and EUM's media operations, each bounded by [`budget::transfer`]. Objects
//! are written and read as streams (see [`FileStream`]).

use super::eum::send_message;
use super::{Boxed, classify, missing};
use crate::ids::OriginationId;
use crate::media::budget;
use crate::media::ports::BoxFuture;
use crate::media::ports::{Capped, Chunks, FileStream, MediaInfo, ObjectStore, StoredObject, WhatsappMedia};
use crate::ports::PortResult;
use crate::whatsapp::outgoing::OutgoingMessage;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_socialmessaging::primitives::Blob;
use aws_sdk_socialmessaging::types::S3File;
use futures_util::StreamExt;

pub struct S3Store {
    client: aws_sdk_s3::Client,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

/// A body no larger than `max`, passed on as it arrives: refused from its announced length before
/// its first byte, and held to that length (see [`FileStream`]). A body that announces no length
/// is read here, no further than the limit.
pub(super) async fn capped_body(
    announced: Option<u64>,
    max: u64,
    mut chunks: impl Chunks + 'static,
) -> PortResult<Capped<FileStream>> {
    match announced {
        Some(size) if size > max => return Ok(Capped::Over { size }),
        Some(len) => return Ok(Capped::Within(FileStream::new(len, chunks))),
        None => {}
    }
    let mut buffer = CappedBuffer::new(max);
    while let Some(chunk) = chunks.next_chunk().await {
        if let Err(size) = buffer.push(&chunk?) {
            return Ok(Capped::Over { size });
        }
    }
    Ok(Capped::Within(buffer.into_inner().into()))
}

/// A file as an HTTP body for reqwest (the PUT to Connect's upload URL) and, through it, for the
/// S3 SDK, which takes any `http-body` 1 body (and polls it again after its end: hence `fuse`).
pub(super) fn http_body(file: FileStream) -> reqwest::Body {
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let chunk = file.next_chunk().await?;
        Some((chunk, file))
    });
    reqwest::Body::wrap_stream(chunks.fuse())
}

/// An S3 object's body, a chunk at a time.
struct ObjectChunks(ByteStream);

impl Chunks for ObjectChunks {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
        Box::pin(async {
            let chunk = self.0.next().await?;
            Some(
                chunk
                    .map(Vec::from)
                    .map_err(|_| missing("GetObject", "a complete body")),
            )
        })
    }
}

/// The buffer for a body of unannounced length, which never grows past the limit.
pub(super) struct CappedBuffer {
    bytes: Vec<u8>,
    max: u64,
}

impl CappedBuffer {
    pub(super) fn new(max: u64) -> Self {
        Self { bytes: Vec::new(), max }
    }

    /// `Err(bytes counted)` when `chunk` takes the body over the limit; nothing more is kept.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Result<(), u64> {
        let size = (self.bytes.len() + chunk.len()) as u64;
        if size > self.max {
            return Err(size);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub(super) fn into_inner(self) -> Vec<u8> {
        self.bytes
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, bucket: &str, key: &str, content_type: &str, body: FileStream) -> PortResult<()> {
        const OP: &str = "PutObject";
        // Streamed, the body cannot be sent twice: a failed attempt fails the call (and the
        // message is retried) instead of being retried by the SDK.
        let len = i64::try_from(body.len()).map_err(|_| missing(OP, "a length S3 takes"))?;
        budget::transfer(OP, async {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .content_length(len)
                .body(ByteStream::from_body_1_x(http_body(body)))
                .send()
                .boxed()
                .await
                .map_err(|e| classify(OP, e, false))?;
            Ok(())
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> PortResult<Option<Capped<StoredObject>>> {
        const OP: &str = "GetObject";
        budget::transfer(OP, async {
            let out = match self.client.get_object().bucket(bucket).key(key).send().boxed().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
                Err(e) => return Err(classify(OP, e, false)),
            };
            let content_type = out.content_type().map(str::to_owned);
            let announced = out.content_length().and_then(|n| u64::try_from(n).ok());
            Ok(Some(
                match capped_body(announced, max_bytes, ObjectChunks(out.body)).await? {
                    Capped::Within(body) => Capped::Within(StoredObject { content_type, body }),
                    Capped::Over { size } => Capped::Over { size },
                },
            ))
        })
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> PortResult<()> {
        const OP: &str = "DeleteObject";
        budget::transfer(OP, async {
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .boxed()
                .await
                .map_err(|e| classify(OP, e, false))?;
            Ok(())
        })
        .await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> PortResult<Vec<String>> {
        const OP: &str = "ListObjectsV2";
        budget::transfer(OP, async {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .max_keys(50)
                .send()
                .boxed()
                .await
                .map_err(|e| classify(OP, e, false))?;
            Ok(out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect())
        })
        .await
    }
}

pub struct EumMedia {
    client: aws_sdk_socialmessaging::Client,
    /// For the media messages themselves, which carry no idempotency token (see [`super::eum`]).
    sends: aws_sdk_socialmessaging::Client,
    meta_api_version: String,
}

impl EumMedia {
    pub fn new(
        client: aws_sdk_socialmessaging::Client,
        sends: aws_sdk_socialmessaging::Client,
        meta_api_version: String,
    ) -> Self {
        Self {
            client,
            sends,
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
        let request = self
            .client
            .get_whats_app_message_media()
            .media_id(media_id)
            .origination_phone_number_id(from.as_str())
            .destination_s3_file(s3_file(bucket, prefix, OP)?);
        // EUM fetches the file from Meta and writes it to the bucket before it answers.
        let out = budget::transfer(OP, async {
            request.send().boxed().await.map_err(|e| classify(OP, e, false))
        })
        .await?;
        Ok(MediaInfo {
            mime_type: out.mime_type().unwrap_or_default().to_owned(),
            size: out.file_size().unwrap_or_default().max(0) as u64,
        })
    }

    async fn upload_from_bucket(&self, from: &OriginationId, bucket: &str, key: &str) -> PortResult<String> {
        const OP: &str = "PostWhatsAppMessageMedia";
        let request = self
            .client
            .post_whats_app_message_media()
            .origination_phone_number_id(from.as_str())
            .source_s3_file(s3_file(bucket, key, OP)?);
        let out = budget::transfer(OP, async {
            request.send().boxed().await.map_err(|e| classify(OP, e, false))
        })
        .await?;
        out.media_id().map(str::to_owned).ok_or_else(|| missing(OP, "mediaId"))
    }

    async fn send_body(&self, from: &OriginationId, body: &OutgoingMessage) -> PortResult<String> {
        send_message(
            &self.sends,
            from,
            Blob::new(body.to_sorted_json()),
            &self.meta_api_version,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that must not be read.
    struct Untouched;

    impl Chunks for Untouched {
        fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
            panic!("read a body refused from its length")
        }
    }

    #[tokio::test]
    async fn a_body_announced_over_the_limit_is_refused_before_its_first_byte() {
        let refused = capped_body(Some(50_000_000), 20_000_000, Untouched).await.unwrap();
        assert!(matches!(refused, Capped::Over { size: 50_000_000 }), "{refused:?}");
        let passed = capped_body(Some(20_000_000), 20_000_000, Untouched).await.unwrap();
        assert!(
            matches!(passed, Capped::Within(ref f) if f.len() == 20_000_000),
            "{passed:?}"
        );
    }

    #[test]
    fn a_body_of_unannounced_length_stops_at_the_limit() {
        let mut buffer = CappedBuffer::new(10);
        assert_eq!(buffer.push(b"123456"), Ok(()));
        assert_eq!(buffer.push(b"7890"), Ok(()));
        assert_eq!(buffer.push(b"x"), Err(11));
        assert_eq!(buffer.into_inner(), b"1234567890");
    }
}
