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
//! deduplicates by its client token: the message reaches the chat after a state read, this record and
//! the send (two round trips), and is marked done after the send. Its lease is short
//! ([`FAST_LEASE_MS`]); a holder that finds more to do, or is still sending when half of it has
//! passed, extends it into an exclusive one. Whoever takes a fast claim over after its lease ran out
//! gets [`Claim::Replay`]: the first holder sent the message or died doing so, and resending it into
//! the same chat with the same client token is harmless, while a chat started since means it went
//! into an earlier one (see [`crate::inbound`]).
//!
//! An exclusive hold of a customer message is short ([`HEARTBEAT_LEASE_MS`]) and kept alive by a
//! [`Heartbeat`] while its invocation works, so a holder that Lambda killed (a crash, a timeout) stops
//! holding within seconds: Lambda's retry, a minute later, finds the message free instead of waiting for
//! a lease sized to the longest invocation, and the customer's next message is not held behind it.
//! Every claim names its *owner*, the invocation that took it: a claim write whose answer was lost and
//! that the SDK retried finds its own claim and keeps it, instead of waiting for itself.
//!
//! A claim also keeps the *progress* of an attempt that failed (see [`crate::ports::Progress`]): what
//! was said to the customer, what the customer's file came to. A holder records each step as it is
//! done, a release leaves the record in place, and Lambda's retry claims the message with it, so it
//! repeats none of the effects WhatsApp cannot deduplicate and does not transcribe a voice note twice.

use crate::error::{FailureKind, PortError};
use crate::ids::{ContactId, ItemId};
use crate::ports::{Claim, ClaimTerms, ItemClaim, ItemTerms, MessageClaim, PortResult, StateStore};
use crate::telemetry::now_ms;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};

/// How long a Connect item's claim stays locked to one invocation at most: Lambda's longest timeout, so
/// a lease never ends while its invocation is still at work. Inside Lambda the lease ends with the
/// invocation's deadline, which is sooner.
pub const LEASE_MS: i64 = 900_000;
/// How long a customer message's exclusive hold lasts without a heartbeat: long enough for two missed
/// beats (a DynamoDB write slowed by throttling), short enough that a message whose invocation died
/// holds the conversation's next one back for seconds, not for its invocation's whole timeout.
pub const HEARTBEAT_LEASE_MS: i64 = 3_000;
/// How often a [`Heartbeat`] renews the hold it keeps.
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(1_000);
/// How long a fast claim (and the message's in-flight registration) holds: what a state read and a
/// `SendMessage` take with ample margin. Later messages of a burst wait at most this for an earlier one
/// whose holder finished without a word.
pub const FAST_LEASE_MS: i64 = 1_500;

/// The Lambda invocation being served: when it is killed, and who it is to the claims it takes.
#[derive(Debug, Clone)]
struct Invocation {
    /// Epoch ms.
    deadline_ms: i64,
    owner: Arc<str>,
}

tokio::task_local! {
    static INVOCATION: Invocation;
}

/// A name no other invocation, of this process or another, uses: the process's random nonce and a
/// count. (Lambda's request id is shared by the retries of one event, and by a duplicate delivery of it.)
fn new_owner() -> Arc<str> {
    static NONCE: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(std::process::id()));
    static COUNT: AtomicU64 = AtomicU64::new(0);
    format!("{:016x}-{}", *NONCE, COUNT.fetch_add(1, Ordering::Relaxed)).into()
}

/// Runs `work` as one invocation ending at `deadline_ms`, so the leases it takes end with it (a retry
/// of an invocation that timed out finds its claims free), and the claims it takes name it as owner.
pub async fn within_deadline<F: std::future::Future>(deadline_ms: i64, work: F) -> F::Output {
    let invocation = Invocation {
        deadline_ms,
        owner: new_owner(),
    };
    INVOCATION.scope(invocation, work).await
}

/// The owner of the claims the current invocation takes (outside an invocation, one per process).
pub fn owner() -> Arc<str> {
    static OUTSIDE: LazyLock<Arc<str>> = LazyLock::new(new_owner);
    INVOCATION
        .try_with(|invocation| invocation.owner.clone())
        .unwrap_or_else(|_| OUTSIDE.clone())
}

