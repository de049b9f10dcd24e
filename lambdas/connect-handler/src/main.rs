//! The Connect handler Lambda: everything lives in the `bridge` crate; this binary only starts it.

#[tokio::main]
async fn main() -> Result<(), bridge::lambda::Error> {
    bridge::lambda::run_connect_handler().await
}
