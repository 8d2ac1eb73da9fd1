//! Course-completion awards through the local Open Badges issuer: jobs, workers, the hosted
//! documents and baked images, and no award lost or made twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use accolade::badges::classes::BadgeClass;
use accolade::badging::assertions::IssuedAssertion;
use accolade::badging::backend::{AwardError, BadgeBackend, RemoteAward, RemoteClass};
use accolade::badging::jobs::Attempt;
use accolade::badging::jobs::{self, Outcome};
use accolade::badging::openbadges::{self, unbake_png};
use accolade::badging::worker::{self, WorkerSettings};
use accolade::courses::{self, CourseKey};
use accolade::db::DbConnection;
use accolade::db::schema::{award_attempts, award_jobs, badge_assertions};
use accolade::learners::{self, Learner};
use common::{TestApp, location, spawn_app};
use diesel::prelude::*;

const COURSE: &str = "course-v1:edX+DemoX+Demo_Course";

fn settings(allow_shipped: bool) -> WorkerSettings {
    common::worker_settings(allow_shipped)
}

fn local(app: &TestApp) -> Arc<dyn BadgeBackend> {
    common::local_issuer(app)
}

/// Queues a course-completion award for `username` and returns the job id.
fn queue(app: &TestApp, username: &str, mode: &str) -> i64 {
    let mut conn = app.conn();
    if courses::find_by_key(&mut conn, COURSE).unwrap().is_none() {
        courses::create(&mut conn, &CourseKey::parse(COURSE).unwrap(), "Demo Course").unwrap();
    }
    let learner =
        learners::upsert(&mut conn, username, &format!("{username}@Example.com")).unwrap();
    let evidence = accolade::badging::award::evidence_url("https://lms.example", "cafe1234");
    jobs::enqueue_course_completion(&mut conn, learner.id, COURSE, mode, &evidence)
        .unwrap()
        .id
}

fn job(app: &TestApp, id: i64) -> jobs::AwardJob {
    jobs::get(&mut app.conn(), id).unwrap().unwrap()
}

