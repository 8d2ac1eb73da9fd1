//! What an attacker sends: script in every text field of every model (and in what the LMS
//! sends), SQL metacharacters in every search and filter, a planted session, and hostile
//! uploads. (Open redirects through `next` and the login throttle: `tests/auth.rs`.)

mod common;
#[path = "common/images.rs"]
mod images;

use common::{TestApp, location, new_client, spawn_app};
use images::{png, png_claiming, solid};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(2)>";
const LINK: &str = "javascript:alert(3)";

/// The markup a payload would become if it were not escaped.
fn unescaped(html: &str) -> Option<&'static str> {
    let lower = html.to_ascii_lowercase();
    [
        ("<script>alert(1)", "a <script> payload"),
        ("<img src=x onerror", "an onerror payload"),
        ("href=\"javascript:", "a javascript: link"),
        ("src=\"javascript:", "a javascript: source"),
    ]
    .into_iter()
    .find(|(raw, _)| lower.contains(raw))
    .map(|(_, what)| what)
}

/// A tag's attribute value (attributes are always double-quoted in these templates).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next()
}

/// A valid value for the fields whose format is checked (so the object is saved and its
/// other fields shown on every page); `pass` keeps unique fields unique.
fn well_formed(field: &str, pass: usize) -> Option<String> {
    Some(match field {
        "username" => format!("hostile{pass}"),
        "email" => format!("hostile{pass}@example.com"),
        "course_id" => format!("course-v1:edX+Hostile{pass}+2026"),
        "modes" => "verified".into(),
        "mode" | "slug" | "issuing_component" => format!("hostile{pass}"),
        // The second pass leaves it to show that a `javascript:` link is refused.
        "about_url" if pass == 0 => "https://example.org/about".into(),
        "courses_completed" | "courses_enrolled" | "course_groups" => String::new(),
        _ => return None,
    })
}

/// The fields of a change form, filled in: every text field with `text` (unless its format
/// is checked), the first choice of every select, a valid square image in every file input
/// (named after `text` too).
fn filled_form(html: &str, text: &str, pass: usize) -> reqwest::multipart::Form {
    let form_start = html
        .find("name=\"_changelist_filters\"")
        .expect("a change form");
    let form = &html[form_start..html[form_start..].find("</form>").unwrap() + form_start];
    let mut multipart = reqwest::multipart::Form::new()
        .text("csrf_token", common::csrf_in(html).unwrap())
        .text("_save", "Save");
    for (at, _) in form.match_indices('<') {
        let tag = &form[at..at + form[at..].find('>').unwrap() + 1];
        let Some(name) = attr(tag, "name").map(str::to_string) else {
            continue;
        };
        if let Some(value) = well_formed(&name, pass).filter(|_| !tag.starts_with("<select")) {
            multipart = multipart.text(name, value);
        } else if tag.starts_with("<textarea") {
            multipart = multipart.text(name, text.to_string());
        } else if tag.starts_with("<select") && !tag.contains(" multiple") {
            let options = &form[at..];
            let choice = options
                .match_indices("<option value=\"")
                .map(|(i, m)| options[i + m.len()..].split('"').next().unwrap())
                .find(|v| !v.is_empty())
                .unwrap_or_default();
            multipart = multipart.text(name, choice.to_string());
        } else if tag.starts_with("<input") {
            multipart = match attr(tag, "type").unwrap_or("text") {
                "text" | "email" => multipart.text(name, text.to_string()),
                "password" => multipart.text(name, common::PASSWORD),
                "date" => multipart.text(name, "2026-01-01"),
                "file" => multipart.part(
                    name,
                    reqwest::multipart::Part::bytes(png(&solid(300, 300, [0, 0, 255, 255])))
                        .file_name(format!("{text}.png")),
                ),
                _ => multipart,
            };
        }
    }
    multipart
}

/// Every page a stored value may show on, for every registered model.
async fn pages_showing_data(app: &TestApp, models: &[(String, String)]) -> Vec<String> {
    let mut pages = vec![
        "/admin/".to_string(),
        "/studio/".to_string(),
        "/admin/badges/frozen-images/".to_string(),
    ];
    for (label, model) in models {
        let list = format!("/admin/{label}/{model}/");
        let html = app.get_html(&list).await;
        pages.push(list.clone());
        pages.push(format!("{list}?q=%3Cscript%3E"));
        for (at, _) in html.match_indices(&format!("href=\"{list}")).take(30) {
            let href = html[at + 6..]
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&");
            if href.ends_with("/change/") {
                let object = href.trim_end_matches("change/");
                pages.push(href.clone());
                pages.push(format!("{object}history/"));
                pages.push(format!("{object}delete/"));
            }
        }
    }
    if let Some(course) = app
        .get_html("/studio/")
        .await
        .split("href=\"/studio/course/")
        .nth(1)
    {
        pages.push(format!(
            "/studio/course/{}",
            course.split('"').next().unwrap()
        ));
    }
    pages
}

