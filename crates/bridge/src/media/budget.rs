//! How long media I/O may take. Every download, upload and transcription ends before the invocation
//! does, with time left for what follows it (the notes, the completion record): a slow transfer then
//! fails as a retryable error instead of Lambda killing the process in the middle of it, which
//! would leave the message's claim and its notes to chance.

use crate::claims;
use crate::error::{FailureKind, PortError};
use crate::ports::PortResult;
use crate::telemetry::now_ms;
use std::future::Future;
use std::time::Duration;

/// The longest one transfer (a file's download, upload or copy) is given, inside or outside Lambda.
pub const LONGEST_TRANSFER: Duration = Duration::from_secs(60);
/// What the invocation keeps for itself after a transfer: a few calls (notes, the completion record).
pub const AFTER_TRANSFER: Duration = Duration::from_secs(3);
/// What the invocation keeps after a transcription: post the transcript, echo it, complete.
pub const AFTER_TRANSCRIPTION: Duration = Duration::from_secs(10);

/// `wanted`, cut to what the current invocation has left less `keep` (all of `wanted` outside one).
pub fn within_invocation(wanted: Duration, keep: Duration) -> Duration {
    claims::time_left(now_ms()).map_or(wanted, |left| left.saturating_sub(keep).min(wanted))
}

/// Runs one transfer for at most [`LONGEST_TRANSFER`], and never past the invocation's deadline
/// less [`AFTER_TRANSFER`]; running out is a transient `timeout` of `operation`.
pub async fn transfer<T>(operation: &'static str, work: impl Future<Output = PortResult<T>>) -> PortResult<T> {
    let limit = within_invocation(LONGEST_TRANSFER, AFTER_TRANSFER);
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(PortError::new(FailureKind::Transient, operation, "timeout")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_an_invocation_the_whole_budget_is_given() {
        assert_eq!(within_invocation(LONGEST_TRANSFER, AFTER_TRANSFER), LONGEST_TRANSFER);
    }

    #[tokio::test]
    async fn a_budget_never_outlives_the_invocation() {
        let now = now_ms();
        let cut = claims::within_deadline(now + 20_000, async {
            within_invocation(LONGEST_TRANSFER, AFTER_TRANSFER)
        })
        .await;
        assert!(
            cut <= Duration::from_secs(17) && cut > Duration::from_secs(15),
            "{cut:?}"
        );
        let past = claims::within_deadline(now + 1_000, async {
            within_invocation(LONGEST_TRANSFER, AFTER_TRANSFER)
        })
        .await;
        assert_eq!(past, Duration::ZERO);
    }

    #[tokio::test]
    async fn a_transfer_that_would_outlive_the_invocation_is_a_transient_timeout() {
        let result: PortResult<()> = claims::within_deadline(
            now_ms() + 3_500,
            transfer("AttachmentDownload", async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }),
        )
        .await;
        let e = result.unwrap_err();
        // Half a second after it started, not the 30 s the work would take.
        assert!(e.is_retryable() && e.detail == "timeout", "{e:?}");
    }
}
