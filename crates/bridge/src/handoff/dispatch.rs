//! `WebhookSender`'s service: delivers a handoff's events to its client's webhook, in order, each until
//! it is taken, given up on or dropped, over the outbox ([`super::outbox`]) and three small ports (the
//! client's endpoint, the HTTP call, the delivery queue).
//!
//! The queue carries *kicks*, not events: a kick names a handoff whose outbox may hold something to
//! deliver. Whoever owes an event (the API's create and end, ConnectHandler's relay) kicks at once;
//! a failed attempt kicks again with the delay its schedule asks (see [`super::webhook::delivery`]). A
//! kick is worth the same however many arrive, because the drain reads the outbox, not the kick: a
//! duplicate kick finds nothing owed or the delivery busy, and a lost one is made good by the next.
//! Order comes from the outbox's numbers and the one drainer per handoff, so the queue needs none
//! (a standard queue: SQS FIFO would hold every handoff of a group behind one slow endpoint, and it
//! cannot delay one message).
//!
//! What is given up on (a final answer, or the schedule's budget spent) goes to the dead-letter queue
//! with its envelope, for `replay`; the handoff's later events go on, in order. Typing is dropped after
//! one failed attempt. A client without a webhook gets nothing sent: its events are skipped (it reads
//! the handoff with `GET` instead).

use super::outbox::{Delivery, Lease, Outbox, Progress, Taken};
use super::request::HandoffId;
use super::webhook::Envelope;
use super::webhook::delivery::{Answer, Failed, Next, Verdict, classify, next_attempt};
use super::webhook::endpoint::{WebhookEndpoint, WebhookUrl};
use super::webhook::signature::{Content, Headers, InvalidSecret, sign};
use crate::claims;
use crate::ports::PortResult;
use crate::telemetry::now_ms;
use std::future::Future;
use std::time::Duration;

/// How long a drainer holds a handoff's delivery without renewing it: more than one attempt's
/// timeout and the writes around it.
pub const LEASE: Duration = Duration::from_secs(30);
/// One attempt's timeout: Standard Webhooks asks endpoints to answer quickly and do their work later.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// What an invocation keeps after an attempt, to record it and kick the rest.
const FINISH: Duration = Duration::from_secs(5);
/// SQS delays a message at most this long; a longer wait is a chain of kicks.
pub const MAX_KICK_DELAY: Duration = Duration::from_secs(900);

/// What an attempt's HTTP call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    pub answer: Answer,
    /// The endpoint's `Retry-After`, as epoch ms.
    pub retry_after_ms: Option<i64>,
}

/// The bot platform's endpoint: one signed POST, within [`ATTEMPT_TIMEOUT`].
pub trait Poster: Send + Sync {
    fn post(&self, url: &WebhookUrl, headers: &Headers, body: &str) -> impl Future<Output = Posted> + Send;
}

/// An event given up on, as the dead-letter queue keeps it for `replay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub client: String,
    pub handoff_id: HandoffId,
    pub sequence: u64,
    pub envelope: Envelope,
    /// Why: `rejected`, `gone` or `retries_exhausted`.
    pub reason: &'static str,
}

/// The delivery queue (SQS) and its dead-letter queue.
pub trait DeliveryQueue: Send + Sync {
    /// Asks for handoff `id`'s outbox to be drained after `delay` (at most [`MAX_KICK_DELAY`]).
    fn kick(&self, id: &HandoffId, delay: Duration) -> impl Future<Output = PortResult<()>> + Send;
    fn dead_letter(&self, letter: &DeadLetter) -> impl Future<Output = PortResult<()>> + Send;
}

/// The clients' endpoints (`webhook#<client>` items).
pub trait EndpointStore: Send + Sync {
    fn load_webhook(&self, client: &str) -> impl Future<Output = PortResult<Option<WebhookEndpoint>>> + Send;
    fn put_webhook(&self, client: &str, endpoint: &WebhookEndpoint) -> impl Future<Output = PortResult<()>> + Send;
}