fn assertion_count(app: &TestApp) -> i64 {
    badge_assertions::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

#[tokio::test]
async fn an_award_is_hosted_baked_and_never_made_twice() {
    let app = spawn_app().await;
    let backend = local(&app);
    let first = queue(&app, "alice", "verified");
    assert_eq!(
        queue(&app, "alice", "verified"),
        first,
        "a second request joins the waiting job"
    );
    assert_eq!(
        worker::drain(&app.db, backend.as_ref(), &settings(true), "test").unwrap(),
        1
    );
    let second = queue(&app, "alice", "verified");
    assert_ne!(second, first, "the first job is done: a new one is queued");
    assert_eq!(
        worker::drain(&app.db, backend.as_ref(), &settings(true), "test").unwrap(),
        1
    );
    let (a, b) = (job(&app, first), job(&app, second));
    assert_eq!((a.status.as_str(), b.status.as_str()), ("done", "done"));
    assert_eq!(
        a.assertion_id, b.assertion_id,
        "the second job finds the first award"
    );
    assert_eq!(assertion_count(&app), 1);

    let url =
        accolade::badging::assertions::url_of(&mut app.conn(), a.assertion_id.unwrap()).unwrap();
    let hosted = app.client.get(&url).send().await.unwrap();
    assert_eq!(hosted.status(), 200);
    assert_eq!(hosted.headers()["content-type"], "application/ld+json");
    let document: serde_json::Value = hosted.json().await.unwrap();
    assert_eq!(document["id"], url.as_str());
    assert_eq!(document["type"], "Assertion");
    assert_eq!(document["verification"]["type"], "HostedBadge");
    assert_eq!(
        document["evidence"][0]["id"],
        "https://lms.example/certificates/cafe1234?evidence_visit=1"
    );
    let salt = document["recipient"]["salt"].as_str().unwrap();
    assert_eq!(
        document["recipient"]["identity"],
        openbadges::hash_recipient("alice@example.com", salt)
    );

    let class: serde_json::Value =
        common::json_of(app.client.get(document["badge"].as_str().unwrap())).await;
    assert_eq!(class["name"], "Demo Course");
    assert_eq!(
        class["description"],
        "Completed the course \"Demo Course\" (verified)"
    );
    assert_eq!(
        class["criteria"]["id"],
        format!("https://lms.example/courses/{COURSE}/about")
    );
    let issuer: serde_json::Value =
        common::json_of(app.client.get(class["issuer"].as_str().unwrap())).await;
    assert_eq!(issuer["email"], "badges@example.org");
    assert_eq!(issuer["id"], class["issuer"]);
    let class_image = app
        .client
        .get(class["image"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(class_image.headers()["content-type"], "image/png");

    let baked = app
        .client
        .get(document["image"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(baked.headers()["content-type"], "image/png");
    let embedded: serde_json::Value =
        serde_json::from_str(&unbake_png(&baked.bytes().await.unwrap()).unwrap()).unwrap();
    assert_eq!(
        embedded, document,
        "the baked image carries the hosted assertion"
    );

    // The class is frozen now, with the local issuer's identifier.
    let frozen: Vec<(Option<chrono::NaiveDateTime>, String)> =
        accolade::db::schema::badge_classes::table
            .select((
                accolade::db::schema::badge_classes::frozen_at,
                accolade::db::schema::badge_classes::backend_id,
            ))
            .load(&mut *app.conn())
            .unwrap();
    assert!(frozen[0].0.is_some());
    assert_eq!(frozen[0].1, document["badge"].as_str().unwrap());
}

#[tokio::test]
async fn revoked_assertions_answer_410_and_lose_their_image() {
    let app = spawn_app().await;
    let id = queue(&app, "alice", "verified");
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    let assertion = job(&app, id).assertion_id.unwrap();
    let url = accolade::badging::assertions::url_of(&mut app.conn(), assertion).unwrap();
    let held = accolade::badging::assertions::by_id(&mut app.conn(), assertion)
        .unwrap()
        .unwrap();
    jobs::enqueue_revocation(&mut app.conn(), &held, COURSE, "Issued in error")
        .unwrap()
        .expect("queued");
    let again = jobs::enqueue_revocation(&mut app.conn(), &held, COURSE, "Twice");
    assert_eq!(
        again.unwrap(),
        None,
        "one revocation of an assertion at a time"
    );
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    let gone = app.client.get(&url).send().await.unwrap();
    assert_eq!(gone.status(), 410);
    assert_eq!(gone.headers()["content-type"], "application/ld+json");
    let body: serde_json::Value = gone.json().await.unwrap();
    assert_eq!(body["revoked"], true);
    assert_eq!(body["revocationReason"], "Issued in error");
    assert_eq!(body["id"], url.as_str());
    assert_eq!(
        app.client
            .get(format!("{url}/image"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// A revocation job whose row lost its assertion (`assertion_id` NULL) revokes nothing, and
/// fails for good at once, saying why; the lists of jobs name it.
#[tokio::test]
async fn a_revocation_job_naming_no_assertion_fails_and_revokes_nothing() {
    let app = spawn_app().await;
    let award = queue(&app, "alice", "verified");
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    let assertion = job(&app, award).assertion_id.unwrap();
    let held = accolade::badging::assertions::by_id(&mut app.conn(), assertion)
        .unwrap()
        .unwrap();
    let revocation = jobs::enqueue_revocation(&mut app.conn(), &held, COURSE, "Issued in error")
        .unwrap()
        .expect("queued");
    diesel::update(award_jobs::table.find(revocation))
        .set(award_jobs::assertion_id.eq(None::<i64>))
        .execute(&mut *app.conn())
        .unwrap();

    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    let failed = job(&app, revocation);
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.attempts, 1, "a permanent failure is not retried");
    assert_eq!(
        failed.last_error,
        format!(
            "revocation job #{revocation} names no assertion (its assertion_id is NULL); \
             nothing was revoked"
        )
    );
    let revoked: i64 = badge_assertions::table
        .filter(badge_assertions::revoked.eq(true))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(revoked, 0, "no assertion revoked, assertion 0 or any other");
    let url = accolade::badging::assertions::url_of(&mut app.conn(), assertion).unwrap();
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    let described = jobs::describe(&mut app.conn(), revocation)
        .unwrap()
        .unwrap();
    assert_eq!(described.badge, "revocation (no assertion)");
}

#[tokio::test]
async fn awards_that_cannot_happen_say_why() {
    let app = spawn_app().await;
    let backend = local(&app);
    // The shipped image is not frozen into a class unless allowed.
    let shipped = queue(&app, "alice", "verified");
    worker::drain(&app.db, backend.as_ref(), &settings(false), "test").unwrap();
    let failed = job(&app, shipped);
    assert_eq!(failed.status, "failed");
    assert!(
        failed
            .last_error
            .contains("still the one shipped with Accolade"),
        "{}",
        failed.last_error
    );
    assert_eq!(failed.attempts, 1, "a permanent failure is not retried");

    // No image for the mode and no default.
    let audit = queue(&app, "bob", "audit");
    worker::drain(&app.db, backend.as_ref(), &settings(true), "test").unwrap();
    assert!(
        job(&app, audit)
            .last_error
            .contains("no badge image configured for mode \"audit\"")
    );

    // Badges off for the course: nothing to award, by design.
    let course = courses::find_by_key(&mut app.conn(), COURSE)
        .unwrap()
        .unwrap();
    courses::set_issue_badges(&mut app.conn(), course.id, false).unwrap();
    let off = queue(&app, "carol", "verified");
    worker::drain(&app.db, backend.as_ref(), &settings(true), "test").unwrap();
    let skipped = job(&app, off);
    assert_eq!(skipped.status, "done");
    assert!(skipped.assertion_id.is_none());
    assert_eq!(
        jobs::last_reason(&mut app.conn(), off).unwrap(),
        "Course is not configured to issue badges."
    );
    assert_eq!(assertion_count(&app), 0);
}

type Hook = Box<dyn Fn(&BadgeClass) -> Result<Option<String>, AwardError> + Send + Sync>;

/// The local issuer with a hook before each class creation (whose `Some` answer replaces the
/// creation) and before each award (whose error replaces the award).
struct Scripted {
    inner: Arc<dyn BadgeBackend>,
    before_create: Hook,
    before_award: Hook,
}

impl Scripted {
    fn new(app: &TestApp) -> Scripted {
        Scripted {
            inner: local(app),
            before_create: Box::new(|_| Ok(None)),
            before_award: Box::new(|_| Ok(None)),
        }
    }

    /// Fails the first `failures` awards with a retryable error.
    fn flaky(app: &TestApp, failures: usize) -> Scripted {
        let left = std::sync::atomic::AtomicUsize::new(failures);
        Scripted {
            before_award: Box::new(move |_| {
                use std::sync::atomic::Ordering::SeqCst;
                match left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)) {
                    Ok(_) => Err(AwardError::Retryable("HTTP 503 from the backend".into())),
                    Err(_) => Ok(None),
                }
            }),
            ..Scripted::new(app)
        }
    }
}

impl BadgeBackend for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn settle_time(&self) -> Duration {
        Duration::ZERO
    }
    fn create_badge_class(&self, class: &BadgeClass, tag: &str) -> Result<String, AwardError> {
        match (self.before_create)(class)? {
            Some(id) => Ok(id),
            None => self.inner.create_badge_class(class, tag),
        }
    }
    fn find_badge_class(&self, tag: &str) -> Result<Option<String>, AwardError> {
        self.inner.find_badge_class(tag)
    }
    fn award(
        &self,
        class: &BadgeClass,
        learner: &Learner,
        evidence: Option<&str>,
    ) -> Result<IssuedAssertion, AwardError> {
        (self.before_award)(class)?;
        self.inner.award(class, learner, evidence)
    }
    fn find_award(
        &self,
        class: &BadgeClass,
        email: &str,
    ) -> Result<Option<IssuedAssertion>, AwardError> {
        self.inner.find_award(class, email)
    }
    fn revoke(&self, class: &BadgeClass, public_id: &str, reason: &str) -> Result<(), AwardError> {
        self.inner.revoke(class, public_id, reason)
    }
    fn list_awards(&self, class: &BadgeClass) -> Result<Option<Vec<RemoteAward>>, AwardError> {
        self.inner.list_awards(class)
    }
    fn list_classes(&self) -> Result<Option<Vec<RemoteClass>>, AwardError> {
        self.inner.list_classes()
    }
    fn health(&self) -> Result<String, String> {
        Ok("scripted".into())
    }
}

#[tokio::test]
async fn a_class_created_twice_at_once_is_awarded_under_the_first() {
    let app = spawn_app().await;
    // Another creates and freezes the class while this one is creating it too; every
    // award then goes to the class kept first.
    let awarded_under = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (db, seen) = (app.db.clone(), awarded_under.clone());
    let backend = Scripted {
        before_create: Box::new(move |class| {
            let mut conn = db.get().unwrap();
            accolade::badges::classes::mark_frozen(&mut conn, class.id, "created-first").unwrap();
            Ok(Some("created-second".into()))
        }),
        before_award: Box::new(move |class| {
            seen.lock().unwrap().push(class.backend_id.clone());
            Ok(None)
        }),
        ..Scripted::new(&app)
    };
    let id = queue(&app, "alice", "verified");
    worker::drain(&app.db, &backend, &settings(true), "test").unwrap();
    assert_eq!(job(&app, id).status, "done");
    assert_eq!(
        *awarded_under.lock().unwrap(),
        vec!["created-first".to_string()]
    );
}

fn make_due(app: &TestApp, id: i64) {
    diesel::update(award_jobs::table.find(id))
        .set(award_jobs::next_attempt_at.eq(accolade::db::now()))
        .execute(&mut *app.conn())
        .unwrap();
}

#[tokio::test]
async fn retryable_failures_back_off_and_then_succeed_or_give_up() {
    let app = spawn_app().await;
    let flaky = Scripted::flaky(&app, 2);
    let id = queue(&app, "alice", "verified");
    worker::drain(&app.db, &flaky, &settings(true), "test").unwrap();
    let waiting = job(&app, id);
    assert_eq!(waiting.status, "pending");
    assert!(waiting.next_attempt_at > accolade::db::now(), "backed off");
    assert_eq!(
        worker::drain(&app.db, &flaky, &settings(true), "test").unwrap(),
        0,
        "not due yet"
    );
    make_due(&app, id);
    worker::drain(&app.db, &flaky, &settings(true), "test").unwrap();
    make_due(&app, id);
    worker::drain(&app.db, &flaky, &settings(true), "test").unwrap();
    let done = job(&app, id);
    assert_eq!((done.status.as_str(), done.attempts), ("done", 3));
    let outcomes: Vec<String> = award_attempts::table
        .filter(award_attempts::job_id.eq(id))
        .order(award_attempts::id)
        .select(award_attempts::outcome)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(outcomes, ["retry", "retry", "done"]);

    // Past the limit, a job fails with the reason.
    let always = Scripted::flaky(&app, 100);
    let doomed = queue(&app, "bob", "verified");
    for _ in 0..3 {
        make_due(&app, doomed);
        worker::drain(&app.db, &always, &settings(true), "test").unwrap();
    }
    let failed = job(&app, doomed);
    assert_eq!(failed.status, "failed");
    assert!(
        failed.last_error.contains("gave up after 3 attempts"),
        "{}",
        failed.last_error
    );
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_up_again() {
    let app = spawn_app().await;
    let id = queue(&app, "alice", "verified");
    // A worker claims the job and dies before finishing it.
    let claimed = jobs::claim(&mut app.conn(), "dead-worker", Duration::from_secs(0))
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, id);
    assert_eq!(job(&app, id).status, "running");
    std::thread::sleep(Duration::from_millis(20));
    // Its lease has run out: another worker takes it and finishes it.
    worker::drain(
        &app.db,
        local(&app).as_ref(),
        &settings(true),
        "live-worker",
    )
    .unwrap();
    let done = job(&app, id);
    assert_eq!((done.status.as_str(), done.attempts), ("done", 2));
    assert_eq!(assertion_count(&app), 1);

    // The first worker was only slow: its late outcome neither moves the job nor is
    // recorded as an attempt.
    let attempts_before = attempt_count(&app, id);
    jobs::finish(
        &mut app.conn(),
        &claimed,
        "dead-worker",
        accolade::db::now(),
        Attempt {
            outcome: Outcome::Failed {
                reason: "late".into(),
            },
            unanswered: false,
        },
        3,
    )
    .unwrap();
    assert_eq!(job(&app, id).status, "done");
    assert_eq!(attempt_count(&app, id), attempts_before);
}

fn attempt_count(app: &TestApp, id: i64) -> i64 {
    award_attempts::table
        .filter(award_attempts::job_id.eq(id))
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

/// Runs the due jobs on four worker threads at once; returns how many ran.
fn drain_concurrently(app: &TestApp, backend: Arc<dyn BadgeBackend>) -> usize {
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let (db, backend) = (app.db.clone(), backend.clone());
            std::thread::spawn(move || {
                worker::drain(&db, backend.as_ref(), &settings(true), &format!("w{n}")).unwrap()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

#[tokio::test]
async fn concurrent_workers_never_take_the_same_job() {
    let app = spawn_app().await;
    // The class exists on the backend already (its first creation is another test's).
    queue(&app, "first", "verified");
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "w").unwrap();
    let ids: Vec<i64> = (0..24)
        .map(|i| queue(&app, &format!("learner{i}"), "verified"))
        .collect();
    let ran = drain_concurrently(&app, local(&app));
    assert_eq!(ran, ids.len(), "every job ran exactly once");
    let attempts: i64 = award_attempts::table
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert_eq!(attempts, 1 + ids.len() as i64);
    assert_eq!(assertion_count(&app), 1 + ids.len() as i64);
    for id in ids {
        assert_eq!(job(&app, id).status, "done");
    }
}

#[tokio::test]
async fn concurrent_first_awards_create_the_class_once() {
    let app = spawn_app().await;
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = created.clone();
    let backend: Arc<dyn BadgeBackend> = Arc::new(Scripted {
        before_create: Box::new(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Long enough for the other workers to find the creation taken.
            std::thread::sleep(Duration::from_millis(300));
            Ok(None)
        }),
        ..Scripted::new(&app)
    });
    let ids: Vec<i64> = (0..8)
        .map(|i| queue(&app, &format!("learner{i}"), "verified"))
        .collect();
    for _ in 0..10 {
        drain_concurrently(&app, backend.clone());
        if ids.iter().all(|&id| job(&app, id).status == "done") {
            break;
        }
        // The jobs that waited for the creator look again (their wait is uncounted).
        for &id in &ids {
            make_due(&app, id);
        }
    }
    for &id in &ids {
        let done = job(&app, id);
        assert_eq!(done.status, "done", "{}", done.last_error);
        assert_eq!(
            done.attempts, 1,
            "waiting for the creator is not an attempt"
        );
    }
    assert_eq!(created.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(assertion_count(&app), 8);
}

#[tokio::test]
async fn the_outcome_of_a_claimed_job_is_recorded_once() {
    let app = spawn_app().await;
    let id = queue(&app, "alice", "verified");
    let mut conn = app.conn();
    let claimed = jobs::claim(&mut conn, "w", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert!(
        jobs::claim(&mut conn, "other", Duration::from_secs(60))
            .unwrap()
            .is_none(),
        "leased"
    );
    drop(conn);
    let outcome = worker::run_job(
        &app.db,
        local(&app).as_ref(),
        &settings(true),
        &claimed,
        "w",
    )
    .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }));
    assert_eq!(job(&app, id).locked_by, "");
}

/// Starts `accolade worker` on the test database as a separate process.
fn worker_process(app: &TestApp) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.database_url)
        .env("ACCOLADE_SECRET_KEY", common::SECRET_KEY)
        .env("ACCOLADE_WORKERS", "2")
        .env("ACCOLADE_AWARD_LEASE_SECONDS", "1")
        .env("ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", "true")
        .env("ACCOLADE_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start accolade worker")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_worker_killed_mid_run_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    let ids: Vec<i64> = (0..120)
        .map(|i| queue(&app, &format!("learner{i}"), "verified"))
        .collect();
    let mut first = worker_process(&app);
    wait_for("the first awards", || assertion_count(&app) >= 5);
    first.kill().expect("SIGKILL the worker");
    first.wait().unwrap();
    let done_before: i64 = award_jobs::table
        .filter(award_jobs::status.eq("done"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap();
    assert!(
        done_before < ids.len() as i64,
        "killed while jobs remained ({done_before} done)"
    );

    let mut second = worker_process(&app);
    wait_for("every job", || {
        award_jobs::table
            .filter(award_jobs::status.ne("done"))
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap()
            == 0
    });
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        assertion_count(&app),
        ids.len() as i64,
        "one assertion per learner, none lost"
    );
    let distinct: Vec<Option<i64>> = award_jobs::table
        .select(award_jobs::assertion_id)
        .load(&mut *app.conn())
        .unwrap();
    assert!(distinct.iter().all(Option::is_some));
}

#[tokio::test]
async fn operators_see_award_jobs_and_retry_or_cancel_them() {
    let app = spawn_app().await;
    app.login_superuser().await;
    let failed = queue(&app, "alice", "verified");
    let pending = queue(&app, "bob", "honor");
    diesel::update(award_jobs::table.find(failed))
        .set((
            award_jobs::status.eq("failed"),
            award_jobs::attempts.eq(5),
            award_jobs::last_error.eq("Badgr answered 500 <again>"),
        ))
        .execute(&mut *app.conn())
        .unwrap();

    let list = app.get_html("/admin/badges/awardjob/").await;
    assert!(list.contains("alice") && list.contains("bob"), "{list}");
    assert!(
        list.contains("Badgr answered 500 &#60;again&#62;"),
        "escaped"
    );
    assert!(!list.contains("addlink"), "jobs are not added by hand");
    assert_eq!(app.get("/admin/badges/awardjob/add/").await.status(), 403);
    let failed_only = app
        .get_html("/admin/badges/awardjob/?status__exact=failed")
        .await;
    assert!(failed_only.contains("alice") && !failed_only.contains("bob"));
    // Text that names no state matches no job (not every job).
    let no_state = app
        .get_html("/admin/badges/awardjob/?status__exact=Failed")
        .await;
    assert!(
        !no_state.contains("alice") && !no_state.contains("bob"),
        "{no_state}"
    );
    let detail = app
        .get_html(&format!("/admin/badges/awardjob/{failed}/change/"))
        .await;
    assert!(detail.contains(&format!("Award job #{failed}")), "{detail}");
    assert!(detail.contains("Badgr answered 500 &#60;again&#62;"));
    assert!(!detail.contains("name=\"_save\""), "nothing to save");
    assert!(detail.contains("<title>View award job"), "a record, viewed");
    let posted = app
        .post_form(&format!("/admin/badges/awardjob/{failed}/change/"), &[])
        .await;
    assert_eq!(posted.status(), 403);

    let both = [failed.to_string(), pending.to_string()];
    let retried = app
        .post_form(
            "/admin/badges/awardjob/",
            &[
                ("action", "retry"),
                ("_selected_action", &both[0]),
                ("_selected_action", &both[1]),
            ],
        )
        .await;
    assert_eq!(retried.status(), 302);
    let again = job(&app, failed);
    assert_eq!((again.status.as_str(), again.attempts), ("pending", 0));

    app.post_form(
        "/admin/badges/awardjob/",
        &[("action", "cancel"), ("_selected_action", &both[1])],
    )
    .await;
    let cancelled = job(&app, pending);
    assert_eq!(cancelled.status, "failed");
    assert_eq!(cancelled.last_error, "Cancelled in the admin.");
    let history = app
        .get_html(&format!("/admin/badges/awardjob/{pending}/history/"))
        .await;
    assert!(history.contains("Cancel"), "{history}");

    // Staff who may only view jobs cannot run the actions.
    let viewer = app.create_user("viewer", true, false);
    app.grant(viewer, "badges", "view_awardjob");
    let client = common::new_client();
    app.login_with(&client, "viewer", common::PASSWORD).await;
    assert_eq!(
        app.get_with(&client, "/admin/badges/awardjob/")
            .await
            .status(),
        200
    );
    let refused = app
        .post_form_with(
            &client,
            "/admin/badges/awardjob/",
            &[("action", "retry"), ("_selected_action", &both[1])],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(job(&app, pending).status, "failed");
}

#[tokio::test]
async fn operators_find_assertions_and_revoke_them_with_a_reason() {
    const LIST: &str = "/admin/badges/badgeassertion/";
    let app = spawn_app().await;
    let alice = queue(&app, "alice", "verified");
    queue(&app, "bob", "honor");
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    let assertion = job(&app, alice).assertion_id.unwrap();
    let url = accolade::badging::assertions::url_of(&mut app.conn(), assertion).unwrap();
    app.login_superuser().await;

    let list = app.get_html(LIST).await;
    assert!(list.contains("alice") && list.contains("bob"), "{list}");
    assert!(
        !list.contains("addlink"),
        "assertions are made by awards only"
    );
    let found = app.get_html(&format!("{LIST}?q=bob%40example.com")).await;
    assert!(found.contains("bob") && !found.contains("alice"));
    assert!(
        found.contains("1 badge assertion") && found.contains(">Show all</a>"),
        "a search counts its matches, not the whole table: {found}"
    );
    let filtered = app
        .get_html(&format!("{LIST}?backend__exact=local&created=today"))
        .await;
    assert!(filtered.contains("alice") && filtered.contains("bob"));
    let elsewhere = app.get_html(&format!("{LIST}?backend__exact=badgr")).await;
    assert!(!elsewhere.contains("alice") && !elsewhere.contains("bob"));
    let detail = app.get_html(&format!("{LIST}{assertion}/change/")).await;
    assert!(
        detail.contains(&format!("href=\"{url}\"")),
        "links the hosted assertion"
    );
    assert!(!detail.contains("name=\"_save\""));
    assert!(
        detail.contains("<title>View badge assertion"),
        "a record, viewed"
    );
    // Revoking starts from the assertion's own page too: it leads to the reason's page.
    assert!(detail.contains("value=\"revoke\""), "{detail}");
    let from_page = app
        .post_form(
            LIST,
            &[
                ("action", "revoke"),
                ("_selected_action", &assertion.to_string()),
                ("_from_object", "1"),
            ],
        )
        .await;
    assert!(
        location(&from_page).contains("/revoke/?ids="),
        "{}",
        location(&from_page)
    );
    assert_eq!(app.get(&format!("{LIST}add/")).await.status(), 403);
    assert_eq!(
        app.get(&format!("{LIST}{assertion}/delete/"))
            .await
            .status(),
        403,
        "revoked, never deleted"
    );

    // "Go" with the action leads to the page that asks for the reason.
    let id = assertion.to_string();
    let go = app
        .post_form(LIST, &[("action", "revoke"), ("_selected_action", &id)])
        .await;
    assert_eq!(go.status(), 302);
    let confirm = location(&go);
    assert_eq!(confirm, format!("{LIST}revoke/?ids={id}"));
    assert!(app.get_html(&confirm).await.contains("alice"));
    let revoke = format!("{LIST}revoke/");
    let missing = app
        .post_form(&revoke, &[("ids", &id), ("reason", " ")])
        .await;
    assert_eq!(missing.status(), 200);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("A reason is required")
    );
    assert_eq!(pending_revocations(&app), 0);
    let done = app
        .post_form(&revoke, &[("ids", &id), ("reason", "Issued <in> error")])
        .await;
    assert_eq!(done.status(), 302);
    let again = app
        .post_form(&revoke, &[("ids", &id), ("reason", "Twice")])
        .await;
    assert_eq!(again.status(), 302);
    assert_eq!(pending_revocations(&app), 1, "one revocation at a time");
    let index = app.get_html("/admin/").await;
    assert!(index.contains("1 waiting"), "{index}");
    assert!(index.contains("/admin/badges/awardjob/?status__exact=pending"));
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "test").unwrap();
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 410);
    let detail = app.get_html(&format!("{LIST}{assertion}/change/")).await;
    assert!(detail.contains("Issued &#60;in&#62; error"), "{detail}");
    let history = app.get_html(&format!("{LIST}{assertion}/history/")).await;
    assert!(history.contains("Revocation requested"));

    // Viewing is not revoking; and no revocation without a CSRF token.
    let viewer = app.create_user("viewer", true, false);
    app.grant(viewer, "badges", "view_badgeassertion");
    let client = common::new_client();
    app.login_with(&client, "viewer", common::PASSWORD).await;
    assert_eq!(app.get_with(&client, LIST).await.status(), 200);
    let index = app.text_with(&client, "/admin/").await;
    assert!(
        index.contains("badges issued") && !index.contains("waiting"),
        "jobs need their own permission"
    );
    assert_eq!(app.get_with(&client, &confirm).await.status(), 403);
    let refused = app
        .post_form_with(&client, &revoke, &[("ids", &id), ("reason", "x")])
        .await;
    assert_eq!(refused.status(), 403);
    let no_token = app
        .client
        .post(app.url(&revoke))
        .form(&[("ids", id.as_str()), ("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
}

fn pending_revocations(app: &TestApp) -> i64 {
    award_jobs::table
        .filter(award_jobs::kind.eq(jobs::JobKind::Revocation))
        .filter(award_jobs::status.eq("pending"))
        .count()
        .get_result(&mut *app.conn())
        .unwrap()
}

/// The class a queued completion job of `username` awards, created (not yet on a backend).
fn class_of(app: &TestApp, mode: &str) -> i64 {
    use accolade::db::schema::badge_classes;
    let slug = accolade::badges::classes::course_slug(COURSE, mode);
    badge_classes::table
        .filter(badge_classes::slug.eq(slug))
        .select(badge_classes::id)
        .first(&mut *app.conn())
        .unwrap()
}

fn set_status(app: &TestApp, id: i64, status: &str) {
    diesel::update(award_jobs::table.find(id))
        .set(award_jobs::status.eq(status))
        .execute(&mut *app.conn())
        .unwrap();
}

/// A claim held by a job, with no request sent under it yet.
fn held_afresh() -> accolade::badging::claims::Claim {
    accolade::badging::claims::Claim::Held {
        sent_at: None,
        sent_to: String::new(),
    }
}

#[tokio::test]
async fn one_job_at_a_time_holds_an_award_and_an_unknown_outcome_passes_on() {
    use accolade::badging::claims::{self, Claim};
    let app = spawn_app().await;
    // A class to claim: made by a first award.
    let first = queue(&app, "alice", "verified");
    worker::drain(&app.db, local(&app).as_ref(), &settings(true), "w").unwrap();
    let class = class_of(&app, "verified");
    let learner = job(&app, first).learner_id;
    let (a, b) = (
        queue(&app, "bob", "verified"),
        queue(&app, "carol", "verified"),
    );
    let mut conn = app.conn();

    // Job a holds bob's award; b, open too, finds it taken and never reaches the backend.
    let bob = job(&app, a).learner_id;
    assert_eq!(
        claims::claim_award(&mut conn, a, bob, class).unwrap(),
        held_afresh()
    );
    assert_eq!(
        claims::claim_award(&mut conn, b, bob, class).unwrap(),
        Claim::Taken { by_job: a }
    );
    // Only the worker that runs the job may mark a request sent.
    let sent = |conn: &mut DbConnection, worker| {
        claims::mark_sent(conn, (a, worker), bob, class, "bob@example.com").unwrap()
    };
    assert!(!sent(&mut conn, "w"), "a is not running");
    drop(conn);
    set_status(&app, a, "running");
    diesel::update(award_jobs::table.find(a))
        .set(award_jobs::locked_by.eq("w"))
        .execute(&mut *app.conn())
        .unwrap();
    let mut conn = app.conn();
    assert!(!sent(&mut conn, "other"));
    assert!(sent(&mut conn, "w"));
    drop(conn);

    // a fails with its request unanswered: b takes the claim over, and with it the
    // knowledge that a request may have been carried out.
    set_status(&app, a, "failed");
    let mut conn = app.conn();
    match claims::claim_award(&mut conn, b, bob, class).unwrap() {
        Claim::Held { sent_at, sent_to } => {
            assert!(sent_at.is_some(), "the unknown outcome passes on");
            assert_eq!(sent_to, "bob@example.com", "with the address it went to");
        }
        taken => panic!("{taken:?}"),
    }
    // Recording the award releases the claim.
    claims::release(&mut conn, bob, class).unwrap();
    assert_eq!(
        claims::claim_award(&mut conn, a, bob, class).unwrap(),
        held_afresh()
    );
    assert_eq!(
        claims::claim_award(&mut conn, a, learner, class).unwrap(),
        held_afresh()
    );
}

#[tokio::test]
async fn retry_now_leaves_a_job_whose_award_has_another_waiting() {
    let app = spawn_app().await;
    let first = queue(&app, "alice", "verified");
    set_status(&app, first, "failed");
    let second = queue(&app, "alice", "verified");
    assert_ne!(first, second, "the failed job is not open");
    let mut conn = app.conn();
    assert_eq!(
        jobs::retry_now(&mut conn, &[first, second]).unwrap(),
        vec![second],
        "the failed one stays failed: its award has an open job"
    );
    drop(conn);
    assert_eq!(job(&app, first).status, "failed");
}

#[tokio::test]
async fn a_running_job_keeps_its_lease_however_long_the_backend_takes() {
    let app = spawn_app().await;
    let id = queue(&app, "alice", "verified");
    let lease = Duration::from_secs(2);
    let (db, rivals) = (app.db.clone(), Arc::new(std::sync::Mutex::new(Vec::new())));
    let seen = rivals.clone();
    // While the award is with the backend for three leases, another worker keeps trying to
    // claim a job: the heartbeat keeps this one out of its reach.
    let slow = Scripted {
        before_award: Box::new(move |_| {
            for _ in 0..30 {
                std::thread::sleep(Duration::from_millis(200));
                let mut conn = db.get().unwrap();
                let claimed = jobs::claim(&mut conn, "rival", lease).unwrap();
                seen.lock().unwrap().push(claimed.map(|j| j.id));
            }
            Ok(None)
        }),
        ..Scripted::new(&app)
    };
    let settings = WorkerSettings {
        lease,
        ..settings(true)
    };
    worker::drain(&app.db, &slow, &settings, "slow").unwrap();
    assert!(
        rivals.lock().unwrap().iter().all(Option::is_none),
        "the job was taken from a live worker: {:?}",
        rivals.lock().unwrap()
    );
    assert_eq!(job(&app, id).status, "done");
    assert_eq!(assertion_count(&app), 1);
}

/// Every outcome a worker tries to record fails, as on a full disk.
fn refuse_outcomes(app: &TestApp) {
    let statements: &[&str] = if common::on_postgres() {
        &[
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_attempts BEFORE INSERT ON award_attempts \
             FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    } else {
        &[
            "CREATE TRIGGER refuse_attempts BEFORE INSERT ON award_attempts \
           BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        ]
    };
    let mut conn = app.conn();
    for statement in statements {
        diesel::sql_query(*statement).execute(&mut *conn).unwrap();
    }
}

#[tokio::test]
async fn a_job_whose_outcome_could_not_be_recorded_is_let_go() {
    let app = spawn_app().await;
    let id = queue(&app, "alice", "verified");
    refuse_outcomes(&app);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let settings = WorkerSettings {
        lease: Duration::from_secs(1),
        ..settings(true)
    };
    let threads = worker::spawn(1, app.db.clone(), local(&app), settings, stop.clone());
    // The worker cannot record the outcome; it lets the job go rather than renew its lease
    // for ever, so the job is claimed again once the lease has run out.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while job(&app, id).attempts < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the job stayed in the hands of a worker that could not record it"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
}
