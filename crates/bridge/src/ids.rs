//! Identifiers of the bridge's domain, one name per concept.
//!
//! Every id that crosses a boundary is parsed once into a newtype here ("parse, don't validate"), so the
//! rest of the code cannot mix up a customer with a business number or log a token by accident: tokens
//! have no `Display` and a redacted `Debug`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

/// Why a raw string was not accepted as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not valid")]
pub struct InvalidId {
    pub what: &'static str,
}

fn check(what: &'static str, raw: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<String, InvalidId> {
    if raw.is_empty() || raw.len() > max || !raw.chars().all(allowed) {
        return Err(InvalidId { what });
    }
    Ok(raw.to_owned())
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                check($what, raw, $max, $allowed).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '=' | '+' | '/' | ':')
}

public_id!(
    /// The customer's WhatsApp identity: a `wa_id` (digits, no `+`) or a business-scoped user id.
    CustomerId,
    "customer id",
    128,
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
);
public_id!(
    /// Meta's `phone_number_id` of the business number the customer wrote to.
    PhoneNumberId,
    "phone number id",
    64,
    |c: char| c.is_ascii_digit()
);
public_id!(
    /// The AWS End User Messaging id of a business number (`phone-number-id-<hex>`), used to send.
    OriginationId,
    "origination phone number id",
    100,
    |c: char| c.is_ascii_alphanumeric() || c == '-'
);
public_id!(
    /// A WhatsApp message id (`wamid.…`).
    Wamid,
    "WhatsApp message id",
    256,
    id_char
);
public_id!(
    /// An Amazon Connect contact id (the initial one keys a chat across transfers).
    ContactId,
    "contact id",
    256,
    |c: char| c.is_ascii_alphanumeric() || c == '-'
);
public_id!(
    /// The id of one item of a Connect chat transcript.
    ItemId,
    "chat item id",
    256,
    |c: char| c.is_ascii_alphanumeric() || c == '-'
);

impl OriginationId {
    /// EUM names a number by ARN (`…:phone-number-id/<hex>`); the API also takes `phone-number-id-<hex>`.
    pub fn from_arn(arn: &str) -> Result<Self, InvalidId> {
        let last = arn.rsplit(':').next().unwrap_or_default();
        Self::parse(&last.replace('/', "-"))
    }
}

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// The raw value, for the one API call that needs it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(redacted)"))
            }
        }
    };
}

secret!(
    /// Lives as long as the customer participant; used to (re)create connections.
    ParticipantToken
);
secret!(
    /// Authorises the customer's Participant Service calls; expires after a day.
    ConnectionToken
);
secret!(
    /// The per-deployment key of [`ConversationKey::digest`] (`CUSTOMER_HASH_KEY`, generated at deploy
    /// time): without it, a digest cannot be matched to a phone number by hashing every number.
    CustomerHashKey
);

/// The keyed hash behind every [`ConversationKey::digest`] of this process.
static DIGEST_MAC: OnceLock<Hmac<Sha256>> = OnceLock::new();

/// Keys every later [`ConversationKey::digest`] of this process with the deployment's key; called once at
/// start-up, before the first event. A second call changes nothing (digests must stay stable).
pub fn set_customer_hash_key(key: &CustomerHashKey) {
    if let Ok(mac) = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) {
        let _ = DIGEST_MAC.set(mac);
    }
}

/// The configured key, or (where nothing configured one: in-process tests) a random key of this
/// process, so that no digest is ever unkeyed.
fn digest_mac() -> &'static Hmac<Sha256> {
    DIGEST_MAC.get_or_init(|| {
        let random = RandomState::new();
        let mut key = [0u8; 64];
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&random.hash_one(i).to_le_bytes());
        }
        Hmac::<Sha256>::new(&key.into())
    })
}

/// One conversation: a customer talking to one of the business numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationKey {
    pub phone_number_id: PhoneNumberId,
    pub customer_id: CustomerId,
}

impl ConversationKey {
    pub fn new(phone_number_id: PhoneNumberId, customer_id: CustomerId) -> Self {
        Self {
            phone_number_id,
            customer_id,
        }
    }

