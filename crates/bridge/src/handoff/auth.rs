//! Who calls the Handoff API, and whether they may: clients, their API keys, the IAM principals that
//! act as them, their request rate, and the Lambda authorizer's decision.
//!
//! The API is an API Gateway HTTP API. Routes for bot platforms are guarded by a Lambda authorizer
//! (payload format 2.0, simple responses, [`authorizer`]) that checks a per-client API key; routes for
//! callers already on AWS use `AWS_IAM` authorization, and the function maps the signing principal to a
//! client ([`iam`]). Either way the function ends up with one [`ClientId`] ([`Caller`]), and scopes every
//! handoff to the client that created it, so a client sees only its own.
//!
//! Keys ([`key`]) are `wcb_<client id>_<32 random bytes>`: the client id in the key lets the authorizer
//! read exactly one client record, and the store keeps only each key's SHA-256 ([`KeyHash`]), so a leak
//! of the table reveals no working key. A client record ([`client`]) holds several hashes, each with its
//! own expiry, so a key is rotated by a write to the record, without a redeploy, and the old key keeps
//! working for an overlap while the bot switches.
//!
//! Everything here is pure: the random bytes of a new key, the clock and the store's reads are the
//! caller's. A refusal is a [`Denial`], which says why for logs and metrics but answers only 401 or 403,
//! the same for every reason of each kind, so a caller learns nothing about keys or clients it does not
//! hold. Nothing here formats a key, a secret or a header value into a message.
//!
//! Throttling ([`mod@throttle`]) is decided by the API function, not the authorizer: an authorizer's simple
//! response can only allow or deny (API Gateway answers a denial 403, never 429 with `Retry-After`).

pub mod authorizer;
pub mod client;
pub mod iam;
pub mod key;
pub mod store;
pub mod throttle;

pub use authorizer::{AuthorizerContext, AuthorizerEvent, AuthorizerResponse, Caller, RequestAuthorizer, authorize};
pub use client::{ClientRecord, StoredKey};
pub use iam::IamPrincipal;
pub use key::{ApiKey, KeyHash};
pub use throttle::{Throttle, Window, throttle};

use super::request::ApiError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A client's id: 3 to 40 of `a-z`, `0-9` and `-`. It is part of every key the client holds, and it has
/// no `_`, so a key's parts split unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct ClientId(String);

/// Why a client id was refused; never says what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a client id is 3 to 40 of a-z, 0-9 and -")]
pub struct InvalidClientId;

const CLIENT_ID_CHARS: std::ops::RangeInclusive<usize> = 3..=40;

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, InvalidClientId> {
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if CLIENT_ID_CHARS.contains(&raw.len()) && raw.bytes().all(allowed) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidClientId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidClientId;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a request was not let through. Only [`Denial::status`] reaches the caller; the reason is for
/// logs and metrics, and names no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("no API key was presented")]
    NoKey,
    #[error("the API key is malformed")]
    Malformed,
    #[error("no client has the key's client id")]
    UnknownClient,
    #[error("the key is not one of the client's keys")]
    WrongKey,
    #[error("the key has expired")]
    Expired,
    #[error("the client is disabled")]
    Disabled,
    /// An IAM caller AWS has authenticated that no client record names.
    #[error("the IAM caller is not a client's principal")]
    UnmappedCaller,
}

impl Denial {
    /// 401 when the caller did not prove who it is; 403 when it did and is still not allowed. A disabled
    /// client is only told so after its key matched, so a guessed client id learns nothing.
    pub fn status(self) -> u16 {
        self.error().status()
    }

    pub fn error(self) -> ApiError {
        match self {
            Denial::NoKey | Denial::Malformed | Denial::UnknownClient | Denial::WrongKey | Denial::Expired => {
                ApiError::unauthorized()
            }
            Denial::Disabled | Denial::UnmappedCaller => ApiError::forbidden(),
        }
    }
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        denial.error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_3_to_40_lowercase_letters_digits_and_hyphens() {
        for good in ["abc", "acme-bot", "bot-2", &"a".repeat(40), "123"] {
            assert_eq!(ClientId::parse(good).map(|id| id.to_string()).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "ab",
            &"a".repeat(41),
            "Acme",
            "acme_bot",
            "acme bot",
            "acmé",
            "acme.bot",
            "acme\n",
        ] {
            assert_eq!(ClientId::parse(bad), Err(InvalidClientId), "{bad:?}");
        }
        let parsed: ClientId = serde_json::from_str("\"acme-bot\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"acme-bot\"");
        assert!(serde_json::from_str::<ClientId>("\"ACME\"").is_err());
    }

    #[test]
    fn denials_answer_401_until_the_caller_is_known_and_403_after() {
        for denial in [
            Denial::NoKey,
            Denial::Malformed,
            Denial::UnknownClient,
            Denial::WrongKey,
            Denial::Expired,
        ] {
            assert_eq!(denial.status(), 401, "{denial}");
            assert_eq!(ApiError::from(denial), ApiError::unauthorized());
        }
        for denial in [Denial::Disabled, Denial::UnmappedCaller] {
            assert_eq!(denial.status(), 403, "{denial}");
            assert_eq!(ApiError::from(denial), ApiError::forbidden());
        }
    }
}
