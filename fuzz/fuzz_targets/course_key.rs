//! Any text as a course key: parsing never panics, and a key that parses prints back to
//! text that parses to the same key.
#![no_main]

use accolade::courses::CourseKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = CourseKey::parse(text) {
        let printed = key.to_string();
        let again = CourseKey::parse(&printed).expect("a printed key parses");
        assert_eq!(again.to_string(), printed);
    }
});
