//! The holes an outside review found, each kept closed: who may change whom, sessions the
//! server can end, a throttle that cannot be raced, proxies, a pending password change,
//! service tokens, the learners' API, look-alike usernames, secrets and origins, links
//! from outside, and issued badges that are never deleted.

mod common;

use accolade::auth::users;
use accolade::db::schema::{badge_assertions, badge_classes, learners, user_sessions};
use common::{PASSWORD, TestApp, location, new_client, spawn_app, spawn_app_with, text_of};
use diesel::prelude::*;

/// A logged-in client of its own.
async fn client_of(app: &TestApp, username: &str) -> reqwest::Client {
    let client = new_client();
    let response = app.login_with(&client, username, PASSWORD).await;
    assert_eq!(response.status(), 302, "login as {username}");
    client
}

/// A staff user holding `grants` ("app.codename" each).
fn staff_with(app: &TestApp, username: &str, grants: &[&str]) -> i64 {
    let id = app.create_user(username, true, false);
    grant_all(app, id, grants);
    id
}

/// A superuser "root" (whose id it returns), then Mallory: staff holding `grants`.
fn root_and_mallory(app: &TestApp, grants: &[&str]) -> i64 {
    let root = app.create_user("root", true, true);
    staff_with(app, "mallory", grants);
    root
}

fn grant_all(app: &TestApp, user: i64, grants: &[&str]) {
    for grant in grants {
        let (label, codename) = grant.split_once('.').unwrap();
        app.grant(user, label, codename);
    }
}

/// Neither the delete page nor "Delete selected" on the changelist (`list`) deletes
/// object `id`: both answer 403.
async fn assert_delete_refused(
    app: &TestApp,
    client: &reqwest::Client,
    list: &str,
    id: impl std::fmt::Display,
) {
    let single = app
        .post_form_with(client, &format!("{list}{id}/delete/"), &[("post", "yes")])
        .await;
    assert_eq!(single.status(), 403, "the delete page of {list}{id}");
    let bulk = app
        .post_form_with(
            client,
            list,
            &[
                ("action", "delete_selected"),
                ("_selected_action", &id.to_string()),
                ("post", "yes"),
            ],
        )
        .await;
    assert_eq!(bulk.status(), 403, "Delete selected on {list}");
}

/// Posts the changelist action `action` on object `id` of `list` as `client`.
async fn act_on(
    app: &TestApp,
    client: &reqwest::Client,
    list: &str,
    action: &str,
    id: i64,
) -> reqwest::Response {
    let fields = [("action", action), ("_selected_action", &id.to_string())];
    app.post_form_with(client, list, &fields).await
}

/// The status of a certificate event sent as the LMS would.
async fn event_status(
    app: &TestApp,
    token: &str,
    event_id: &str,
    course_id: &str,
    course_name: &str,
) -> reqwest::StatusCode {
    let sent = app.send_certificate(token, event_id, course_id, course_name);
    sent.await.status()
}

/// Saves the change form at `url` as `client` with one field set.
async fn save_field(
    app: &TestApp,
    client: &reqwest::Client,
    url: &str,
    field: (&str, &str),
) -> reqwest::Response {
    app.post_form_with(client, url, &[field, ("_save", "Save")])
        .await
}

fn is_active(app: &TestApp, id: i64) -> bool {
    users::find(&mut app.conn(), id).unwrap().unwrap().is_active
}

#[tokio::test]
async fn staff_cannot_take_over_users_with_more_rights() {
    let app = spawn_app().await;
    let root = root_and_mallory(
        &app,
        &["auth.change_user", "auth.delete_user", "auth.add_token"],
    );
    // Victor holds one permission more than Mallory; Pat holds none.
    let victor = staff_with(
        &app,
        "victor",
        &["auth.change_user", "badges.view_badgeassertion"],
    );
    let pat = app.create_user("pat", true, false);
    let client = client_of(&app, "mallory").await;

    for target in [root, victor] {
        let password_url = format!("/admin/auth/user/{target}/password/");
        assert_eq!(app.get_with(&client, &password_url).await.status(), 403);
        let set = app
            .post_form_with(
                &client,
                &password_url,
                &[
                    ("new_password1", "plum-orbit-canvas-41"),
                    ("new_password2", "plum-orbit-canvas-41"),
                ],
            )
            .await;
        assert_eq!(set.status(), 403, "no password set for user {target}");
        let change_url = format!("/admin/auth/user/{target}/change/");
        let form = app.text_with(&client, &change_url).await;
        assert!(form.contains("only a superuser may change"), "{form}");
        assert!(!form.contains("name=\"_save\""), "shown read-only");
        assert!(!form.contains("Set a new password"));
        // Rename and deactivate (the checkbox left out).
        let change = save_field(&app, &client, &change_url, ("username", "owned")).await;
        assert_eq!(change.status(), 403);
        assert!(is_active(&app, target));
        let delete_url = format!("/admin/auth/user/{target}/delete/");
        let page = app.text_with(&client, &delete_url).await;
        assert!(page.contains("Cannot delete"), "{page}");
        assert!(!page.contains("Yes, I’m sure"));
        assert_delete_refused(&app, &client, "/admin/auth/user/", target).await;
        assert!(users::find(&mut app.conn(), target).unwrap().is_some());
    }
    // The old session of Victor is not ended by the refused attempts: he still logs in.
    assert_eq!(
        app.login_with(&new_client(), "victor", PASSWORD)
            .await
            .status(),
        302
    );

    // A token that acts as a user with more rights is refused too.
    let token = add_token(&app, &client, "x", victor).await;
    assert_eq!(token.status(), 200);
    assert!(text_of(token).await.contains("Select a valid choice."));

    // Users with no more rights than Mallory's remain hers to manage.
    let renamed = app
        .post_form_with(
            &client,
            &format!("/admin/auth/user/{pat}/change/"),
            &[
                ("username", "patricia"),
                ("is_active", "on"),
                ("_save", "Save"),
            ],
        )
        .await;
    assert_eq!(renamed.status(), 302);
    assert_eq!(
        users::find(&mut app.conn(), pat).unwrap().unwrap().username,
        "patricia"
    );
}

