//! The client store: the port through which the authorizer and the API function read client records,
//! count each client's requests, and operators (`ops client …`) write records. Its adapters sit beside
//! the other ports' (DynamoDB in `crate::aws`, in memory in `crate::fakes`), held to one contract by
//! `tests/client_store.rs`.
//!
//! Lookups are by key: a request's key names its client ([`super::ApiKey::client_id`]), and an IAM
//! caller's principal has an entry of its own naming the one client it acts as, so the authorizer reads
//! one item, never a scan. Counting a request applies [`super::throttle()`] atomically, so concurrent
//! instances of the function cannot each grant the same request of the window.

use super::{ClientId, ClientRecord, IamPrincipal, Throttle};
use crate::ports::PortResult;
use std::future::Future;

/// DynamoDB (or memory): client records, their IAM principals, and request counters.
pub trait ClientStore: Send + Sync {
    /// The client's record, if there is one.
    fn load_client(&self, id: &ClientId) -> impl Future<Output = PortResult<Option<ClientRecord>>> + Send;

    /// The record of the client `principal` acts as, if one names it.
    fn client_of(&self, principal: &IamPrincipal) -> impl Future<Output = PortResult<Option<ClientRecord>>> + Send;

    /// Counts one request of `record`'s client at `now_ms` against its limit, as [`super::throttle()`]
    /// decides; the count is stored only when the request is allowed. The counter is kept on the client's
    /// record, so counting for a client without one fails (rejected) rather than making one up.
    fn count_request(&self, record: &ClientRecord, now_ms: u64) -> impl Future<Output = PortResult<Throttle>> + Send;

    /// Writes a client's record (added, a key rotated, disabled), with an entry for each of its IAM
    /// principals; refused when one of them already acts as another client.
    fn put_client(&self, record: &ClientRecord) -> impl Future<Output = PortResult<()>> + Send;
}
