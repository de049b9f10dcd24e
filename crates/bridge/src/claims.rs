//! Idempotency claims, shared by both directions.
//!
//! A source message (a wamid, a Connect item id) is bridged by whoever claims it first. A concurrent
//! duplicate does not fail: it waits for the holder to finish and then reports a duplicate, so an SNS
//! redelivery that overlaps the original costs one short wait instead of a Lambda error and retry. A
//! holder that crashed stops holding when its lease ends, and the waiter takes over.
//!
//! Two holds. An *exclusive* claim is held until its holder completes it (done) or releases it (after
//! a failure): the holder may do what cannot be repeated, like sending on WhatsApp. A *fast* claim is
//! for a customer's text going into an open chat, whose only effect is a `SendMessage` that Connect
//! deduplicates by its client token: the holder sends and stops without another write, so the
//! message costs a state read, this record and the send (two round trips). Its lease is short
//! ([`FAST_LEASE_MS`]); a holder that finds more to do, or is still sending when half of it has
//! passed, extends it into an exclusive one. Whoever takes a fast claim over after its lease ran out
//! gets [`Claim::Replay`]: the first holder sent the message or died doing so, and resending it into
//! the same chat with the same client token is harmless, while a chat started since means it went
//! into an earlier one (see [`crate::inbound`]).

use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ItemId};
use crate::ports::{Claim, ClaimTerms, ItemClaim, PortResult, StateStore};
use crate::telemetry::now_ms;
use std::time::{Duration, Instant};

/// How long a claimed message stays locked to one invocation at most: Lambda's longest timeout, so a
/// lease never ends while its invocation (transcribing a long voice note, say) is still at work. Inside
/// Lambda the lease ends with the invocation's deadline, which is sooner.
pub const LEASE_MS: i64 = 900_000;
/// How long a fast claim (and the message's in-flight registration) holds: what a state read and a
/// `SendMessage` take with ample margin. Later messages of a burst wait at most this for an earlier one
/// whose holder finished without a word.
pub const FAST_LEASE_MS: i64 = 1_500;

tokio::task_local! {
    /// When the current Lambda invocation is killed (epoch ms): no lease needs to outlive it.
    static DEADLINE_MS: i64;
}

/// Runs `work` as one invocation ending at `deadline_ms`, so the leases it takes end with it: a
/// retry of an invocation that timed out finds its claims free instead of waiting for them.
pub async fn within_deadline<F: std::future::Future>(deadline_ms: i64, work: F) -> F::Output {
    DEADLINE_MS.scope(deadline_ms, work).await
}

/// Time left before the current invocation's deadline; `None` outside an invocation.
pub fn time_left(now_ms: i64) -> Option<Duration> {
    let deadline = DEADLINE_MS.try_with(|deadline| *deadline).ok()?;
    Some(Duration::from_millis(u64::try_from(deadline - now_ms).unwrap_or(0)))
}

/// When a lease taken at `now` by this invocation ends (epoch ms).
pub fn lease_until(now: i64) -> i64 {
    now + lease_ms(now)
}

/// Which hold a claim is taken with (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Exclusive,
    Fast,
}

impl Hold {
    fn lease_ms(self, now: i64) -> i64 {
        match self {
            Hold::Exclusive => lease_ms(now),
            Hold::Fast => FAST_LEASE_MS.min(lease_ms(now)),
        }
    }

    /// When a lease of this hold taken at `now` ends (epoch ms).
    pub fn until(self, now: i64) -> i64 {
        now + self.lease_ms(now)
    }
}

fn lease_ms(now: i64) -> i64 {
    let until = DEADLINE_MS
        .try_with(|deadline| *deadline)
        .map_or(now + LEASE_MS, |deadline| {
            // A second of slack for clock skew between Lambda's deadline and DynamoDB's view of now.
            (deadline + 1_000).min(now + LEASE_MS)
        });
    (until - now).max(1_000)
}
/// How long a duplicate waits for the holder before giving up (and letting Lambda retry it later).
const WAIT_FOR_HOLDER: Duration = Duration::from_secs(20);
/// Polls back off: a long wait means a loaded system, which more polling would only load further.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

/// The next poll interval after `current`: doubled, capped.
pub fn backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_POLL)
}

/// Claims `id`; returns `Acquired`, `Replay` or `Done`, waiting while another invocation holds it.
pub async fn claim<S: StateStore>(
    store: &S,
    source: &str,
    id: &str,
    hold: Hold,
    summary: Option<&str>,
) -> PortResult<Claim> {
    let attempt = |now| async move {
        let terms = ClaimTerms {
            now_ms: now,
            lease_ms: hold.lease_ms(now),
            fast: hold == Hold::Fast,
            summary,
        };
        store.claim(source, id, &terms).await.map(|claim| (claim, ()))
    };
    wait_for_holder(attempt).await.map(|(claim, ())| claim)
}

/// Claims a Connect item on its chat's contact mapping, which the same write reads: one round trip
/// for both.
pub async fn claim_item<S: StateStore>(
    store: &S,
    initial_contact_id: &ContactId,
    item_id: &ItemId,
) -> PortResult<ItemClaim> {
    let attempt = |now| async move {
        let taken = store
            .claim_item(initial_contact_id, item_id, now, lease_ms(now))
            .await?;
        Ok((taken.claim, taken))
    };
    wait_for_holder(attempt).await.map(|(_, taken)| taken)
}

/// Repeats `attempt` (given the time, epoch ms) while it finds the message held by another invocation.
async fn wait_for_holder<T, F, Fut>(mut attempt: F) -> PortResult<(Claim, T)>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = PortResult<(Claim, T)>>,
{
    let deadline = Instant::now() + WAIT_FOR_HOLDER;
    let mut poll = FIRST_POLL;
    loop {
        match attempt(now_ms()).await? {
            (Claim::Busy, _) if Instant::now() < deadline => {
                tokio::time::sleep(poll).await;
                poll = backoff(poll);
            }
            (Claim::Busy, _) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_end_with_the_invocation() {
        let now = now_ms();
        assert_eq!(lease_ms(now), LEASE_MS);
        let lease = within_deadline(now + 5_000, async { lease_ms(now) }).await;
        assert_eq!(lease, 6_000);
        let long = within_deadline(now + 300_000, async { lease_ms(now) }).await;
        assert_eq!(long, 301_000, "a 5-minute invocation keeps its claim to the end");
        let far = within_deadline(now + 3_600_000, async { lease_ms(now) }).await;
        assert_eq!(far, LEASE_MS);
        let past = within_deadline(now - 10_000, async { lease_ms(now) }).await;
        assert_eq!(past, 1_000);
    }

    #[tokio::test]
    async fn a_fast_hold_is_short_and_never_outlives_the_invocation() {
        let now = now_ms();
        assert_eq!(Hold::Fast.until(now), now + FAST_LEASE_MS);
        assert_eq!(Hold::Exclusive.until(now), now + LEASE_MS);
        let near_end = within_deadline(now, async { Hold::Fast.until(now) }).await;
        assert_eq!(
            near_end,
            now + 1_000,
            "bounded by the invocation's deadline (plus slack)"
        );
    }
}
