//! What the store keeps per client, and the rules that read it: whether a presented key or an IAM
//! caller is the client's, and how a key is rotated.
//!
//! A record holds every key hash the client may use, each with its own expiry, rather than a "current"
//! and a "previous" slot: a rotation is one write that adds the new hash and gives the others an expiry,
//! a second rotation inside the overlap needs no special case, and revoking a leaked key at once is a
//! rotation with no overlap. Keys that have expired are dropped at the next rotation, so the list stays
//! as short as the rotations in flight.
//!
//! A presented key is compared with every stored hash, in constant time each and without stopping at a
//! match, so the answer's timing does not tell how close a guess was or which key it matched. Whether the
//! client is disabled is looked at only after its key matched: a caller without the key gets the same
//! 401 for a disabled client as for an unknown one.

use super::iam::IamPrincipal;
use super::key::KeyHash;
use super::{ClientId, Denial};
use std::num::NonZeroU32;

/// One of a client's keys, as stored: its hash and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub hash: KeyHash,
    /// Epoch ms it was added; for operators, to see a key's age.
    pub created_ms: u64,
    /// Epoch ms from which it no longer works; `None` until a rotation replaces it.
    pub expires_ms: Option<u64>,
}

impl StoredKey {
    fn works_at(&self, now_ms: u64) -> bool {
        self.expires_ms.is_none_or(|expires| now_ms < expires)
    }
}

/// A client as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: ClientId,
    pub keys: Vec<StoredKey>,
    /// The IAM roles and users that may act as this client on the `AWS_IAM` routes.
    pub iam_principals: Vec<IamPrincipal>,
    /// Requests per second the API accepts from the client (see [`super::throttle()`]).
    pub requests_per_second: NonZeroU32,
    /// Refuses every request (403) without forgetting the client or its handoffs.
    pub disabled: bool,
}

impl ClientRecord {
    /// Lets a request through if the hash of the key it presented is one of the client's keys that has
    /// not expired at `now_ms`, and the client is not disabled.
    pub fn admits(&self, presented: &KeyHash, now_ms: u64) -> Result<(), Denial> {
        let matched = self.keys.iter().fold(
            None,
            |found, key| if key.hash == *presented { Some(key) } else { found },
        );
        match matched {
            None => Err(Denial::WrongKey),
            Some(key) if !key.works_at(now_ms) => Err(Denial::Expired),
            Some(_) => self.standing(),
        }
    }

    /// Lets an IAM caller (already authenticated by API Gateway's SigV4 check) act as this client if the
    /// record names its role or user, and the client is not disabled. Both refusals are 403: AWS knows who
    /// the caller is.
    pub fn admits_caller(&self, caller: &IamPrincipal) -> Result<(), Denial> {
        if !self.iam_principals.contains(caller) {
            return Err(Denial::UnmappedCaller);
        }
        self.standing()
    }

    fn standing(&self) -> Result<(), Denial> {
        if self.disabled { Err(Denial::Disabled) } else { Ok(()) }
    }