fn deadline_ms() -> Option<i64> {
    INVOCATION.try_with(|invocation| invocation.deadline_ms).ok()
}

/// Time left before the current invocation's deadline; `None` outside an invocation.
pub fn time_left(now_ms: i64) -> Option<Duration> {
    let deadline = deadline_ms()?;
    Some(Duration::from_millis(u64::try_from(deadline - now_ms).unwrap_or(0)))
}

/// What an invocation keeps, after any wait, to do its work and answer before Lambda kills it.
const AFTER_A_WAIT: Duration = Duration::from_secs(2);

/// `wait`, cut so that the current invocation still has [`AFTER_A_WAIT`] after it: a wait that outlived
/// its invocation would turn a slow neighbour into a timeout of its own.
pub fn bounded_wait(wait: Duration) -> Duration {
    time_left(now_ms()).map_or(wait, |left| wait.min(left.saturating_sub(AFTER_A_WAIT)))
}

/// What is left at `now_ms` of a `window` that opened at `since_ms` (epoch ms): an order window, in which
/// an earlier message that SNS and Lambda deliver later than this one still goes first. A time stamped
/// ahead of this clock (clock skew) leaves the whole window, no more.
pub fn window_left(window: Duration, since_ms: i64, now_ms: i64) -> Duration {
    let age_ms = u64::try_from(now_ms.saturating_sub(since_ms)).unwrap_or(0);
    window.saturating_sub(Duration::from_millis(age_ms))
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
            Hold::Exclusive => HEARTBEAT_LEASE_MS.min(lease_ms(now)),
            Hold::Fast => FAST_LEASE_MS.min(lease_ms(now)),
        }
    }

    /// When a lease of this hold taken at `now` ends (epoch ms).
    pub fn until(self, now: i64) -> i64 {
        now + self.lease_ms(now)
    }
}

