//! Course-event ("meta") badges: the versioned configuration in the admin, and the
//! completion, enrollment and group badges that certificate and enrollment events award,
//! against upstream's test expectations (reference §10.6).

mod common;
#[path = "common/images.rs"]
mod samples;

use accolade::badges::classes::{self, BadgeClassSpec, ImageSource};
use accolade::badges::event_config::{self, EVENT_COMPONENT, EventBadgesInput};
use accolade::badging::{intake, worker};
use accolade::courses::{self, CourseKey};
use accolade::db::schema::{badge_assertions, badge_classes, course_event_badge_configurations};
use common::{TestApp, location, spawn_app};
use diesel::prelude::*;
use serde_json::json;

const CONFIG: &str = "/admin/badges/courseeventbadgesconfiguration/";

fn course_key(n: usize) -> String {
    format!("course-v1:Org+C{n}+Run")
}

fn create_courses(app: &TestApp, count: usize) {
    let mut conn = app.conn();
    for n in 1..=count {
        courses::create(&mut conn, &CourseKey::parse(&course_key(n)).unwrap(), "").unwrap();
    }
}

/// An `openedx__course` class, as an admin would make it.
fn create_event_class(app: &TestApp, slug: &str) {
    let spec = BadgeClassSpec {
        slug: slug.into(),
        issuing_component: EVENT_COMPONENT.into(),
        display_name: format!("Badge {slug}"),
        description: "Awarded for learning.".into(),
        criteria: "https://lms.example/badges".into(),
        mode: String::new(),
        course_id: None,
        image: ImageSource::ForMode("honor".into()),
    };
    classes::get_badge_class(&mut app.conn(), &spec, true)
        .unwrap()
        .unwrap();
}

fn configure(app: &TestApp, enabled: bool, completed: &str, enrolled: &str, groups: &str) {
    let input = EventBadgesInput {
        enabled,
        courses_completed: completed.into(),
        courses_enrolled: enrolled.into(),
        course_groups: groups.into(),
    };
    event_config::save(&mut app.conn(), &input, None)
        .unwrap()
        .unwrap();
}

/// A passing (or not) certificate event for `user` in course `n`; returns the queued jobs.
fn pass(app: &TestApp, user: &str, n: usize, status: &str) -> Vec<i64> {
    let body = json!({
        "event_id": format!("cert-{user}-{n}-{status}"), "username": user,
        "email": format!("{user}@example.com"), "course_id": course_key(n), "mode": "honor",
        "status": status, "verify_uuid": common::verify_uuid(&format!("{user}{n}")),
    });
    let event = intake::parse_certificate(&body).unwrap();
    let recorded =
        intake::certificate(&mut app.conn(), &event, &body, "https://lms.example").unwrap();
    recorded.job_ids
}

fn enroll(app: &TestApp, user: &str, n: usize) -> Vec<i64> {
    let body = json!({
        "event_id": format!("enroll-{user}-{n}"), "username": user,
        "email": format!("{user}@example.com"), "course_id": course_key(n), "mode": "audit",
        "is_active": true,
    });
    let event = intake::parse_enrollment(&body).unwrap();
    intake::enrollment(&mut app.conn(), &event, &body)
        .unwrap()
        .job_ids
}

fn drain(app: &TestApp, badges_enabled: bool) {
    let mut settings = common::worker_settings(true);
    settings.award.badges_enabled = badges_enabled;
    worker::drain(
        &app.db,
        common::local_issuer(app).as_ref(),
        &settings,
        "test",
    )
    .unwrap();
}

/// The slugs of the event badges `user` holds, in the order awarded.
fn event_badges_of(app: &TestApp, user: &str) -> Vec<String> {
    use accolade::db::schema::learners;
    badge_assertions::table
        .inner_join(badge_classes::table)
        .inner_join(learners::table)
        .filter(learners::username.eq(user))
        .filter(badge_classes::issuing_component.eq(EVENT_COMPONENT))
        .order(badge_assertions::id)
        .select(badge_classes::slug)
        .load(&mut *app.conn())
        .unwrap()
}