/// The value of the session cookie a response set.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(accolade::SESSION_COOKIE))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// A request that replays a copied cookie.
async fn replay(app: &TestApp, cookie: &str, path: &str) -> reqwest::StatusCode {
    new_client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn sessions_end_on_the_server() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", true, true);
    let client = new_client();
    let login = app.login_with(&client, "alice", PASSWORD).await;
    let copied = session_cookie(&login);
    assert_eq!(replay(&app, &copied, "/admin/").await, 200);

    // Logout ends every copy of the cookie.
    app.post_form_with(&client, "/admin/logout/", &[]).await;
    assert_eq!(
        replay(&app, &copied, "/admin/").await,
        302,
        "a copy after logout"
    );

    // Idle for longer than the timeout, or older than the lifetime: ended by the server.
    let age = |column: &str, hours: i64| {
        let then = accolade::db::now() - chrono::Duration::hours(hours);
        let mut conn = app.conn();
        match column {
            "idle" => diesel::update(user_sessions::table)
                .set(user_sessions::last_seen_at.eq(then))
                .execute(&mut *conn),
            _ => diesel::update(user_sessions::table)
                .set(user_sessions::created_at.eq(then))
                .execute(&mut *conn),
        }
        .unwrap();
    };
    for (column, hours) in [("idle", 3), ("lifetime", 15 * 24)] {
        let login = app.login_with(&new_client(), "alice", PASSWORD).await;
        let cookie = session_cookie(&login);
        assert_eq!(replay(&app, &cookie, "/admin/").await, 200);
        age(column, hours);
        assert_eq!(replay(&app, &cookie, "/admin/").await, 302, "{column}");
    }

    // A superuser ends every session of a user from the user's page.
    let elsewhere = client_of(&app, "alice").await;
    app.create_user("root", true, true);
    let root = client_of(&app, "root").await;
    let page = app
        .text_with(&root, &format!("/admin/auth/user/{alice}/change/"))
        .await;
    assert!(
        page.contains("Log out everywhere") && page.contains("1 session"),
        "{page}"
    );
    let ended = act_on(&app, &root, "/admin/auth/user/", "end_sessions", alice).await;
    assert_eq!(ended.status(), 302);
    assert_eq!(app.get_with(&elsewhere, "/admin/").await.status(), 302);
    assert_eq!(
        app.get_with(&root, "/admin/").await.status(),
        200,
        "only alice's"
    );
}

