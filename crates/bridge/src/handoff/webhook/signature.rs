//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, symmetric scheme `v1`): the headers
//! every delivery to a bot carries, and their verification on the receiving side (the twin's webhook
//! receiver, the docs' example).
//!
//! Written on `hmac` + `sha2` + `base64` rather than the `standardwebhooks` crate: that crate would bring
//! a second major of `base64`, a second `hmac` and `time` into the build, for some thirty lines of logic;
//! the specification's test vector holds this implementation to it instead. It also compares decoded
//! tags with `Mac::verify_slice` (constant time, length checked), where a byte-wise zip of the base64
//! strings would let a truncated signature through.
//!
//! A secret is kept only as its keyed HMAC, so no raw key bytes linger beside it, and it has no
//! `Display` and a redacted `Debug`: it cannot reach a log line or an error by accident.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// The header naming the event; the same on every attempt, so the bot can drop a duplicate.
pub const ID_HEADER: &str = "webhook-id";
/// The header holding when this attempt was made (unix seconds); it changes on every attempt.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header holding the space-separated signatures, one per active secret.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// How far a delivery's timestamp may be from the receiver's clock, either way (the specification's
/// recommendation): a captured delivery cannot be replayed later than this.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

const SECRET_PREFIX: &str = "whsec_";
const VERSION: &str = "v1";
/// The specification's bounds for a symmetric secret: at least 192 bits, at most 512.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Why a configured secret was refused; never says what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    #[error("a webhook secret starts with whsec_")]
    Prefix,
    #[error("a webhook secret is base64 after whsec_")]
    Base64,
    #[error("a webhook secret holds 24 to 64 bytes")]
    Length,
}

/// A client's signing secret (`whsec_<base64>`), parsed once.
#[derive(Clone)]
pub struct WebhookSecret {
    mac: Hmac<Sha256>,
}

impl WebhookSecret {
    pub fn parse(raw: &str) -> Result<Self, InvalidSecret> {
        let encoded = raw.strip_prefix(SECRET_PREFIX).ok_or(InvalidSecret::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| InvalidSecret::Base64)?;
        if !SECRET_BYTES.contains(&key.len()) {
            return Err(InvalidSecret::Length);
        }
        let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| InvalidSecret::Length)?;
        Ok(Self { mac })
    }

    /// The HMAC of `{id}.{timestamp}.{body}`, ready to finalize or verify against.
    fn keyed(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// The secrets a client's deliveries are signed with: its current one and, while a rotation overlaps, the
/// previous one, so a bot still verifying with the old secret keeps accepting deliveries until it
/// switches. When the overlap ends is the store's decision: it stops passing `previous`.
#[derive(Debug, Clone)]
pub struct ClientSecrets {
    pub current: WebhookSecret,
    pub previous: Option<WebhookSecret>,
}

/// What one delivery attempt signs: the event's id, the attempt's time and the exact body sent.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// The event's `webhook-id`; never user-controlled, and without a `.` (it delimits the signed text).
    pub id: &'a str,
    /// When the attempt is made, unix seconds.
    pub timestamp_s: i64,
    pub body: &'a [u8],
}

/// The three headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub id: String,
    pub timestamp: String,
    /// `v1,<base64>` per secret, current first, space-separated.
    pub signature: String,
}

impl Headers {
    /// Name and value of each, for the HTTP request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (ID_HEADER, self.id.as_str()),
            (TIMESTAMP_HEADER, self.timestamp.as_str()),
            (SIGNATURE_HEADER, self.signature.as_str()),
        ]
    }
}

/// Signs one attempt with every active secret of the client.
pub fn sign(content: &Content<'_>, secrets: &ClientSecrets) -> Headers {
    let timestamp = content.timestamp_s.to_string();
    let signature = std::iter::once(&secrets.current)
        .chain(secrets.previous.as_ref())
        .map(|secret| {
            let tag = secret
                .keyed(content.id, &timestamp, content.body)
                .finalize()
                .into_bytes();
            format!("{VERSION},{}", STANDARD.encode(tag))
        })
        .collect::<Vec<_>>()
        .join(" ");
    Headers {
        id: content.id.to_owned(),
        timestamp,
        signature,
    }
}

/// A delivery as the receiver got it: the three headers (absent ones `None`) and the raw body, before
/// any JSON parsing (parsing and serializing again changes the signed bytes).
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// The receiver's clock and how far from it a delivery's timestamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds.
    pub now_s: i64,
    pub tolerance: Duration,
}

impl Window {
    /// The specification's window: [`TOLERANCE`] either way of `now_s`.
    pub fn standard(now_s: i64) -> Self {
        Self {
            now_s,
            tolerance: TOLERANCE,
        }
    }
}

