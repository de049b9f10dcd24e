//! The WebhookSender Lambda: all of it lives in the `bridge` crate; this binary starts it.

// Every event allocates and frees a few thousand small blocks (SDK requests, responses, headers):
// mimalloc does that in fewer instructions than glibc (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One request at a time per process (Lambda hands out no other until this one is answered): a
// single-threaded runtime spends no CPU on waking and stealing between worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), bridge::lambda::Error> {
    bridge::lambda::run_webhook_sender().await
}
