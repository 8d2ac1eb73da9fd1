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
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// A hostile value as it goes on the wire: percent-encoded (the invalid UTF-8 ones are
/// already, and sent as they are). `None` is the repeated parameter, made per name.
struct Hostile {
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
    (status >= 500 || status == 0 || !oversized.is_empty())
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
    // 0: no answer at all (a handler that panicked).
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
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

/// A POST form of a page: where it posts, how, the values it would send as shown, and the
/// name of every field.
struct Form {
    action: String,
    multipart: bool,
    shown: Vec<(String, String)>,
    names: Vec<String>,
}

/// A tag's attribute value, unescaped (attributes are double-quoted in these templates).
fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next().map(unescape)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The POST forms of a page, but logging out and the one-click object actions (the
/// changelist's action form posts there too).
fn forms_in(html: &str, page: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    for (at, _) in html.match_indices("<form ") {
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        let skipped = tag.contains("logout-form") || tag.contains("object-action");
        if attr(tag, "method").as_deref() != Some("post") || skipped {
            continue;
        }
        let body = &html[at..at + html[at..].find("</form>").unwrap()];
        let mut form = Form {
            action: attr(tag, "action")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| page.to_string()),
            multipart: tag.contains("multipart/form-data"),
            shown: Vec::new(),
            names: Vec::new(),
        };
        read_fields(body, &mut form);
        forms.push(form);
    }
    forms
}

/// Fills a form's fields from its markup: each input, textarea and select as a browser
/// would send it (only the first submit button; passwords as the fixture's).
fn read_fields(body: &str, form: &mut Form) {
    let mut submitted = false;
    for (at, _) in body.match_indices('<') {
        let tag = &body[at..at + body[at..].find('>').unwrap_or(0)];
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        if !form.names.contains(&name) {
            form.names.push(name.clone());
        }
        let value = attr(tag, "value").unwrap_or_default();
        let kind = attr(tag, "type").unwrap_or_else(|| "text".into());
        let values: Vec<String> = if tag.starts_with("<textarea") {
            let content = &body[at + tag.len() + 1..];
            vec![unescape(&content[..content.find("</textarea>").unwrap()])]
        } else if tag.starts_with("<select") {
            selected(&body[at..at + body[at..].find("</select>").unwrap()], tag)
        } else {
            match kind.as_str() {
                "password" => vec![common::PASSWORD.to_string()],
                "checkbox" | "radio" if !tag.contains(" checked") => vec![],
                "submit" if submitted => vec![],
                "file" => vec![],
                _ => vec![value],
            }
        };
        submitted |= kind == "submit";
        form.shown
            .extend(values.into_iter().map(|v| (name.clone(), v)));
    }
}

/// The options a select sends: the selected ones, or the first.
fn selected(select: &str, tag: &str) -> Vec<String> {
    let options: Vec<(&str, String)> = select
        .match_indices("<option")
        .map(|(at, _)| {
            let option = &select[at..at + select[at..].find('>').unwrap()];
            (option, attr(option, "value").unwrap_or_default())
        })
        .collect();
    let chosen: Vec<String> = options
        .iter()
        .filter(|(option, _)| option.contains(" selected"))
        .map(|(_, value)| value.clone())
        .collect();
    match options.first() {
        _ if !chosen.is_empty() => chosen,
        Some((_, first)) if !tag.contains(" multiple") => vec![first.clone()],
        _ => vec![],
    }
}

/// The body of a form with `name` hostile and every other field as shown: urlencoded, or
/// multipart (the CSRF token first, as the middleware reads it).
fn body_of(form: &Form, name: &str, value: &Hostile) -> (String, Vec<u8>) {
    let hostile = value.pairs(name);
    let mut pairs: Vec<(String, Vec<u8>)> = form
        .shown
        .iter()
        .filter(|(n, _)| n != name)
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    pairs.extend(hostile.split('&').map(|pair| {
        let (_, wire) = pair.split_once('=').unwrap();
        let bytes = percent_decode_str(&wire.replace('+', "%20")).collect();
        (name.to_string(), bytes)
    }));
    pairs.sort_by_key(|(n, _)| n != "csrf_token");
    if form.multipart {
        multipart(&pairs)
    } else {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(n, v)| {
                let n = utf8_percent_encode(n, NON_ALPHANUMERIC);
                format!(
                    "{n}={}",
                    percent_encoding::percent_encode(v, NON_ALPHANUMERIC)
                )
            })
            .collect();
        let body = encoded.join("&").into_bytes();
        ("application/x-www-form-urlencoded".into(), body)
    }
}

fn multipart(pairs: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "hostilesweepboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in pairs {
        let head =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n");
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Every POST form of the pages, each once (by where it posts and what it holds).
async fn forms_of(
    fx: &Fixture,
    client: &reqwest::Client,
    cookie: &str,
    pages: &[String],
) -> Vec<Form> {
    let mut seen = BTreeSet::new();
    let mut forms = Vec::new();
    for page in pages {
        let response = client
            .get(fx.app.url(page))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            continue;
        }
        let html = response.text().await.unwrap();
        for form in forms_in(&html, page) {
            let path = form.action.split('?').next().unwrap().to_string();
            if seen.insert((path, form.names.clone())) {
                forms.push(form);
            }
        }
    }
    // A password changed by the sweep would end the session: those forms last.
    forms.sort_by_key(|f| f.action.contains("password"));
    forms
}

/// Posts each hostile value in each field of each form; returns the problems.
async fn post_all(
    fx: &Fixture,
    client: &reqwest::Client,
    cookie: &str,
    forms: &[Form],
) -> (usize, Vec<String>) {
    let values = hostile_values();
    let mut problems = Vec::new();
    let mut posts = 0;
    for form in forms {
        for name in &form.names {
            for value in &values {
                let (content_type, body) = body_of(form, name, value);
                let response = client
                    .post(fx.app.url(&form.action))
                    .header("cookie", cookie)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let cookies: Vec<usize> = response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .map(|v| v.len())
                    .collect();
                let what = format!("POST {} {name}={}", form.action, value.kind);
                problems.extend(problem(&what, response.status().as_u16(), &cookies));
                posts += 1;
            }
        }
    }
    (posts, problems)
}

/// The session cookie an answer sets (`name=value`).
fn session_set_by(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie");
    set.to_str().unwrap().split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn hostile_values_in_every_form_field_never_reach_a_5xx() {
    let fx = fixture().await;
    // Without a cookie store: every post starts from the same session, so one-time
    // messages never pile up in it.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pages: Vec<String> = targets(&fx)
        .await
        .into_iter()
        .filter(|t| !t.route.ends_with("/delete/"))
        .map(|t| t.url)
        .collect();
    let root = superuser_cookie(&fx).await;
    let forms = forms_of(&fx, &client, &root, &pages).await;
    let (mut posts, mut problems) = post_all(&fx, &client, &root, &forms).await;

    let anonymous = session_set_by(
        &client
            .get(fx.app.url("/admin/login/"))
            .send()
            .await
            .unwrap(),
    );
    let login = forms_of(&fx, &client, &anonymous, &["/admin/login/".to_string()]).await;
    let (more, found) = post_all(&fx, &client, &anonymous, &login).await;
    posts += more;
    problems.extend(found);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let actions: BTreeSet<&str> = forms.iter().map(|f| f.action.as_str()).collect();
    assert!(forms.len() > 30, "{} forms: {actions:?}", forms.len());
    assert!(posts > 1_000, "{posts} posts");
}