fn registered_models(app: &TestApp) -> Vec<(String, String)> {
    app.admin_site()
        .apps()
        .into_iter()
        .flat_map(|(_, models)| models)
        .map(|m| (m.info().app_label.to_string(), m.info().model.to_string()))
        .collect()
}

#[tokio::test]
async fn script_in_every_text_field_is_shown_escaped_everywhere() {
    let app = spawn_app().await;
    let root = app.login_superuser().await;
    let lms = app.create_user("lms", false, false);
    let token = app.create_token(lms).await;
    // What the LMS sends is text from outside too.
    let course = "course-v1:edX+Xss+2026";
    let response = app
        .send_certificate(&token, "ev-xss", course, &format!("{SCRIPT}{IMG}"))
        .await;
    assert_eq!(response.status(), 202);
    app.issue_waiting_awards();
    app.give_course_role(root, app.course_id(course), "staff");

    let models = registered_models(&app);
    let mut saved = Vec::new();
    for (label, model) in &models {
        let add = format!("/admin/{label}/{model}/add/");
        let form_page = app.get(&add).await;
        if form_page.status() != 200 {
            continue; // a model that is not added by hand
        }
        let html = form_page.text().await.unwrap();
        for (pass, text) in [format!("{SCRIPT}{IMG}"), LINK.to_string()]
            .iter()
            .enumerate()
        {
            let response = app
                .client
                .post(app.url(&add))
                .multipart(filled_form(&html, text, pass))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(matches!(status, 200 | 302), "{add}: {status}");
            if status == 302 {
                saved.push(format!("{model} {}", &text[..4]));
            } else {
                let body = response.text().await.unwrap();
                assert_eq!(unescaped(&body), None, "the form shown again by {add}");
            }
        }
    }
    // Every model with an add form keeps at least one hostile object.
    for (label, model) in &models {
        let addable = app
            .get(&format!("/admin/{label}/{model}/add/"))
            .await
            .status()
            == 200;
        let kept = saved.iter().any(|s| s.starts_with(&format!("{model} ")));
        assert!(!addable || kept, "no hostile {model} was saved: {saved:?}");
    }

    for page in pages_showing_data(&app, &models).await {
        let response = app.get(&page).await;
        let status = response.status().as_u16();
        assert!(status < 500, "{page}: {status}");
        let html = response.text().await.unwrap();
        assert_eq!(unescaped(&html), None, "{page}");
    }
}

const SQL_METACHARACTERS: &[&str] = &[
    "'",
    "\"",
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "%",
    "_",
    "\\",
    "%' --",
    "\0",
    "ü'\u{2019}",
];

#[tokio::test]
async fn sql_metacharacters_in_searches_and_filters_are_only_text() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let models = registered_models(&app);
    let mut requests = 0;
    for (label, model) in &models {
        let list = format!("/admin/{label}/{model}/");
        let html = app.get_html(&list).await;
        // Every parameter the page links to (filters, ordering, paging), plus the search.
        let mut params: Vec<String> = vec!["q".into(), "o".into(), "p".into(), "all".into()];
        for name in common::linked_params(&html) {
            if !params.contains(&name) {
                params.push(name);
            }
        }
        for param in &params {
            for value in SQL_METACHARACTERS {
                let url = format!(
                    "{list}?{}",
                    serde_urlencoded::to_string([(param.as_str(), *value)]).unwrap()
                );
                let response = app.get(&url).await;
                let status = response.status().as_u16();
                // A value that means nothing to a filter is a bad request or an empty
                // list, never a server error.
                assert!(matches!(status, 200 | 302 | 400 | 404), "{url}: {status}");
                requests += 1;
            }
        }
    }
    // Searching for "%" finds nothing: it is a character, not a wildcard.
    let html = app.get_html("/admin/auth/user/?q=%25").await;
    assert!(
        html.contains("0 users") || html.contains("0 results"),
        "{html}"
    );
    for value in SQL_METACHARACTERS {
        for param in ["q", "mode", "org"] {
            let url = format!(
                "/admin/badges/frozen-images/?{}",
                serde_urlencoded::to_string([(param, *value)]).unwrap()
            );
            assert!(app.get(&url).await.status().as_u16() < 500, "{url}");
        }
        for param in ["course_id", "slug", "page", "page_size"] {
            let url = format!(
                "/api/badges/v1/assertions/user/root/?{}",
                serde_urlencoded::to_string([(param, *value)]).unwrap()
            );
            assert!(app.get(&url).await.status().as_u16() < 500, "{url}");
        }
    }
    assert!(requests > 300, "{requests}");
    // NUL, which PostgreSQL refuses in text, in paths, forms and events.
    for path in [
        "/public/assertions/%00",
        "/public/badges/%00",
        "/studio/course/course-v1:a+b%00+c/settings/advanced",
        "/api/badges/v1/assertions/user/a%00/",
        "/admin/auth/user/%00/change/",
        "/admin/learners/learner/%00/change/",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
        common::assert_security_headers(&response, path);
    }
    let form = app
        .post_form("/admin/auth/group/add/", &[("name", "a\0b")])
        .await;
    assert_eq!(form.status(), 200);
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("Null characters are not allowed.")
    );
    let lms = app.create_user("lms", false, false);
    let token = app.create_token(lms).await;
    let response = app
        .send_certificate(&token, "ev-nul", "course-v1:edX+Nul+2026", "a\0b")
        .await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["field"], "course_name");
    // The revocation reason, a form of its own.
    let course = "course-v1:edX+Nul+2026";
    let accepted = app.send_certificate(&token, "ev-ok", course, "Nul").await;
    assert_eq!(accepted.status(), 202);
    app.issue_waiting_awards();
    let assertion: i64 = {
        use accolade::db::schema::badge_assertions;
        use diesel::prelude::*;
        badge_assertions::table
            .select(badge_assertions::id)
            .first(&mut *app.conn())
            .unwrap()
    };
    let revoke = app
        .post_form(
            "/admin/badges/badgeassertion/revoke/",
            &[("ids", &assertion.to_string()), ("reason", "a\0b")],
        )
        .await;
    assert_eq!(revoke.status(), 200);
    assert!(
        revoke
            .text()
            .await
            .unwrap()
            .contains("Null characters are not allowed.")
    );
    // Nothing was dropped: the users are all still there.
    assert!(app.get_html("/admin/auth/user/").await.contains("root"));
}

