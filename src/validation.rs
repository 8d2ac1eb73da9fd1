//! Shared rules for values that come from outside: one of each, used by the admin, the
//! intake and the badge backends alike.

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

/// A link target that is safe to render: a web URL or a path on this site.
pub fn is_safe_link(href: &str) -> bool {
    is_web_url(href) || crate::auth::safe_next(Some(href)) == href
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
}
