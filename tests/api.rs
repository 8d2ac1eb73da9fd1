//! Service tokens and the learners' badges API.

mod common;

use std::time::Duration;

use accolade::badging::jobs;
use accolade::badging::worker;
use accolade::courses::{self, CourseKey};
use accolade::db::schema::{badge_assertions, service_tokens};
use accolade::learners;
use common::{TestApp, location, new_client, spawn_app};
use diesel::prelude::*;

const DEMO: &str = "course-v1:edX+DemoX+Demo";
const OTHER: &str = "course-v1:edX+Other+2026";
/// DEMO as a query string carries it (`+` would read as a space).
const DEMO_QUERY: &str = "course-v1:edX%2BDemoX%2BDemo";

/// Awards alice the completion badges of two courses (the second one later).
fn award_two(app: &TestApp) {
    let backend = common::local_issuer(app);
    let settings = common::worker_settings(true);
    for course in [DEMO, OTHER] {
        let mut conn = app.conn();
        courses::create(&mut conn, &CourseKey::parse(course).unwrap(), "A course").unwrap();
        let learner = learners::upsert(&mut conn, "alice", "alice@example.com").unwrap();
        jobs::enqueue_course_completion(&mut conn, learner.id, course, "verified", "").unwrap();
        drop(conn);
        worker::drain(&app.db, backend.as_ref(), &settings, "test").unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    new_client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let secret = app.create_token(service).await;
    assert!(secret.starts_with("acc_") && secret.len() > 40, "{secret}");
    let stored: (String, String) = service_tokens::table
        .select((service_tokens::token_hash, service_tokens::token_prefix))
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(stored.0, accolade::digest::sha256_hex(secret.as_bytes()));
    assert!(secret.starts_with(&stored.1));
    let list = app.get_html("/admin/auth/token/").await;
    assert!(!list.contains(&secret), "never shown again");

    award_two(&app);
    let path = "/api/badges/v1/assertions/user/alice/";
    assert_eq!(get_with_token(&app, path, &secret).await.status(), 200);
    let wrong = get_with_token(&app, path, "acc_wrong").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<serde_json::Value>().await.unwrap()["detail"],
        "Invalid token."
    );

    let id: i64 = service_tokens::table
        .select(service_tokens::id)
        .first(&mut *app.conn())
        .unwrap();
    app.post_form(
        "/admin/auth/token/",
        &[("action", "revoke"), ("_selected_action", &id.to_string())],
    )
    .await;
    assert_eq!(
        get_with_token(&app, path, &secret).await.status(),
        401,
        "revoked"
    );
}

