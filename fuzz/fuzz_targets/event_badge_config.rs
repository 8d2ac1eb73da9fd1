//! Any text in the course-event badge configuration's fields: parsing never panics, and
//! what parses keeps its promises (positive counts, lowercase slugs, valid unique keys).
#![no_main]

use accolade::badges::event_config::{parse_counts, parse_groups};
use accolade::courses::CourseKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(counts) = parse_counts(text) {
        for (count, slug) in &counts {
            assert!(*count > 0);
            assert!(!slug.is_empty() && *slug == slug.to_lowercase());
        }
    }
    if let Ok(groups) = parse_groups(text) {
        for (slug, keys) in &groups {
            assert!(!slug.is_empty() && *slug == slug.to_lowercase());
            for (i, key) in keys.iter().enumerate() {
                assert!(CourseKey::parse(key).is_ok());
                assert!(!keys[..i].contains(key), "keys are unique");
            }
        }
    }
});
