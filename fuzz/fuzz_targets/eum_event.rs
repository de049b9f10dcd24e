//! Any EUM SNS message: parsing and planning never panic, whatever the bytes.
#![no_main]

use bridge::translate::plan_inbound;
use bridge::whatsapp::{Inbound, parse_eum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(event) = parse_eum(text) {
        for change in event.changes {
            for item in change.items.into_iter().flatten() {
                if let Inbound::Message(message) = item {
                    let _ = plan_inbound(&message.content);
                }
            }
        }
    }
});