#[tokio::test]
async fn a_session_planted_before_login_is_not_the_one_after() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    // The attacker's session, planted in the victim's browser before they log in.
    let planted = app.get("/admin/login/").await;
    let planted_cookie = session_cookie(&planted);
    let response = app.login_with(&app.client, "alice", common::PASSWORD).await;
    assert_eq!(response.status(), 302);
    let after = session_cookie(&response);
    assert_ne!(planted_cookie, after, "login issues a new session");
    assert_eq!(app.get("/admin/").await.status(), 200);

    // The attacker still holding the planted cookie is not logged in as the victim.
    let attacker = new_client();
    let response = attacker
        .get(app.url("/admin/"))
        .header("cookie", planted_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(location(&response).starts_with("/admin/login/"));
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("accolade_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Posts an image configuration with `file` as its image; returns the status and page.
async fn upload(app: &TestApp, filename: &str, bytes: Vec<u8>) -> (u16, String) {
    let response = app
        .post_multipart(
            "/admin/certificates/badgeimageconfiguration/add/",
            &[("mode", "honor"), ("_save", "Save")],
            &[("icon", filename, bytes)],
        )
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

const NOT_AN_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";

#[tokio::test]
async fn hostile_uploads_are_refused_or_made_harmless() {
    let app = spawn_app().await;
    app.login_superuser().await;

    // A decompression bomb: a few bytes that claim a 100,000 × 100,000 image.
    let (status, page) = upload(&app, "bomb.png", png_claiming(100_000, 100_000)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("too large") || page.contains(NOT_AN_IMAGE),
        "{page}"
    );

    // SVG with script, and HTML, are not images.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (name, bytes) in [
        ("x.svg", svg.to_vec()),
        ("x.png", b"<html><script>alert(1)</script></html>".to_vec()),
    ] {
        let (status, page) = upload(&app, name, bytes).await;
        assert_eq!(status, 200, "{name}");
        assert!(page.contains(NOT_AN_IMAGE), "{name}: {page}");
    }

    // A PNG that is also an HTML page (script after the image's end) is accepted as the
    // image it is, and stored re-encoded: the script is gone, whatever its name said.
    let mut polyglot = png(&solid(300, 300, [255, 0, 0, 255]));
    polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
    // A NUL in the file name is a malformed body.
    let (status, page) = upload(&app, "x\0.png", polyglot.clone()).await;
    assert_eq!(status, 400);
    assert!(page.contains("malformed multipart body"), "{page}");
    let (status, page) = upload(&app, "../../etc/passwd.html", polyglot).await;
    assert_eq!(status, 302, "saved: {page}");
    let html = app
        .get_html("/admin/certificates/badgeimageconfiguration/")
        .await;
    let image = html
        .split("src=\"/media/badge-images/")
        .nth(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .expect("a thumbnail");
    assert!(
        !image.contains("..") && !image.contains("passwd"),
        "{image}"
    );
    let served = app.get(&format!("/media/badge-images/{image}")).await;
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    let bytes = served.bytes().await.unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"<script"),
        "the script is gone"
    );

    // Path tricks in a media URL find nothing.
    for path in [
        "..%2F..%2Fetc%2Fpasswd",
        "%00.png",
        "thumbnails%2F..%2F..%2Fx",
    ] {
        let status = app
            .get(&format!("/media/badge-images/{path}"))
            .await
            .status();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn thousands_of_form_parts_are_refused() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let token = app.csrf_token().await;
    // Written by hand: reqwest nests one stream per part, too deep for 5,000.
    let boundary = "accoladeboundary";
    let mut body = String::new();
    let parts = std::iter::once(("csrf_token".to_string(), token.clone()))
        .chain((0..5_000).map(|i| (format!("field{i}"), "x".to_string())));
    for (name, value) in parts {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let response = app
        .client
        .post(app.url("/admin/auth/group/add/"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The number of fields exceeded")
    );

    let names: Vec<String> = (0..5_000).map(|i| format!("f{i}")).collect();
    let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
    let response = app.post_form("/admin/auth/group/add/", &fields).await;
    assert_eq!(response.status(), 400);
    // Every admin form reads its body the same way: a bulk action too.
    let ids: Vec<(&str, &str)> = names.iter().map(|_| ("_selected_action", "1")).collect();
    let action = [("action", "delete_selected")];
    let fields: Vec<(&str, &str)> = action.into_iter().chain(ids).collect();
    let response = app.post_form("/admin/auth/group/", &fields).await;
    assert_eq!(response.status(), 400);
}

/// Query-string values an attacker (or a careless link) sends: each reached a 500 before
/// the changelist bounded its search and the learners' API checked its arithmetic.
#[tokio::test]
async fn searches_past_what_a_database_accepts_are_shortened() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let many = |n: usize| vec!["w"; n].join("+");
    // SQLite: "Expression tree is too large" at 1,000 words, "LIKE or GLOB pattern too
    // complex" at one word of 60,000 characters; PostgreSQL: too many parameters at 9,000.
    for (what, q) in [
        ("1,000 words", many(1_000)),
        ("9,000 words", many(9_000)),
        ("a 60,000-character word", "x".repeat(60_000)),
    ] {
        for list in ["/admin/auth/user/", "/admin/badges/badgeassertion/"] {
            let response = app.get(&format!("{list}?q={q}")).await;
            assert_eq!(response.status(), 200, "{what} on {list}");
            let html = response.text().await.unwrap();
            assert!(
                html.contains("The search was shortened"),
                "{what} on {list}"
            );
            // The page's links carry the search as shortened.
            assert!(
                html.len() < 200_000,
                "{what} on {list}: {} bytes",
                html.len()
            );
        }
    }
}

#[tokio::test]
async fn control_characters_in_an_object_url_are_redirected_encoded() {
    let app = spawn_app().await;
    app.login_superuser().await;
    for (id, encoded) in [
        ("%0a", "%0A"),
        ("%0d%0aX:%201", "%0D%0AX%3A%201"),
        ("%1b%E2%80%A8", "%1B%E2%80%A8"),
    ] {
        let response = app.get(&format!("/admin/auth/user/{id}/")).await;
        assert_eq!(response.status(), 302, "{id}");
        assert_eq!(
            location(&response),
            format!("/admin/auth/user/{encoded}/change/")
        );
    }
}

#[tokio::test]
async fn unknown_filter_names_are_never_shown_back() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let sentence = "Your+session+expired%2C+call+0800+123+456";
    for name in [sentence.to_string(), "f".repeat(3_000), "f".repeat(5_000)] {
        let response = app.get(&format!("/admin/auth/user/?{name}=1")).await;
        assert_eq!(response.status(), 302);
        assert_eq!(common::oversized_cookies(&response), Vec::<usize>::new());
        let html = app.get_html(&location(&response)).await;
        assert!(html.contains("Unknown filters were ignored."));
        assert!(!html.contains("Your session expired") && !html.contains("fffff"));
    }
}

#[tokio::test]
async fn a_changelist_page_past_the_end_is_its_last_page() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let html = app
        .get_html(&format!("/admin/auth/user/?p={}", i64::MAX))
        .await;
    assert!(html.contains("1 user"), "the last (only) page");
    assert!(html.contains(">root<"), "its rows are shown");
}

/// `(page - 1) * page_size` wrapped on PostgreSQL.
#[tokio::test]
async fn the_learners_api_answers_an_impossible_page_with_404() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let huge = i64::MAX.to_string();
    for page in [
        huge.as_str(),
        "9223372036854775808",
        "2",
        "0",
        "-1",
        "1e309",
    ] {
        let path = format!("/api/badges/v1/assertions/user/root/?page={page}&page_size=100");
        let response = app.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["detail"], "Invalid page.", "{path}");
    }
}
