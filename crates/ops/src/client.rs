//! `client`: an operator's changes to the Handoff API's clients, through the same [`ClientStore`] the
//! authorizer and the API function read.
//!
//! Every change is a read of the record, the domain's own rule applied to it ([`ClientRecord::rotate`]
//! for a key) and one write, so the tool cannot store a record the functions would read differently. A
//! new key is minted here from the caller's random bytes and handed back once as an [`ApiKey`]; only
//! its hash is stored, so a key that was not saved when it was shown is replaced by a rotation, never
//! recovered. [`show`] prints a key's hash by its first eight hex digits only: enough to tell keys
//! apart, nothing to search a leak for.

use bridge::handoff::auth::store::ClientStore;
use bridge::handoff::auth::{ApiKey, ClientId, ClientRecord, IamPrincipal, StoredKey};
use bridge::handoff::dispatch::EndpointStore;
use bridge::handoff::webhook::endpoint::{WebhookEndpoint, WebhookUrl};
use chrono::{DateTime, SecondsFormat};
use std::fmt::Write;
use std::num::NonZeroU32;

/// Why a command changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client {0} already exists (rotate-key gives it a new key)")]
    Exists(ClientId),
    #[error("no client {0}")]
    Unknown(ClientId),
    #[error("client {0} has no webhook (set-webhook gives it one)")]
    NoWebhook(ClientId),
    #[error("{0}")]
    Store(#[from] bridge::error::PortError),
}

/// A new webhook signing secret from `random`: `whsec_` and the bytes in base64, as Standard Webhooks
/// writes them.
fn mint_secret(random: &[u8; 32]) -> String {
    use base64::Engine;
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(random))
}

/// Points the client's events at `url`. A client without a webhook gets a new secret, minted from
/// `random` and returned to be shown once; one with a webhook keeps its secrets (`None`).
pub async fn set_webhook(
    store: &(impl ClientStore + EndpointStore),
    id: &ClientId,
    url: WebhookUrl,
    random: &[u8; 32],
) -> Result<Option<String>, ClientError> {
    if store.load_client(id).await?.is_none() {
        return Err(ClientError::Unknown(id.clone()));
    }
    let (endpoint, minted) = match store.load_webhook(id.as_str()).await? {
        Some(kept) => (WebhookEndpoint { url, ..kept }, None),
        None => {
            let secret = mint_secret(random);
            let endpoint = WebhookEndpoint::new(url, &secret).expect("a minted secret is valid");
            (endpoint, Some(secret))
        }
    };
    store.put_webhook(id.as_str(), &endpoint).await?;
    Ok(minted)
}

/// A new signing secret for the client's webhook, minted from `random` and returned to be shown once;
/// deliveries carry a signature by the old one too for `overlap_ms` (0: no longer at all).
pub async fn rotate_secret(
    store: &impl EndpointStore,
    id: &ClientId,
    overlap_ms: u64,
    now_ms: u64,
    random: &[u8; 32],
) -> Result<String, ClientError> {
    let endpoint = store
        .load_webhook(id.as_str())
        .await?
        .ok_or_else(|| ClientError::NoWebhook(id.clone()))?;
    let secret = mint_secret(random);
    let rotated = endpoint
        .rotated(&secret, now_ms, overlap_ms)
        .expect("a minted secret is valid");
    store.put_webhook(id.as_str(), &rotated).await?;
    Ok(secret)
}

/// A new client: `rps` requests per second, acting for `principals` on the IAM routes, with one key
/// minted from `random`, which is returned to be shown once.
pub async fn add(
    store: &impl ClientStore,
    id: ClientId,
    rps: NonZeroU32,
    principals: Vec<IamPrincipal>,
    now_ms: u64,
    random: &[u8; 32],
) -> Result<ApiKey, ClientError> {
    if store.load_client(&id).await?.is_some() {
        return Err(ClientError::Exists(id));
    }
    let key = ApiKey::mint(&id, random);
    let record = ClientRecord {
        id,
        keys: vec![StoredKey {
            hash: key.hash(),
            created_ms: now_ms,
            expires_ms: None,
        }],
        iam_principals: principals,
        requests_per_second: rps,
        disabled: false,
    };
    store.put_client(&record).await?;
    Ok(key)
}