/// Why a delivery was not accepted as the client's. Names headers, never their values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header is not unix seconds")]
    InvalidTimestamp,
    #[error("the webhook-timestamp is older than the tolerance allows")]
    TooOld,
    #[error("the webhook-timestamp is further in the future than the tolerance allows")]
    TooNew,
    #[error("no v1 signature matches a secret")]
    NoMatchingSignature,
}

/// Accepts a delivery when its timestamp is within the window and any of its `v1` signatures matches any
/// of `secrets` (a receiver in the middle of a rotation holds both). Signatures of other schemes
/// (`v1a`, asymmetric) are skipped, as the specification asks of a receiver that does not know them.
pub fn verify(received: &Received<'_>, secrets: &[WebhookSecret], window: Window) -> Result<(), Rejection> {
    let id = received.id.ok_or(Rejection::MissingHeader(ID_HEADER))?;
    let timestamp = received.timestamp.ok_or(Rejection::MissingHeader(TIMESTAMP_HEADER))?;
    let signatures = received.signature.ok_or(Rejection::MissingHeader(SIGNATURE_HEADER))?;
    // Digits only: `i64::from_str` would also take a sign, which no sender writes.
    let sent_s = Some(timestamp)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(Rejection::InvalidTimestamp)?;
    let tolerance = i64::try_from(window.tolerance.as_secs()).unwrap_or(i64::MAX);
    if sent_s < window.now_s.saturating_sub(tolerance) {
        return Err(Rejection::TooOld);
    }
    if sent_s > window.now_s.saturating_add(tolerance) {
        return Err(Rejection::TooNew);
    }
    let tags: Vec<Vec<u8>> = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| entry.strip_prefix(VERSION)?.strip_prefix(','))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    // The signed text uses the header exactly as sent, not the number re-formatted.
    let matched = secrets.iter().any(|secret| {
        let keyed = secret.keyed(id, timestamp, received.body);
        tags.iter().any(|tag| keyed.clone().verify_slice(tag).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(Rejection::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's test vector (and its reference libraries' tests).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    // Another valid secret (the reference Rust library's), for rotation.
    const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn secret(raw: &str) -> WebhookSecret {
        WebhookSecret::parse(raw).unwrap()
    }

    fn spec_content() -> Content<'static> {
        Content {
            id: SPEC_ID,
            timestamp_s: SPEC_TIMESTAMP,
            body: SPEC_BODY,
        }
    }

    fn only(raw: &str) -> ClientSecrets {
        ClientSecrets {
            current: secret(raw),
            previous: None,
        }
    }

    fn received<'a>(headers: &'a Headers, body: &'a [u8]) -> Received<'a> {
        Received {
            id: Some(headers.id.as_str()),
            timestamp: Some(headers.timestamp.as_str()),
            signature: Some(headers.signature.as_str()),
            body,
        }
    }

    #[test]
    fn signs_the_specifications_test_vector() {
        let headers = sign(&spec_content(), &only(SPEC_SECRET));
        assert_eq!(headers.signature, SPEC_SIGNATURE);
        assert_eq!(
            headers.pairs(),
            [
                ("webhook-id", SPEC_ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", SPEC_SIGNATURE),
            ]
        );
        let at_that_time = Window::standard(SPEC_TIMESTAMP);
        assert_eq!(
            verify(&received(&headers, SPEC_BODY), &[secret(SPEC_SECRET)], at_that_time),
            Ok(())
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_and_either_verifies() {
        let rotating = ClientSecrets {
            current: secret(OTHER_SECRET),
            previous: Some(secret(SPEC_SECRET)),
        };
        let headers = sign(&spec_content(), &rotating);
        let entries: Vec<&str> = headers.signature.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[1], SPEC_SIGNATURE,
            "the previous secret signs after the current one"
        );
        let window = Window::standard(SPEC_TIMESTAMP);
        let delivery = received(&headers, SPEC_BODY);
        for secrets in [
            vec![secret(SPEC_SECRET)],
            vec![secret(OTHER_SECRET)],
            vec![secret(OTHER_SECRET), secret(SPEC_SECRET)],
        ] {
            assert_eq!(verify(&delivery, &secrets, window), Ok(()));
        }
    }

    #[test]
    fn a_tampered_body_a_wrong_secret_or_a_truncated_signature_fails() {
        let headers = sign(&spec_content(), &only(SPEC_SECRET));
        let window = Window::standard(SPEC_TIMESTAMP);
        let spec = [secret(SPEC_SECRET)];
        assert_eq!(
            verify(&received(&headers, br#"{"test": 2432232315}"#), &spec, window),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            verify(&received(&headers, SPEC_BODY), &[secret(OTHER_SECRET)], window),
            Err(Rejection::NoMatchingSignature)
        );
        assert_eq!(
            verify(&received(&headers, SPEC_BODY), &[], window),
            Err(Rejection::NoMatchingSignature)
        );
        let tag = STANDARD.decode(&SPEC_SIGNATURE[3..]).unwrap();
        for forged in [
            "v1,".to_owned(),
            format!("v1,{}", STANDARD.encode(&tag[..16])),
            format!("v1a,{}", &SPEC_SIGNATURE[3..]),
            format!("v2,{}", &SPEC_SIGNATURE[3..]),
            SPEC_SIGNATURE[3..].to_owned(),
        ] {
            let forged = Headers {
                signature: forged,
                ..headers.clone()
            };
            assert_eq!(
                verify(&received(&forged, SPEC_BODY), &spec, window),
                Err(Rejection::NoMatchingSignature),
                "{}",
                forged.signature
            );
        }
        // Unknown schemes and stray spaces beside a good signature do not hide it.
        let mixed = Headers {
            signature: format!("v1a,AAAA  v1,!!notbase64 {SPEC_SIGNATURE}"),
            ..headers.clone()
        };
        assert_eq!(verify(&received(&mixed, SPEC_BODY), &spec, window), Ok(()));
    }

    #[test]
    fn the_signature_covers_the_id_and_the_timestamp() {
        let headers = sign(&spec_content(), &only(SPEC_SECRET));
        let window = Window::standard(SPEC_TIMESTAMP);
        let spec = [secret(SPEC_SECRET)];
        let other_id = Headers {
            id: "msg_other".into(),
            ..headers.clone()
        };
        let other_time = Headers {
            timestamp: (SPEC_TIMESTAMP + 1).to_string(),
            ..headers.clone()
        };
        for changed in [other_id, other_time] {
            assert_eq!(
                verify(&received(&changed, SPEC_BODY), &spec, window),
                Err(Rejection::NoMatchingSignature)
            );
        }
    }

    #[test]
    fn timestamps_outside_five_minutes_either_way_fail() {
        let spec = [secret(SPEC_SECRET)];
        let at = |sent: i64| {
            let headers = sign(
                &Content {
                    timestamp_s: sent,
                    ..spec_content()
                },
                &only(SPEC_SECRET),
            );
            verify(&received(&headers, SPEC_BODY), &spec, Window::standard(SPEC_TIMESTAMP))
        };
        assert_eq!(at(SPEC_TIMESTAMP - 300), Ok(()));
        assert_eq!(at(SPEC_TIMESTAMP + 300), Ok(()));
        assert_eq!(at(SPEC_TIMESTAMP - 301), Err(Rejection::TooOld));
        assert_eq!(at(SPEC_TIMESTAMP + 301), Err(Rejection::TooNew));

        let narrow = Window {
            now_s: SPEC_TIMESTAMP + 10,
            tolerance: Duration::from_secs(5),
        };
        let headers = sign(&spec_content(), &only(SPEC_SECRET));
        assert_eq!(
            verify(&received(&headers, SPEC_BODY), &spec, narrow),
            Err(Rejection::TooOld)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        let headers = sign(&spec_content(), &only(SPEC_SECRET));
        let spec = [secret(SPEC_SECRET)];
        let window = Window::standard(SPEC_TIMESTAMP);
        let full = received(&headers, SPEC_BODY);
        let cases = [
            (Received { id: None, ..full }, Rejection::MissingHeader("webhook-id")),
            (
                Received {
                    timestamp: None,
                    ..full
                },
                Rejection::MissingHeader("webhook-timestamp"),
            ),
            (
                Received {
                    signature: None,
                    ..full
                },
                Rejection::MissingHeader("webhook-signature"),
            ),
        ];
        for (delivery, expected) in cases {
            assert_eq!(verify(&delivery, &spec, window), Err(expected));
        }
        for timestamp in ["", "+1614265330", "-1", "1614265330.5", "soon", "99999999999999999999"] {
            let delivery = Received {
                timestamp: Some(timestamp),
                ..full
            };
            assert_eq!(
                verify(&delivery, &spec, window),
                Err(Rejection::InvalidTimestamp),
                "{timestamp}"
            );
        }
    }

    #[test]
    fn a_secret_is_parsed_without_ever_being_shown() {
        let raw_key = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(WebhookSecret::parse(raw_key).err(), Some(InvalidSecret::Prefix));
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").err(),
            Some(InvalidSecret::Base64)
        );
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        for raw in [short, long] {
            assert_eq!(WebhookSecret::parse(&raw).err(), Some(InvalidSecret::Length));
        }
        assert!(WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());

        let parsed = secret(SPEC_SECRET);
        assert_eq!(format!("{parsed:?}"), "WebhookSecret(redacted)");
        let secrets = format!("{:?}", only(SPEC_SECRET));
        assert!(!secrets.contains(raw_key), "{secrets}");
        for error in [InvalidSecret::Prefix, InvalidSecret::Base64, InvalidSecret::Length] {
            assert!(!error.to_string().contains(raw_key));
        }
    }
}
