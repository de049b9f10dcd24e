//! Any Lambda event: the SNS envelope splits into records (or a rejection) without panicking.
#![no_main]

use bridge::sns::notifications;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = notifications(&event);
    }
});
