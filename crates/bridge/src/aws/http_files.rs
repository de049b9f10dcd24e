//! Files over plain HTTP: the GET of a presigned or public URL, passed on as a stream held to a size
//! limit (see [`capped_body`]) within [`budget::transfer`], and HTTP's failures sorted into retryable
//! and final. Used for Connect's attachment URLs and for the files bots send by URL ([`HttpWebFiles`]).

use super::Boxed;
use super::media_store::capped_body;
use crate::error::{FailureKind, PortError};
use crate::media::budget;
use crate::media::ports::{BoxFuture, Capped, Chunks, FileStream, WebFiles};
use crate::ports::PortResult;
use std::time::Duration;

/// An HTTP status: 5xx and 429 are worth retrying, the rest is final.
pub(super) fn http_error(op: &'static str, status: reqwest::StatusCode) -> PortError {
    let kind = if status.is_server_error() || status.as_u16() == 429 {
        FailureKind::Transient
    } else {
        FailureKind::Rejected
    };
    PortError::new(kind, op, format!("HTTP {}", status.as_u16()))
}

pub(super) fn network_error(op: &'static str, e: &reqwest::Error) -> PortError {
    let detail = if e.is_timeout() {
        "timeout"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "network failure"
    };
    PortError::new(FailureKind::Transient, op, detail)
}

/// A response's body, a chunk at a time.
struct ResponseChunks {
    response: reqwest::Response,
    op: &'static str,
}

impl Chunks for ResponseChunks {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
        Box::pin(async {
            let op = self.op;
            self.response
                .chunk()
                .await
                .map_err(|e| network_error(op, &e))
                .transpose()
                .map(|chunk| chunk.map(Vec::from))
        })
    }
}

/// GETs `url`, refused beyond `max_bytes`; the body is read by whoever takes the file, within that
/// call's own time.
pub(super) async fn get_capped(
    http: &reqwest::Client,
    op: &'static str,
    url: &str,
    max_bytes: u64,
) -> PortResult<Capped<FileStream>> {
    budget::transfer(op, async {
        let response = http.get(url).send().boxed().await.map_err(|e| network_error(op, &e))?;
        if !response.status().is_success() {
            return Err(http_error(op, response.status()));
        }
        capped_body(response.content_length(), max_bytes, ResponseChunks { response, op }).await
    })
    .await
}

/// How many redirects a bot's file URL may take (file hosts and CDNs redirect once or twice).
const MAX_REDIRECTS: usize = 5;

/// The files bots send by URL. Redirects are followed to `https` only: a URL the bot gave as https
/// must not lead the function to plain HTTP, least of all to the Lambda Runtime API on loopback.
pub struct HttpWebFiles {
    http: reqwest::Client,
}

impl HttpWebFiles {
    pub fn new() -> Self {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if attempt.url().scheme() == "https" {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .redirect(policy)
            .build()
            .unwrap_or_default();
        Self { http }
    }
}

impl Default for HttpWebFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl WebFiles for HttpWebFiles {
    async fn fetch(&self, url: &str, max_bytes: u64) -> PortResult<Capped<FileStream>> {
        get_capped(&self.http, "FileDownload", url, max_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Answers each connection with the next of `answers`; the server's base URL.
    async fn serve(answers: Vec<String>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        base
    }

    fn answer(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    async fn fetch(url: &str, max_bytes: u64) -> PortResult<Capped<Vec<u8>>> {
        Ok(match HttpWebFiles::new().fetch(url, max_bytes).await? {
            Capped::Within(body) => Capped::Within(body.read_all().await?),
            Capped::Over { size } => Capped::Over { size },
        })
    }

    #[tokio::test]
    async fn a_file_is_fetched_within_its_limit_and_a_refusal_is_final() {
        let ok = || answer("200 OK", "", "%PDF receipt");
        let base = serve(vec![
            ok(),
            ok(),
            answer("404 Not Found", "", ""),
            answer("503 Busy", "", ""),
        ])
        .await;
        assert_eq!(
            fetch(&base, 100).await.unwrap(),
            Capped::Within(b"%PDF receipt".to_vec())
        );
        assert_eq!(fetch(&base, 4).await.unwrap(), Capped::Over { size: 12 });
        assert_eq!(fetch(&base, 100).await.unwrap_err().kind, FailureKind::Rejected);
        assert_eq!(fetch(&base, 100).await.unwrap_err().kind, FailureKind::Transient);
    }

    #[tokio::test]
    async fn a_redirect_to_plain_http_is_not_followed() {
        let target = serve(vec![answer("200 OK", "", "secret of the runtime")]).await;
        let redirect = answer("302 Found", &format!("Location: {target}/next\r\n"), "");
        let base = serve(vec![redirect]).await;
        let refused = fetch(&base, 100).await.unwrap_err();
        assert_eq!(
            (refused.kind, refused.detail.as_str()),
            (FailureKind::Rejected, "HTTP 302")
        );
    }
}
