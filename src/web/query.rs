//! Query strings: read them as pairs, and write links that keep the other parameters.

/// The pairs of a query string; a malformed one reads as empty. NUL characters are dropped:
/// they mean nothing in a search or filter, and PostgreSQL refuses them in text.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(k, v)| (k.replace('\0', ""), v.replace('\0', "")))
        .collect()
}

/// A query string being edited for a link.
#[derive(Clone, Debug, Default)]
pub struct QueryString(Vec<(String, String)>);

impl QueryString {
    pub fn new(pairs: Vec<(String, String)>) -> QueryString {
        QueryString(pairs)
    }

    /// A copy with `key` set to `value` (or removed when `value` is empty).
    pub fn with(&self, key: &str, value: &str) -> QueryString {
        let mut pairs: Vec<_> = self.0.iter().filter(|(k, _)| k != key).cloned().collect();
        if !value.is_empty() {
            pairs.push((key.to_string(), value.to_string()));
        }
        QueryString(pairs)
    }

    pub fn without(&self, key: &str) -> QueryString {
        self.with(key, "")
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The encoded pairs, without `?`.
    pub fn encoded(&self) -> String {
        serde_urlencoded::to_string(&self.0).unwrap_or_default()
    }

    /// `self.with(key, value).href()` for many values of one key (a filter's choices), the
    /// other pairs encoded once.
    pub fn href_with<'a>(&self, key: &'a str) -> impl Fn(&str) -> String + 'a {
        let rest = self.without(key).encoded();
        move |value| {
            let pair = if value.is_empty() {
                String::new()
            } else {
                serde_urlencoded::to_string([(key, value)]).unwrap_or_default()
            };
            href_of(&[&rest, &pair])
        }
    }

    /// `?pairs`, or the empty string when there are none.
    pub fn href(&self) -> String {
        href_of(&[&self.encoded()])
    }
}

/// `?` and the non-empty encoded parts joined with `&`, or nothing when all are empty.
fn href_of(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn href_with_is_with_then_href() {
        for query in [
            "",
            "q=a+b&p=2",
            "o=1&is_staff__exact=1&q=%C3%BC",
            "is_staff__exact=0",
        ] {
            let q = QueryString::new(pairs(query));
            let href = q.href_with("is_staff__exact");
            for value in ["", "1", "a b&c"] {
                assert_eq!(href(value), q.with("is_staff__exact", value).href());
            }
        }
    }

    #[test]
    fn links_keep_other_parameters() {
        let q = QueryString::new(pairs("q=a+b&p=2&is_staff__exact=1"));
        assert_eq!(q.with("p", "3").href(), "?q=a+b&is_staff__exact=1&p=3");
        assert_eq!(q.without("q").without("p").href(), "?is_staff__exact=1");
        assert_eq!(QueryString::default().href(), "");
    }
}
