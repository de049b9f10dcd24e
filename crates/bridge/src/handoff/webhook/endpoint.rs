//! A client's webhook endpoint as operators configure it (`ops client set-webhook`, never a request): the
//! URL its events go to and the secrets they are signed with.
//!
//! Secrets rotate like API keys (see [`crate::handoff::auth::ClientRecord`]): a rotation adds a new
//! secret and gives the current one an expiry, and until then every delivery carries a signature by
//! each, so the bot can switch its verifying secret at any moment of the overlap. Unlike a key, a
//! secret is kept as given, because signing needs it; the table is encrypted at rest, and only
//! `WebhookSender` may read these items.
//!
//! The URL must be `https`, except to a loopback host (a bot developer's machine, the local twin):
//! events carry the customer's messages, and a client's URL is the one place they leave AWS.

use super::signature::{ClientSecrets, InvalidSecret, WebhookSecret};

/// A configured URL events may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUrl {
    #[error("a webhook URL is https:// (http:// only to localhost or 127.0.0.1)")]
    Scheme,
    #[error("a webhook URL names a host")]
    Host,
    #[error("a webhook URL is at most 2048 characters, without spaces")]
    Shape,
}

const MAX_URL_CHARS: usize = 2048;

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidUrl> {
        reach(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a URL the bridge may call is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Https,
    /// `http://` to `localhost`, `127.0.0.1` or `::1`.
    LoopbackHttp,
}

/// Whether the bridge may call `raw` at all: `https`, or plain `http` to a loopback host.
pub fn reach(raw: &str) -> Result<Reach, InvalidUrl> {
    if raw.len() > MAX_URL_CHARS || raw.chars().any(char::is_whitespace) {
        return Err(InvalidUrl::Shape);
    }
    let (secure, rest) = match (raw.strip_prefix("https://"), raw.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(InvalidUrl::Scheme),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(InvalidUrl::Host);
    }
    match (secure, host) {
        (true, _) => Ok(Reach::Https),
        (false, "localhost" | "127.0.0.1" | "::1") => Ok(Reach::LoopbackHttp),
        (false, _) => Err(InvalidUrl::Scheme),
    }
}

/// One signing secret as stored: `whsec_…`, and when it stops signing.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub secret: String,
    /// Epoch ms from which deliveries are no longer signed with it; `None` until a rotation.
    pub expires_ms: Option<u64>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("secret", &"redacted")
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

/// A client's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub url: WebhookUrl,
    /// The newest last.
    pub secrets: Vec<StoredSecret>,
}

impl WebhookEndpoint {
    /// A new endpoint signing with `secret`.
    pub fn new(url: WebhookUrl, secret: &str) -> Result<Self, InvalidSecret> {
        WebhookSecret::parse(secret)?;
        Ok(Self {
            url,
            secrets: vec![StoredSecret {
                secret: secret.to_owned(),
                expires_ms: None,
            }],
        })
    }

    /// The endpoint after a rotation at `now_ms` to `secret`: the others sign until `now_ms + overlap_ms`
    /// (or less, if they expired sooner); the ones already expired are dropped.
    pub fn rotated(&self, secret: &str, now_ms: u64, overlap_ms: u64) -> Result<Self, InvalidSecret> {
        WebhookSecret::parse(secret)?;
        let until = now_ms.saturating_add(overlap_ms);
        let mut secrets: Vec<StoredSecret> = self
            .secrets
            .iter()
            .filter(|kept| kept.expires_ms.is_none_or(|at| now_ms < at))
            .map(|kept| StoredSecret {
                secret: kept.secret.clone(),
                expires_ms: Some(kept.expires_ms.map_or(until, |at| at.min(until))),
            })
            .filter(|kept| overlap_ms > 0 || kept.expires_ms.is_none())
            .collect();
        secrets.push(StoredSecret {
            secret: secret.to_owned(),
            expires_ms: None,
        });
        Ok(Self {
            url: self.url.clone(),
            secrets,
        })
    }

    /// What deliveries at `now_ms` are signed with: the newest secret and, while a rotation overlaps,
    /// the one before it.
    pub fn signing_at(&self, now_ms: u64) -> Result<ClientSecrets, InvalidSecret> {
        let mut live = self
            .secrets
            .iter()
            .rev()
            .filter(|kept| kept.expires_ms.is_none_or(|at| now_ms < at));
        let current = WebhookSecret::parse(&live.next().ok_or(InvalidSecret::Prefix)?.secret)?;
        let previous = live.next().map(|kept| WebhookSecret::parse(&kept.secret)).transpose()?;
        Ok(ClientSecrets { current, previous })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::webhook::signature::{Content, Received, Window, sign, verify};

    const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NEW: &str = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=";

    #[test]
    fn only_https_urls_leave_the_machine() {
        for good in [
            "https://bot.example.com/hooks/connect",
            "https://bot.example.com:8443/h?x=1",
            "http://localhost:9000/h",
            "http://127.0.0.1:4566/_twin/webhooks/acme",
            "http://[::1]:8080/h",
        ] {
            assert!(WebhookUrl::parse(good).is_ok(), "{good}");
        }
        assert_eq!(WebhookUrl::parse("http://bot.example.com/h"), Err(InvalidUrl::Scheme));
        assert_eq!(
            WebhookUrl::parse("http://localhost.evil.com/h"),
            Err(InvalidUrl::Scheme)
        );
        assert_eq!(WebhookUrl::parse("ftp://bot.example.com"), Err(InvalidUrl::Scheme));
        assert_eq!(WebhookUrl::parse("https:///path"), Err(InvalidUrl::Host));
        assert_eq!(WebhookUrl::parse("https://a b"), Err(InvalidUrl::Shape));
    }

    fn signed_with(endpoint: &WebhookEndpoint, now_ms: u64) -> Vec<&'static str> {
        let secrets = endpoint.signing_at(now_ms).unwrap();
        let body = br#"{"type":"handoff.created"}"#;
        let now_s = i64::try_from(now_ms / 1000).unwrap();
        let headers = sign(
            &Content {
                id: "msg_1",
                timestamp_s: now_s,
                body,
            },
            &secrets,
        );
        [OLD, NEW]
            .into_iter()
            .filter(|raw| {
                let received = Received {
                    id: Some(&headers.id),
                    timestamp: Some(&headers.timestamp),
                    signature: Some(&headers.signature),
                    body,
                };
                verify(
                    &received,
                    &[WebhookSecret::parse(raw).unwrap()],
                    Window::standard(now_s),
                )
                .is_ok()
            })
            .collect()
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
        let url = WebhookUrl::parse("https://bot.example.com/h").unwrap();
        let endpoint = WebhookEndpoint::new(url, OLD).unwrap();
        assert_eq!(signed_with(&endpoint, 1_000_000), [OLD]);
        let rotated = endpoint.rotated(NEW, 1_000_000, 60_000).unwrap();
        assert_eq!(signed_with(&rotated, 1_030_000), [OLD, NEW], "during the overlap");
        assert_eq!(signed_with(&rotated, 1_060_000), [NEW], "after it");
        let at_once = endpoint.rotated(NEW, 1_000_000, 0).unwrap();
        assert_eq!(at_once.secrets.len(), 1, "no overlap: the old secret is gone");
        assert_eq!(signed_with(&at_once, 1_000_000), [NEW]);
        assert!(endpoint.rotated("not-a-secret", 1, 1).is_err());
        assert!(!format!("{rotated:?}").contains("whsec_"), "never printed");
    }
}
