//! Shared rules for values that come from outside: one of each, used by the admin, the
//! intake and the badge backends alike.

use std::collections::BTreeMap;

/// Field name → messages. Errors that belong to no field go under [`FieldErrors::NON_FIELD`].
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub const NON_FIELD: &'static str = "__all__";
    /// Django's words for a required field left empty.
    pub const REQUIRED: &'static str = "This field is required.";
    /// Django's words for a select's value that is not among its choices.
    pub const INVALID_CHOICE: &'static str =
        "Select a valid choice. That choice is not one of the available choices.";

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn get(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `other`'s errors for the fields that have none here: a field's own, earlier
    /// error (e.g. an unreadable upload) wins over what later validation says of it.
    pub fn merge_preferring_own(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_insert(messages);
        }
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// `Ok(())` when there are no errors, for `?` in validation code.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Django's `MaxLengthValidator`: text of at most `max` characters, with the message the
/// admin shows for a longer one.
pub fn max_chars(value: &str, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if length > max {
        Err(format!(
            "Ensure this value has at most {max} characters (it has {length})."
        ))
    } else {
        Ok(())
    }
}

/// The host of an absolute `http://` or `https://` URL with nothing a link must not hold
/// (whitespace, control characters, quotes, angle brackets), or `None`. Only such URLs
/// are ever rendered as links or passed on as web addresses: `javascript:` and friends
/// never are.
pub fn web_url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\'));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // `user@host` would show one host and go to another.
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    (clean && !host.is_empty() && !authority.contains('@')).then_some(host)
}

pub fn is_web_url(url: &str) -> bool {
    web_url_host(url).is_some()
}

/// The longest URL carried through a redirect: longer ones are someone else's doing.
pub const MAX_CARRIED_URL: usize = 2048;

/// A path on this site, not overlong, that no browser reads as another host.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= MAX_CARRIED_URL
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

/// A link target that is safe to render: a web URL or, exactly as written, a path on this
/// site.
pub fn is_safe_link(href: &str) -> bool {
    is_web_url(href) || (href.trim() == href && is_local_path(href))
}

/// URL schemes other than http(s) that browsers act on when a value is followed as a link:
/// they run script, show the value itself as a page, or open local or internal resources.
const ACTIVE_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "livescript",
    "data",
    "file",
    "blob",
    "filesystem",
    "jar",
    "view-source",
    "mhtml",
    "ms-its",
];

/// The scheme a value has as a link, read as browsers read it: leading whitespace and
/// control characters skipped, tabs and line breaks anywhere ignored, case ignored.
/// `None` when it does not start with a scheme and `:`.
fn link_scheme(value: &str) -> Option<String> {
    let start = value.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    let scheme: String = start
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take_while(|&c| c != ':')
        .take(32)
        .collect();
    let well_formed = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let followed_by_colon = start
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .nth(scheme.chars().count())
        == Some(':');
    (well_formed && followed_by_colon).then(|| scheme.to_ascii_lowercase())
}

/// A badge class's criteria: an http(s) URL, or narrative text. A value that starts like
/// a link of another scheme browsers act on (`javascript:`, `data:`, …) is neither, and
/// neither is one that starts with `http(s):` but is not a clean web URL.
pub fn criteria(value: &str) -> Result<(), &'static str> {
    match link_scheme(value).as_deref() {
        Some("http" | "https") if !is_web_url(value.trim()) => {
            Err("Enter a valid URL (http:// or https://), or text that does not start like one.")
        }
        Some(scheme) if ACTIVE_SCHEMES.contains(&scheme) => Err(
            "Enter an http:// or https:// URL, or text: links of other kinds (such as javascript: or data:) are not allowed.",
        ),
        _ => Ok(()),
    }
}

/// A criteria as it may be passed on to others who may render it as a link (the LMS):
/// itself when it meets [`criteria`], else nothing (a value stored before the rule).
pub fn criteria_passed_on(value: &str) -> &str {
    if criteria(value).is_ok() { value } else { "" }
}

