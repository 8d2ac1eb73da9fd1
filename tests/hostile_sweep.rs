//! The generic sweep: every kind of hostile value (very long, very many words, control
//! characters, huge and negative numbers, invalid UTF-8, path traversal, repeated
//! parameters) through every path parameter and query parameter of every GET route the
//! router registered, as a superuser and anonymously, and through every field of every form
//! those pages hold. No answer may be a 5xx, nor set a cookie larger than browsers keep.

mod common;

use std::collections::BTreeSet;

use accolade::web::router;
use common::fixture::{Fixture, fixture};
use futures_util::{StreamExt, stream};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// A hostile value as it goes on the wire: percent-encoded (the invalid UTF-8 ones are
/// already, and sent as they are). `None` is the repeated parameter, made per name.
struct Hostile {
    #[allow(dead_code)]
    kind: &'static str,
    wire: Option<String>,
}

fn hostile_values() -> Vec<Hostile> {
    let encoded = |s: &str| Some(utf8_percent_encode(s, NON_ALPHANUMERIC).to_string());
    let raw = |s: &str| Some(s.to_string());
    [
        ("100 KB", raw(&"a".repeat(100_000))),
        ("10,000 words", raw(&vec!["w"; 10_000].join("+"))),
        ("NUL", raw("%00")),
        ("CR LF", encoded("a\r\nSet-Cookie: x=1\nb")),
        ("tab, ESC, U+2028", encoded("\t\x1b[31m\u{2028}")),
        ("i64::MAX", raw("9223372036854775807")),
        ("past u64", raw("18446744073709551616")),
        ("-1", raw("-1")),
        ("i64::MIN", raw("-9223372036854775808")),
        ("1e309", raw("1e309")),
        ("invalid UTF-8", raw("%ff%fe")),
        ("overlong UTF-8", raw("%c0%af")),
        ("path traversal", encoded("../../../../etc/passwd")),
        ("encoded traversal", raw("..%2f..%2f..%2fetc%2fpasswd")),
        ("repeated", None),
    ]
    .into_iter()
    .map(|(kind, wire)| Hostile { kind, wire })
    .collect()
}

impl Hostile {
    /// `name=value` pairs, encoded: the value, or the name a hundred times.
    fn pairs(&self, name: &str) -> String {
        let name = utf8_percent_encode(name, NON_ALPHANUMERIC);
        match &self.wire {
            Some(value) => format!("{name}={value}"),
            None => (0..100)
                .map(|i| format!("{name}={}", i - 50))
                .collect::<Vec<_>>()
                .join("&"),
        }
    }

    /// The value as one path segment.
    fn segment(&self) -> String {
        self.wire.clone().unwrap_or_else(|| "1;1;1".into())
    }
}

/// The query parameters routes read, by route (every route also gets all of these, and one
/// nobody reads). Filter parameters are read from each changelist's own links.
const PARAMS: &[(&str, &[&str])] = &[
    ("/admin/login/", &["next"]),
    ("/admin/{app}/{model}/", &["q", "o", "p"]),
    ("/admin/{app}/{model}/add/", &["_changelist_filters"]),
    (
        "/admin/{app}/{model}/{id}/change/",
        &["_changelist_filters"],
    ),
    (
        "/admin/{app}/{model}/{id}/delete/",
        &["_changelist_filters"],
    ),
    ("/admin/badges/badgeassertion/revoke/", &["ids"]),
    (
        "/admin/badges/frozen-images/",
        &["q", "mode", "org", "differs", "format", "p"],
    ),
    (
        "/api/badges/v1/assertions/user/{username}/",
        &[
            "course_id",
            "slug",
            "issuing_component",
            "page",
            "page_size",
        ],
    ),
];
const UNREAD: &str = "zz_unread";

/// One URL of a route, with the parameters it reads.
struct Target {
    route: String,
    url: String,
    params: Vec<String>,
}

/// Every GET route's URLs: the generic admin routes once per registered model.
async fn targets(fx: &Fixture) -> Vec<Target> {
    let mut targets = Vec::new();
    let site = fx.app.admin_site();
    for route in router::registered() {
        if !matches!(route.method.as_str(), "GET" | "*") {
            continue;
        }
        let mut params: Vec<String> = PARAMS
            .iter()
            .filter(|(path, _)| *path == route.path)
            .flat_map(|(_, names)| names.iter().map(|n| n.to_string()))
            .collect();
        params.push(UNREAD.into());
        if !route.path.starts_with("/admin/{app}/{model}/") {
            let url = fx.url(&route.path, "GET");
            targets.push(Target {
                route: route.path.clone(),
                url,
                params,
            });
            continue;
        }
        for (_, models) in site.apps() {
            for model in models {
                let key = format!("{}/{}", model.info().app_label, model.info().model);
                let url = fx.model_url(&route.path, "GET", &key);
                let mut params = params.clone();
                if route.path == "/admin/{app}/{model}/" {
                    params.extend(common::linked_params(&fx.app.get_html(&url).await));
                }
                targets.push(Target {
                    route: route.path.clone(),
                    url,
                    params,
                });
            }
        }
    }
    targets
}