#[tokio::test]
async fn enrollment_checkpoints_award_each_badge_once() {
    let app = spawn_app().await;
    create_courses(&app, 9);
    for slug in ["slug1", "slug2", "slug3"] {
        create_event_class(&app, slug);
    }
    configure(&app, true, "", "3,slug1\r5,slug2\r8,slug3", "");
    let mut expected = Vec::new();
    for n in 1..=9 {
        enroll(&app, "alice", n);
        drain(&app, true);
        match n {
            3 => expected.push("slug1"),
            5 => expected.push("slug2"),
            8 => expected.push("slug3"),
            _ => {}
        }
        assert_eq!(
            event_badges_of(&app, "alice"),
            expected,
            "after {n} enrollments"
        );
    }
    // A repeated event and a learner below every threshold get nothing.
    assert!(enroll(&app, "alice", 9).is_empty());
    enroll(&app, "bob", 1);
    drain(&app, true);
    assert!(event_badges_of(&app, "bob").is_empty());
}

#[tokio::test]
async fn completion_badges_are_awarded_even_past_a_skipped_checkpoint() {
    let app = spawn_app().await;
    create_courses(&app, 4);
    for slug in ["done_1", "done_2", "done_3"] {
        create_event_class(&app, slug);
    }
    // While the configuration is disabled nothing is due (upstream ignored the flag).
    configure(&app, false, "1,done_1\n2,done_2\n3,done_3", "", "");
    assert_eq!(pass(&app, "carol", 1, "downloadable").len(), 1);
    assert_eq!(pass(&app, "carol", 2, "generating").len(), 1);
    drain(&app, true);
    assert!(event_badges_of(&app, "carol").is_empty());
    // A failing certificate counts for nothing.
    configure(&app, true, "1,done_1\n2,done_2\n3,done_3", "", "");
    assert!(pass(&app, "carol", 4, "notpassing").is_empty());
    // The third passing certificate reaches 3, and the missed 1 and 2 come with it.
    assert_eq!(pass(&app, "carol", 3, "downloadable").len(), 4);
    drain(&app, true);
    let mut held = event_badges_of(&app, "carol");
    held.sort();
    assert_eq!(held, ["done_1", "done_2", "done_3"]);
    // Each is held once: a later certificate queues none of them again.
    assert_eq!(pass(&app, "carol", 4, "downloadable").len(), 1);
}

#[tokio::test]
async fn a_group_badge_needs_every_course_of_the_group() {
    let app = spawn_app().await;
    create_courses(&app, 7);
    for slug in ["group_a", "group_b"] {
        create_event_class(&app, slug);
    }
    let groups = format!(
        "group_a,{},{},{}\ngroup_b,{},{},{}",
        course_key(1),
        course_key(2),
        course_key(3),
        course_key(4),
        course_key(5),
        course_key(6)
    );
    configure(&app, true, "", "", &groups);
    pass(&app, "dave", 7, "downloadable");
    for n in [1, 2, 4, 5] {
        pass(&app, "dave", n, "downloadable");
    }
    drain(&app, true);
    assert!(event_badges_of(&app, "dave").is_empty());
    pass(&app, "dave", 3, "downloadable");
    drain(&app, true);
    assert_eq!(event_badges_of(&app, "dave"), ["group_a"]);
    pass(&app, "dave", 6, "downloadable");
    drain(&app, true);
    assert_eq!(event_badges_of(&app, "dave"), ["group_a", "group_b"]);
}

#[tokio::test]
async fn no_class_means_no_job_and_a_site_without_badging_skips() {
    let app = spawn_app().await;
    create_courses(&app, 1);
    configure(&app, true, "", "1,nobody_made_me\n", "");
    assert!(enroll(&app, "erin", 1).is_empty());
    create_event_class(&app, "nobody_made_me");
    assert_eq!(enroll(&app, "frank", 1).len(), 1);
    drain(&app, false);
    assert!(event_badges_of(&app, "frank").is_empty());
    let reason: String = accolade::db::schema::award_attempts::table
        .select(accolade::db::schema::award_attempts::reason)
        .first(&mut *app.conn())
        .unwrap();
    assert!(reason.contains("ENABLE_OPENBADGES"), "{reason}");
}

