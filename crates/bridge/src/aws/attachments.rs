//! Connect Participant attachments as the customer: StartAttachmentUpload, the HTTP PUT to the
//! presigned URL with exactly the returned headers, CompleteAttachmentUpload, and GetAttachment
//! with the download of its URL. The transfers are bounded by [`budget::transfer`]; files pass
//! through as streams held to their size limit (see [`capped_body`]).

use super::http_files::{get_capped, http_error, network_error};
use super::media_store::http_body;
use super::{Boxed, classify, missing};
use crate::ids::ConnectionToken;
use crate::media::budget;
use crate::media::ports::{AttachmentLink, Capped, ChatAttachments, FileStream, UploadTicket};
use crate::ports::PortResult;
use std::time::Duration;

/// What a link is asked to last: Connect's longest (`UrlExpiryInSeconds` is 5 to 300), for a bot that
/// downloads after its webhook's queue.
const LINK_LIFETIME_SECS: i32 = 300;

pub struct ParticipantAttachments {
    client: aws_sdk_connectparticipant::Client,
    http: reqwest::Client,
}

impl ParticipantAttachments {
    pub fn new(client: aws_sdk_connectparticipant::Client) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        Self { client, http }
    }
}

impl ChatAttachments for ParticipantAttachments {
    async fn start_upload(
        &self,
        token: &ConnectionToken,
        name: &str,
        content_type: &str,
        size: u64,
        client_token: &str,
    ) -> PortResult<UploadTicket> {
        const OP: &str = "StartAttachmentUpload";
        let out = self
            .client
            .start_attachment_upload()
            .connection_token(token.expose())
            .attachment_name(name)
            .content_type(content_type)
            .attachment_size_in_bytes(size as i64)
            .client_token(client_token)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        let meta = out.upload_metadata().ok_or_else(|| missing(OP, "UploadMetadata"))?;
        Ok(UploadTicket {
            attachment_id: out
                .attachment_id()
                .map(str::to_owned)
                .ok_or_else(|| missing(OP, "AttachmentId"))?,
            url: meta
                .url()
                .map(str::to_owned)
                .ok_or_else(|| missing(OP, "UploadMetadata.Url"))?,
            headers: meta
                .headers_to_include()
                .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    async fn put_file(&self, ticket: &UploadTicket, body: FileStream) -> PortResult<()> {
        const OP: &str = "AttachmentUpload";
        let mut put = self.http.put(&ticket.url);
        // A streamed body is sent with its length, not chunked: presigned S3 PUTs take no other.
        if !ticket.headers.keys().any(|k| k.eq_ignore_ascii_case("content-length")) {
            put = put.header(reqwest::header::CONTENT_LENGTH, body.len());
        }
        for (k, v) in &ticket.headers {
            put = put.header(k.as_str(), v.as_str());
        }
        let put = put.body(http_body(body));
        budget::transfer(OP, async {
            let resp = put.send().boxed().await.map_err(|e| network_error(OP, &e))?;
            if !resp.status().is_success() {
                return Err(http_error(OP, resp.status()));
            }
            Ok(())
        })
        .await
    }

    async fn complete(&self, token: &ConnectionToken, attachment_id: &str, client_token: &str) -> PortResult<()> {
        const OP: &str = "CompleteAttachmentUpload";
        match self
            .client
            .complete_attachment_upload()
            .connection_token(token.expose())
            .attachment_ids(attachment_id)
            .client_token(client_token)
            .send()
            .boxed()
            .await
        {
            Ok(_) => Ok(()),
            // Already completed by an earlier attempt of this message.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(()),
            Err(e) => Err(classify(OP, e, true)),
        }
    }

    async fn send_text(&self, token: &ConnectionToken, text: &str, client_token: &str) -> PortResult<()> {
        const OP: &str = "SendMessage";
        self.client
            .send_message()
            .connection_token(token.expose())
            .content_type("text/plain")
            .content(text)
            .client_token(client_token)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        Ok(())
    }

    async fn link(&self, token: &ConnectionToken, attachment_id: &str) -> PortResult<AttachmentLink> {
        const OP: &str = "GetAttachment";
        let out = self
            .client
            .get_attachment()
            .connection_token(token.expose())
            .attachment_id(attachment_id)
            .url_expiry_in_seconds(LINK_LIFETIME_SECS)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        Ok(AttachmentLink {
            url: out.url().map(str::to_owned).ok_or_else(|| missing(OP, "Url"))?,
            expires_at: out.url_expiry().map(str::to_owned).unwrap_or_default(),
            size: u64::try_from(out.attachment_size_in_bytes()).unwrap_or(0),
        })
    }

    async fn download(
        &self,
        token: &ConnectionToken,
        attachment_id: &str,
        max_bytes: u64,
    ) -> PortResult<Capped<FileStream>> {
        let link = self.link(token, attachment_id).await?;
        // Connect says how large the file is: a file over the limit is not fetched at all.
        if link.size > max_bytes {
            return Ok(Capped::Over { size: link.size });
        }
        get_capped(&self.http, "AttachmentDownload", &link.url, max_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tokio::net::TcpListener;

    /// The head and body of one HTTP request, answered 200.
    async fn one_request(listener: TcpListener, body_len: usize) -> String {
        let (socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let head_end = request.windows(4).position(|w| w == b"\r\n\r\n");
            if head_end.is_some_and(|end| request.len() >= end + 4 + body_len) {
                break;
            }
            socket.readable().await.unwrap();
            match socket.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        socket.writable().await.unwrap();
        socket
            .try_write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&request).to_ascii_lowercase()
    }

    /// S3's presigned PUT refuses chunked transfer encoding: a streamed file goes with its length.
    #[tokio::test]
    async fn a_streamed_file_is_put_with_its_length_not_chunked() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        let server = tokio::spawn(one_request(listener, 5));
        let config = aws_sdk_connectparticipant::Config::builder()
            .behavior_version(aws_sdk_connectparticipant::config::BehaviorVersion::latest())
            .region(aws_sdk_connectparticipant::config::Region::new("us-east-1"))
            .build();
        let attachments = ParticipantAttachments::new(aws_sdk_connectparticipant::Client::from_conf(config));
        let ticket = UploadTicket {
            attachment_id: "a1".into(),
            url,
            headers: BTreeMap::from([("Content-Type".into(), "application/pdf".into())]),
        };
        attachments
            .put_file(&ticket, FileStream::from(b"hello".to_vec()))
            .await
            .unwrap();
        let request = server.await.unwrap();
        assert!(request.contains("\r\ncontent-length: 5\r\n"), "{request}");
        assert!(!request.contains("transfer-encoding"), "{request}");
        assert!(request.ends_with("\r\n\r\nhello"), "{request}");
    }
}
