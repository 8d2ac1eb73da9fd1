//! Logging in and out, throttling, password changes and sessions.

mod common;

use common::{PASSWORD, location, new_client, spawn_app};
use diesel::prelude::*;

#[tokio::test]
async fn staff_login_returns_to_next_and_failures_say_why() {
    let app = spawn_app().await;
    app.create_user("alice", true, true);

    let wrong = app
        .post_form(
            "/admin/login/",
            &[
                ("username", "alice"),
                ("password", "not-the-password"),
                ("next", "/admin/auth/user/"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 200);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("Please enter the correct username and password for a staff account."));
    assert!(html.contains(r#"value="alice""#), "the username is kept");

    let unknown = app
        .post_form(
            "/admin/login/",
            &[("username", "nobody"), ("password", "whatever-it-is")],
        )
        .await;
    let unknown_html = unknown.text().await.unwrap();
    assert!(
        unknown_html
            .contains("Please enter the correct username and password for a staff account.")
    );

    let ok = app
        .post_form(
            "/admin/login/",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", "/admin/auth/user/?q=x"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 302);
    assert_eq!(location(&ok), "/admin/auth/user/?q=x");
    assert_eq!(app.get("/admin/").await.status(), 200);
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    for hostile in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let client = new_client();
        let token = app.csrf_token_for(&client).await;
        let response = client
            .post(app.url("/admin/login/"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", hostile),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(location(&response), "/admin/", "next={hostile}");
    }
    // The login form itself never renders a hostile next.
    let html = app
        .get_html("/admin/login/?next=https://evil.example/")
        .await;
    assert!(!html.contains("evil.example"));
}

#[tokio::test]
async fn non_staff_and_inactive_users_cannot_enter() {
    let app = spawn_app().await;
    app.create_user("learner", false, false);
    let inactive = app.create_user("gone", true, false);
    {
        use accolade::db::schema::users;
        diesel::update(users::table.find(inactive))
            .set(users::is_active.eq(false))
            .execute(&mut *app.conn())
            .unwrap();
    }
    for name in ["learner", "gone"] {
        let response = app.login_with(&app.client, name, PASSWORD).await;
        assert_eq!(response.status(), 200, "{name} is refused");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("correct username and password for a staff account")
        );
        let admin = app.get("/admin/").await;
        assert_eq!(admin.status(), 302);
        assert!(location(&admin).starts_with("/admin/login/"));
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_until_the_window_passes() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    for _ in 0..5 {
        let r = app
            .login_with(&app.client, "alice", "wrong-password-here")
            .await;
        assert_eq!(r.status(), 200);
    }
    // Even the right password is refused while throttled, with a clear message.
    let throttled = app.login_with(&app.client, "ALICE", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    let html = throttled.text().await.unwrap();
    assert!(
        html.contains("Too many failed login attempts. Try again in"),
        "{html}"
    );
    let again = app.login_with(&app.client, "alice", PASSWORD).await;
    assert_eq!(again.status(), 429);

    // Move the failures out of the window: the right password works again.
    {
        use accolade::db::schema::login_failures;
        let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::hours(2);
        diesel::update(login_failures::table)
            .set(login_failures::failed_at.eq(long_ago))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let ok = app.login_with(&app.client, "alice", PASSWORD).await;
    assert_eq!(ok.status(), 302);
}

#[tokio::test]
async fn logout_is_a_post_only() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let by_get = app.get("/admin/logout/").await;
    assert_eq!(by_get.status(), 405);
    assert_eq!(app.get("/admin/").await.status(), 200, "still logged in");

    let out = app.post_form("/admin/logout/", &[]).await;
    assert_eq!(out.status(), 200);
    assert!(out.text().await.unwrap().contains("Logged out"));
    let after = app.get("/admin/").await;
    assert_eq!(after.status(), 302);
}

#[tokio::test]
async fn login_renews_the_session_and_its_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    let before = app.csrf_token().await;
    app.login("alice").await;
    let after = app.csrf_token().await;
    assert_ne!(before, after, "a new CSRF token after login");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    let other = new_client();
    app.login("alice").await;
    assert_eq!(
        app.login_with(&other, "alice", PASSWORD).await.status(),
        302
    );
    assert_eq!(app.get_with(&other, "/admin/").await.status(), 200);

    let new_password = "quartz-lantern-meadow-7";
    let changed = app
        .post_form(
            "/admin/password_change/",
            &[
                ("old_password", PASSWORD),
                ("new_password1", new_password),
                ("new_password2", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), 302);
    assert_eq!(location(&changed), "/admin/password_change/done/");
    assert_eq!(app.get("/admin/").await.status(), 200, "this session stays");
    let other_after = app.get_with(&other, "/admin/").await;
    assert_eq!(other_after.status(), 302, "the other session ended");

    assert_eq!(
        app.login_with(&other, "alice", PASSWORD).await.status(),
        200,
        "old password refused"
    );
    assert_eq!(
        app.login_with(&other, "alice", new_password).await.status(),
        302
    );
}

#[tokio::test]
async fn weak_or_mistyped_new_passwords_are_refused_beside_the_field() {
    let app = spawn_app().await;
    app.create_user("alice", true, false);
    app.login("alice").await;
    let cases = [
        (PASSWORD, "short", "short", "This password is too short"),
        (
            PASSWORD,
            "quartz-lantern-meadow-7",
            "quartz-lantern-meadow-8",
            "The two password fields didn’t match.",
        ),
        (
            PASSWORD,
            "alice-alice-alice",
            "alice-alice-alice",
            "too similar to the username",
        ),
        (
            "wrong-old-password",
            "quartz-lantern-meadow-7",
            "quartz-lantern-meadow-7",
            "Your old password was entered incorrectly",
        ),
    ];
    for (old, new1, new2, expected) in cases {
        let response = app
            .post_form(
                "/admin/password_change/",
                &[
                    ("old_password", old),
                    ("new_password1", new1),
                    ("new_password2", new2),
                ],
            )
            .await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert!(html.contains(expected), "expected {expected:?}");
        assert!(html.contains("Please correct the error"));
    }
}

#[tokio::test]
async fn the_generated_superuser_must_choose_a_new_password_first() {
    let app = spawn_app().await;
    let secret = accolade::ensure_initial_superuser(&app.db)
        .unwrap()
        .expect("a password for the new admin");
    assert!(
        accolade::ensure_initial_superuser(&app.db)
            .unwrap()
            .is_none(),
        "created once"
    );

    let login = app.login_with(&app.client, "admin", &secret).await;
    assert_eq!(login.status(), 302);
    assert_eq!(location(&login), "/admin/password_change/");
    for path in ["/admin/", "/admin/auth/user/"] {
        let blocked = app.get(path).await;
        assert_eq!(blocked.status(), 302);
        assert_eq!(location(&blocked), "/admin/password_change/");
    }
    let html = app.get_html("/admin/password_change/").await;
    assert!(html.contains("Please choose a new password before you continue."));

    let new_password = "quartz-lantern-meadow-7";
    let changed = app
        .post_form(
            "/admin/password_change/",
            &[
                ("old_password", &secret),
                ("new_password1", new_password),
                ("new_password2", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status(), 302);
    let index = app.get_html("/admin/").await;
    assert!(index.contains("Users") && index.contains("Groups"));
}