#[tokio::test]
async fn the_learners_api_answers_as_upstream() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    award_two(&app);
    let get = |path: String| {
        let (app_url, token) = (app.url(&path), token.clone());
        async move {
            new_client()
                .get(app_url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    let all: serde_json::Value = get("/api/badges/v1/assertions/user/alice/".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["count"], 2);
    assert_eq!(all["num_pages"], 1);
    assert!(all["next"].is_null() && all["previous"].is_null());
    let first = &all["results"][0];
    assert_eq!(first["badge_class"]["course_id"], OTHER, "newest first");
    assert_eq!(first["badge_class"]["issuing_component"], "");
    assert_eq!(
        first["badge_class"]["slug"],
        accolade::badges::classes::course_slug(OTHER, "verified")
    );
    assert!(
        first["badge_class"]["image_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/media/badge-images/", app.address))
    );
    assert!(
        first["assertion_url"]
            .as_str()
            .unwrap()
            .contains("/public/assertions/")
    );
    assert!(first["created"].as_str().unwrap().ends_with('Z'));

    let one: serde_json::Value = get(format!(
        "/api/badges/v1/assertions/user/alice/?course_id={DEMO_QUERY}"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["count"], 1);
    assert_eq!(one["results"][0]["badge_class"]["course_id"], DEMO);
    let star: serde_json::Value = get("/api/badges/v1/assertions/user/alice/?course_id=*".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(star["count"], 2);
    let bad = get("/api/badges/v1/assertions/user/alice/?course_id=garbage".into()).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["detail"],
        "The course key provided was invalid."
    );
    // A slug without a course means classes of no course: none here.
    let slug = accolade::badges::classes::course_slug(DEMO, "verified");
    let unscoped: serde_json::Value =
        get(format!("/api/badges/v1/assertions/user/alice/?slug={slug}"))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(unscoped["count"], 0);
    let scoped: serde_json::Value = get(format!(
        "/api/badges/v1/assertions/user/alice/?slug={slug}&course_id={DEMO_QUERY}"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(scoped["count"], 1);

    let paged: serde_json::Value =
        get("/api/badges/v1/assertions/user/alice/?page_size=1&page=2".into())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        (paged["num_pages"].as_i64(), paged["current_page"].as_i64()),
        (Some(2), Some(2))
    );
    assert!(paged["previous"].as_str().unwrap().contains("page=1"));
    assert!(paged["next"].is_null());
    // NUL in a filter is refused, not dropped into "no filter"; in the username, it names
    // no learner, answered as JSON like any other error of the API.
    for nul in [
        "course_id=%00",
        "slug=a%00b",
        "course_id=course-v1:a+b+c&issuing_component=%00",
    ] {
        let refused = get(format!("/api/badges/v1/assertions/user/alice/?{nul}")).await;
        assert_eq!(refused.status(), 400, "{nul}");
    }
    let nul_user = get("/api/badges/v1/assertions/user/al%00ice/".into()).await;
    assert_eq!(nul_user.status(), 404);
    assert!(nul_user.json::<serde_json::Value>().await.unwrap()["detail"].is_string());
    let out_of_range = get("/api/badges/v1/assertions/user/alice/?page=9".into()).await;
    assert_eq!(out_of_range.status(), 404);
    assert_eq!(
        out_of_range.json::<serde_json::Value>().await.unwrap()["detail"],
        "Invalid page."
    );

    // Revoked assertions are left out.
    let first_id: i64 = badge_assertions::table
        .order(badge_assertions::id)
        .select(badge_assertions::id)
        .first(&mut *app.conn())
        .unwrap();
    accolade::badging::assertions::revoke(&mut app.conn(), first_id, "Issued in error").unwrap();
    let after: serde_json::Value = get("/api/badges/v1/assertions/user/alice/".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["count"], 1);
}

#[tokio::test]
async fn only_services_and_staff_may_read_a_learners_badges() {
    let app = spawn_app().await;
    award_two(&app);
    let path = "/api/badges/v1/assertions/user/alice/";
    assert_eq!(
        app.get_with(&new_client(), path).await.status(),
        404,
        "anonymous"
    );
    app.create_user("teacher", false, false);
    let staff = new_client();
    app.create_user("root", true, true);
    app.login_with(&staff, "root", common::PASSWORD).await;
    assert_eq!(
        app.get_with(&staff, path).await.status(),
        200,
        "admin staff"
    );
    assert_eq!(
        app.get_with(&new_client(), "/api/badges/v1/assertions/user/al$ce/")
            .await
            .status(),
        404
    );
}

async fn post_event(
    app: &TestApp,
    kind: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::Response {
    let mut request = new_client()
        .post(app.url(&format!("/api/v1/events/{kind}")))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn certificate(event_id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "event_id": event_id, "username": "alice", "email": "Alice@Example.com",
        "course_id": "course-v1:edX+New+2026", "mode": "verified", "status": status,
        "verify_uuid": "0123456789abcdef0123456789abcdef", "course_name": "A new course"
    })
}

#[tokio::test]
async fn certificate_events_queue_awards_once() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;

    let first = post_event(
        &app,
        "certificate",
        Some(&token),
        &certificate("ev-1", "downloadable"),
    )
    .await;
    assert_eq!(first.status(), 202);
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(body["jobs"].as_array().unwrap().len(), 1);
    let again = post_event(
        &app,
        "certificate",
        Some(&token),
        &certificate("ev-1", "downloadable"),
    )
    .await;
    assert_eq!(again.status(), 200, "a repeat changes nothing");
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["jobs"],
        body["jobs"]
    );
    let course = courses::find_by_key(&mut app.conn(), "course-v1:edX+New+2026")
        .unwrap()
        .unwrap();
    assert_eq!(
        course.display_name, "A new course",
        "unknown courses are created"
    );
    let job = jobs::get(&mut app.conn(), body["jobs"][0].as_i64().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        job.evidence_url,
        "http://localhost:18000/certificates/0123456789abcdef0123456789abcdef?evidence_visit=1"
    );

    let failing = post_event(
        &app,
        "certificate",
        Some(&token),
        &certificate("ev-2", "notpassing"),
    )
    .await;
    assert_eq!(failing.status(), 202);
    assert!(
        failing.json::<serde_json::Value>().await.unwrap()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let enrollment = serde_json::json!({"event_id": "ev-3", "username": "bob", "email": "bob@example.com",
        "course_id": "course-v1:edX+New+2026", "mode": "audit", "is_active": true});
    assert_eq!(
        post_event(&app, "enrollment", Some(&token), &enrollment)
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn concurrent_repeats_of_one_event_record_it_once() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    let body = certificate("ev-race", "downloadable");
    let requests = (0..6).map(|_| post_event(&app, "certificate", Some(&token), &body));
    let responses = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 202 || s == 200),
        "{statuses:?}"
    );
    let queued: i64 = accolade::db::schema::award_jobs::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn concurrent_events_for_one_new_learner_and_course_all_land() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    // Each event creates the same learner, course, enrollment and certificate rows.
    let bodies: Vec<serde_json::Value> = (0..6)
        .map(|n| certificate(&format!("ev-{n}"), "downloadable"))
        .collect();
    let requests = bodies
        .iter()
        .map(|body| post_event(&app, "certificate", Some(&token), body));
    let responses = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|&s| s == 202), "{statuses:?}");
    let certificates: i64 = accolade::db::schema::certificates::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(certificates, 1, "one certificate per learner and course");
}

