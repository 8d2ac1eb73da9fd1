//! The whole Open edX wiring over HTTP, as an LMS and a site admin would use it: the admin
//! sets up a service token, an event badge class and the event configuration; the "LMS"
//! enrolls learners and passes certificates through the event API while award workers
//! run; badges appear in the learners' API and the admin; a course that turns badges on
//! late is backfilled. Nothing is lost or awarded twice.

mod common;
#[path = "common/images.rs"]
mod samples;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use accolade::badging::worker;
use accolade::db::schema::{award_jobs, badge_assertions};
use common::{TestApp, new_client, spawn_app};
use diesel::prelude::*;
use serde_json::{Value, json};

const COURSES: [&str; 3] = [
    "course-v1:Uni+Algebra+2026",
    "course-v1:Uni+Biology+2026",
    "course-v1:Uni+Chemistry+2026",
];
const LEARNERS: [&str; 3] = ["ada", "bea", "cyd"];

struct Lms<'a> {
    app: &'a TestApp,
    token: String,
}

impl Lms<'_> {
    async fn post(&self, kind: &str, event: Value) -> Value {
        let answer = new_client()
            .post(self.app.url(&format!("/api/v1/events/{kind}")))
            .bearer_auth(&self.token)
            .json(&event)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{kind} event: {}",
            answer.status()
        );
        answer.json().await.unwrap()
    }

    async fn enroll(&self, user: &str, course: &str) {
        self.post(
            "enrollment",
            json!({"event_id": format!("enr-{user}-{course}"), "username": user,
                   "email": format!("{user}@uni.example"), "course_id": course,
                   "mode": "verified", "is_active": true}),
        )
        .await;
    }

    async fn pass(&self, user: &str, course: &str) {
        self.post(
            "certificate",
            json!({"event_id": format!("cert-{user}-{course}"), "username": user,
                   "email": format!("{user}@uni.example"), "course_id": course,
                   "mode": "verified", "status": "downloadable",
                   "verify_uuid": common::verify_uuid(&format!("{user}{}", course.len()))}),
        )
        .await;
    }

    /// The learner's badge slugs, as the profile page would read them.
    async fn badges(&self, user: &str) -> Vec<String> {
        let answer: Value = common::json_of(
            new_client()
                .get(self.app.url(&format!(
                    "/api/badges/v1/assertions/user/{user}/?course_id=*&page_size=100"
                )))
                .bearer_auth(&self.token),
        )
        .await;
        let mut slugs: Vec<String> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["badge_class"]["slug"].as_str().unwrap().to_string())
            .collect();
        slugs.sort();
        slugs
    }
}

/// Waits until every job is done (the workers run in the background).
fn settle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 = award_jobs::table
            .filter(award_jobs::status.ne("done"))
            .count()
            .get_result(&mut *app.conn())
            .unwrap();
        if open == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} jobs still open");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn set_up_admin(app: &TestApp) -> String {
    app.login_superuser().await;
    let service = app.create_user("lms-service", false, false);
    let token = app.create_token(service).await;
    for (i, course) in COURSES.iter().enumerate() {
        let r = app
            .post_form(
                "/admin/courses/course/add/",
                &[
                    ("course_id", course),
                    ("display_name", &format!("Course {i}")),
                    ("issue_badges", "on"),
                ],
            )
            .await;
        assert_eq!(r.status(), 302);
    }
    for slug in ["two_courses", "all_sciences", "three_enrollments"] {
        let image = samples::png(&samples::solid(200, 200, [40, 90, 160, 255]));
        let r = app
            .post_multipart(
                "/admin/badges/badgeclass/add/",
                &[
                    ("slug", slug),
                    ("issuing_component", "openedx__course"),
                    ("display_name", slug),
                    ("description", "A milestone."),
                    ("criteria", "https://lms.example/milestones"),
                ],
                &[("image", "milestone.png", image)],
            )
            .await;
        assert_eq!(r.status(), 302, "{slug}");
    }
    let groups = format!("all_sciences,{},{}", COURSES[1], COURSES[2]);
    let r = app
        .post_form(
            "/admin/badges/courseeventbadgesconfiguration/add/",
            &[
                ("enabled", "on"),
                ("courses_completed", "2,two_courses"),
                ("courses_enrolled", "3,three_enrollments"),
                ("course_groups", &groups),
            ],
        )
        .await;
    assert_eq!(r.status(), 302);
    token
}

#[tokio::test(flavor = "multi_thread")]
async fn an_lms_enrolls_passes_and_sees_badges() {
    let app = spawn_app().await;
    let token = set_up_admin(&app).await;
    let lms = Lms { app: &app, token };
    let stop = Arc::new(AtomicBool::new(false));
    let workers = worker::spawn(
        4,
        app.db.clone(),
        common::local_issuer(&app),
        common::worker_settings(true),
        stop.clone(),
    );

    for user in LEARNERS {
        for course in COURSES {
            lms.enroll(user, course).await;
        }
    }
    // Chemistry turns badges off for a while.
    let chemistry = accolade::courses::find_by_key(&mut app.conn(), COURSES[2])
        .unwrap()
        .unwrap();
    accolade::courses::set_issue_badges(&mut app.conn(), chemistry.id, false).unwrap();
    lms.pass("ada", COURSES[0]).await;
    lms.pass("ada", COURSES[1]).await;
    lms.pass("bea", COURSES[1]).await;
    lms.pass("bea", COURSES[2]).await;
    tokio::task::block_in_place(|| settle(&app));

    let completion = |course: &str| accolade::badges::classes::course_slug(course, "verified");
    let mut ada = vec![completion(COURSES[0]), completion(COURSES[1])];
    ada.extend(["three_enrollments".into(), "two_courses".into()]);
    ada.sort();
    assert_eq!(lms.badges("ada").await, ada);
    // Bea's chemistry badge waits for the course: the event badges do not (as upstream).
    let mut bea = vec![completion(COURSES[1])];
    bea.extend([
        "all_sciences".into(),
        "three_enrollments".into(),
        "two_courses".into(),
    ]);
    bea.sort();
    assert_eq!(lms.badges("bea").await, bea);
    assert_eq!(lms.badges("cyd").await, ["three_enrollments"]);

    // Chemistry turns badges on late; the backfill gives Bea her badge.
    accolade::courses::set_issue_badges(&mut app.conn(), chemistry.id, true).unwrap();
    let id = chemistry.id.to_string();
    let r = app
        .post_form(
            "/admin/courses/course/",
            &[("action", "backfill"), ("_selected_action", &id)],
        )
        .await;
    assert_eq!(r.status(), 302);
    tokio::task::block_in_place(|| settle(&app));
    let mut bea = bea.clone();
    bea.push(completion(COURSES[2]));
    bea.sort();
    assert_eq!(lms.badges("bea").await, bea);

    // The admin sees them; nothing was awarded twice.
    let list = app.get_html("/admin/badges/badgeassertion/?q=bea").await;
    assert!(list.contains("5 badge assertions"), "{list}");
    let index = app.get_html("/admin/").await;
    assert!(
        index.contains("10 badges issued in the last 30 days"),
        "{index}"
    );
    let assertions: i64 = badge_assertions::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(assertions, 10);
    stop.store(true, Ordering::Relaxed);
    tokio::task::block_in_place(|| {
        for w in workers {
            w.join().unwrap();
        }
    });
}
