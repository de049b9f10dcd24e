//! When a webhook delivery that failed is tried again, and which answers of the bot's endpoint are worth
//! trying again at all: two pure rules, for the delivery worker to follow.
//!
//! **Which answers.** `2xx` is delivered. A timeout, a connection that failed, `408`, `429` and any
//! `5xx` say nothing about the event and may pass: retried. `410 Gone` says the client removed the
//! endpoint: final, and the endpoint should be disabled until the client configures it again. Any other
//! `3xx` or `4xx` is final too: the same request to the same URL gets the same answer (following a
//! redirect is what the specification advises against; the client fixes its URL instead). A final
//! answer dead-letters the event, from where `replay` sends it again once the client is fixed, under
//! the same `webhook-id`.
//!
//! **When.** From the first attempt, 5 s, then doubling, up to a cap: a message (or anything the bot
//! may answer the customer with) is worth little an hour late, so messages are retried for an hour with
//! the delay capped at 10 minutes (12 attempts, the last 50 minutes after the first); lifecycle events
//! decide whether the bot must take the conversation back, so they are retried for a day with the
//! delay capped at an hour (33 attempts, the last after 23 h 25 min), as the specification's example
//! schedule spans days. The times are offsets from the first attempt, not from the failure, so a slow
//! failure (a 15 s timeout) does not push the schedule back; no jitter is added, because each event's
//! schedule already starts at its own first attempt, spread over time like the events themselves. A
//! `Retry-After` the endpoint sent is honoured as a floor, within the same budget.
//!
//! **Typing is never retried**: it is dropped after its first failure, final or not, and never
//! dead-lettered. An indicator is true for a few seconds; retried 5 s later it would show typing after
//! the agent stopped, or after the message it announced. And events are delivered in order per
//! handoff, so retrying a typing would hold the agent's actual message back behind it. If typing takes
//! a sequence number, the bot sees a gap where one was dropped: a gap means skipped, not "wait".

use super::EventKind;

const FIRST_DELAY_MS: i64 = 5_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// How long an event kind is retried, and the longest pause between two attempts.
struct Budget {
    total_ms: i64,
    cap_ms: i64,
}

const WITHIN_HANDOFF: Budget = Budget {
    total_ms: HOUR_MS,
    cap_ms: 10 * MINUTE_MS,
};
const LIFECYCLE: Budget = Budget {
    total_ms: 24 * HOUR_MS,
    cap_ms: HOUR_MS,
};

/// How an attempt ended, as the HTTP client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The endpoint answered with this status.
    Status(u16),
    /// No answer within the request's timeout.
    TimedOut,
    /// No connection (name resolution, refusal, reset, TLS).
    Unreachable,
}

/// What an answer means for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Failed(Failure),
}

/// Why an attempt failed, as far as trying again goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// May pass later: try again on the schedule.
    Retryable,
    /// `410`: the client removed the endpoint. Final; stop delivering to it.
    Gone,
    /// Any other `3xx` or `4xx`: the same request will be refused again. Final.
    Rejected,
}

pub fn classify(answer: Answer) -> Verdict {
    let failure = match answer {
        Answer::Status(200..=299) => return Verdict::Delivered,
        Answer::TimedOut | Answer::Unreachable => Failure::Retryable,
        Answer::Status(408 | 429 | 500..=599) => Failure::Retryable,
        Answer::Status(410) => Failure::Gone,
        Answer::Status(300..=499) => Failure::Rejected,
        // Informational or out-of-range codes are no answer about the event: like a broken connection.
        Answer::Status(_) => Failure::Retryable,
    };
    Verdict::Failed(failure)
}

/// An attempt that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub kind: EventKind,
    pub failure: Failure,
    /// Which attempt it was: 1 for the first.
    pub attempt: u32,
    /// When the first attempt was made (epoch ms).
    pub first_ms: i64,
    /// The earliest time the endpoint asked to be tried again (its `Retry-After`), if it did (epoch ms).
    pub not_before_ms: Option<i64>,
}

/// What to do with the event next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (epoch ms; in the past after a slow failure: at once).
    RetryAt { at_ms: i64 },
    /// Give up and keep it for `replay`.
    DeadLetter,
    /// Give up and forget it (a typing indicator: worthless later).
    Drop,
}

pub fn next_attempt(failed: &Failed) -> Next {
    if failed.kind == EventKind::Typing {
        return Next::Drop;
    }
    if failed.failure != Failure::Retryable {
        return Next::DeadLetter;
    }
    let budget = if failed.kind.is_lifecycle() {
        &LIFECYCLE
    } else {
        &WITHIN_HANDOFF
    };
    let Some(offset_ms) = offset_after(budget, failed.attempt) else {
        return Next::DeadLetter;
    };
    let scheduled_ms = failed.first_ms.saturating_add(offset_ms);
    let at_ms = failed
        .not_before_ms
        .map_or(scheduled_ms, |floor| floor.max(scheduled_ms));
    if at_ms.saturating_sub(failed.first_ms) > budget.total_ms {
        return Next::DeadLetter;
    }
    Next::RetryAt { at_ms }
}