#[tokio::test]
async fn bad_events_are_refused_naming_the_field() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    assert_eq!(
        post_event(&app, "certificate", None, &certificate("x", "downloadable"))
            .await
            .status(),
        401
    );
    assert_eq!(
        post_event(
            &app,
            "certificate",
            Some("acc_nope"),
            &certificate("x", "downloadable")
        )
        .await
        .status(),
        401
    );

    let mut cases: Vec<(serde_json::Value, &str)> = Vec::new();
    let mut unknown = certificate("a", "downloadable");
    unknown["grade"] = serde_json::json!(0.9);
    cases.push((unknown, "grade"));
    let mut missing = certificate("b", "downloadable");
    missing.as_object_mut().unwrap().remove("verify_uuid");
    cases.push((missing, "verify_uuid"));
    let mut wrong_type = certificate("c", "downloadable");
    wrong_type["status"] = serde_json::json!(3);
    cases.push((wrong_type, "status"));
    let mut bad_key = certificate("d", "downloadable");
    bad_key["course_id"] = serde_json::json!("not a course");
    cases.push((bad_key, "course_id"));
    let mut bad_email = certificate("e", "downloadable");
    bad_email["email"] = serde_json::json!("nobody");
    cases.push((bad_email, "email"));
    // A status Open edX never reports (a typo of "downloadable") is no certificate state.
    cases.push((certificate("f", "downloadabel"), "status"));
    for (body, field) in cases {
        let response = post_event(&app, "certificate", Some(&token), &body).await;
        assert_eq!(response.status(), 400, "{field}");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["field"],
            field
        );
    }
    let malformed = new_client()
        .post(app.url("/api/v1/events/certificate"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.json::<serde_json::Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON")
    );
    let mut huge = certificate("f", "downloadable");
    huge["course_name"] = serde_json::json!("x".repeat(70 * 1024));
    assert_eq!(
        post_event(&app, "certificate", Some(&token), &huge)
            .await
            .status(),
        413
    );
    let nothing: i64 = accolade::db::schema::api_events::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(nothing, 0, "refused events leave nothing behind");
}

