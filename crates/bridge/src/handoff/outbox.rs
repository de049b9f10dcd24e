//! The outbox port: where a handoff's events wait for `WebhookSender`, and how far their delivery got.
//!
//! Events are written by the moves that owe them (see [`super::store::Step`]), numbered without gaps by
//! the handoff's sequence, so the outbox of a handoff is read by number: the next event to deliver is
//! the one after the last delivered. One delivery per handoff runs at a time, under a lease on the
//! handoff (a drainer that died stops holding it when its lease ends), which is what keeps the events in
//! order at the bot. The lease is given back only when nothing more is owed, checked in the same write,
//! so an event owed while a drainer finishes is never left without one. A failed attempt is recorded
//! with when the next is due, and the lease given back: the queued retry, or any later event's drainer
//! after that time, picks it up.
//!
//! Adapters: DynamoDB in `crate::aws::handoff_outbox`, memory in `crate::fakes::FakeHandoffStore`.

use super::request::HandoffId;
use super::webhook::Envelope;
use crate::ports::PortResult;
use std::future::Future;

/// Where a handoff's delivery stands, as the drainer that holds it found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The client whose webhook the events go to.
    pub client: String,
    /// The last sequence number delivered, dropped or dead-lettered (0: none yet).
    pub delivered: u64,
    /// The last sequence number owed.
    pub owed: u64,
    /// The next event's failed attempts so far (0: never tried).
    pub attempts: u32,
    /// When the next event's first attempt was made (epoch ms).
    pub first_attempt_ms: Option<i64>,
    /// The next event is not tried before this (epoch ms): its retry's schedule.
    pub not_before_ms: Option<i64>,
}

/// What taking a handoff's delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Held by the caller until the lease ends.
    Held(Delivery),
    /// Another drainer holds it.
    Busy,
    /// No such handoff (expired, or never made).
    Unknown,
}

/// What a drainer records about the next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every event through this number is done with (delivered, dropped or dead-lettered).
    Through(u64),
    /// The attempt failed; the next is due at `not_before_ms`.
    Postponed {
        attempts: u32,
        first_attempt_ms: i64,
        not_before_ms: i64,
    },
}

/// Who holds a delivery, and until when.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub now_ms: i64,
    pub until_ms: i64,
}

pub trait Outbox: Send + Sync {
    /// Takes (or renews) the delivery of handoff `id` for `lease.owner`.
    fn take(&self, id: &HandoffId, lease: Lease<'_>) -> impl Future<Output = PortResult<Taken>> + Send;

    /// The event owed with number `sequence`, if it is kept (a failed start owes no `handoff.created`).
    fn event(&self, id: &HandoffId, sequence: u64) -> impl Future<Output = PortResult<Option<Envelope>>> + Send;

    /// Records progress, if `owner` still holds the delivery (`false`: it lost the lease).
    fn record(&self, id: &HandoffId, owner: &str, progress: Progress) -> impl Future<Output = PortResult<bool>> + Send;

    /// Gives the delivery back; with `caught_up` only if nothing after that number is owed (`false`:
    /// more is owed, the caller keeps it).
    fn release(
        &self,
        id: &HandoffId,
        owner: &str,
        caught_up: Option<u64>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}
