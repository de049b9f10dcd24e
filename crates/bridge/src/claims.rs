//! Idempotency claims, shared by both directions.
//!
//! A source message (a wamid, a Connect item id) is bridged by whoever claims it first. A concurrent
//! duplicate does not fail: it waits for the holder to finish and then reports a duplicate, so an SNS
//! redelivery that overlaps the original costs one short wait instead of a Lambda error and retry. A
//! holder that crashed stops holding when its lease ends, and the waiter takes over.

use crate::error::{FailureKind, PortError};
use crate::ports::{Claim, PortResult, StateStore};
use crate::telemetry::now_ms;
use std::time::{Duration, Instant};

/// How long a claimed message stays locked to one invocation (longer than a slow chat start).
pub const LEASE_MS: i64 = 60_000;
/// How long a duplicate waits for the holder before giving up (and letting Lambda retry it later).
const WAIT_FOR_HOLDER: Duration = Duration::from_secs(20);
const POLL_HOLDER: Duration = Duration::from_millis(100);

/// Claims `id`; returns `Acquired` or `Done`, waiting while another invocation holds it.
pub async fn claim<S: StateStore>(store: &S, source: &str, id: &str) -> PortResult<Claim> {
    let deadline = Instant::now() + WAIT_FOR_HOLDER;
    loop {
        match store.claim(source, id, now_ms(), LEASE_MS).await? {
            Claim::Busy if Instant::now() < deadline => tokio::time::sleep(POLL_HOLDER).await,
            Claim::Busy => {
                return Err(PortError::new(
                    FailureKind::Transient,
                    "claim",
                    "another invocation is still bridging this message",
                ));
            }
            settled => return Ok(settled),
        }
    }
}