    /// A stable digest that names the conversation without revealing the phone number (logs, S3 keys,
    /// client tokens): 16 hex digits of HMAC-SHA-256 under the deployment's [`CustomerHashKey`], so that
    /// hashing every possible phone number finds nothing without the key.
    pub fn digest(&self) -> String {
        self.digest_under(digest_mac())
    }

    fn digest_under(&self, key: &Hmac<Sha256>) -> String {
        let mut mac = key.clone();
        mac.update(format!("{}#{}", self.phone_number_id, self.customer_id).as_bytes());
        hex16(&mac.finalize().into_bytes())
    }
}

impl CustomerId {
    /// A phone number (`wa_id`, digits only) rather than a business-scoped user id (`US.1349…`). The
    /// Cloud API addresses a message to a phone number in `to`, to a user id (the customer hid their
    /// number) in `recipient`, as Meta's username support asks.
    pub fn is_phone(&self) -> bool {
        self.as_str().chars().all(|c| c.is_ascii_digit())
    }
}

/// A 16-hex-digit SHA-256 prefix of a value that is not personal (item ids, attachment ids): enough to
/// name it in client tokens and state. Customers are named by [`ConversationKey::digest`] instead.
pub fn short_hash(value: &str) -> String {
    hex16(&Sha256::digest(value.as_bytes()))
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origination_id_from_arn() {
        let id = OriginationId::from_arn(
            "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3",
        )
        .unwrap();
        assert_eq!(id.as_str(), "phone-number-id-976c72a700aac43eaf573ae050b1e2f3");
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(CustomerId::parse("").is_err());
        assert!(CustomerId::parse("12 34").is_err());
        assert!(PhoneNumberId::parse("12a").is_err());
        assert!(CustomerId::parse(&"1".repeat(129)).is_err());
        assert!(CustomerId::parse("16505551234").is_ok());
    }

    #[test]
    fn tokens_are_redacted() {
        let t = ConnectionToken::new("secret-value");
        assert_eq!(format!("{t:?}"), "ConnectionToken(redacted)");
    }

    fn under(key: &str) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap()
    }

    fn conversation() -> ConversationKey {
        ConversationKey::new(
            PhoneNumberId::parse("106540352242922").unwrap(),
            CustomerId::parse("16505551234").unwrap(),
        )
    }

    #[test]
    fn digest_is_stable_and_hides_the_number() {
        let key = conversation();
        assert_eq!(key.digest(), key.clone().digest());
        assert_eq!(key.digest().len(), 16);
        assert!(!key.digest().contains("16505551234"));
    }

    #[test]
    fn digest_is_hmac_sha256_under_the_deployments_key() {
        // RFC 4231, test case 2: HMAC-SHA-256 of "what do ya want for nothing?" under "Jefe".
        let mut mac = under("Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex16(&mac.finalize().into_bytes()), "5bdcc146bf60754e");
        let mut mac = under("Jefe");
        mac.update(b"106540352242922#16505551234");
        assert_eq!(
            conversation().digest_under(&under("Jefe")),
            hex16(&mac.finalize().into_bytes())
        );
    }

    #[test]
    fn without_the_key_hashing_phone_numbers_does_not_find_the_customer() {
        let key = conversation();
        let one = key.digest_under(&under("k3Yq9ZtXwVb2N8rLmP4sD7fGhJ6aQe1C"));
        let other = key.digest_under(&under("Lp0oK9ij8UHb7ygv6TFc5rdx4ESz3WAq"));
        assert_ne!(one, other, "the digest depends on the key");
        // What an unkeyed digest would be, and what anyone can compute for every phone number.
        let unkeyed = short_hash("106540352242922#16505551234");
        assert_ne!(one, unkeyed);
        assert_ne!(key.digest(), unkeyed);
    }

    #[test]
    fn the_key_is_redacted() {
        let key = CustomerHashKey::new("k3Yq9ZtXwVb2N8rLmP4sD7fGhJ6aQe1C");
        assert_eq!(format!("{key:?}"), "CustomerHashKey(redacted)");
    }
}
