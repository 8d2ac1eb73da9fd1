//! How values are shown to people, the same on every page, report and log line.

/// How every page shows a UTC time. Written out by hand: chrono's `format` parses its
/// pattern on every call, which showed in the profile of pages with hundreds of times.
pub fn format_time(time: &chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// The text, or "-" when it is empty (Django's `empty_value_display`).
pub fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}

/// The items joined by commas, or `none` when there are none.
pub fn joined_or(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.into()
    } else {
        items.join(", ")
    }
}

/// A count and its noun, in the plural unless it is one ("1 course", "2 courses").
pub fn count_of(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_as_chrono_would_format_them() {
        for text in [
            "2026-01-02 03:04:05",
            "0999-12-31 23:59:59",
            "2024-02-29 00:00:00",
        ] {
            let time = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(
                format_time(&time),
                time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            );
        }
    }

    #[test]
    fn counts_and_lists_read_as_sentences() {
        assert_eq!(count_of(1, "course"), "1 course");
        assert_eq!(count_of(0, "badge award"), "0 badge awards");
        assert_eq!(joined_or(&[], "None yet"), "None yet");
        assert_eq!(joined_or(&["a".into(), "b".into()], "-"), "a, b");
    }
}