#[tokio::test]
async fn the_configuration_admin_checks_every_field_and_keeps_versions() {
    let app = spawn_app().await;
    create_courses(&app, 2);
    app.login_superuser().await;
    let add = format!("{CONFIG}add/");
    let r = app
        .post_form(
            &add,
            &[
                ("enabled", "on"),
                ("courses_completed", "3"),
                ("courses_enrolled", "x,slug"),
                ("course_groups", "slug,course-v1:Org+C1+Run,not a key"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert_eq!(
        page.matches(event_config::SYNTAX).count(),
        3,
        "every field's error is reported"
    );
    let unknown = "slug,course-v1:Org+C1+Run,course-v1:Org+Nope+Run";
    let page = app
        .post_form(&add, &[("course_groups", unknown)])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The course course-v1:Org+Nope+Run does not exist."));
    let count = || -> i64 {
        course_event_badge_configurations::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(count(), 0, "nothing is saved from a refused form");

    let first = app
        .post_form(
            &add,
            &[("enabled", "on"), ("courses_completed", "2, Two_Courses")],
        )
        .await;
    assert_eq!(first.status(), 302);
    // The add form starts from the version in force; saving any version adds a new one.
    assert!(app.get_html(&add).await.contains("2, Two_Courses"));
    let r = app
        .post_form(
            &format!("{CONFIG}1/change/"),
            &[("courses_completed", "5,five")],
        )
        .await;
    assert_eq!(r.status(), 302, "{}", location(&r));
    assert_eq!(count(), 2);
    let rules = event_config::current(&mut app.conn()).unwrap().unwrap();
    assert!(!rules.enabled, "the newest version applies, disabled");
    assert!(
        event_config::rules_in_force(&mut app.conn())
            .unwrap()
            .is_none()
    );
    let list = app.get_html(CONFIG).await;
    assert!(list.contains("Changed by") && list.contains("root"));
    assert!(
        !list.contains("Delete selected"),
        "versions are never deleted"
    );
    assert_eq!(app.get(&format!("{CONFIG}1/delete/")).await.status(), 403);
}

#[tokio::test]
async fn the_configuration_needs_permission_and_a_csrf_token() {
    let app = spawn_app().await;
    let staff = app.create_user("staff", true, false);
    app.login("staff").await;
    assert_eq!(app.get(CONFIG).await.status(), 403);
    let add = format!("{CONFIG}add/");
    assert_eq!(
        app.post_form(&add, &[("enabled", "on")]).await.status(),
        403
    );
    app.grant(staff, "badges", "add_courseeventbadgesconfiguration");
    app.grant(staff, "badges", "view_courseeventbadgesconfiguration");
    let without_token = app
        .client
        .post(app.url(&add))
        .form(&[("enabled", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), 403);
    assert_eq!(
        app.post_form(&add, &[("enabled", "on")]).await.status(),
        302
    );
}

#[tokio::test]
async fn admins_make_event_badge_classes_with_an_uploaded_image() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let image = samples::png(&samples::solid(300, 300, [20, 120, 200, 255]));
    let r = app
        .post_multipart(
            "/admin/badges/badgeclass/add/",
            &[
                ("slug", "three_courses"),
                ("issuing_component", EVENT_COMPONENT),
                ("display_name", "Three courses"),
                ("description", "Completed three courses."),
                ("criteria", "https://lms.example/three"),
            ],
            &[("image", "three.png", image)],
        )
        .await;
    assert_eq!(r.status(), 302);
    let class = classes::find(&mut app.conn(), "three_courses", EVENT_COMPONENT, "")
        .unwrap()
        .expect("the class is made");
    assert!(class.course_id.is_empty());
    create_courses(&app, 1);
    configure(&app, true, "", "1,three_courses", "");
    assert_eq!(enroll(&app, "gina", 1).len(), 1);
    drain(&app, true);
    assert_eq!(event_badges_of(&app, "gina"), ["three_courses"]);
}