#[tokio::test]
async fn operators_see_learners_as_the_events_left_them() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    award_two(&app);
    let event = post_event(
        &app,
        "certificate",
        Some(&token),
        &certificate("ev-9", "downloadable"),
    )
    .await;
    assert_eq!(event.status(), 202);
    let job = event.json::<serde_json::Value>().await.unwrap()["jobs"][0]
        .as_i64()
        .unwrap();
    let learner = learners::find(&mut app.conn(), "alice").unwrap().unwrap();

    let list = app.get_html("/admin/learners/learner/?q=alice").await;
    assert!(list.contains("Alice@Example.com"), "{list}");
    assert!(!list.contains("addlink"), "learners come from the LMS");
    let counts = [
        "<td class=\"field-badges\">2</td>",
        "<td class=\"field-certificates\">1</td>",
        "<td class=\"field-jobs\">3</td>",
    ];
    for cell in counts {
        assert!(list.contains(cell), "{cell} in {list}");
    }
    let detail = app
        .get_html(&format!("/admin/learners/learner/{}/change/", learner.id))
        .await;
    assert!(
        detail.contains("course-v1:edX+New+2026 (verified, downloadable)"),
        "{detail}"
    );
    assert!(detail.contains(&format!("#{job} course-v1:edX+New+2026 pending")));
    assert!(
        detail.contains("course-v1:edX+New+2026 (verified)"),
        "the enrollment: {detail}"
    );
    for course in [DEMO, OTHER] {
        assert!(
            detail.contains(&format!("[{course}] http")),
            "{course}: {detail}"
        );
    }
    assert!(!detail.contains("name=\"_save\""), "read-only");
    for refused in [
        "/admin/learners/learner/add/".to_string(),
        format!("/admin/learners/learner/{}/delete/", learner.id),
    ] {
        assert_eq!(app.get(&refused).await.status(), 403, "{refused}");
    }
    let changed = app
        .post_form(
            &format!("/admin/learners/learner/{}/change/", learner.id),
            &[("username", "mallory")],
        )
        .await;
    assert_eq!(changed.status(), 403);
    assert_eq!(
        learners::get(&mut app.conn(), learner.id).unwrap().username,
        "alice"
    );
}