/// A learner's username as the LMS makes them: 1–150 letters, digits, spaces and
/// `. @ _ + -` (Open edX's rule). Checked wherever one comes in (the LMS's events, the
/// command line, the learners' API path), so that none carries markup into a page or a
/// badge.
pub fn learner_username(username: &str) -> Result<(), &'static str> {
    if username.trim().is_empty() {
        Err("must not be empty")
    } else if username.chars().count() > 150 {
        Err("at most 150 characters")
    } else if username
        .chars()
        .all(|c| c.is_alphanumeric() || " .@_+-".contains(c))
    {
        Ok(())
    } else {
        Err("may contain only letters, digits, spaces and . @ _ + -")
    }
}

/// An e-mail address: at most 254 characters, no whitespace or control characters, one
/// `@` with something before it and a dotted domain after it.
pub fn email_address(email: &str) -> Result<(), &'static str> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(())
    } else {
        Err("Enter a valid email address.")
    }
}

/// A certificate's verification id as the LMS makes it (`uuid4().hex`, or the hyphenated
/// form): it becomes part of the evidence URL of the badge, so nothing else may pass.
pub fn verify_uuid(id: &str) -> Result<(), &'static str> {
    if id.len() <= 36
        && uuid::Uuid::try_parse(id).is_ok()
        && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        Ok(())
    } else {
        Err("expected the certificate's verification id: 32 hexadecimal digits (a UUID)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_web_urls_have_a_host() {
        assert_eq!(
            web_url_host("https://badgr.example/public/a/1"),
            Some("badgr.example")
        );
        assert_eq!(web_url_host("http://127.0.0.1:8000/x"), Some("127.0.0.1"));
        for hostile in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,x",
            "https://",
            "https://a.example/\"><script>",
            "https://a.example/ x",
            "https://good.example@evil.example/",
            "//evil.example/",
            "https://a.example/\nx",
        ] {
            assert_eq!(web_url_host(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn safe_links_are_web_urls_or_local_paths() {
        assert!(is_safe_link("/admin/auth/user/1/password/"));
        assert!(is_safe_link("https://example.org/"));
        assert!(!is_safe_link("javascript:alert(1)"));
        assert!(!is_safe_link("//evil.example/"));
    }

    #[test]
    fn what_the_lms_sends_is_checked_once_for_everyone() {
        assert!(learner_username("alice.b-2@x").is_ok());
        assert!(learner_username("<b>x").is_err());
        assert!(learner_username(&"a".repeat(151)).is_err());
        assert!(email_address("alice@example.com").is_ok());
        for bad in ["alice", "a@b@c.d", "a b@c.d", "@c.d", "a@c"] {
            assert!(email_address(bad).is_err(), "{bad:?}");
        }
        assert!(verify_uuid("3f6c1d0e9b2a4c5d8e7f6a5b4c3d2e1f").is_ok());
        assert!(verify_uuid("3f6c1d0e-9b2a-4c5d-8e7f-6a5b4c3d2e1f").is_ok());
        for bad in [
            "3f6c1d0e9b2a",
            "\"><script>alert(1)</script>",
            "{3f6c1d0e-9b2a-4c5d-8e7f-6a5b4c3d2e1f}",
        ] {
            assert!(verify_uuid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn criteria_are_web_urls_or_text() {
        for fine in [
            "https://lms.example/courses/x/about",
            "Pass the final exam with 80%.",
            "Note: complete every unit.",
            "Read about javascript: the language.",
        ] {
            assert_eq!(criteria(fine), Ok(()), "{fine:?}");
            assert_eq!(criteria_passed_on(fine), fine);
        }
        for hostile in [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            "  \u{1}javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "https://a.example/\"><script>",
            "HTTP://a.example/ x",
        ] {
            assert!(criteria(hostile).is_err(), "{hostile:?}");
            assert_eq!(criteria_passed_on(hostile), "", "{hostile:?}");
        }
    }
}
