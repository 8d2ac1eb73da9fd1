//! CSRF, security headers, error pages and health.

mod common;

use common::{TestApp, location, spawn_app};

#[tokio::test]
async fn form_posts_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    // A session exists (the login page made a token), but the post carries none.
    let _ = app.csrf_token().await;
    let missing = app
        .client
        .post(app.url("/admin/login/"))
        .form(&[("username", "alice"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    let html = missing.text().await.unwrap();
    assert!(html.contains("CSRF verification failed") && html.contains("CSRF token missing."));

    let wrong = app
        .client
        .post(app.url("/admin/login/"))
        .form(&[
            ("csrf_token", "forged"),
            ("username", "alice"),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("CSRF token incorrect.")
    );

    // Without any session at all.
    let fresh = common::new_client()
        .post(app.url("/admin/login/"))
        .form(&[("csrf_token", "x"), ("username", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 403);
}

/// Posts a multipart form as it is (no token added): the answer's status and page.
async fn post_multipart_as_is(
    app: &TestApp,
    path: &str,
    form: reqwest::multipart::Form,
) -> (reqwest::StatusCode, String) {
    let response = app.client.post(app.url(path)).multipart(form).send().await;
    let response = response.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn multipart_posts_need_the_token_as_their_first_part() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let token = app.csrf_token().await;

    let without = reqwest::multipart::Form::new()
        .part(
            "icon",
            reqwest::multipart::Part::bytes(vec![0u8; 1024]).file_name("x.png"),
        )
        .text("name", "editors");
    let (status, page) = post_multipart_as_is(&app, "/admin/auth/group/add/", without).await;
    assert_eq!(status, 403);
    assert!(page.contains("CSRF token missing."));

    let forged = reqwest::multipart::Form::new()
        .text("csrf_token", "forged")
        .text("name", "editors");
    let (status, page) = post_multipart_as_is(&app, "/admin/auth/group/add/", forged).await;
    assert_eq!(status, 403);
    assert!(page.contains("CSRF token incorrect."));

    // With the token first, the request reaches the handler (logout accepts any body).
    let valid = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .text("other", "value");
    let (status, page) = post_multipart_as_is(&app, "/admin/logout/", valid).await;
    assert_eq!(status, 200);
    assert!(page.contains("Logged out"));
}

#[tokio::test]
async fn cross_site_origins_are_refused_even_with_a_token() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let token = app.csrf_token().await;
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("referer", "https://evil.example/page"),
    ] {
        let response = app
            .client
            .post(app.url("/admin/auth/group/add/"))
            .header(header, value)
            .form(&[("csrf_token", token.as_str()), ("name", "editors")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
        assert!(response.text().await.unwrap().contains("checking failed"));
    }
    let same_origin = app
        .client
        .post(app.url("/admin/auth/group/add/"))
        .header("origin", app.address.clone())
        .form(&[("csrf_token", token.as_str()), ("name", "editors")])
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 302);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/admin/login/",
        "/healthz",
        "/readyz",
        "/no/such/page",
        "/static/admin/admin.css",
        "/admin/",
    ] {
        let response = app.get(path).await;
        common::assert_security_headers(&response, path);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
    }
    let login = app.get_with(&common::new_client(), "/admin/login/").await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("accolade_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP test sites do not mark cookies Secure"
    );
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let app = common::spawn_app_with(&[("ACCOLADE_SECURE_COOKIES", "true")]).await;
    let login = app.get("/admin/login/").await;
    assert!(
        login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn error_pages_and_login_first_for_any_admin_url() {
    let app = spawn_app().await;
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Not Found"));

    // Anonymous: every admin URL, real or not, leads to the login page.
    for path in [
        "/admin/nope/",
        "/admin/auth/nope/",
        "/admin/auth/user/1/change/",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 302, "{path}");
        assert!(
            location(&response).starts_with("/admin/login/?next="),
            "{path}"
        );
    }
    app.login_superuser().await;
    assert_eq!(app.get("/admin/auth/nope/").await.status(), 404);
    // An object that is not there, or an id that names none: back to the index with
    // Django's warning, not a bare 404.
    for id in ["999999", "not-a-number"] {
        let response = app.get(&format!("/admin/auth/user/{id}/change/")).await;
        assert_eq!(response.status(), 302, "{id}");
        assert_eq!(location(&response), "/admin/", "{id}");
        let index = app.get_html("/admin/").await;
        assert!(
            index.contains(&format!("User with ID “{id}” doesn’t exist.")),
            "{id}"
        );
    }
}

#[tokio::test]
async fn oversized_form_bodies_get_413() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let response = app
        .client
        .post(app.url("/admin/login/"))
        .form(&[("csrf_token", token.as_str()), ("username", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Request Entity Too Large")
    );
}

#[tokio::test]
async fn a_server_error_shows_a_request_id_and_no_internals() {
    let app = spawn_app().await;
    app.login_superuser().await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("DROP TABLE group_permissions")
            .execute(&mut *app.conn())
            .unwrap();
        diesel::sql_query("DROP TABLE groups CASCADE")
            .execute(&mut *app.conn())
            .ok();
        diesel::sql_query("DROP TABLE groups")
            .execute(&mut *app.conn())
            .ok();
    }
    let response = app.get("/admin/auth/group/").await;
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let html = response.text().await.unwrap();
    assert!(html.contains(&request_id), "the page quotes the request id");
    assert!(
        !html.to_lowercase().contains("groups"),
        "no internals on the page: {html}"
    );
}

#[tokio::test]
async fn healthz_reports_the_database() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    let expected = if common::on_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    assert_eq!(body["backend"], expected);
}

#[tokio::test]
async fn head_is_answered_wherever_get_is_with_headers_only() {
    let app = spawn_app().await;
    for path in ["/healthz", "/admin/login/", "/static/admin/admin.css"] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // Not a way around a method a route does not take.
    let head = app
        .client
        .head(app.url("/admin/logout/"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
}

#[tokio::test]
async fn a_form_the_framework_cannot_read_gets_a_page_naming_the_field() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let response = app
        .client
        .post(app.url("/admin/login/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={token}&username=a&username=b&password=x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().await.unwrap().contains("username"));
}