/// What a drain came to, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Everything owed is done with.
    CaughtUp {
        sent: u32,
    },
    /// An attempt failed; a kick is queued for the retry.
    Postponed {
        sent: u32,
    },
    /// Another drainer has it.
    NotMine,
    /// The next attempt is not due yet; a kick is queued for it.
    NotDue,
    /// The invocation's time ran short; a kick goes on from here.
    Continued {
        sent: u32,
    },
    UnknownHandoff,
}

pub struct Dispatcher<O, E, P, Q> {
    pub outbox: O,
    pub endpoints: E,
    pub poster: P,
    pub queue: Q,
}

impl<O: Outbox, E: EndpointStore, P: Poster, Q: DeliveryQueue> Dispatcher<O, E, P, Q> {
    /// Delivers what handoff `id` owes, in order, until it is caught up or an attempt fails.
    pub async fn drain(&self, id: &HandoffId) -> PortResult<Drained> {
        let owner = claims::owner();
        let mut sent = 0;
        let mut endpoint: Option<Option<WebhookEndpoint>> = None;
        loop {
            let now = now_ms();
            let lease = Lease {
                owner: &owner,
                now_ms: now,
                until_ms: now + millis(LEASE),
            };
            let delivery = match self.outbox.take(id, lease).await? {
                Taken::Held(delivery) => delivery,
                Taken::Busy => return Ok(Drained::NotMine),
                Taken::Unknown => return Ok(Drained::UnknownHandoff),
            };
            if delivery.delivered >= delivery.owed {
                if self.outbox.release(id, &owner, Some(delivery.owed)).await? {
                    return Ok(Drained::CaughtUp { sent });
                }
                continue;
            }
            if let Some(due) = delivery.not_before_ms.filter(|due| *due > now) {
                // Waiting out a retry's schedule; the later events wait behind it, keeping the order.
                // Kicked again for then: a schedule longer than SQS's longest delay is a chain of kicks.
                self.queue.kick(id, until(due, now)).await?;
                self.outbox.release(id, &owner, None).await?;
                return Ok(Drained::NotDue);
            }
            if claims::time_left(now).is_some_and(|left| left < ATTEMPT_TIMEOUT + FINISH) {
                self.queue.kick(id, Duration::ZERO).await?;
                self.outbox.release(id, &owner, None).await?;
                return Ok(Drained::Continued { sent });
            }
            let sequence = delivery.delivered + 1;
            let Some(envelope) = self.outbox.event(id, sequence).await? else {
                // A number with no event (a failed start owes no `handoff.created`).
                self.outbox.record(id, &owner, Progress::Through(sequence)).await?;
                continue;
            };
            if endpoint.is_none() {
                endpoint = Some(self.endpoints.load_webhook(&delivery.client).await?);
            }
            let Some(Some(target)) = &endpoint else {
                tracing::debug!(handoff = %id, "the client has no webhook; event skipped");
                self.outbox.record(id, &owner, Progress::Through(sequence)).await?;
                continue;
            };
            match self.attempt(id, target, &delivery, sequence, &envelope).await? {
                Step::Done => {
                    sent += 1;
                    if !self.outbox.record(id, &owner, Progress::Through(sequence)).await? {
                        return Ok(Drained::NotMine);
                    }
                }
                Step::GaveUp => {
                    if !self.outbox.record(id, &owner, Progress::Through(sequence)).await? {
                        return Ok(Drained::NotMine);
                    }
                }
                Step::Later(progress, delay) => {
                    self.outbox.record(id, &owner, progress).await?;
                    self.queue.kick(id, delay).await?;
                    self.outbox.release(id, &owner, None).await?;
                    return Ok(Drained::Postponed { sent });
                }
            }
        }
    }

