//! The repository's sample events, by name, and sample records, for the unit tests of more than one
//! module.

use crate::handoff::request::HandoffId;
use crate::handoff::store::{HandoffRecord, NewRecord};

/// The SNS event that delivers Connect's stream item `name` (`tests/fixtures/connect-stream-<name>.json`).
pub fn connect_stream(name: &str) -> &'static str {
    match name {
        "agent-message" => include_str!("../../../tests/fixtures/connect-stream-agent-message.json"),
        "agent-markdown" => include_str!("../../../tests/fixtures/connect-stream-agent-markdown.json"),
        "system-message" => include_str!("../../../tests/fixtures/connect-stream-system-message.json"),
        "customer-echo" => include_str!("../../../tests/fixtures/connect-stream-customer-echo.json"),
        "attachment" => include_str!("../../../tests/fixtures/connect-stream-attachment.json"),
        "typing" => include_str!("../../../tests/fixtures/connect-stream-typing.json"),
        "receipt" => include_str!("../../../tests/fixtures/connect-stream-receipt-read-UNVERIFIED.json"),
        "chat-ended" => include_str!("../../../tests/fixtures/connect-stream-chat-ended.json"),
        "participant-joined" => include_str!("../../../tests/fixtures/connect-stream-participant-joined.json"),
        "participant-left" => include_str!("../../../tests/fixtures/connect-stream-participant-left.json"),
        "transfer-succeeded" => include_str!("../../../tests/fixtures/connect-stream-transfer-succeeded.json"),
        "listpicker" => include_str!("../../../tests/fixtures/connect-stream-interactive-listpicker.json"),
        "panel" => include_str!("../../../tests/fixtures/connect-stream-interactive-panel.json"),
        "quickreply" => include_str!("../../../tests/fixtures/connect-stream-interactive-quickreply.json"),
        "timepicker" => include_str!("../../../tests/fixtures/connect-stream-interactive-timepicker.json"),
        "carousel" => include_str!("../../../tests/fixtures/connect-stream-interactive-carousel.json"),
        other => panic!("no fixture {other}"),
    }
}

/// Connect's stream item `name` (see [`connect_stream`]), parsed.
pub fn stream_item(name: &str) -> crate::connect_stream::StreamItem {
    let event: serde_json::Value = serde_json::from_str(connect_stream(name)).expect("a fixture");
    let notification = crate::sns::notifications(&event)
        .expect("an SNS event")
        .remove(0)
        .expect("a notification");
    crate::connect_stream::parse_item(&notification).expect("a stream item")
}

/// A handoff just created (no chat yet), created at epoch ms 1000.
pub fn handoff_record() -> HandoffRecord {
    HandoffRecord::new(NewRecord {
        id: HandoffId::mint(1_000, 7),
        client: "acme-bot".into(),
        external_conversation_id: "conv-1".into(),
        client_token: "token".into(),
        request_digest: "digest".into(),
        now_ms: 1_000,
    })
}