/// A new key for the client, minted from `random`; its other keys keep working for `overlap_ms` (0
/// revokes them at once).
pub async fn rotate_key(
    store: &impl ClientStore,
    id: &ClientId,
    overlap_ms: u64,
    now_ms: u64,
    random: &[u8; 32],
) -> Result<ApiKey, ClientError> {
    let key = ApiKey::mint(id, random);
    change(store, id, |record| record.rotate(key.hash(), now_ms, overlap_ms)).await?;
    Ok(key)
}

/// Refuses (or accepts again) every request of the client, keeping its keys and handoffs.
pub async fn set_disabled(store: &impl ClientStore, id: &ClientId, disabled: bool) -> Result<(), ClientError> {
    change(store, id, |record| record.disabled = disabled).await
}

async fn change(
    store: &impl ClientStore,
    id: &ClientId,
    apply: impl FnOnce(&mut ClientRecord),
) -> Result<(), ClientError> {
    let mut record = store
        .load_client(id)
        .await?
        .ok_or_else(|| ClientError::Unknown(id.clone()))?;
    apply(&mut record);
    store.put_client(&record).await?;
    Ok(())
}

/// The client's record for an operator: standing, rate, each key (its hash's first eight hex digits,
/// its age and expiry at `now_ms`) and its IAM principals.
pub async fn show(store: &impl ClientStore, id: &ClientId, now_ms: u64) -> Result<String, ClientError> {
    let record = store
        .load_client(id)
        .await?
        .ok_or_else(|| ClientError::Unknown(id.clone()))?;
    Ok(describe(&record, now_ms))
}

fn describe(record: &ClientRecord, now_ms: u64) -> String {
    let standing = if record.disabled { "disabled" } else { "enabled" };
    let mut out = format!(
        "client   {}\nstatus   {standing}\nrate     {} requests/s\n",
        record.id, record.requests_per_second
    );
    for key in &record.keys {
        let expiry = match key.expires_ms {
            None => "current".to_owned(),
            Some(at) if at <= now_ms => format!("expired {}", time(at)),
            Some(at) => format!("expires {}", time(at)),
        };
        let prefix = &key.hash.to_hex()[..8];
        let _ = writeln!(out, "key      {prefix}…  created {}  {expiry}", time(key.created_ms));
    }
    for principal in &record.iam_principals {
        let _ = writeln!(out, "iam      {principal}");
    }
    out
}

/// Epoch ms as UTC, to the second.
fn time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map_or_else(
            || format!("{ms} ms"),
            |at| at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge::handoff::auth::KeyHash;

    #[test]
    fn a_record_is_described_without_whole_hashes() {
        let hash = KeyHash::from_hex(&"ab12cd34".repeat(8)).unwrap();
        let at = 1_796_601_600_000;
        let record = ClientRecord {
            id: ClientId::parse("acme-bot").unwrap(),
            keys: vec![
                StoredKey {
                    hash,
                    created_ms: at - 1000,
                    expires_ms: Some(at),
                },
                StoredKey {
                    hash,
                    created_ms: at,
                    expires_ms: Some(at + 3_600_000),
                },
                StoredKey {
                    hash,
                    created_ms: at,
                    expires_ms: None,
                },
            ],
            iam_principals: vec![IamPrincipal::parse("arn:aws:iam::123456789012:role/bots/AcmeBot").unwrap()],
            requests_per_second: NonZeroU32::new(10).unwrap(),
            disabled: true,
        };
        assert_eq!(
            describe(&record, at),
            "client   acme-bot\n\
             status   disabled\n\
             rate     10 requests/s\n\
             key      ab12cd34…  created 2026-12-06T23:59:59Z  expired 2026-12-07T00:00:00Z\n\
             key      ab12cd34…  created 2026-12-07T00:00:00Z  expires 2026-12-07T01:00:00Z\n\
             key      ab12cd34…  created 2026-12-07T00:00:00Z  current\n\
             iam      arn:aws:iam::123456789012:role/AcmeBot\n"
        );
    }
}