    /// Sends an event given up on again (an operator's `replay` of its dead letter): once, outside the
    /// handoff's order (its later events went on), signed anew under its own `webhook-id`. `true`: the
    /// endpoint took it.
    pub async fn resend(&self, client: &str, envelope: &Envelope) -> PortResult<bool> {
        let Some(endpoint) = self.endpoints.load_webhook(client).await? else {
            tracing::warn!("replayed event of a client without a webhook; left in the queue");
            return Ok(false);
        };
        let Ok(posted) = self.post(&endpoint, envelope).await else {
            tracing::warn!("the client's webhook secret is unusable; replay left in the queue");
            return Ok(false);
        };
        let taken = classify(posted.answer) == Verdict::Delivered;
        tracing::info!(kind = envelope.kind.type_name(), taken, answer = ?posted.answer, "replayed webhook event");
        Ok(taken)
    }

    /// One attempt at event `sequence`, and what follows from its answer.
    async fn attempt(
        &self,
        id: &HandoffId,
        endpoint: &WebhookEndpoint,
        delivery: &Delivery,
        sequence: u64,
        envelope: &Envelope,
    ) -> PortResult<Step> {
        let now = now_ms();
        let posted = match self.post(endpoint, envelope).await {
            Ok(posted) => posted,
            Err(e) => {
                tracing::warn!(handoff = %id, error = %e, "the client's webhook secret is unusable");
                return self.give_up(id, delivery, sequence, envelope, "rejected").await;
            }
        };
        let failure = match classify(posted.answer) {
            Verdict::Delivered => {
                tracing::info!(handoff = %id, sequence, kind = envelope.kind.type_name(), "webhook delivered");
                return Ok(Step::Done);
            }
            Verdict::Failed(failure) => failure,
        };
        let attempts = delivery.attempts + 1;
        let first_attempt_ms = delivery.first_attempt_ms.unwrap_or(now);
        tracing::info!(handoff = %id, sequence, attempts, answer = ?posted.answer, "webhook attempt failed");
        match next_attempt(&Failed {
            kind: envelope.kind,
            failure,
            attempt: attempts,
            first_ms: first_attempt_ms,
            not_before_ms: posted.retry_after_ms,
        }) {
            Next::RetryAt { at_ms } => Ok(Step::Later(
                Progress::Postponed {
                    attempts,
                    first_attempt_ms,
                    not_before_ms: at_ms,
                },
                until(at_ms, now_ms()),
            )),
            Next::Drop => Ok(Step::GaveUp),
            Next::DeadLetter => {
                let reason = match failure {
                    super::webhook::delivery::Failure::Gone => "gone",
                    super::webhook::delivery::Failure::Rejected => "rejected",
                    super::webhook::delivery::Failure::Retryable => "retries_exhausted",
                };
                self.give_up(id, delivery, sequence, envelope, reason).await
            }
        }
    }

    /// One signed POST of `envelope` to `endpoint`, timestamped now.
    async fn post(&self, endpoint: &WebhookEndpoint, envelope: &Envelope) -> Result<Posted, InvalidSecret> {
        let now = now_ms();
        let secrets = endpoint.signing_at(u64::try_from(now).unwrap_or(0))?;
        let headers = sign(
            &Content {
                id: envelope.id.as_str(),
                timestamp_s: now / 1000,
                body: envelope.body.as_bytes(),
            },
            &secrets,
        );
        Ok(self.poster.post(&endpoint.url, &headers, &envelope.body).await)
    }

    async fn give_up(
        &self,
        id: &HandoffId,
        delivery: &Delivery,
        sequence: u64,
        envelope: &Envelope,
        reason: &'static str,
    ) -> PortResult<Step> {
        tracing::warn!(handoff = %id, sequence, reason, "webhook event dead-lettered");
        self.queue
            .dead_letter(&DeadLetter {
                client: delivery.client.clone(),
                handoff_id: id.clone(),
                sequence,
                envelope: envelope.clone(),
                reason,
            })
            .await?;
        Ok(Step::GaveUp)
    }
}

/// What became of one attempt.
enum Step {
    Done,
    /// Dropped or dead-lettered: the next event goes on.
    GaveUp,
    /// Tried again after the delay.
    Later(Progress, Duration),
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long from `now_ms` until `at_ms`, as a kick's delay (at most [`MAX_KICK_DELAY`]: a later
/// retry's kick finds it not due and is queued again by the drain that finds it so).
fn until(at_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0)).min(MAX_KICK_DELAY)
}
