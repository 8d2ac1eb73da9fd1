//! Any bytes as an LMS event body: reading and checking it never panics, and an event that
//! passes the checks has the fields the intake relies on.
#![no_main]

use accolade::badging::intake::{parse_certificate, parse_enrollment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(event) = parse_certificate(&body) {
        assert!(!event.head.event_id.is_empty() && !event.head.username.is_empty());
        assert!(event.head.email.contains('@'));
    }
    if let Ok(event) = parse_enrollment(&body) {
        assert!(!event.head.event_id.is_empty() && !event.head.mode.is_empty());
    }
});
