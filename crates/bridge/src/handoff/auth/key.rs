//! API keys: minted from caller-supplied random bytes, shown to the client once, presented in a header,
//! and kept by the store only as a hash.
//!
//! A key is `wcb_<client id>_<secret>`, the secret being 32 random bytes in unpadded base64url (43
//! characters). The prefix makes a leaked key recognisable to secret scanners; the client id tells the
//! authorizer which single record to read. The secret may itself contain `_`, so a key is split by the
//! secret's fixed length, not at an underscore. Only the canonical encoding is accepted (the decoder
//! refuses stray trailing bits), so every key has exactly one text and one hash.
//!
//! The stored hash is a plain SHA-256 of the whole key. A slow password hash (Argon2, bcrypt) exists to
//! make guessing a low-entropy password from its hash expensive; a key's 256 random bits cannot be
//! guessed either way, so a fast hash loses nothing, and it keeps the authorizer at one hash per request.
//! Hashes are written as lowercase hex, never base64url, so a stored hash cannot be mistaken for (or
//! pasted as) a key's secret.
//!
//! [`ApiKey`] has no `Display` and a redacted `Debug`; its text is reached only through
//! [`ApiKey::reveal`], for the one answer that hands a new key to its client.

use super::{ClientId, Denial};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::CtOutput;
use sha2::{Digest, Sha256};
use std::fmt;

/// The header a key is sent in as `Bearer <key>`; header names as API Gateway's payload 2.0 gives them.
pub const AUTHORIZATION_HEADER: &str = "authorization";
/// The header a key may be sent in bare, for clients that cannot set `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

const PREFIX: &str = "wcb_";
const SECRET_BYTES: usize = 32;
/// `ceil(32 * 4 / 3)`: unpadded base64 of 32 bytes.
const SECRET_CHARS: usize = 43;

/// A client's API key, whole.
#[derive(Clone)]
pub struct ApiKey {
    client: ClientId,
    text: String,
}

impl ApiKey {
    /// A new key for `client`, from 32 bytes the caller draws from the system's secure generator.
    pub fn mint(client: &ClientId, random: &[u8; SECRET_BYTES]) -> Self {
        Self {
            client: client.clone(),
            text: format!("{PREFIX}{client}_{}", URL_SAFE_NO_PAD.encode(random)),
        }
    }

    /// A key as presented, checked for its shape only: whether it is a client's is the record's to say.
    pub fn parse(raw: &str) -> Result<Self, Denial> {
        let rest = raw
            .strip_prefix(PREFIX)
            .filter(|rest| rest.is_ascii())
            .ok_or(Denial::Malformed)?;
        let split = rest.len().checked_sub(SECRET_CHARS + 1).ok_or(Denial::Malformed)?;
        let (client, secret) = (&rest[..split], &rest[split + 1..]);
        if rest.as_bytes()[split] != b'_' {
            return Err(Denial::Malformed);
        }
        let client = ClientId::parse(client).map_err(|_| Denial::Malformed)?;
        match URL_SAFE_NO_PAD.decode(secret) {
            Ok(bytes) if bytes.len() == SECRET_BYTES => Ok(Self {
                client,
                text: raw.to_owned(),
            }),
            _ => Err(Denial::Malformed),
        }
    }

    /// The key a request presents, from `Authorization: Bearer <key>` or `x-api-key: <key>` (the headers'
    /// values, `None` when absent). Both may be sent if they hold the same key; anything else that is
    /// present and not a key (another scheme, two keys, a value API Gateway joined from repeated
    /// headers with a comma) is malformed rather than ignored, so a request never carries a credential
    /// this does not account for.
    pub fn from_headers(authorization: Option<&str>, x_api_key: Option<&str>) -> Result<Self, Denial> {
        let bearer = authorization.map(|value| {
            let (scheme, token) = value.trim().split_once(' ').ok_or(Denial::Malformed)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(Denial::Malformed);
            }
            Self::parse(token.trim_start())
        });
        let bare = x_api_key.map(|value| Self::parse(value.trim()));
        match (bearer, bare) {
            (None, None) => Err(Denial::NoKey),
            (Some(key), None) | (None, Some(key)) => key,
            (Some(bearer), Some(bare)) => {
                let (bearer, bare) = (bearer?, bare?);
                if bearer.text == bare.text {
                    Ok(bearer)
                } else {
                    Err(Denial::Malformed)
                }
            }
        }
    }

    /// The client the key claims to be; only the record's [`super::ClientRecord::admits`] confirms it.
    pub fn client_id(&self) -> &ClientId {
        &self.client
    }

    /// What the store keeps of this key.
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.text.as_bytes()).into())
    }

    /// The key's text, for the one answer that hands it to its client; it is never shown again.
    pub fn reveal(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}, redacted)", self.client)
    }
}

/// The SHA-256 of a key, as the store keeps it. Its `==` is constant-time, so comparing a presented
/// key's hash with the stored ones takes as long whichever bytes differ.
#[derive(Clone, Copy, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// A hash as written by [`KeyHash::to_hex`]: 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        if hex.len() != 64 || !hex.as_bytes().iter().all(lower_hex) {
            return None;
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        // digest's MAC-tag wrapper compares in constant time (it is reached through `hmac`, which turns on
        // the feature it needs); a byte-wise `==` stops at the first difference.
        CtOutput::<Sha256>::new(self.0.into()) == CtOutput::new(other.0.into())
    }
}