/// How long after the first attempt the one after `attempt` is due, or `None` past the budget.
fn offset_after(budget: &Budget, attempt: u32) -> Option<i64> {
    let mut offset_ms = 0i64;
    let mut delay_ms = FIRST_DELAY_MS;
    // Ends within a few dozen rounds whatever `attempt` is: the offset passes the budget.
    for _ in 0..attempt.max(1) {
        offset_ms += delay_ms;
        if offset_ms > budget.total_ms {
            return None;
        }
        delay_ms = (delay_ms * 2).min(budget.cap_ms);
    }
    Some(offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST_MS: i64 = 1_765_000_000_000;

    fn failed(kind: EventKind, attempt: u32) -> Failed {
        Failed {
            kind,
            failure: Failure::Retryable,
            attempt,
            first_ms: FIRST_MS,
            not_before_ms: None,
        }
    }

    /// The offsets (seconds after the first attempt) of every retry, until the schedule gives up.
    fn schedule(kind: EventKind) -> (Vec<i64>, Next) {
        let mut offsets = Vec::new();
        for attempt in 1.. {
            match next_attempt(&failed(kind, attempt)) {
                Next::RetryAt { at_ms } => offsets.push((at_ms - FIRST_MS) / 1000),
                last => return (offsets, last),
            }
        }
        unreachable!()
    }

    #[test]
    fn answers_are_delivered_retried_or_final() {
        let cases = [
            (Answer::Status(200), Verdict::Delivered),
            (Answer::Status(204), Verdict::Delivered),
            (Answer::TimedOut, Verdict::Failed(Failure::Retryable)),
            (Answer::Unreachable, Verdict::Failed(Failure::Retryable)),
            (Answer::Status(408), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(429), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(500), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(502), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(503), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(504), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(100), Verdict::Failed(Failure::Retryable)),
            (Answer::Status(410), Verdict::Failed(Failure::Gone)),
            (Answer::Status(301), Verdict::Failed(Failure::Rejected)),
            (Answer::Status(400), Verdict::Failed(Failure::Rejected)),
            (Answer::Status(401), Verdict::Failed(Failure::Rejected)),
            (Answer::Status(404), Verdict::Failed(Failure::Rejected)),
            (Answer::Status(413), Verdict::Failed(Failure::Rejected)),
        ];
        for (answer, verdict) in cases {
            assert_eq!(classify(answer), verdict, "{answer:?}");
        }
    }

    #[test]
    fn messages_are_retried_with_backoff_for_about_an_hour() {
        let (offsets, last) = schedule(EventKind::Message);
        assert_eq!(offsets, [5, 15, 35, 75, 155, 315, 635, 1235, 1835, 2435, 3035]);
        assert_eq!(last, Next::DeadLetter);
    }

    #[test]
    fn lifecycle_events_are_retried_for_about_a_day() {
        for kind in [
            EventKind::Created,
            EventKind::AgentJoined,
            EventKind::AgentLeft,
            EventKind::Transferred,
            EventKind::Ended,
            EventKind::Failed,
        ] {
            let (offsets, last) = schedule(kind);
            assert_eq!(last, Next::DeadLetter);
            assert_eq!(offsets.len(), 32, "33 attempts");
            assert_eq!(offsets[..4], [5, 15, 35, 75]);
            let pauses: Vec<i64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(pauses.iter().all(|&p| p <= 3600), "capped at an hour: {pauses:?}");
            let final_offset = offsets[offsets.len() - 1];
            assert!((23 * 3600..=24 * 3600).contains(&final_offset), "{final_offset}");
        }
    }

    #[test]
    fn typing_is_dropped_after_its_first_failure_never_dead_lettered() {
        for failure in [Failure::Retryable, Failure::Gone, Failure::Rejected] {
            let typing = Failed {
                failure,
                ..failed(EventKind::Typing, 1)
            };
            assert_eq!(next_attempt(&typing), Next::Drop);
        }
    }

    #[test]
    fn a_final_answer_dead_letters_at_once() {
        for failure in [Failure::Gone, Failure::Rejected] {
            for kind in [EventKind::Message, EventKind::Ended] {
                let first = Failed {
                    failure,
                    ..failed(kind, 1)
                };
                assert_eq!(next_attempt(&first), Next::DeadLetter);
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor_within_the_budget() {
        let asked = |not_before_ms| {
            next_attempt(&Failed {
                not_before_ms: Some(not_before_ms),
                ..failed(EventKind::Message, 1)
            })
        };
        assert_eq!(
            asked(FIRST_MS + 120_000),
            Next::RetryAt {
                at_ms: FIRST_MS + 120_000
            }
        );
        assert_eq!(
            asked(FIRST_MS),
            Next::RetryAt {
                at_ms: FIRST_MS + 5_000
            }
        );
        assert_eq!(asked(FIRST_MS + 2 * HOUR_MS), Next::DeadLetter);
    }

    #[test]
    fn out_of_range_inputs_neither_panic_nor_retry_forever() {
        assert_eq!(next_attempt(&failed(EventKind::Message, u32::MAX)), Next::DeadLetter);
        assert_eq!(
            next_attempt(&failed(EventKind::Message, 0)),
            next_attempt(&failed(EventKind::Message, 1)),
            "attempt 0 counts as the first"
        );
        let late = Failed {
            first_ms: i64::MAX - 1,
            not_before_ms: Some(i64::MAX),
            ..failed(EventKind::Ended, 3)
        };
        assert!(matches!(next_attempt(&late), Next::RetryAt { .. } | Next::DeadLetter));
    }
}
