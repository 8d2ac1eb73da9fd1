//! Backfill: a course that turns badges on late gets the badges of its existing passing
//! certificates, from its admin page or from `accolade backfill`, with progress, and once.

mod common;

use accolade::badging::{intake, worker};
use accolade::courses::{self, CourseKey};
use accolade::db::schema::badge_assertions;
use common::{TestApp, location, spawn_app};
use diesel::prelude::*;
use serde_json::json;

const COURSE: &str = "course-v1:Late+Badges+2026";

/// The course, with "Issue Open Badges" as given; returns its admin id.
fn course(app: &TestApp, issue_badges: bool) -> courses::CourseId {
    let mut conn = app.conn();
    let course = match courses::find_by_key(&mut conn, COURSE).unwrap() {
        Some(course) => course,
        None => courses::create(&mut conn, &CourseKey::parse(COURSE).unwrap(), "Late").unwrap(),
    };
    courses::set_issue_badges(&mut conn, course.id, issue_badges).unwrap();
    course.id
}

fn certificate(app: &TestApp, user: &str, status: &str) {
    let body = json!({
        "event_id": format!("{user}-{status}"), "username": user,
        "email": format!("{user}@example.com"), "course_id": COURSE, "mode": "honor",
        "status": status, "verify_uuid": common::verify_uuid(user),
    });
    let event = intake::parse_certificate(&body).unwrap();
    intake::certificate(&mut app.conn(), &event, &body, "https://lms.example").unwrap();
}

fn drain(app: &TestApp) {
    worker::drain(
        &app.db,
        common::local_issuer(app).as_ref(),
        &common::worker_settings(true),
        "test",
    )
    .unwrap();
}

fn badges(app: &TestApp) -> i64 {
    badge_assertions::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

/// One learner awarded while badges were on; three passing and one failing certificate
/// while they were off (their awards skipped); then badges on again.
fn late_course(app: &TestApp) -> courses::CourseId {
    course(app, true);
    certificate(app, "early", "downloadable");
    drain(app);
    course(app, false);
    for user in ["ann", "ben", "cat"] {
        certificate(app, user, "downloadable");
    }
    certificate(app, "dan", "notpassing");
    drain(app);
    assert_eq!(badges(app), 1);
    course(app, true)
}

#[tokio::test]
async fn the_course_page_backfills_and_shows_progress() {
    let app = spawn_app().await;
    let id = late_course(&app);
    app.login_superuser().await;
    let page = format!("/admin/courses/course/{id}/change/");
    let html = app.get_html(&page).await;
    assert!(html.contains("value=\"backfill\""), "the button");
    assert!(html.contains("Never run for this course."));
    let id_text = id.to_string();
    let run = [
        ("action", "backfill"),
        ("_selected_action", id_text.as_str()),
        ("_from_object", "1"),
    ];
    let forged = app
        .client
        .post(app.url("/admin/courses/course/"))
        .form(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no backfill without the CSRF token");
    let r = app.post_form("/admin/courses/course/", &run).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), page, "back to the course page");
    let html = app.get_html(&page).await;
    assert!(html.contains("Queued 3 badge awards"), "{html}");
    assert!(html.contains("3 awards queued (1 learners already had the badge or one waiting)"));
    assert!(html.contains("0 done, 0 failed, 3 pending"));
    // Running it again while they wait queues nothing twice.
    app.post_form("/admin/courses/course/", &run).await;
    assert!(
        app.get_html(&page)
            .await
            .contains("0 awards queued (4 learners")
    );
    drain(&app);
    assert_eq!(badges(&app), 4);
    let history = app
        .get_html(&format!("/admin/courses/course/{id}/history/"))
        .await;
    assert!(history.contains("Issue badges for existing passing certificates"));

    // Staff who may only view courses see no button and cannot post the action.
    let viewer = app.create_user("viewer", true, false);
    app.grant(viewer, "courses", "view_course");
    let client = common::new_client();
    app.login_with(&client, "viewer", common::PASSWORD).await;
    let html = app.text_with(&client, &page).await;
    assert!(html.contains("Badges for existing certificates"));
    assert!(
        !html.contains("value=\"backfill\""),
        "no button without the change permission"
    );
    let refused = app
        .post_form_with(&client, "/admin/courses/course/", &run)
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_course_with_badges_off_is_not_backfilled() {
    let app = spawn_app().await;
    late_course(&app);
    let id = course(&app, false);
    app.login_superuser().await;
    let id_text = id.to_string();
    let r = app
        .post_form(
            "/admin/courses/course/",
            &[("action", "backfill"), ("_selected_action", &id_text)],
        )
        .await;
    let list = app.get_html(&location(&r)).await;
    assert!(
        list.contains("Skipped, because “Issue Open Badges” is off"),
        "{list}"
    );
    drain(&app);
    assert_eq!(badges(&app), 1);
}

#[tokio::test]
async fn accolade_backfill_runs_the_awards_with_a_summary() {
    let app = spawn_app().await;
    late_course(&app);
    let run = |course: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
            .args(["backfill", "--course", course])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.database_url)
            .env("ACCOLADE_SECRET_KEY", common::SECRET_KEY)
            .env("ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", "true")
            .env("ACCOLADE_WORKERS", "2")
            .output()
            .unwrap()
    };
    let output = run(COURSE);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Queued 3 award(s)"), "{stdout}");
    assert!(stdout.contains("3 done, 0 failed, 0 pending"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("[##############################] 3/3")
    );
    assert_eq!(badges(&app), 4);
    let again = run(COURSE);
    assert!(String::from_utf8_lossy(&again.stdout).contains("Queued 0 award(s)"));
    let unknown = run("course-v1:No+Such+Course");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("does not know the course"));
}
