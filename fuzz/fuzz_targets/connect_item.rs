//! Any Connect streaming notification: parsing and planning never panic.
#![no_main]

use bridge::connect_stream::parse_item;
use bridge::sns::Notification;
use bridge::translate::plan_outbound;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is the visibility attribute, the rest the item body.
    let (visibility, body) = text.split_once('\n').unwrap_or(("ALL", text));
    let notification = Notification {
        message_id: "fuzz".into(),
        message: body.into(),
        attributes: HashMap::from([("MessageVisibility".to_owned(), visibility.to_owned())]),
    };
    if let Ok(item) = parse_item(&notification) {
        let _ = plan_outbound(&item);
    }
});