/// Every name any route reads.
fn all_params(targets: &[Target]) -> Vec<String> {
    let names: BTreeSet<&String> = targets.iter().flat_map(|t| &t.params).collect();
    names.into_iter().cloned().collect()
}

/// The URLs to ask: each value through each parameter the target reads, and through the
/// other known names in turn (one value each, a different one on each target).
fn query_urls(targets: &[Target], values: &[Hostile]) -> Vec<String> {
    let names = all_params(targets);
    let mut urls = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let join = if target.url.contains('?') { '&' } else { '?' };
        for name in &target.params {
            for value in values {
                urls.push(format!("{}{join}{}", target.url, value.pairs(name)));
            }
        }
        for (n, name) in names.iter().enumerate() {
            let value = &values[(t + n) % values.len()];
            urls.push(format!("{}{join}{}", target.url, value.pairs(name)));
        }
    }
    urls
}

/// The URLs with one path parameter hostile: each route's parameters (for the generic admin
/// routes, the id of each model, and the app and model once).
fn path_urls(fx: &Fixture, targets: &[Target], values: &[Hostile]) -> Vec<String> {
    let mut urls = Vec::new();
    let routes: BTreeSet<&str> = targets.iter().map(|t| t.route.as_str()).collect();
    for route in routes {
        for placeholder in placeholders(route) {
            for value in values {
                let path = route.replace(&placeholder, &value.segment());
                if !route.starts_with("/admin/{app}/{model}/") {
                    urls.push(fx.url(&path, "GET"));
                } else if placeholder == "{id}" {
                    urls.extend(fx.ids.keys().map(|key| fx.model_url(&path, "GET", key)));
                } else {
                    urls.push(fx.model_url(&path, "GET", "auth/user"));
                }
            }
        }
    }
    urls
}

/// The `{…}` parameters of a route's path.
fn placeholders(route: &str) -> Vec<String> {
    route
        .match_indices('{')
        .map(|(at, _)| route[at..=at + route[at..].find('}').unwrap()].to_string())
        .collect()
}

/// What is wrong with an answer: a 5xx, or a cookie a browser would drop.
fn problem(what: &str, status: u16, cookies: &[usize]) -> Option<String> {
    let oversized: Vec<&usize> = cookies
        .iter()
        .filter(|&&len| len > common::MAX_COOKIE_BYTES)
        .collect();
    (status >= 500 || !oversized.is_empty())
        .then(|| format!("{what}: {status}, cookies of {oversized:?} bytes"))
}

/// A GET written by hand: an HTTP client refuses a URI over 64 KiB, the server reads
/// request heads of up to 128 KiB. The status and the lengths of the `Set-Cookie` values.
fn raw_get(address: &str, path: &str, cookie: Option<&str>) -> (u16, Vec<usize>) {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    // The server may answer (and close) before it has read a head it refuses.
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer to GET {}", shorten(path)));
    let cookies = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.trim().len())
        .collect();
    (status, cookies)
}

/// Sends the GETs, a few at a time, with `cookie` (a session) or none; returns the problems.
async fn get_all(fx: &Fixture, cookie: Option<String>, urls: &[String]) -> Vec<String> {
    stream::iter(urls)
        .map(|url| {
            let (address, url, cookie) = (fx.app.address.clone(), url.clone(), cookie.clone());
            tokio::task::spawn_blocking(move || {
                let (status, cookies) = raw_get(&address, &url, cookie.as_deref());
                problem(&format!("GET {}", shorten(&url)), status, &cookies)
            })
        })
        .buffer_unordered(4)
        .filter_map(|found| async move { found.unwrap() })
        .collect()
        .await
}

/// A new session of the fixture's superuser, as a `Cookie` header.
async fn superuser_cookie(fx: &Fixture) -> String {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = fx.app.login_with(&client, "root", common::PASSWORD).await;
    assert_eq!(response.status(), 302);
    let url = fx.app.url("/admin/").parse().unwrap();
    use reqwest::cookie::CookieStore;
    jar.cookies(&url).unwrap().to_str().unwrap().to_string()
}

/// A URL or value short enough for a failure message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_string(),
    }
}

#[tokio::test]
async fn hostile_values_in_every_get_parameter_never_reach_a_5xx() {
    let fx = fixture().await;
    let values = hostile_values();
    let targets = targets(&fx).await;
    let mut urls = query_urls(&targets, &values);
    urls.extend(path_urls(&fx, &targets, &values));
    let mut problems = get_all(&fx, Some(superuser_cookie(&fx).await), &urls).await;
    problems.extend(get_all(&fx, None, &urls).await);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(targets.len() > 60, "{} targets", targets.len());
    assert!(urls.len() > 5_000, "{} URLs", urls.len());
}
