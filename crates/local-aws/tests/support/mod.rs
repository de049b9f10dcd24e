//! What several test binaries of the twin share.

// Each test binary uses part of it.
#![allow(dead_code)]

use local_aws::{StackOptions, TwinConfig};
use serde_json::{Value, json};

/// A stack with moto and without handlers; `None` (after a note) when `.venv` is not set up.
pub fn moto_options() -> Option<StackOptions> {
    let opts = StackOptions {
        echo_logs: false,
        ..StackOptions::default().without_handlers()
    };
    if opts.moto_bin.exists() {
        Some(opts)
    } else {
        eprintln!(
            "skipping: {} missing (run scripts/setup-venv.sh)",
            opts.moto_bin.display()
        );
        None
    }
}

/// A chat started on the twin at `url` for a customer called `name`, streaming to `topic_arn`; the
/// `StartChatContact` answer (`ContactId`, `ParticipantToken`).
pub async fn streaming_chat(url: &str, topic_arn: &str, name: &str) -> Value {
    let cfg = TwinConfig::default();
    let client = reqwest::Client::new();
    let started: Value = client
        .put(format!("{url}/contact/chat"))
        .json(&json!({
            "InstanceId": cfg.instance_id,
            "ContactFlowId": cfg.contact_flow_id,
            "ParticipantDetails": {"DisplayName": name},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let streaming = client
        .post(format!("{url}/contact/start-streaming"))
        .json(&json!({
            "InstanceId": cfg.instance_id,
            "ContactId": started["ContactId"],
            "ChatStreamingConfiguration": {"StreamingEndpointArn": topic_arn},
            "ClientToken": "streaming",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(streaming.status().as_u16(), 200);
    started
}
