//! KMS: `DescribeKey` (which resolves an alias, and says who manages the key and its state), then
//! `GetKeyPolicy` (`default`, the only policy name KMS has) of a customer managed key.

use super::{Clients, fetch_error};
use crate::doctor::topic_key::Key;
use crate::doctor::{ErrorKind, Fact, FetchError};

pub async fn key(clients: &Clients, key_id: &str) -> Fact<Key> {
    const DESCRIBE: &str = "kms:DescribeKey";
    let described = clients
        .kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| fetch_error(DESCRIBE, e))?;
    let meta = described
        .key_metadata()
        .ok_or_else(|| FetchError::new(DESCRIBE, ErrorKind::Other, "the answer has no KeyMetadata"))?;
    let manager = meta.key_manager().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let policy = if manager == "AWS" {
        None
    } else {
        let out = clients
            .kms
            .get_key_policy()
            .key_id(meta.key_id())
            .policy_name("default")
            .send()
            .await
            .map_err(|e| fetch_error("kms:GetKeyPolicy", e))?;
        out.policy().map(str::to_owned)
    };
    Ok(Key {
        arn: meta.arn().unwrap_or(meta.key_id()).to_owned(),
        manager,
        state: meta.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        policy,
    })
}
