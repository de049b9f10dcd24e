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
/// Polls back off: a long wait means a loaded system, which more polling would only load further.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

/// The next poll interval after `current`: doubled, capped.
pub fn backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_POLL)
}

/// Claims `id`; returns `Acquired` or `Done`, waiting while another invocation holds it.
pub async fn claim<S: StateStore>(store: &S, source: &str, id: &str) -> PortResult<Claim> {
    let deadline = Instant::now() + WAIT_FOR_HOLDER;
    let mut poll = FIRST_POLL;
    loop {
        match store.claim(source, id, now_ms(), LEASE_MS).await? {
            Claim::Busy if Instant::now() < deadline => {
                tokio::time::sleep(poll).await;
                poll = backoff(poll);
            }
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