/// Every guess posted at once, each from a client with its own session and CSRF token;
/// returns how many were verified (answered as a wrong password) and how many throttled.
async fn guess_at_once(app: &TestApp, username: &str, guesses: usize) -> (usize, usize) {
    let mut ready = Vec::new();
    for _ in 0..guesses {
        let client = new_client();
        let token = app.csrf_token_for(&client).await;
        ready.push((client, token));
    }
    let sent = ready.into_iter().map(|(client, token)| {
        let url = app.url("/admin/login/");
        let username = username.to_string();
        tokio::spawn(async move {
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("username", &username),
                    ("password", "wrong-guess-123"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let mut statuses = Vec::new();
    for handle in sent.collect::<Vec<_>>() {
        statuses.push(handle.await.unwrap());
    }
    let verified = statuses.iter().filter(|s| s.as_u16() == 200).count();
    let throttled = statuses.iter().filter(|s| s.as_u16() == 429).count();
    (verified, throttled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_never_pass_the_throttle() {
    let app = spawn_app_with(&[
        ("ACCOLADE_HTTP_WORKERS", "4"),
        ("ACCOLADE_DB_POOL_SIZE", "16"),
    ])
    .await;
    app.create_user("alice", true, true);
    let (verified, throttled) = guess_at_once(&app, "alice", 40).await;
    assert!(
        verified <= 5,
        "{verified} guesses were verified with a limit of 5"
    );
    assert_eq!(verified + throttled, 40);
    // A burst may be refused whole (each guess counts the others before they are taken
    // back), so fill the window one guess at a time: the total stays within the limit.
    let mut total = verified;
    loop {
        let (more, refused) = guess_at_once(&app, "alice", 1).await;
        total += more;
        if refused == 1 {
            break;
        }
        assert!(
            total <= 5,
            "{total} guesses were verified with a limit of 5"
        );
    }
    assert_eq!(total, 5);
    // The right password is throttled too until the window passes.
    let late = app.login_with(&new_client(), "alice", PASSWORD).await;
    assert_eq!(late.status(), 429);
}

#[tokio::test]
async fn the_old_password_is_throttled_like_a_login() {
    let app = spawn_app().await;
    app.create_user("alice", true, true);
    let client = client_of(&app, "alice").await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        let page = app
            .post_form_with(
                &client,
                "/admin/password_change/",
                &[
                    ("old_password", "wrong-guess-123"),
                    ("new_password1", "plum-orbit-canvas-41"),
                    ("new_password2", "plum-orbit-canvas-41"),
                ],
            )
            .await;
        answers.push(page.text().await.unwrap());
    }
    let verified = answers
        .iter()
        .filter(|p| p.contains("entered incorrectly"))
        .count();
    assert_eq!(verified, 5, "five guesses, then none");
    assert!(answers[7].contains("Too many failed"));
}

#[tokio::test]
async fn the_client_address_is_the_nth_hop_from_the_right() {
    let app = spawn_app_with(&[
        ("ACCOLADE_TRUSTED_PROXIES", "1"),
        ("ACCOLADE_LOGIN_MAX_FAILURES", "100"),
        ("ACCOLADE_LOGIN_MAX_FAILURES_PER_ADDRESS", "3"),
    ])
    .await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let client = new_client();
        let token = app.csrf_token_for(&client).await;
        // The client forges the left of the list and a `Forwarded` header; the proxy
        // appends the address it saw.
        let response = client
            .post(app.url("/admin/login/"))
            .header("x-forwarded-for", format!("10.9.{n}.1, 203.0.113.9"))
            .header("forwarded", format!("for=10.8.{n}.1"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", &format!("u{n}")),
                ("password", "wrong"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn a_pending_password_change_is_enforced_everywhere() {
    let app = spawn_app().await;
    let must_change = |id: i64| {
        diesel::update(accolade::db::schema::users::table.find(id))
            .set(accolade::db::schema::users::must_change_password.eq(true))
            .execute(&mut *app.conn())
            .unwrap();
    };
    // Staff who may read badges: not through the API until the password is changed.
    let staff = app.create_user("reader", true, false);
    app.grant(staff, "badges", "view_badgeassertion");
    must_change(staff);
    let client = client_of(&app, "reader").await;
    let api = app
        .get_with(&client, "/api/badges/v1/assertions/user/alice/")
        .await;
    assert_eq!(api.status(), 404);
    assert_eq!(app.get_with(&client, "/studio/").await.status(), 302);

    // A course team member: Studio sends them to Studio's own password change page.
    let teacher = app.create_user("teacher", false, false);
    let course = accolade::courses::create(
        &mut app.conn(),
        &accolade::courses::CourseKey::parse("course-v1:edX+Trust+2026").unwrap(),
        "Trust",
    )
    .unwrap()
    .id;
    app.give_course_role(teacher, course, "staff");
    must_change(teacher);
    let client = new_client();
    let login = app.login_with(&client, "teacher", PASSWORD).await;
    assert_eq!(location(&login), "/studio/password_change/");
    let studio = app.get_with(&client, "/studio/").await;
    assert_eq!(location(&studio), "/studio/password_change/");
    let changed = app
        .post_form_with(
            &client,
            "/studio/password_change/",
            &[
                ("old_password", PASSWORD),
                ("new_password1", "quartz-lantern-meadow-7"),
                ("new_password2", "quartz-lantern-meadow-7"),
            ],
        )
        .await;
    assert_eq!(location(&changed), "/studio/password_change/done/");
    assert_eq!(app.get_with(&client, "/studio/").await.status(), 200);
}

/// The application with a learner holding one badge, and a service token acting as `lms`.
async fn app_with_a_badge() -> (TestApp, String, i64) {
    let app = spawn_app().await;
    app.login_superuser().await;
    let lms = app.create_user("lms", false, false);
    let token = app.create_token(lms).await;
    assert_eq!(
        event_status(&app, &token, "cert-1", "course-v1:edX+Trust+2026", "Trust").await,
        202
    );
    app.issue_waiting_awards();
    (app, token, lms)
}

#[tokio::test]
async fn service_tokens_act_only_for_active_users_who_are_not_superusers() {
    let (app, token, lms) = app_with_a_badge().await;
    let read = |token: String| {
        let url = app.url("/api/badges/v1/assertions/user/alice/");
        async move {
            new_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(read(token.clone()).await, 200);
    let form = app.get_html("/admin/auth/token/add/").await;
    assert!(
        form.contains(">lms</option>") && !form.contains(">root</option>"),
        "superusers are not offered"
    );
    diesel::update(accolade::db::schema::users::table.find(lms))
        .set(accolade::db::schema::users::is_active.eq(false))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(read(token.clone()).await, 401, "deactivated");
    assert_eq!(
        event_status(&app, &token, "cert-2", "course-v1:edX+Trust+2026", "Trust").await,
        401
    );
}

#[tokio::test]
async fn accounts_never_read_a_learners_badges_by_their_name() {
    let (app, _, _) = app_with_a_badge().await;
    let url = "/api/badges/v1/assertions/user/alice/";
    // An account named like the learner, in another case, and staff without the right.
    for (name, staff) in [("ALICE", false), ("alice.staff", true)] {
        let id = app.create_user(name, staff, false);
        let course = app.course_id("course-v1:edX+Trust+2026");
        app.give_course_role(id, course, "staff");
        let client = client_of(&app, name).await;
        assert_eq!(app.get_with(&client, url).await.status(), 404, "{name}");
    }
    let reader = app.create_user("reader", true, false);
    app.grant(reader, "badges", "view_badgeassertion");
    let client = client_of(&app, "reader").await;
    assert_eq!(app.get_with(&client, url).await.status(), 200);
}

#[tokio::test]
async fn look_alike_usernames_are_refused() {
    let app = spawn_app().await;
    app.login_superuser().await;
    app.create_user("admin", true, true);
    for look_alike in ["Admin", "ADMIN", "ａｄｍｉｎ", " admin "] {
        let response = app
            .post_form(
                "/admin/auth/user/add/",
                &[
                    ("username", look_alike),
                    ("password1", "plum-orbit-canvas-41"),
                    ("password2", "plum-orbit-canvas-41"),
                ],
            )
            .await;
        assert_eq!(response.status(), 200, "{look_alike:?} refused");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("A user with that username already exists"),
            "{page}"
        );
    }
    // The database holds the rule too, whatever writes the row.
    let hash = common::shared_hash();
    let direct = users::create(&mut app.conn(), &users::NewUser::new("ADMIN", "", &hash));
    assert!(accolade::db::is_unique_violation(&direct.unwrap_err()));
    // The fullwidth name logs in as the plain one (NFKC).
    assert_eq!(
        app.login_with(&new_client(), "ａｄｍｉｎ", PASSWORD)
            .await
            .status(),
        302
    );
}

#[tokio::test]
async fn production_sends_hsts_and_origins_are_checked_against_the_site_url() {
    let app = spawn_app_with(&[
        ("ACCOLADE_ENV", "production"),
        ("ACCOLADE_SECURE_COOKIES", "false"),
        ("ACCOLADE_SITE_URL", "https://badges.example.org"),
    ])
    .await;
    let health = app.get("/healthz").await;
    assert!(health.headers().contains_key("strict-transport-security"));
    // A forged Host that matches a forged Origin is not this site.
    let token = app.csrf_token().await;
    let forged: &[(&str, &str)] = &[("host", "evil.example"), ("origin", "http://evil.example")];
    let own: &[(&str, &str)] = &[("origin", "https://badges.example.org")];
    for (headers, status) in [(forged, 403), (own, 200)] {
        let mut login = app.client.post(app.url("/admin/login/"));
        for (name, value) in headers {
            login = login.header(*name, *value);
        }
        let fields = [
            ("csrf_token", token.as_str()),
            ("username", "x"),
            ("password", "y"),
        ];
        let response = login.form(&fields).send().await.unwrap();
        assert_eq!(response.status(), status, "{headers:?}");
    }
}

#[tokio::test]
async fn verification_ids_are_checked_at_the_intake() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let lms = app.create_user("lms", false, false);
    let token = app.create_token(lms).await;
    let event = serde_json::json!({
        "event_id": "e1", "username": "alice", "email": "alice@example.com",
        "course_id": "course-v1:edX+Trust+2026", "mode": "verified", "status": "downloadable",
        "verify_uuid": "\"><script>alert(1)</script>",
    });
    let response = new_client()
        .post(app.url("/api/v1/events/certificate"))
        .bearer_auth(&token)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(text_of(response).await.contains("verify_uuid"));
}

/// The delete page at `url` refuses, names alice's badge and points to revocation.
async fn assert_badge_blocks_deletion(app: &TestApp, url: &str) {
    let page = app.get_html(url).await;
    assert!(page.contains("Cannot delete"), "{page}");
    assert!(
        page.contains("Badge assertion: alice"),
        "the page names the badge"
    );
    assert!(page.contains("revoke"), "and points to revocation");
    // Why, for what stands in the way: the badges, and no word of course team roles.
    assert!(page.contains("Issued badges are never deleted"), "{page}");
    assert!(!page.contains("team roles"), "{page}");
}

#[tokio::test]
async fn issued_badges_are_never_deleted_with_their_class_or_learner() {
    let (app, _, _) = app_with_a_badge().await;
    let class: i64 = badge_classes::table
        .select(badge_classes::id)
        .first(&mut *app.conn())
        .unwrap();
    let url = format!("/admin/badges/badgeclass/{class}/delete/");
    assert_badge_blocks_deletion(&app, &url).await;
    let refused = app.post_form(&url, &[("post", "yes")]).await;
    assert_eq!(refused.status(), 403);
    // Whatever deletes the rows, the database refuses.
    let mut conn = app.conn();
    assert!(
        diesel::delete(badge_classes::table.find(class))
            .execute(&mut *conn)
            .is_err()
    );
    assert!(diesel::delete(learners::table).execute(&mut *conn).is_err());
    let kept: i64 = badge_assertions::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(kept, 1);
}

/// A course of its own for a test.
fn new_course(app: &TestApp, key: &str) -> accolade::courses::CourseId {
    accolade::courses::create(
        &mut app.conn(),
        &accolade::courses::CourseKey::parse(key).unwrap(),
        "Trust",
    )
    .unwrap()
    .id
}

/// Whether `actor` may open the page that sets `target`'s password.
async fn may_set_password(app: &TestApp, actor: &reqwest::Client, target: i64) -> bool {
    let url = format!("/admin/auth/user/{target}/password/");
    match app.get_with(actor, &url).await.status().as_u16() {
        200 => true,
        403 => false,
        other => panic!("{url}: {other}"),
    }
}

#[tokio::test]
async fn course_team_roles_are_rights_too() {
    let app = spawn_app().await;
    let course = new_course(&app, "course-v1:edX+Trust+2026");
    let mallory = staff_with(
        &app,
        "mallory",
        &[
            "auth.change_user",
            "auth.delete_user",
            "auth.add_token",
            "courses.add_courserole",
            "courses.change_courserole",
        ],
    );
    // Not admin staff, but on the course's team: Studio changes the course's settings.
    let teacher = app.create_user("teacher", false, false);
    app.give_course_role(teacher, course, "staff");
    let teacher_session = client_of(&app, "teacher").await;
    let client = client_of(&app, "mallory").await;

    assert!(!may_set_password(&app, &client, teacher).await);
    let set = app
        .post_form_with(
            &client,
            &format!("/admin/auth/user/{teacher}/password/"),
            &[
                ("new_password1", "plum-orbit-canvas-99"),
                ("new_password2", "plum-orbit-canvas-99"),
            ],
        )
        .await;
    assert_eq!(set.status(), 403);
    let change_url = format!("/admin/auth/user/{teacher}/change/");
    let form = app.text_with(&client, &change_url).await;
    assert!(
        form.contains("holds a course team role that you do not hold"),
        "{form}"
    );
    assert!(!form.contains("name=\"_save\""), "shown read-only");
    let change = save_field(&app, &client, &change_url, ("username", "owned")).await;
    assert_eq!(change.status(), 403, "nor renamed or deactivated");
    assert!(is_active(&app, teacher));
    let delete_url = format!("/admin/auth/user/{teacher}/delete/");
    let page = app.text_with(&client, &delete_url).await;
    assert!(page.contains("Cannot delete"), "{page}");
    for (action, status) in [("delete_selected", 403), ("end_sessions", 302)] {
        let bulk = app
            .post_form_with(
                &client,
                "/admin/auth/user/",
                &[
                    ("action", action),
                    ("_selected_action", &teacher.to_string()),
                    ("post", "yes"),
                ],
            )
            .await;
        assert_eq!(bulk.status(), status, "{action}");
    }
    assert_eq!(
        app.get_with(&teacher_session, "/studio/").await.status(),
        200,
        "the teacher's session was left alone"
    );
    let token = add_token(&app, &client, "x", teacher).await;
    assert!(text_of(token).await.contains("Select a valid choice."));

    // Course roles are given like rights: only a role the giver holds on that course, and
    // only to a user she may manage.
    let give = |user: i64, course: accolade::courses::CourseId, role: &'static str| {
        let (user, course) = (user.to_string(), course.to_string());
        let (app, client) = (&app, &client);
        async move {
            let response = app
                .post_form_with(
                    client,
                    "/admin/courses/courserole/add/",
                    &[
                        ("user", user.as_str()),
                        ("course", course.as_str()),
                        ("role", role),
                    ],
                )
                .await;
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, page) = give(mallory, course, "staff").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("only a role that you hold yourself"),
        "{page}"
    );

    // Holding the same role on the same course, Mallory may manage the teacher; a higher
    // role is still out of her reach, and so is giving one.
    app.give_course_role(mallory, course, "staff");
    assert!(may_set_password(&app, &client, teacher).await);
    let instructor = app.create_user("instructor", false, false);
    app.give_course_role(instructor, course, "instructor");
    assert!(!may_set_password(&app, &client, instructor).await);
    let other = new_course(&app, "course-v1:edX+Trust+2027");
    let plain = app.create_user("plain", false, false);
    let (status, _) = give(plain, other, "staff").await;
    assert_eq!(status, 200, "not on a course she is not on");
    let (status, _) = give(plain, course, "instructor").await;
    assert_eq!(status, 200, "not a higher role than hers");
    let victor = app.create_user("victor", false, false);
    app.grant(victor, "badges", "view_badgeassertion");
    let (status, page) = give(victor, course, "staff").await;
    assert_eq!(status, 200, "not to a user with more rights");
    assert!(
        page.contains("holds permissions that you do not hold"),
        "{page}"
    );
    let (status, _) = give(plain, course, "staff").await;
    assert_eq!(status, 302, "her own role, to a user she may manage");
}

#[tokio::test]
async fn a_password_set_by_an_admin_is_a_pending_change() {
    let app = spawn_app().await;
    let root = app.login_superuser().await;
    // Staff who may read badges, and on a course's team.
    let reader = app.create_user("reader", true, false);
    app.grant(reader, "badges", "view_badgeassertion");
    let course = new_course(&app, "course-v1:edX+Trust+2026");
    app.give_course_role(reader, course, "staff");
    let given = "quartz-lantern-meadow-7";
    let set = app
        .post_form(
            &format!("/admin/auth/user/{reader}/password/"),
            &[("new_password1", given), ("new_password2", given)],
        )
        .await;
    assert_eq!(set.status(), 302);

    let client = new_client();
    let login = app.login_with(&client, "reader", given).await;
    assert_eq!(location(&login), "/admin/password_change/");
    for (path, want) in [
        ("/admin/", 302),
        ("/studio/", 302),
        ("/api/badges/v1/assertions/user/alice/", 404),
    ] {
        assert_eq!(app.get_with(&client, path).await.status(), want, "{path}");
    }
    let change = |new: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            app.post_form_with(
                client,
                "/admin/password_change/",
                &[
                    ("old_password", given),
                    ("new_password1", new),
                    ("new_password2", new),
                ],
            )
            .await
        }
    };
    let same = change(given).await;
    assert_eq!(same.status(), 200, "not the password given");
    assert!(
        same.text()
            .await
            .unwrap()
            .contains("not the one you were given")
    );
    assert_eq!(
        location(&change(PASSWORD).await),
        "/admin/password_change/done/"
    );
    assert_eq!(app.get_with(&client, "/admin/").await.status(), 200);

    // A user added with a password is in the same state; an admin's own password is not.
    let added = app
        .post_form(
            "/admin/auth/user/add/",
            &[
                ("username", "newbie"),
                ("password1", given),
                ("password2", given),
            ],
        )
        .await;
    assert_eq!(added.status(), 302);
    let newbie = users::find_by_username(&mut app.conn(), "newbie")
        .unwrap()
        .unwrap();
    assert!(newbie.must_change_password);
    app.post_form(
        &format!("/admin/auth/user/{root}/password/"),
        &[("new_password1", given), ("new_password2", given)],
    )
    .await;
    let root = users::find(&mut app.conn(), root).unwrap().unwrap();
    assert!(!root.must_change_password);
}

/// The learners' API as a token sees it.
async fn read_with_token(app: &TestApp, token: &str) -> u16 {
    new_client()
        .get(app.url("/api/badges/v1/assertions/user/alice/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts the admin's token form as `client`: a token named `name` acting as `user`.
async fn add_token(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    user: i64,
) -> reqwest::Response {
    let fields = [("name", name), ("user", &user.to_string())];
    app.post_form_with(client, "/admin/auth/token/add/", &fields)
        .await
}

/// The secret of a token made through the admin by `client`, for `user`.
async fn token_made_by(app: &TestApp, client: &reqwest::Client, user: i64) -> String {
    let made = add_token(app, client, "mine", user).await;
    assert_eq!(made.status(), 302, "token for user {user}");
    let page = app.text_with(client, &location(&made)).await;
    let marker = "The secret of this token is ";
    let start = page.find(marker).expect("shown once") + marker.len();
    page[start..].split(' ').next().unwrap().to_string()
}

#[tokio::test]
async fn a_token_reaches_no_more_than_its_creator_may_see() {
    let (app, lms_token, _) = app_with_a_badge().await;
    let manager = staff_with(
        &app,
        "manager",
        &[
            "auth.add_token",
            "auth.view_token",
            "auth.change_token",
            "auth.view_user",
        ],
    );
    let plain = app.create_user("plain", false, false);
    let client = client_of(&app, "manager").await;
    // What the admin and the session refuse the manager...
    assert_eq!(
        app.get_with(&client, "/admin/badges/badgeassertion/")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_with(&client, "/api/badges/v1/assertions/user/alice/")
            .await
            .status(),
        404
    );
    // ...no token of theirs reaches either: for themselves, or for a plain user.
    for user in [manager, plain] {
        let token = token_made_by(&app, &client, user).await;
        assert_eq!(read_with_token(&app, &token).await, 404, "user {user}");
        let event = app
            .send_certificate(
                &token,
                &format!("forged-{user}"),
                "course-v1:edX+Trust+2026",
                "Trust",
            )
            .await;
        assert_eq!(event.status(), 403, "events need their permission too");
    }
    // A user who may read badges is not theirs to make a token for.
    let reader = app.create_user("reader", false, false);
    app.grant(reader, "badges", "view_badgeassertion");
    let refused = add_token(&app, &client, "x", reader).await;
    assert!(text_of(refused).await.contains("Select a valid choice."));
    // The LMS's service user, granted what README says it needs, does both.
    assert_eq!(read_with_token(&app, &lms_token).await, 200);
    assert_eq!(
        event_status(
            &app,
            &lms_token,
            "cert-2",
            "course-v1:edX+Trust+2027",
            "Trust 2"
        )
        .await,
        202
    );
}

#[tokio::test]
async fn one_time_messages_never_outgrow_the_cookie() {
    let app = spawn_app().await;
    app.login_superuser().await;
    for n in 0..70 {
        let response = app.get("/admin/auth/group/?format=0").await;
        assert_eq!(response.status(), 302, "request {n}");
        assert!(
            common::oversized_cookies(&response).is_empty(),
            "request {n}: a cookie browsers would drop"
        );
    }
    let page = app.get_html("/admin/auth/group/").await;
    assert_eq!(
        page.matches("Unknown filters were ignored.").count(),
        1,
        "kept once"
    );
}

#[tokio::test]
async fn criteria_are_web_urls_or_text() {
    let (app, token, _) = app_with_a_badge().await;
    for criteria in [
        "javascript:alert(document.cookie)",
        " \u{1}JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
    ] {
        let response = app
            .post_multipart(
                "/admin/badges/badgeclass/add/",
                &[
                    ("slug", "x"),
                    ("issuing_component", "openedx__course"),
                    ("display_name", "X"),
                    ("description", "X"),
                    ("criteria", criteria),
                ],
                &[],
            )
            .await;
        assert_eq!(response.status(), 200, "{criteria:?}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("links of other kinds"),
            "{criteria:?}: {page}"
        );
    }
    // A class stored before the rule: the LMS is not handed the link.
    diesel::update(badge_classes::table)
        .set(badge_classes::criteria.eq("javascript:alert(document.cookie)"))
        .execute(&mut *app.conn())
        .unwrap();
    let body: serde_json::Value = common::json_of(
        new_client()
            .get(app.url("/api/badges/v1/assertions/user/alice/"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(body["results"][0]["badge_class"]["criteria"], "");
    // The other URLs an admin enters: a course's about page.
    let course = app.course_id("course-v1:edX+Trust+2026");
    let about = app
        .post_form(
            &format!("/admin/courses/course/{course}/change/"),
            &[
                ("course_id", "course-v1:edX+Trust+2026"),
                ("about_url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(about.status(), 200);
    assert!(text_of(about).await.contains("Enter a valid URL"));
}

#[tokio::test]
async fn a_course_with_issued_badges_is_never_deleted() {
    let (app, _, _) = app_with_a_badge().await;
    let course = app.course_id("course-v1:edX+Trust+2026");
    let url = format!("/admin/courses/course/{course}/delete/");
    assert_badge_blocks_deletion(&app, &url).await;
    assert_delete_refused(&app, &app.client, "/admin/courses/course/", course).await;
    assert!(
        accolade::courses::find_by_key(&mut app.conn(), "course-v1:edX+Trust+2026")
            .unwrap()
            .is_some()
    );
}

/// A group with these members.
fn group_of(app: &TestApp, name: &str, members: &[i64]) -> i64 {
    use accolade::db::schema::{groups, user_groups};
    let mut conn = app.conn();
    let group: i64 = diesel::insert_into(groups::table)
        .values(groups::name.eq(name))
        .returning(groups::id)
        .get_result(&mut *conn)
        .unwrap();
    for &user in members {
        diesel::insert_into(user_groups::table)
            .values((
                user_groups::user_id.eq(user),
                user_groups::group_id.eq(group),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    group
}

#[tokio::test]
async fn a_group_whose_members_the_actor_may_not_change_stays() {
    let app = spawn_app().await;
    let root = root_and_mallory(
        &app,
        &["auth.view_group", "auth.change_group", "auth.delete_group"],
    );
    let victor = app.create_user("victor", true, false);
    app.grant(victor, "badges", "view_badgeassertion");
    let pat = app.create_user("pat", true, false);
    let guarded = group_of(&app, "admins", &[root, victor, pat]);
    let open = group_of(&app, "plain", &[pat]);
    let client = client_of(&app, "mallory").await;

    let delete_url = format!("/admin/auth/group/{guarded}/delete/");
    let page = app.text_with(&client, &delete_url).await;
    assert!(page.contains("Cannot delete"), "{page}");
    assert!(
        page.contains("root (a superuser)")
            && page.contains("victor (holds permissions you do not hold)")
            && !page.contains("pat ("),
        "the members she may not change, with why: {page}"
    );
    assert_delete_refused(&app, &client, "/admin/auth/group/", guarded).await;
    let change = save_field(
        &app,
        &client,
        &format!("/admin/auth/group/{guarded}/change/"),
        ("name", "renamed"),
    )
    .await;
    assert_eq!(change.status(), 403);
    // A group of members she may manage is hers to delete.
    let delete = app
        .post_form_with(
            &client,
            &format!("/admin/auth/group/{open}/delete/"),
            &[("post", "yes")],
        )
        .await;
    assert_eq!(delete.status(), 302);
    let left: i64 = accolade::db::schema::groups::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn a_new_sqlite_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    // Whatever the backend under test: Accolade creates SQLite files itself.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accolade.db");
    let db = accolade::db::Database::connect(&format!("sqlite://{}", path.display()), 2).unwrap();
    db.migrate().unwrap();
    let mut files = vec![path.clone()];
    for suffix in ["-wal", "-shm"] {
        let companion = dir.path().join(format!("accolade.db{suffix}"));
        assert!(companion.exists(), "{suffix} while connections are open");
        files.push(companion);
    }
    for file in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

#[tokio::test]
async fn taking_access_away_ends_sessions_for_good() {
    let app = spawn_app().await;
    let root = app.create_user("root", true, true);
    let root_client = client_of(&app, "root").await;
    let staffer = app.create_user("staffer", true, false);
    let save = |flags: &'static [(&'static str, &'static str)]| {
        let (app, root_client) = (&app, &root_client);
        async move {
            let mut fields = vec![("username", "staffer"), ("_save", "Save")];
            fields.extend_from_slice(flags);
            let saved = app
                .post_form_with(
                    root_client,
                    &format!("/admin/auth/user/{staffer}/change/"),
                    &fields,
                )
                .await;
            assert_eq!(saved.status(), 302, "saved by #{root}");
        }
    };
    let active_staff: &[(&str, &str)] = &[("is_active", "on"), ("is_staff", "on")];
    for taken_away in [&[("is_staff", "on")][..], &[("is_active", "on")][..]] {
        // A cookie copied while the user had access…
        let copied = client_of(&app, "staffer").await;
        assert_eq!(app.get_with(&copied, "/admin/").await.status(), 200);
        // …is dead once access is taken away, and stays dead when it is given back.
        save(taken_away).await;
        save(active_staff).await;
        assert_eq!(
            app.get_with(&copied, "/admin/").await.status(),
            302,
            "after saving {taken_away:?}"
        );
    }
}

#[tokio::test]
async fn a_course_keeps_its_team_until_each_role_is_removed() {
    let app = spawn_app().await;
    let course = new_course(&app, "course-v1:edX+Team+2026");
    let teacher = app.create_user("teacher", false, false);
    app.give_course_role(teacher, course, "instructor");
    staff_with(
        &app,
        "deleter",
        &["courses.delete_course", "courses.view_course"],
    );
    let client = client_of(&app, "deleter").await;
    let page = app
        .text_with(&client, &format!("/admin/courses/course/{course}/delete/"))
        .await;
    assert!(
        page.contains("Course team role: teacher (instructor)") && page.contains("Cannot delete"),
        "{page}"
    );
    assert!(page.contains("team roles are removed first"), "{page}");
    assert_delete_refused(&app, &client, "/admin/courses/course/", course).await;
    let team: i64 = accolade::db::schema::course_roles::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(team, 1, "the instructor keeps the role");
}

#[tokio::test]
async fn a_token_of_a_user_the_actor_may_not_manage_is_left_alone() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let lms = app.create_user("lms", false, false);
    accolade::badging::grant_lms_permissions(&mut app.conn(), lms).unwrap();
    let secret = app.create_token(lms).await;
    let token: i64 = accolade::db::schema::service_tokens::table
        .select(accolade::db::schema::service_tokens::id)
        .first(&mut *app.conn())
        .unwrap();
    staff_with(
        &app,
        "keeper",
        &[
            "auth.add_token",
            "auth.change_token",
            "auth.delete_token",
            "auth.view_token",
            "auth.view_user",
        ],
    );
    let client = client_of(&app, "keeper").await;
    let revoke = act_on(&app, &client, "/admin/auth/token/", "revoke", token).await;
    assert!(revoke.status().is_client_error() || revoke.status() == 302);
    let renamed = save_field(
        &app,
        &client,
        &format!("/admin/auth/token/{token}/change/"),
        ("name", "mine now"),
    )
    .await;
    assert_eq!(renamed.status(), 403);
    assert_delete_refused(&app, &client, "/admin/auth/token/", token).await;
    let form = app
        .text_with(&client, &format!("/admin/auth/token/{token}/change/"))
        .await;
    assert!(form.contains("acts as a user you may not manage"), "{form}");
    assert_eq!(
        read_with_token(&app, &secret).await,
        200,
        "the LMS's token still works"
    );
}

/// The rules of the user, group and token pages hold for any caller of the domain, not
/// only for the admin that checks them first.
#[tokio::test]
async fn account_rules_hold_outside_the_admin() {
    use accolade::auth::{groups, service_tokens};
    let app = spawn_app().await;
    let root = app.create_user("root", true, true);
    let editor = staff_with(&app, "editor", &["auth.change_user", "auth.change_group"]);
    let target = app.create_user("target", false, false);
    let conn = &mut *app.conn();

    // Creation: the username normalised and unique, the password twice and strong.
    let strong = "quartz-lantern-meadow-7";
    let refused = users::create_account(conn, "ＲＯＯＴ", "", [strong, strong]).unwrap();
    assert!(refused.unwrap_err().get("username")[0].contains("already exists"));
    let mismatch = users::create_account(conn, "new", "x", [strong, "other"]).unwrap();
    let errors = mismatch.unwrap_err();
    assert_eq!(errors.get("email"), ["Enter a valid email address."]);
    assert_eq!(
        errors.get("password2"),
        ["The two password fields didn’t match."]
    );
    let (id, name) = users::create_account(conn, " ｎｅｗ ", "", [strong, strong])
        .unwrap()
        .unwrap();
    assert_eq!(name, "new");
    let created = users::find(conn, id).unwrap().unwrap();
    assert!(
        created.must_change_password,
        "a password chosen for someone else"
    );

    // A change by a non-superuser leaves the rights alone; a superuser's grants them.
    let mut change = users::AccountChange {
        username: "target".into(),
        is_active: true,
        is_staff: true,
        is_superuser: true,
        ..Default::default()
    };
    assert_eq!(
        users::update_account(conn, editor, target, &change)
            .unwrap()
            .unwrap(),
        "target"
    );
    let after = users::find(conn, target).unwrap().unwrap();
    assert!(!after.is_staff && !after.is_superuser);
    change.is_superuser = false;
    users::update_account(conn, root, target, &change)
        .unwrap()
        .unwrap();
    assert!(users::find(conn, target).unwrap().unwrap().is_staff);
    // Nor may the editor change an account with more rights than hers.
    let refused = users::update_account(conn, editor, root, &change).unwrap();
    assert!(!refused.unwrap_err().get("__all__").is_empty());
    change.username = "root".into();
    let taken = users::update_account(conn, root, target, &change).unwrap();
    assert!(taken.unwrap_err().get("username")[0].contains("already exists"));

    // Groups: names unique; only a superuser sets permissions; refused members stay.
    let permission: i64 = accolade::db::schema::permissions::table
        .select(accolade::db::schema::permissions::id)
        .first(conn)
        .unwrap();
    let (group, _) = groups::save(conn, editor, None, "team", &[permission])
        .unwrap()
        .unwrap();
    assert_eq!(
        groups::find(conn, group).unwrap().unwrap().1,
        Vec::<i64>::new()
    );
    groups::save(conn, root, Some(group), "team", &[permission])
        .unwrap()
        .unwrap();
    assert_eq!(groups::find(conn, group).unwrap().unwrap().1, [permission]);
    let duplicate = groups::save(conn, root, None, " team ", &[]).unwrap();
    assert_eq!(
        duplicate.unwrap_err().get("name"),
        ["Group with this Name already exists."]
    );
    let join = users::AccountChange {
        username: "root".into(),
        is_active: true,
        is_staff: true,
        is_superuser: true,
        groups: vec![group],
        ..Default::default()
    };
    users::update_account(conn, root, root, &join)
        .unwrap()
        .unwrap();
    let renamed = groups::save(conn, editor, Some(group), "renamed", &[]).unwrap();
    assert!(renamed.unwrap_err().get("__all__")[0].contains("root (a superuser)"));

    // Tokens: only users the creator may manage; the secret once.
    for refused in [root.to_string(), "x".into()] {
        let none = service_tokens::create_by(conn, editor, "LMS", &refused).unwrap();
        assert_eq!(
            none.unwrap_err().get("user"),
            ["Select a valid choice. That choice is not one of the available choices."]
        );
    }
    let missing = service_tokens::create_by(conn, editor, " ", "").unwrap();
    let errors = missing.unwrap_err();
    assert_eq!(errors.get("name"), ["This field is required."]);
    assert_eq!(errors.get("user"), ["This field is required."]);
    let plain = users::create_account(conn, "lms", "", [strong, strong])
        .unwrap()
        .unwrap()
        .0;
    let (token, secret) = service_tokens::create_by(conn, editor, "LMS", &plain.to_string())
        .unwrap()
        .unwrap();
    assert!(secret.starts_with(service_tokens::PREFIX));
    assert_eq!(
        service_tokens::revoke(conn, &[token, token]).unwrap().len(),
        1
    );
    assert!(service_tokens::revoke(conn, &[token]).unwrap().is_empty());
}
