//! Per-client throttling: a fixed one-second window with a counter, the rule the store applies atomically.
//!
//! HTTP APIs have no per-client usage plans (those are REST APIs'), and API Gateway's route throttling
//! is shared by all clients, so one bot could exhaust it for the others: the function counts per client.
//! A fixed window is one small counter per client (`window_start_s`, `count`) that a single conditional
//! update can advance; a sliding window or a token bucket would need more state for little gain at a few
//! requests per second. Its known cost is that a client may fit up to twice its limit into the second
//! around a window boundary.
//!
//! A window starting after the caller's clock (another instance's clock a little ahead) is still the
//! current one: restarting it would let two instances with skewed clocks each grant a full window.

use super::super::request::ApiError;
use std::num::NonZeroU32;

/// A client's counter: how many requests it made in the second starting at `start_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Epoch seconds.
    pub start_s: u64,
    pub count: u32,
}

/// Whether a request fits the client's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Let it through, and store this window.
    Allowed(Window),
    /// Refuse it with 429; the stored window stays as it is.
    Limited { retry_after_secs: u32 },
}

impl Throttle {
    /// The window to store, or the 429 to answer with its `Retry-After`.
    pub fn into_result(self) -> Result<Window, ApiError> {
        match self {
            Throttle::Allowed(window) => Ok(window),
            Throttle::Limited { retry_after_secs } => Err(ApiError::rate_limited(retry_after_secs)),
        }
    }
}

/// Counts a request made at `now_ms` against the client's stored `window` (`None` before its first).
pub fn throttle(limit: NonZeroU32, window: Option<Window>, now_ms: u64) -> Throttle {
    let now_s = now_ms / 1000;
    match window {
        Some(current) if current.start_s >= now_s => {
            if current.count < limit.get() {
                Throttle::Allowed(Window {
                    count: current.count + 1,
                    ..current
                })
            } else {
                let next_ms = current.start_s.saturating_add(1).saturating_mul(1000);
                let wait_s = (next_ms - now_ms).div_ceil(1000);
                Throttle::Limited {
                    retry_after_secs: u32::try_from(wait_s).unwrap_or(u32::MAX),
                }
            }
        }
        _ => Throttle::Allowed(Window {
            start_s: now_s,
            count: 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_S: u64 = 1_796_640_000;

    fn limit(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// Runs requests at the given times through the rule as the store would, keeping allowed windows.
    fn run(limit_per_s: u32, times_ms: &[u64]) -> Vec<Throttle> {
        let mut stored = None;
        times_ms
            .iter()
            .map(|&at| {
                let decision = throttle(limit(limit_per_s), stored, at);
                if let Throttle::Allowed(window) = decision {
                    stored = Some(window);
                }
                decision
            })
            .collect()
    }

    #[test]
    fn a_client_gets_its_limit_per_second_and_then_429_until_the_next_second() {
        let t0 = T0_S * 1000;
        let decisions = run(3, &[t0, t0 + 100, t0 + 500, t0 + 999, t0 + 1000, t0 + 1001]);
        let allowed = |count| Throttle::Allowed(Window { start_s: T0_S, count });
        assert_eq!(
            decisions,
            [
                allowed(1),
                allowed(2),
                allowed(3),
                Throttle::Limited { retry_after_secs: 1 },
                Throttle::Allowed(Window {
                    start_s: T0_S + 1,
                    count: 1
                }),
                Throttle::Allowed(Window {
                    start_s: T0_S + 1,
                    count: 2
                }),
            ]
        );
    }

    #[test]
    fn a_quiet_client_starts_a_fresh_window() {
        let stale = Window {
            start_s: T0_S - 3600,
            count: 1,
        };
        assert_eq!(
            throttle(limit(1), Some(stale), T0_S * 1000 + 250),
            Throttle::Allowed(Window {
                start_s: T0_S,
                count: 1
            })
        );
    }

    #[test]
    fn a_window_from_a_clock_ahead_still_counts_and_the_wait_covers_it() {
        let ahead = Window {
            start_s: T0_S + 1,
            count: 2,
        };
        assert_eq!(
            throttle(limit(3), Some(ahead), T0_S * 1000 + 400),
            Throttle::Allowed(Window {
                start_s: T0_S + 1,
                count: 3
            })
        );
        let full = Window { count: 3, ..ahead };
        let limited = throttle(limit(3), Some(full), T0_S * 1000 + 400);
        assert_eq!(limited, Throttle::Limited { retry_after_secs: 2 });
        let error = limited.into_result().unwrap_err();
        assert_eq!((error.status(), error.retry_after()), (429, Some(2)));
        assert_eq!(
            throttle(limit(3), None, T0_S * 1000).into_result(),
            Ok(Window {
                start_s: T0_S,
                count: 1
            })
        );
    }
}
