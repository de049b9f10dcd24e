//! The repository's sample events, by name, for the unit tests of more than one module.

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
        "listpicker" => include_str!("../../../tests/fixtures/connect-stream-interactive-listpicker.json"),
        "panel" => include_str!("../../../tests/fixtures/connect-stream-interactive-panel.json"),
        "quickreply" => include_str!("../../../tests/fixtures/connect-stream-interactive-quickreply.json"),
        "timepicker" => include_str!("../../../tests/fixtures/connect-stream-interactive-timepicker.json"),
        "carousel" => include_str!("../../../tests/fixtures/connect-stream-interactive-carousel.json"),
        other => panic!("no fixture {other}"),
    }
}