fn lease_ms(now: i64) -> i64 {
    let until = deadline_ms().map_or(now + LEASE_MS, |deadline| {
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

/// Claims `id` (`Acquired`, `Replay` or `Done`), waiting while another invocation holds it.
pub async fn claim<S: StateStore>(
    store: &S,
    source: &str,
    id: &str,
    hold: Hold,
    summary: Option<&str>,
) -> PortResult<MessageClaim> {
    let owner = owner();
    let owner = &*owner;
    let attempt = |now| async move {
        let terms = ClaimTerms {
            now_ms: now,
            lease_ms: hold.lease_ms(now),
            fast: hold == Hold::Fast,
            owner,
            summary,
        };
        let taken = store.claim(source, id, &terms).await?;
        Ok((taken.claim, taken))
    };
    wait_for_holder(attempt).await.map(|(_, taken)| taken)
}

/// Claims a Connect item received at `at_ms` on its chat's contact mapping, which the same write reads:
/// one round trip for both.
pub async fn claim_item<S: StateStore>(
    store: &S,
    initial_contact_id: &ContactId,
    item_id: &ItemId,
    at_ms: i64,
) -> PortResult<ItemClaim> {
    let owner = owner();
    let owner = &*owner;
    let attempt = |now| async move {
        let terms = ItemTerms {
            now_ms: now,
            lease_ms: lease_ms(now),
            owner,
            at_ms,
        };
        let taken = store.claim_item(initial_contact_id, item_id, &terms).await?;
        Ok((taken.claim, taken))
    };
    wait_for_holder(attempt).await.map(|(_, taken)| taken)
}

/// Keeps a customer message's exclusive hold (its claim and its registration) alive while the
/// invocation holding it works: every [`HEARTBEAT_EVERY`] it renews both until [`HEARTBEAT_LEASE_MS`]
/// from then. It beats only while the hold is exclusive (a fast hold lapses on its own by design), and
/// [`Heartbeat::pause`] waits for a renewal still in flight, so the write that settles the message is
/// not overtaken by one. Costs nothing on a message that settles within a beat: no timer fires.
#[derive(Debug)]
pub struct Heartbeat {
    every: Duration,
    exclusive: watch::Sender<bool>,
    /// Held while a renewal is being written.
    writing: Mutex<()>,
}

impl Heartbeat {
    pub fn new(hold: Hold) -> Self {
        Self {
            every: HEARTBEAT_EVERY,
            exclusive: watch::Sender::new(hold == Hold::Exclusive),
            writing: Mutex::new(()),
        }
    }

    /// The hold was made exclusive: keep it alive from now on.
    pub fn resume(&self) {
        self.exclusive.send_replace(true);
    }

    /// Stops renewing; returns once no renewal is in flight, so what the caller writes next is the last word.
    pub async fn pause(&self) {
        self.exclusive.send_replace(false);
        drop(self.writing.lock().await);
    }

    /// Renews the hold with `renew(until_ms)` while it is exclusive. Never returns: it is dropped with
    /// the work it keeps alive, after a [`Heartbeat::pause`].
    pub async fn keep<F, Fut>(&self, mut renew: F) -> std::convert::Infallible
    where
        F: FnMut(i64) -> Fut,
        Fut: std::future::Future<Output = PortResult<()>>,
    {
        let mut exclusive = self.exclusive.subscribe();
        loop {
            // The sender lives in `self`, which outlives this future: the wait cannot fail.
            let _ = exclusive.wait_for(|on| *on).await;
            tokio::time::sleep(self.every).await;
            let _writing = self.writing.lock().await;
            if !*exclusive.borrow() {
                continue;
            }
            if let Err(e) = renew(Hold::Exclusive.until(now_ms())).await {
                tracing::warn!(error = %e, "could not renew the message's hold; it lapses unless the next beat lands");
            }
        }
    }
}

/// Repeats `attempt` (given the time, epoch ms) while it finds the message held by another invocation.
async fn wait_for_holder<T, F, Fut>(mut attempt: F) -> PortResult<(Claim, T)>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = PortResult<(Claim, T)>>,
{
    let deadline = Instant::now() + bounded_wait(WAIT_FOR_HOLDER);
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

/// The invocation that starts a chat writes its contact mapping after `StartChatContact` (WhatsApp:
/// beside the customer's connection, one round trip less per chat start; a handoff: as its chat is
/// attached), while the chat streams from its first item: the chat's first streamed items may arrive a
/// moment before the mapping does. An item this recent that finds no mapping looks again for a while
/// before it is taken for another integration's; an older one is dropped at once.
pub const MAPPING_GRACE: Duration = Duration::from_secs(2);
const MAPPING_FIRST_PAUSE: Duration = Duration::from_millis(50);

/// Looks the chat of an item streamed at `streamed_ms` up until `mapped` says it was found, for as long as
/// the item is recent enough to belong to a chat whose mapping is still being written (see [`MAPPING_GRACE`]).
pub async fn until_mapped<T, Fut>(
    streamed_ms: Option<i64>,
    lookup: impl Fn() -> Fut,
    mapped: impl Fn(&T) -> bool,
) -> PortResult<T>
where
    Fut: Future<Output = PortResult<T>>,
{
    let Some(left) = mapping_grace_left(streamed_ms, now_ms()) else {
        return lookup().await;
    };
    let deadline = Instant::now() + left;
    let mut pause = MAPPING_FIRST_PAUSE;
    loop {
        let found = lookup().await?;
        let now = Instant::now();
        if mapped(&found) || now >= deadline {
            return Ok(found);
        }
        // The last look falls on the deadline itself, not a pause short of it.
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = backoff(pause);
    }
}

/// How much longer an item streamed at `streamed_ms` may wait for its chat's mapping at `now_ms`: the
/// grace counts from the item's time, not from when this invocation got it, so a redelivered or queued
/// item of a chat that is not ours does not wait a whole grace again. `None`: no wait (too old, or no time).
fn mapping_grace_left(streamed_ms: Option<i64>, now_ms: i64) -> Option<Duration> {
    // An item stamped ahead of this clock (clock skew) is as new as can be: the whole grace.
    let age_ms = u64::try_from(now_ms.saturating_sub(streamed_ms?)).unwrap_or(0);
    MAPPING_GRACE
        .checked_sub(Duration::from_millis(age_ms))
        .filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[test]
    fn an_order_window_counts_from_the_time_it_opened() {
        const WINDOW: Duration = Duration::from_millis(400);
        let at = 1_000_000;
        assert_eq!(window_left(WINDOW, at, at), WINDOW);
        assert_eq!(window_left(WINDOW, at, at + 100), WINDOW - Duration::from_millis(100));
        assert_eq!(
            window_left(WINDOW, at, at + 10_000),
            Duration::ZERO,
            "a late delivery waits no more"
        );
        assert_eq!(
            window_left(WINDOW, at + 60_000, at),
            WINDOW,
            "clock skew: the window, no more"
        );
        assert_eq!(window_left(WINDOW, i64::MIN, i64::MAX), Duration::ZERO);
    }

    #[tokio::test]
    async fn leases_end_with_the_invocation() {
        let now = now_ms();
        assert_eq!(lease_ms(now), LEASE_MS);
        let lease = within_deadline(now + 5_000, async { lease_ms(now) }).await;
        assert_eq!(lease, 6_000);
        let long = within_deadline(now + 300_000, async { lease_ms(now) }).await;
        assert_eq!(long, 301_000, "a 5-minute invocation keeps its item claims to the end");
        let far = within_deadline(now + 3_600_000, async { lease_ms(now) }).await;
        assert_eq!(far, LEASE_MS);
        let past = within_deadline(now - 10_000, async { lease_ms(now) }).await;
        assert_eq!(past, 1_000);
    }

    #[tokio::test]
    async fn no_wait_outlives_its_invocation() {
        let wait = Duration::from_secs(15);
        assert_eq!(bounded_wait(wait), wait, "outside an invocation");
        let long = within_deadline(now_ms() + 300_000, async { bounded_wait(wait) }).await;
        assert_eq!(long, wait);
        let short = within_deadline(now_ms() + 10_000, async { bounded_wait(wait) }).await;
        assert!(
            short <= Duration::from_secs(8),
            "{short:?}: two seconds are kept to answer"
        );
        let over = within_deadline(now_ms() + 1_000, async { bounded_wait(wait) }).await;
        assert_eq!(over, Duration::ZERO);
    }

    #[tokio::test]
    async fn message_holds_are_short_and_never_outlive_the_invocation() {
        let now = now_ms();
        assert_eq!(Hold::Fast.until(now), now + FAST_LEASE_MS);
        let exclusive = within_deadline(now + 300_000, async { Hold::Exclusive.until(now) }).await;
        assert_eq!(
            exclusive,
            now + HEARTBEAT_LEASE_MS,
            "a 5-minute invocation holds a message only as long as its heartbeat keeps it"
        );
        let near_end = within_deadline(now, async { Hold::Fast.until(now) }).await;
        assert_eq!(
            near_end,
            now + 1_000,
            "bounded by the invocation's deadline (plus slack)"
        );
    }

    #[tokio::test]
    async fn each_invocation_owns_its_claims_under_a_name_of_its_own() {
        let (a, a_again) = within_deadline(0, async { (owner(), owner()) }).await;
        let b = within_deadline(0, async { owner() }).await;
        assert_eq!(a, a_again, "one invocation, one owner");
        assert_ne!(a, b, "a retry of the same event is another owner");
        assert_ne!(a, owner(), "outside an invocation, the process's own");
    }

    /// A heartbeat fast enough for a test in real time (tokio's paused clock would need a feature the
    /// handlers do not build with, and so a second build of everything on tokio).
    fn quick(hold: Hold) -> Heartbeat {
        Heartbeat {
            every: Duration::from_millis(20),
            ..Heartbeat::new(hold)
        }
    }

    /// Renewals seen while `work` runs beside `heartbeat.keep`.
    async fn renewals_during<W: std::future::Future<Output = ()>>(heartbeat: &Heartbeat, work: W) -> usize {
        let renewals = AtomicU64::new(0);
        let renew = |until| {
            assert!(until > now_ms(), "renewed into the future");
            renewals.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        };
        tokio::select! {
            () = work => {}
            never = heartbeat.keep(renew) => match never {},
        }
        renewals.into_inner() as usize
    }

    #[tokio::test]
    async fn an_exclusive_hold_is_renewed_while_its_work_runs() {
        let heartbeat = quick(Hold::Exclusive);
        let renewals = renewals_during(&heartbeat, tokio::time::sleep(Duration::from_millis(300))).await;
        assert!(renewals >= 3, "{renewals} renewals in 15 beats");
    }

    #[tokio::test]
    async fn a_fast_hold_is_renewed_only_once_made_exclusive_and_until_paused() {
        let heartbeat = quick(Hold::Fast);
        let seen = AtomicU64::new(0);
        let work = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(seen.load(Ordering::Relaxed), 0, "a fast hold lapses on its own");
            heartbeat.resume();
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(seen.load(Ordering::Relaxed) >= 1, "exclusive: renewed");
            heartbeat.pause().await;
            let paused_at = seen.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(seen.load(Ordering::Relaxed), paused_at, "paused: no renewal");
        };
        let renew = |_until| {
            seen.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        };
        tokio::select! {
            () = work => {}
            never = heartbeat.keep(renew) => match never {},
        }
    }

    #[tokio::test]
    async fn a_pause_returns_only_after_the_renewal_in_flight_landed() {
        let heartbeat = quick(Hold::Exclusive);
        let order = StdMutex::new(Vec::new());
        let (writing, mut started) = tokio::sync::mpsc::unbounded_channel();
        let renew = |_until| {
            let _ = writing.send(());
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                order.lock().unwrap().push("renewal landed");
                Ok(())
            }
        };
        let work = async {
            started.recv().await;
            heartbeat.pause().await;
            order.lock().unwrap().push("paused");
        };
        tokio::select! {
            () = work => {}
            never = heartbeat.keep(renew) => match never {},
        }
        assert_eq!(*order.lock().unwrap(), ["renewal landed", "paused"]);
    }

    #[test]
    fn the_mapping_grace_counts_from_the_items_time() {
        let now = 1_762_846_200_000;
        assert_eq!(mapping_grace_left(Some(now), now), Some(MAPPING_GRACE));
        assert_eq!(
            mapping_grace_left(Some(now - 1_500), now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(mapping_grace_left(Some(now - 2_000), now), None);
        assert_eq!(mapping_grace_left(Some(now - 60_000), now), None);
        assert_eq!(mapping_grace_left(None, now), None);
        assert_eq!(mapping_grace_left(Some(now + 5_000), now), Some(MAPPING_GRACE));
        assert_eq!(mapping_grace_left(Some(i64::MIN), now), None);
        assert_eq!(mapping_grace_left(Some(i64::MAX), i64::MIN), Some(MAPPING_GRACE));
    }

    fn streamed_ago(ms: i64) -> Option<i64> {
        Some(now_ms() - ms)
    }

    /// An item of a chat that is not ours: how many looks it took, when the last one was, and how long
    /// it took in all.
    async fn looks_for_unmapped(streamed_ms: Option<i64>) -> (usize, Duration, Duration) {
        let looks = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        let found: Option<()> = until_mapped(
            streamed_ms,
            || async {
                looks.lock().unwrap().push(started.elapsed());
                Ok(None)
            },
            Option::is_some,
        )
        .await
        .unwrap();
        assert_eq!(found, None);
        let looks = looks.into_inner().unwrap();
        (looks.len(), *looks.last().unwrap(), started.elapsed())
    }

    #[tokio::test]
    async fn an_unmapped_item_waits_only_for_what_is_left_of_its_grace() {
        // 200 ms left: looks at 0, 50, 150 and 200 ms (the last on the deadline, not at 150), not 2 s more.
        let (_, last, took) = looks_for_unmapped(streamed_ago(1_800)).await;
        assert!(last >= Duration::from_millis(190), "last look at {last:?}");
        assert!(took < Duration::from_secs(1), "{took:?}");

        let (looks, _, _) = looks_for_unmapped(streamed_ago(10_000)).await;
        assert_eq!(looks, 1);
    }

    #[tokio::test]
    async fn a_recent_item_stops_looking_once_its_mapping_lands() {
        let looks = std::sync::atomic::AtomicUsize::new(0);
        let found = until_mapped(
            streamed_ago(0),
            || async { Ok((looks.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2).then_some(())) },
            Option::is_some,
        )
        .await
        .unwrap();
        assert_eq!((found, looks.into_inner()), (Some(()), 3));
    }
}