    /// Adds `new` as a key that does not expire, and makes every other key expire `overlap_ms` after
    /// `now_ms` (or sooner, if it already was to), so a bot has that long to switch; keys already expired
    /// are dropped. A hash the record already holds leaves it unchanged, so a retried rotation is
    /// harmless (and an old key cannot be brought back by rotating to it). An overlap of 0 revokes every
    /// other key at once.
    pub fn rotate(&mut self, new: KeyHash, now_ms: u64, overlap_ms: u64) {
        if self.keys.iter().any(|key| key.hash == new) {
            return;
        }
        let until = now_ms.saturating_add(overlap_ms);
        self.keys.retain(|key| key.works_at(now_ms));
        for key in &mut self.keys {
            key.expires_ms = Some(key.expires_ms.map_or(until, |expires| expires.min(until)));
        }
        self.keys.push(StoredKey {
            hash: new,
            created_ms: now_ms,
            expires_ms: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::ApiKey;
    use super::*;

    const T0: u64 = 1_796_640_000_000;
    const DAY_MS: u64 = 86_400_000;

    fn key(byte: u8) -> ApiKey {
        ApiKey::mint(&ClientId::parse("acme-bot").unwrap(), &[byte; 32])
    }

    fn record(first: &ApiKey) -> ClientRecord {
        ClientRecord {
            id: ClientId::parse("acme-bot").unwrap(),
            keys: vec![StoredKey {
                hash: first.hash(),
                created_ms: T0,
                expires_ms: None,
            }],
            iam_principals: vec![IamPrincipal::parse("arn:aws:iam::123456789012:role/bots/AcmeBot").unwrap()],
            requests_per_second: NonZeroU32::new(10).unwrap(),
            disabled: false,
        }
    }

    #[test]
    fn only_a_stored_key_is_admitted() {
        let client = record(&key(1));
        assert_eq!(client.admits(&key(1).hash(), T0), Ok(()));
        assert_eq!(client.admits(&key(2).hash(), T0), Err(Denial::WrongKey));
        let empty = ClientRecord { keys: vec![], ..client };
        assert_eq!(empty.admits(&key(1).hash(), T0), Err(Denial::WrongKey));
    }

    #[test]
    fn a_disabled_client_is_refused_403_only_with_its_own_key() {
        let client = ClientRecord {
            disabled: true,
            ..record(&key(1))
        };
        assert_eq!(client.admits(&key(1).hash(), T0), Err(Denial::Disabled));
        assert_eq!(client.admits(&key(1).hash(), T0).unwrap_err().status(), 403);
        assert_eq!(client.admits(&key(2).hash(), T0).unwrap_err().status(), 401);
    }

    #[test]
    fn after_a_rotation_the_old_key_works_until_the_overlap_ends() {
        let mut client = record(&key(1));
        client.rotate(key(2).hash(), T0 + DAY_MS, DAY_MS);
        let end = T0 + 2 * DAY_MS;
        assert_eq!(client.admits(&key(1).hash(), end - 1), Ok(()));
        assert_eq!(client.admits(&key(2).hash(), end - 1), Ok(()));
        assert_eq!(client.admits(&key(1).hash(), end), Err(Denial::Expired));
        assert_eq!(client.admits(&key(2).hash(), end + 365 * DAY_MS), Ok(()));
        assert_eq!(
            client.keys[1],
            StoredKey {
                hash: key(2).hash(),
                created_ms: T0 + DAY_MS,
                expires_ms: None
            }
        );
    }

    #[test]
    fn a_second_rotation_keeps_earlier_expiries_and_drops_expired_keys() {
        let mut client = record(&key(1));
        client.rotate(key(2).hash(), T0, DAY_MS);
        // Rotated again within the overlap, with a longer one: key 1 still ends when it was to.
        client.rotate(key(3).hash(), T0 + 1000, 7 * DAY_MS);
        let expiries: Vec<Option<u64>> = client.keys.iter().map(|k| k.expires_ms).collect();
        assert_eq!(expiries, [Some(T0 + DAY_MS), Some(T0 + 1000 + 7 * DAY_MS), None]);
        // Once key 1 has expired, the next rotation drops it.
        client.rotate(key(4).hash(), T0 + 2 * DAY_MS, DAY_MS);
        let hashes: Vec<KeyHash> = client.keys.iter().map(|k| k.hash).collect();
        assert_eq!(hashes, [key(2).hash(), key(3).hash(), key(4).hash()]);
    }

    #[test]
    fn a_retried_rotation_changes_nothing_and_no_overlap_revokes() {
        let mut client = record(&key(1));
        client.rotate(key(2).hash(), T0, DAY_MS);
        let once = client.clone();
        client.rotate(key(2).hash(), T0 + 5000, DAY_MS);
        assert_eq!(client, once);
        client.rotate(key(1).hash(), T0 + 5000, DAY_MS);
        assert_eq!(client, once, "an expiring key is not made current again");

        let mut leaked = record(&key(1));
        leaked.rotate(key(2).hash(), T0, 0);
        assert_eq!(leaked.admits(&key(1).hash(), T0), Err(Denial::Expired));
        assert_eq!(leaked.admits(&key(2).hash(), T0), Ok(()));
    }

    #[test]
    fn an_iam_caller_acts_as_the_client_whose_record_names_its_role() {
        let client = record(&key(1));
        let session = |arn: &str| IamPrincipal::caller(arn).unwrap();
        assert_eq!(
            client.admits_caller(&session("arn:aws:sts::123456789012:assumed-role/AcmeBot/i-0abc")),
            Ok(())
        );
        let stranger = session("arn:aws:sts::123456789012:assumed-role/OtherBot/i-0abc");
        assert_eq!(client.admits_caller(&stranger), Err(Denial::UnmappedCaller));
        assert_eq!(client.admits_caller(&stranger).unwrap_err().status(), 403);
        let disabled = ClientRecord {
            disabled: true,
            ..client
        };
        assert_eq!(
            disabled.admits_caller(&session("arn:aws:sts::123456789012:assumed-role/AcmeBot/x")),
            Err(Denial::Disabled)
        );
    }
}