#[tokio::test]
async fn operators_issue_a_badge_for_a_passing_certificate() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    let mut failing = certificate("ev-2", "notpassing");
    failing["username"] = "bob".into();
    failing["email"] = "bob@example.com".into();
    for event in [certificate("ev-1", "downloadable"), failing] {
        assert!(
            post_event(&app, "certificate", Some(&token), &event)
                .await
                .status()
                .is_success()
        );
    }
    let ids: Vec<i64> = accolade::db::schema::certificates::table
        .order(accolade::db::schema::certificates::id)
        .select(accolade::db::schema::certificates::id)
        .load(&mut *app.conn())
        .unwrap();
    let jobs_now = || {
        accolade::db::schema::award_jobs::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(jobs_now(), 1, "the passing event queued one");

    let list = app
        .get_html("/admin/certificates/generatedcertificate/")
        .await;
    assert!(
        list.contains("notpassing") && list.contains("downloadable"),
        "{list}"
    );
    assert!(!list.contains("addlink"));
    let passing_only = app
        .get_html("/admin/certificates/generatedcertificate/?status__exact=downloadable")
        .await;
    assert!(!passing_only.contains("bob"));
    let detail = app
        .get_html(&format!(
            "/admin/certificates/generatedcertificate/{}/change/",
            ids[0]
        ))
        .await;
    assert!(
        detail.contains("/certificates/0123456789abcdef0123456789abcdef?evidence_visit=1"),
        "{detail}"
    );

    let viewer = app.create_user("viewer", true, false);
    app.grant(viewer, "certificates", "view_generatedcertificate");
    let client = new_client();
    app.login_with(&client, "viewer", common::PASSWORD).await;
    let both = [ids[0].to_string(), ids[1].to_string()];
    let fields = [
        ("action", "issue"),
        ("_selected_action", both[0].as_str()),
        ("_selected_action", both[1].as_str()),
    ];
    let refused = app
        .post_form_with(
            &client,
            "/admin/certificates/generatedcertificate/",
            &fields,
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(jobs_now(), 1);

    // While the event's award waits, "Issue badge now" joins it rather than queue another.
    let joined = app
        .post_form("/admin/certificates/generatedcertificate/", &fields)
        .await;
    assert_eq!(joined.status(), 302);
    let page = app.get_html(&location(&joined)).await;
    assert!(
        page.contains("0 award job(s) queued. 1 already waiting: not queued twice. 1 certificate(s) skipped: not passing, or no longer there."),
        "{page}"
    );
    assert_eq!(jobs_now(), 1, "the waiting job joined");

    app.issue_waiting_awards();
    let issued = app
        .post_form("/admin/certificates/generatedcertificate/", &fields)
        .await;
    assert_eq!(issued.status(), 302);
    let page = app.get_html(&location(&issued)).await;
    assert!(
        page.contains(
            "1 award job(s) queued. 1 certificate(s) skipped: not passing, or no longer there."
        ),
        "{page}"
    );
    assert_eq!(jobs_now(), 2, "only the passing certificate");
    for refused in [
        "/admin/certificates/generatedcertificate/add/".to_string(),
        format!(
            "/admin/certificates/generatedcertificate/{}/delete/",
            ids[0]
        ),
    ] {
        assert_eq!(app.get(&refused).await.status(), 403, "{refused}");
    }
}

/// A trigger that makes every insert into award_jobs fail, in the middle of recording an
/// event (after the event, learner, course and certificate rows).
fn break_job_inserts(app: &TestApp, broken: bool) {
    let statements: &[&str] = match (common::on_postgres(), broken) {
        (true, true) => &[
            "CREATE FUNCTION injected_failure() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END; $$ LANGUAGE plpgsql",
            "CREATE TRIGGER injected BEFORE INSERT ON award_jobs FOR EACH ROW EXECUTE FUNCTION injected_failure()",
        ],
        (true, false) => &[
            "DROP TRIGGER injected ON award_jobs",
            "DROP FUNCTION injected_failure()",
        ],
        (false, true) => &[
            "CREATE TRIGGER injected BEFORE INSERT ON award_jobs BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        (false, false) => &["DROP TRIGGER injected"],
    };
    let mut conn = app.conn();
    for sql in statements {
        diesel::sql_query(*sql).execute(&mut *conn).unwrap();
    }
}

#[tokio::test]
async fn an_event_whose_job_cannot_be_written_leaves_nothing_behind() {
    use accolade::db::schema::{api_events, certificates, learners};
    let app = spawn_app().await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    let token = app.create_token(service).await;
    break_job_inserts(&app, true);
    let event = certificate("ev-atomic", "downloadable");
    let failed = post_event(&app, "certificate", Some(&token), &event).await;
    assert_eq!(failed.status(), 500);
    let body = failed.text().await.unwrap();
    assert!(
        !body.contains("injected"),
        "no internals in the answer: {body}"
    );
    let count = |app: &TestApp| -> (i64, i64, i64) {
        let mut conn = app.conn();
        (
            api_events::table.count().get_result(&mut *conn).unwrap(),
            learners::table.count().get_result(&mut *conn).unwrap(),
            certificates::table.count().get_result(&mut *conn).unwrap(),
        )
    };
    assert_eq!(
        count(&app),
        (0, 0, 0),
        "neither the event nor what it records"
    );
    assert!(
        courses::find_by_key(&mut app.conn(), "course-v1:edX+New+2026")
            .unwrap()
            .is_none()
    );

    // The LMS sends it again once the fault is gone: recorded as new, with its job.
    break_job_inserts(&app, false);
    let retried = post_event(&app, "certificate", Some(&token), &event).await;
    assert_eq!(retried.status(), 202);
    let body: serde_json::Value = retried.json().await.unwrap();
    assert_eq!(body["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(count(&app), (1, 1, 1));
}