impl fmt::Debug for KeyHash {
    /// Eight hex digits: enough to tell a client's keys apart in an operator's view.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> ClientId {
        ClientId::parse("acme-bot").unwrap()
    }

    const ZERO_KEY: &str = "wcb_acme-bot_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn a_minted_key_has_its_shape_and_a_known_hash() {
        let key = ApiKey::mint(&acme(), &[0; 32]);
        assert_eq!(key.reveal(), ZERO_KEY);
        // `printf %s "$ZERO_KEY" | sha256sum`
        assert_eq!(
            key.hash().to_hex(),
            "12b6b33096c0fcb48be5c7e3c5f4a745bffd8f7b476e12b0f8b4e1565c72001c"
        );
        let counting: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            ApiKey::mint(&acme(), &counting).reveal(),
            "wcb_acme-bot_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        );
        assert_ne!(ApiKey::mint(&acme(), &counting).hash(), key.hash());
    }

    #[test]
    fn minted_keys_parse_back_even_when_the_secret_holds_underscores() {
        for random in [[0; 32], [0xff; 32], std::array::from_fn(|i| (i * 37) as u8)] {
            let minted = ApiKey::mint(&acme(), &random);
            let parsed = ApiKey::parse(minted.reveal()).unwrap();
            assert_eq!(parsed.client_id(), &acme());
            assert_eq!(parsed.hash(), minted.hash());
        }
        assert!(ApiKey::mint(&acme(), &[0xff; 32]).reveal().ends_with("_____8"));
    }

    #[test]
    fn anything_not_shaped_like_a_key_is_malformed() {
        let secret = &ZERO_KEY[13..];
        for bad in [
            String::new(),
            "wcb_".into(),
            ZERO_KEY[..ZERO_KEY.len() - 1].to_owned(),
            format!("{ZERO_KEY}A"),
            format!("xyz_acme-bot_{secret}"),
            format!("WCB_acme-bot_{secret}"),
            format!("wcb_Acme-bot_{secret}"),
            format!("wcb_acme_bot_{secret}"),
            format!("wcb_ab_{secret}"),
            format!("wcb_acme-bot-{secret}"),
            format!("wcb_acme-bot_{}", secret.replace('A', "é")),
            format!("wcb_acme-bot_{}+", &secret[1..]),
            // The last character carries bits past the 32nd byte: a second text for the same bytes.
            format!("wcb_acme-bot_{}B", &secret[1..]),
        ] {
            assert_eq!(ApiKey::parse(&bad).err(), Some(Denial::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_key_is_read_from_a_bearer_token_or_the_x_api_key_header() {
        let zero = ApiKey::mint(&acme(), &[0; 32]);
        let other = ApiKey::mint(&acme(), &[1; 32]);
        let bearer = format!("Bearer {ZERO_KEY}");
        for (authorization, x_api_key) in [
            (Some(bearer.clone()), None),
            (Some(format!("bearer   {ZERO_KEY} ")), None),
            (None, Some(format!(" {ZERO_KEY}"))),
            (Some(bearer.clone()), Some(ZERO_KEY.to_owned())),
        ] {
            let key = ApiKey::from_headers(authorization.as_deref(), x_api_key.as_deref()).unwrap();
            assert_eq!(key.hash(), zero.hash());
        }
        assert_eq!(ApiKey::from_headers(None, None).err(), Some(Denial::NoKey));
        for (authorization, x_api_key) in [
            (Some(ZERO_KEY.to_owned()), None),
            (Some(format!("Basic {ZERO_KEY}")), None),
            (Some(format!("Bearer {ZERO_KEY}, Bearer {}", other.reveal())), None),
            (Some(String::new()), None),
            (Some("Bearer".to_owned()), None),
            (None, Some(String::new())),
            (Some(bearer.clone()), Some(other.reveal().to_owned())),
            (Some(bearer.clone()), Some("nonsense".to_owned())),
        ] {
            assert_eq!(
                ApiKey::from_headers(authorization.as_deref(), x_api_key.as_deref()).err(),
                Some(Denial::Malformed),
                "{authorization:?} {x_api_key:?}"
            );
        }
    }

    #[test]
    fn keys_and_hashes_never_print_the_secret() {
        let key = ApiKey::mint(&acme(), &[0xab; 32]);
        let secret = &key.reveal()[13..];
        let shown = format!("{key:?} {:?}", key.hash());
        assert!(!shown.contains(secret), "{shown}");
        assert_eq!(
            shown,
            format!("ApiKey(acme-bot, redacted) KeyHash({}…)", &key.hash().to_hex()[..8])
        );
    }

    #[test]
    fn hashes_round_trip_through_lowercase_hex_only() {
        let hash = ApiKey::mint(&acme(), &[0; 32]).hash();
        let hex = hash.to_hex();
        assert_eq!(KeyHash::from_hex(&hex), Some(hash));
        for bad in [
            hex.to_uppercase(),
            hex[..63].to_owned(),
            format!("{hex}0"),
            format!("{}g", &hex[..63]),
            format!("+{}", &hex[1..]),
            String::new(),
        ] {
            assert_eq!(KeyHash::from_hex(&bad), None, "{bad}");
        }
        assert_ne!(KeyHash::from_hex(&"0".repeat(64)), Some(hash));
    }
}
