//! How the calls of one round (AWS calls made side by side with `tokio::join!`) reach the wire.
//!
//! The handlers run on a single-threaded runtime, and the SDK hands a request to hyper's connection
//! task, which writes it only when that task next runs. A `join!` polls all its futures before
//! yielding, so every request of the round is built and signed (≈ 0.1–0.2 ms of CPU each) before
//! the first one is written: the first call waits for the others' CPU, and the round's latency pays
//! for all of it. [`behind`] makes a call yield once before it starts, so the connection tasks write
//! what the futures polled before it have sent, and its own CPU is spent while they are in flight.
//! The call that matters most to the message goes first in the `join!`; the others go `behind`.

use std::future::Future;

/// Runs `call` once the requests already sent by the futures polled before it are on the wire.
pub async fn behind<F: Future>(call: F) -> F::Output {
    // tokio defers a yielded task until the scheduler has run every task that is ready, hyper's
    // connection tasks among them.
    tokio::task::yield_now().await;
    call.await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::sync::mpsc;

    /// A stand-in for hyper's client: the request goes to a connection task, which "writes" it
    /// when it runs.
    async fn send(wire: &mpsc::UnboundedSender<&'static str>, events: &Mutex<Vec<String>>, name: &'static str) {
        events.lock().unwrap().push(format!("built {name}"));
        wire.send(name).unwrap();
        // The response never comes within the test; what matters is the order of the writes.
        tokio::task::yield_now().await;
    }

    async fn round(second_behind: bool) -> Vec<String> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let (wire, mut connection) = mpsc::unbounded_channel::<&'static str>();
        let written = events.clone();
        let task = tokio::spawn(async move {
            while let Some(name) = connection.recv().await {
                written.lock().unwrap().push(format!("wrote {name}"));
            }
        });
        if second_behind {
            tokio::join!(send(&wire, &events, "first"), behind(send(&wire, &events, "second")));
        } else {
            tokio::join!(send(&wire, &events, "first"), send(&wire, &events, "second"));
        }
        drop(wire);
        task.await.unwrap();
        Arc::try_unwrap(events).unwrap().into_inner().unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_behind_another_is_built_after_the_first_request_is_written() {
        assert_eq!(
            round(true).await,
            ["built first", "wrote first", "built second", "wrote second"]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_it_a_join_builds_every_request_before_writing_any() {
        // What `behind` is for: the runtime's order without it.
        assert_eq!(
            round(false).await,
            ["built first", "built second", "wrote first", "wrote second"]
        );
    }
}
