//! The Badgr API v2 backend against a wiremock Badgr: tokens, badge classes, awards, and
//! every failure the jobs must survive without losing or duplicating an award.

mod common;

use std::sync::Arc;
use std::time::Duration;

use accolade::badging::award::AwardSettings;
use accolade::badging::backend::BadgeBackend;
use accolade::badging::badgr::{ApiVersion, Badgr as BadgrBackend, BadgrSettings, Credentials};
use accolade::badging::jobs;
use accolade::badging::worker::{self, WorkerSettings};
use accolade::courses::{self, CourseKey};
use accolade::db::schema::{award_claims, award_jobs, badge_assertions, badge_classes};
use accolade::learners;
use common::{TestApp, spawn_app};
use diesel::prelude::*;
use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const COURSE: &str = "course-v1:edX+course_test+test_run";
const CLASS: &str = "k3J9xQeLTmW2n8vY0aBcDe";

fn settings() -> WorkerSettings {
    WorkerSettings {
        award: AwardSettings {
            badges_enabled: true,
            allow_shipped_images: true,
            lms_url: "https://lms.example".into(),
        },
        lease: Duration::from_secs(60),
        max_attempts: 5,
        poll: Duration::from_millis(10),
        reconcile_every: Duration::ZERO,
    }
}

/// The backend, dropped on a plain thread: the blocking HTTP client owns a runtime that
/// must not be dropped inside the test's async runtime.
struct Badgr(Option<Arc<dyn BadgeBackend>>);

impl std::ops::Deref for Badgr {
    type Target = Arc<dyn BadgeBackend>;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Badgr {
    fn drop(&mut self) {
        let backend = self.0.take();
        std::thread::spawn(move || drop(backend)).join().unwrap();
    }
}

fn backend(app: &TestApp, badgr: &MockServer, timeout: Duration) -> Badgr {
    let credentials = Credentials::OAuth {
        username: "example@example.com".into(),
        password: "password".into(),
        client_id: "public".into(),
    };
    backend_with(app, badgr, timeout, ApiVersion::V2, credentials)
}

/// An API v1 backend using the key `key`.
fn v1_backend(app: &TestApp, badgr: &MockServer, key: &str) -> Badgr {
    let credentials = Credentials::Token(key.into());
    backend_with(
        app,
        badgr,
        Duration::from_secs(5),
        ApiVersion::V1,
        credentials,
    )
}

fn backend_with(
    app: &TestApp,
    badgr: &MockServer,
    timeout: Duration,
    version: ApiVersion,
    credentials: Credentials,
) -> Badgr {
    let settings = BadgrSettings {
        base_url: badgr.uri(),
        issuer: "test-issuer".into(),
        version,
        credentials,
        timeout,
        notify: false,
    };
    let db = app.db.clone();
    let built = std::thread::spawn(move || {
        Arc::new(BadgrBackend::new(settings, db, common::SECRET_KEY).unwrap())
            as Arc<dyn BadgeBackend>
    })
    .join()
    .unwrap();
    Badgr(Some(built))
}

fn queue(app: &TestApp, username: &str) -> i64 {
    let mut conn = app.conn();
    if courses::find_by_key(&mut conn, COURSE).unwrap().is_none() {
        courses::create(&mut conn, &CourseKey::parse(COURSE).unwrap(), "Test Course").unwrap();
    }
    let learner =
        learners::upsert(&mut conn, username, &format!("{username}@Example.com")).unwrap();
    jobs::enqueue_course_completion(
        &mut conn,
        learner.id,
        COURSE,
        "honor",
        "https://example.com/irrefutable_proof",
    )
    .unwrap()
    .id
}

/// Runs due jobs on a blocking thread (the Badgr client is blocking).
async fn drain(app: &TestApp, backend: &Badgr) -> usize {
    let (db, backend) = (app.db.clone(), Arc::clone(backend));
    tokio::task::spawn_blocking(move || {
        worker::drain(&db, backend.as_ref(), &settings(), "test").unwrap()
    })
    .await
    .unwrap()
}

fn job(app: &TestApp, id: i64) -> jobs::AwardJob {
    jobs::get(&mut app.conn(), id).unwrap().unwrap()
}

fn make_due(app: &TestApp, id: i64) {
    diesel::update(award_jobs::table.find(id))
        .set(award_jobs::next_attempt_at.eq(accolade::db::now()))
        .execute(&mut *app.conn())
        .unwrap();
}

/// Makes job `id` due and runs due jobs.
async fn retry(app: &TestApp, backend: &Badgr, id: i64) -> usize {
    make_due(app, id);
    drain(app, backend).await
}

/// Lets the unanswered requests settle, as if their settle time had passed.
fn settle(app: &TestApp) {
    let long_ago = accolade::db::now() - chrono::Duration::hours(1);
    diesel::update(award_claims::table.filter(award_claims::sent_at.is_not_null()))
        .set(award_claims::sent_at.eq(Some(long_ago)))
        .execute(&mut *app.conn())
        .unwrap();
    diesel::update(badge_classes::table.filter(badge_classes::creation_sent_at.is_not_null()))
        .set(badge_classes::creation_sent_at.eq(Some(long_ago)))
        .execute(&mut *app.conn())
        .unwrap();
}

fn token_response(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 86400,
        "scope": "rw:issuer", "refresh_token": refresh
    }))
}

fn assertion(entity: &str) -> serde_json::Value {
    json!({"status": {"success": true, "description": "ok"}, "result": [{
        "entityType": "Assertion", "entityId": entity,
        "openBadgeId": format!("http://www.example.com/{entity}"),
        "image": format!("http://www.example.com/{entity}.png"),
        "issuer": "https://example.com/v2/issuers/test-issuer",
        "recipient": {"identity": "sha256$abc", "hashed": true, "type": "email", "salt": "s"},
        "revoked": false
    }]})
}

/// Mounting a mock on a Badgr.
trait Mounting {
    async fn on(self, badgr: &MockServer);
    /// Mounted, and expected to be asked exactly once.
    async fn once_on(self, badgr: &MockServer);
}

impl Mounting for Mock {
    async fn on(self, badgr: &MockServer) {
        self.mount(badgr).await
    }

    async fn once_on(self, badgr: &MockServer) {
        self.expect(1).mount(badgr).await
    }
}

/// A Badgr that hands out the token `tok-1` to anyone asking.
async fn mount_token(badgr: &MockServer) {
    token_endpoint()
        .respond_with(token_response("tok-1", "ref-1"))
        .on(badgr)
        .await;
}

/// A mock of the token endpoint.
fn token_endpoint() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/o/token"))
}

/// [`mount_token`], and the course's class created once.
async fn mount_token_and_class(badgr: &MockServer) {
    mount_token(badgr).await;
    mount_class_creation(badgr).await;
}

/// A mock of `verb` on the course class's assertions.
fn assertions_on(verb: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb)).and(path(format!("/v2/badgeclasses/{CLASS}/assertions")))
}

/// Badgr's answer to a new assertion `entity`.
fn created(entity: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(assertion(entity))
}

/// Matches a body containing `text`, binary bodies included (multipart with a PNG).
struct BodyHas(&'static [u8]);

impl wiremock::Match for BodyHas {
    fn matches(&self, request: &wiremock::Request) -> bool {
        request.body.windows(self.0.len()).any(|w| w == self.0)
    }
}

/// A Badgr that makes the assertion "Made" but answers after the client gave up (one POST
/// expected), and lists it for alice when asked (one look-up expected).
async fn mount_late_answer(badgr: &MockServer) {
    mount_token_and_class(badgr).await;
    assertions_on("POST")
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(assertion("Made"))
                .set_delay(Duration::from_secs(3)),
        )
        .once_on(badgr)
        .await;
    assertions_on("GET")
        .and(query_param("recipient", "alice@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(assertion("Made")))
        .once_on(badgr)
        .await;
}

/// Alice's award sent to a Badgr set up by [`mount_late_answer`], the client having given
/// up waiting: the app, the Badgr, the backend and the award's job.
async fn sent_without_answer() -> (TestApp, MockServer, Badgr, i64) {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_late_answer(&badgr).await;
    let backend = backend(&app, &badgr, Duration::from_secs(1));
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    (app, badgr, backend, id)
}

async fn mount_class_creation(badgr: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v2/issuers/test-issuer/badgeclasses"))
        .and(header("authorization", "Bearer tok-1"))
        .and(BodyHas(b"name=\"name\"\r\n\r\nTest Course\r\n"))
        .and(BodyHas(b"name=\"criteriaUrl\"\r\n\r\nhttps://lms.example/courses/course-v1:edX+course_test+test_run/about"))
        .and(BodyHas(b"name=\"image\"; filename=\"badge.png\"\r\nContent-Type: image/png"))
        .and(BodyHas(b"\x89PNG"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "status": {"success": true, "description": "ok"}, "result": [{"entityId": CLASS}]
        })))
        .once_on(badgr)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_award_goes_through_badgr_with_upstream_requests() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    token_endpoint()
        .and(body_string_contains("grant_type=password"))
        .and(body_string_contains("client_id=public"))
        .and(body_string_contains("scope=rw%3Aissuer"))
        .and(body_string_contains("username=example%40example.com"))
        .and(body_string_contains("password=password"))
        .respond_with(token_response("tok-1", "ref-1"))
        .once_on(&badgr)
        .await;
    mount_class_creation(&badgr).await;
    assertions_on("POST")
        .and(header("authorization", "Bearer tok-1"))
        .and(body_json(json!({
            "recipient": {"identity": "alice@example.com", "type": "email", "hashed": true},
            "evidence": [{"url": "https://example.com/irrefutable_proof"}],
            "notify": false
        })))
        .respond_with(created("Hn5dR8sPQa6uWc1yTz4oMg"))
        .once_on(&badgr)
        .await;
    assertions_on("POST")
        .and(body_string_contains("bob@example.com"))
        .respond_with(created("Bob0000000000000000000"))
        .once_on(&badgr)
        .await;

    let backend = backend(&app, &badgr, Duration::from_secs(5));
    let first = queue(&app, "alice");
    let second = queue(&app, "bob");
    assert_eq!(drain(&app, &backend).await, 2);
    assert_eq!(job(&app, first).status, "done");
    assert_eq!(
        job(&app, second).status,
        "done",
        "the cached token and class are reused"
    );
    let (data, image, url, name): (String, String, String, String) = badge_assertions::table
        .filter(badge_assertions::public_id.eq("Hn5dR8sPQa6uWc1yTz4oMg"))
        .select((
            badge_assertions::data,
            badge_assertions::image_url,
            badge_assertions::assertion_url,
            badge_assertions::backend,
        ))
        .first(&mut *app.conn())
        .unwrap();
    // Links on another host than Badgr's are not trusted: Badgr's own public URLs stand in.
    let public = format!("{}/public/assertions/Hn5dR8sPQa6uWc1yTz4oMg", badgr.uri());
    assert_eq!(image, format!("{public}/image"));
    assert_eq!(url, public);
    assert_eq!(name, "badgr-v2");
    assert!(
        data.contains("\"entityType\":\"Assertion\""),
        "the inner result object is kept"
    );
    let (backend_id, frozen): (String, Option<chrono::NaiveDateTime>) = badge_classes::table
        .select((badge_classes::backend_id, badge_classes::frozen_at))
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(backend_id, CLASS);
    assert!(frozen.is_some(), "created on Badgr: frozen");
    // Badgr hosts its assertions: Accolade's public routes never serve Badgr's answer.
    let hosted = app.get("/public/assertions/Hn5dR8sPQa6uWc1yTz4oMg").await;
    assert_eq!(hosted.status(), 404);
    // The stored tokens are encrypted.
    let stored = accolade::db::settings::get(&mut app.conn(), "badgr_tokens")
        .unwrap()
        .unwrap();
    assert!(!stored.contains("tok-1") && !stored.contains("ref-1"));
}

/// Badgr's answer is outside input: only web URLs on Badgr's host become links (in the
/// admin and in the learners' API); `javascript:` never does.
#[tokio::test(flavor = "multi_thread")]
async fn links_from_badgr_are_kept_only_on_badgrs_host() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token_and_class(&badgr).await;
    let answer = |entity: &str, link: String, image: String| {
        let mut answer = assertion(entity);
        answer["result"][0]["openBadgeId"] = json!(link);
        answer["result"][0]["image"] = json!(image);
        answer
    };
    let own = format!("{}/public/assertions/Own/x", badgr.uri());
    for (learner, entity, link, image) in [
        (
            "alice",
            "Hostile",
            "javascript:alert(1)".to_string(),
            "\"><script>alert(2)</script>".to_string(),
        ),
        ("bob", "Own", own.clone(), format!("{own}.png")),
    ] {
        assertions_on("POST")
            .and(body_string_contains(format!("{learner}@")))
            .respond_with(ResponseTemplate::new(201).set_body_json(answer(entity, link, image)))
            .on(&badgr)
            .await;
    }
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    queue(&app, "alice");
    queue(&app, "bob");
    assert_eq!(drain(&app, &backend).await, 2);
    let stored = |entity: &str| -> (String, String) {
        badge_assertions::table
            .filter(badge_assertions::public_id.eq(entity))
            .select((badge_assertions::assertion_url, badge_assertions::image_url))
            .first(&mut *app.conn())
            .unwrap()
    };
    let public = format!("{}/public/assertions/Hostile", badgr.uri());
    assert_eq!(
        stored("Hostile"),
        (public.clone(), format!("{public}/image"))
    );
    assert_eq!(stored("Own"), (own.clone(), format!("{own}.png")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_refreshes_the_token_once_and_retries() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    token_endpoint()
        .and(body_string_contains("grant_type=password"))
        .respond_with(token_response("tok-1", "ref-1"))
        .once_on(&badgr)
        .await;
    token_endpoint()
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=ref-1"))
        .and(body_string_contains("client_id=public"))
        .respond_with(token_response("tok-2", "ref-2"))
        .once_on(&badgr)
        .await;
    mount_class_creation(&badgr).await;
    assertions_on("POST").and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"status": {"success": false, "description": "no valid auth token found"}, "result": []})))
        .expect(1).mount(&badgr).await;
    assertions_on("POST")
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(created("A1"))
        .once_on(&badgr)
        .await;
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    assert_eq!(job(&app, id).status, "done");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_falls_back_to_the_password_grant() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    // The first token is already within the refresh margin when it arrives.
    token_endpoint()
        .and(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok-1", "expires_in": 1, "refresh_token": "ref-1"
        })))
        .up_to_n_times(1)
        .once_on(&badgr)
        .await;
    token_endpoint()
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=ref-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .once_on(&badgr)
        .await;
    token_endpoint()
        .and(body_string_contains("grant_type=password"))
        .respond_with(token_response("tok-3", "ref-3"))
        .once_on(&badgr)
        .await;
    for token in ["Bearer tok-1", "Bearer tok-3"] {
        Mock::given(method("GET"))
            .and(path("/v2/issuers/test-issuer"))
            .and(header("authorization", token))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"status": {"success": true}, "result": [{}]})),
            )
            .once_on(&badgr)
            .await;
    }
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    for _ in 0..2 {
        let b = Arc::clone(&backend);
        let health = tokio::task::spawn_blocking(move || b.health())
            .await
            .unwrap()
            .unwrap();
        assert!(health.contains("Badgr API v2"), "{health}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_or_failed_as_they_deserve() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token_and_class(&badgr).await;
    // alice: a 500, a 429 with Retry-After, then success.
    assertions_on("POST")
        .and(body_string_contains("alice@"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .on(&badgr)
        .await;
    assertions_on("POST")
        .and(body_string_contains("alice@"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "120")
                .set_body_string("slow down"),
        )
        .up_to_n_times(1)
        .on(&badgr)
        .await;
    assertions_on("GET")
        .and(query_param("recipient", "alice@example.com"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": {"success": true}, "result": []})),
        )
        .on(&badgr)
        .await;
    assertions_on("POST")
        .and(body_string_contains("alice@"))
        .respond_with(created("Alice"))
        .on(&badgr)
        .await;
    // bob: a permanent 400.
    assertions_on("POST").and(body_string_contains("bob@"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"status": {"success": false, "description": "bad request"}, "result": [], "fieldErrors": {"recipient": ["This field is required"]}})))
        .expect(1).mount(&badgr).await;

    let backend = backend(&app, &badgr, Duration::from_secs(5));
    let alice = queue(&app, "alice");
    let bob = queue(&app, "bob");
    drain(&app, &backend).await;
    let failed = job(&app, bob);
    assert_eq!((failed.status.as_str(), failed.attempts), ("failed", 1));
    assert!(
        failed.last_error.contains("This field is required"),
        "{}",
        failed.last_error
    );

    let unanswered = job(&app, alice);
    assert_eq!(unanswered.status, "pending", "500: retried later");
    assert!(
        unanswered.last_error.contains("HTTP 500") && unanswered.last_error.contains("boom"),
        "the status and Badgr's words: {}",
        unanswered.last_error
    );
    // A 500 may come after the work is done: the next attempt waits for it to settle
    // (uncounted), then looks on Badgr before posting again.
    retry(&app, &backend, alice).await;
    let settling = job(&app, alice);
    assert_eq!(
        (settling.status.as_str(), settling.attempts),
        ("pending", 1)
    );
    assert!(
        settling.last_error.contains("got no answer"),
        "{}",
        settling.last_error
    );
    settle(&app);
    retry(&app, &backend, alice).await;
    let waiting = job(&app, alice);
    assert_eq!(waiting.status, "pending");
    assert!(waiting.last_error.contains("429"));
    assert!(
        waiting.next_attempt_at >= accolade::db::now() + chrono::Duration::seconds(110),
        "Retry-After honoured"
    );
    retry(&app, &backend, alice).await;
    let done = job(&app, alice);
    assert_eq!((done.status.as_str(), done.attempts), ("done", 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_is_found_on_badgr_instead_of_posting_again() {
    // Badgr makes the assertion but answers too late: the client times out.
    let (app, _badgr, backend, id) = sent_without_answer().await;
    let timed_out = job(&app, id);
    assert_eq!(timed_out.status, "pending");
    assert!(
        timed_out.last_error.contains("could not be reached"),
        "{}",
        timed_out.last_error
    );
    assert!(
        timed_out.last_error.contains("timed out"),
        "{}",
        timed_out.last_error
    );
    // The attempt is kept as one whose request may have gone through.
    app.login_superuser().await;
    let page = app
        .get_html(&format!("/admin/badges/awardjob/{id}/change/"))
        .await;
    assert!(page.contains("sent, no answer"), "{page}");
    // Not looked up (nor sent again) before it has settled.
    retry(&app, &backend, id).await;
    assert_eq!(job(&app, id).status, "pending");
    settle(&app);
    retry(&app, &backend, id).await;
    assert_eq!(job(&app, id).status, "done");
    let public: String = badge_assertions::table
        .select(badge_assertions::public_id)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(
        public, "Made",
        "the assertion Badgr already made, not a second one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_created_without_an_identifier_is_found_by_its_tag() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token(&badgr).await;
    Mock::given(method("POST"))
        .and(path("/v2/issuers/test-issuer/badgeclasses"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"status": {"success": true}, "result": [{"entityId": ""}]})),
        )
        .once_on(&badgr)
        .await;
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    let waiting = job(&app, id);
    assert_eq!(waiting.status, "pending");
    assert!(waiting.last_error.contains("no entityId"));
    let (backend_id, frozen, tag): (String, Option<chrono::NaiveDateTime>, String) =
        badge_classes::table
            .select((
                badge_classes::backend_id,
                badge_classes::frozen_at,
                badge_classes::creation_tag,
            ))
            .first(&mut *app.conn())
            .unwrap();
    assert!(
        backend_id.is_empty() && frozen.is_none(),
        "an empty identifier is never cached"
    );
    assert!(tag.starts_with("accolade-"), "{tag}");

    // Badgr made the class all the same: the next attempt finds it by its tag, once the
    // creation has settled, and never creates a second one (the POST expects one call).
    Mock::given(method("GET"))
        .and(path("/v2/issuers/test-issuer/badgeclasses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": {"success": true}, "result": [
                {"entityId": "Other", "tags": []},
                {"entityId": CLASS, "tags": [tag]}
            ]
        })))
        .on(&badgr)
        .await;
    assertions_on("POST")
        .respond_with(created("Alice"))
        .once_on(&badgr)
        .await;
    retry(&app, &backend, id).await;
    assert_eq!(job(&app, id).status, "pending", "not before it settled");
    settle(&app);
    retry(&app, &backend, id).await;
    assert_eq!(job(&app, id).status, "done");
    let backend_id: String = badge_classes::table
        .select(badge_classes::backend_id)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(backend_id, CLASS, "the class Badgr made, found by its tag");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_v1_uses_the_legacy_token_urls_and_form_fields() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    let base = "/v1/issuer/issuers/test-issuer";
    Mock::given(method("POST"))
        .and(path(format!("{base}/badges")))
        .and(header("authorization", "Token 12345"))
        .and(BodyHas(
            b"name=\"criteria\"\r\n\r\nhttps://lms.example/courses/",
        ))
        .and(BodyHas(
            b"name=\"slug\"\r\n\r\ncourse-v1edxcourse_testtest_run_honor_2055051\r\n",
        ))
        .and(BodyHas(
            b"name=\"image\"; filename=\"badge.png\"\r\nContent-Type: image/png",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"slug": "ServerChosenSlug"})))
        .once_on(&badgr)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{base}/badges/ServerChosenSlug/assertions")))
        .and(header("authorization", "Token 12345"))
        .and(body_string_contains("email=alice%40example.com"))
        .and(body_string_contains(
            "evidence=https%3A%2F%2Fexample.com%2Firrefutable_proof",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "slug": "V1Assertion", "image": "https://badgr.example/assertion.png",
            "json": {"id": "https://badgr.example/public/assertions/V1Assertion?v=1_1"}
        })))
        .once_on(&badgr)
        .await;
    let backend = v1_backend(&app, &badgr, "12345");
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    assert_eq!(job(&app, id).status, "done");
    let (url, image, name): (String, String, String) = badge_assertions::table
        .select((
            badge_assertions::assertion_url,
            badge_assertions::image_url,
            badge_assertions::backend,
        ))
        .first(&mut *app.conn())
        .unwrap();
    // Links on another host than Badgr's: Badgr's own public URLs stand in.
    let public = format!("{}/public/assertions/V1Assertion", badgr.uri());
    assert_eq!(url, public);
    assert_eq!(image, format!("{public}/image"));
    assert_eq!(name, "badgr-v1");
    let backend_id: String = badge_classes::table
        .select(badge_classes::backend_id)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(
        backend_id, "ServerChosenSlug",
        "the slug Badgr chose is the one kept"
    );

    Mock::given(method("DELETE"))
        .and(path(format!(
            "{base}/badges/ServerChosenSlug/assertions/V1Assertion"
        )))
        .and(body_json(json!({"revocation_reason": "Issued in error"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"revoked": true})))
        .once_on(&badgr)
        .await;
    let assertion: i64 = badge_assertions::table
        .select(badge_assertions::id)
        .first(&mut *app.conn())
        .unwrap();
    let held = accolade::badging::assertions::by_id(&mut app.conn(), assertion)
        .unwrap()
        .unwrap();
    jobs::enqueue_revocation(&mut app.conn(), &held, COURSE, "Issued in error")
        .unwrap()
        .unwrap();
    assert_eq!(drain(&app, &backend).await, 1);
    let revoked: bool = badge_assertions::table
        .select(badge_assertions::revoked)
        .first(&mut *app.conn())
        .unwrap();
    assert!(revoked);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_v1_key_fails_the_award_with_the_reason() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .on(&badgr)
        .await;
    let backend = v1_backend(&app, &badgr, "wrong");
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    let failed = job(&app, id);
    assert_eq!(failed.status, "failed");
    assert!(
        failed.last_error.contains("BADGR_API_TOKEN"),
        "{}",
        failed.last_error
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn accolade_award_issues_through_badgr_when_configured() {
    let badgr = MockServer::start().await;
    mount_token(&badgr).await;
    // A course first seen by the command has no name yet: its key names the class.
    Mock::given(method("POST"))
        .and(path("/v2/issuers/test-issuer/badgeclasses"))
        .and(BodyHas(
            b"name=\"name\"\r\n\r\ncourse-v1:edX+course_test+test_run\r\n",
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"result": [{"entityId": CLASS}]})),
        )
        .once_on(&badgr)
        .await;
    assertions_on("POST")
        .respond_with(created("FromTheCli"))
        .once_on(&badgr)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let uri = badgr.uri();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
            .args([
                "award",
                "--course",
                COURSE,
                "--username",
                "alice",
                "--email",
                "alice@example.com",
                "--mode",
                "honor",
                "--wait",
            ])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ACCOLADE_SECRET_KEY", common::SECRET_KEY)
            .env("ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", "true")
            .env("ACCOLADE_LMS_URL", "https://lms.example")
            .env("BADGR_BASE_URL", uri)
            .env("BADGR_ISSUER_SLUG", "test-issuer")
            .env("BADGR_USERNAME", "example@example.com")
            .env("BADGR_PASSWORD", "password")
            .env("ACCOLADE_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.trim_end().ends_with("/public/assertions/FromTheCli"),
        "{stdout}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("password=password"),
        "no password in logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_now_still_looks_for_an_unanswered_award_first() {
    // Badgr makes the assertion but answers after the client gave up.
    let (app, _badgr, backend, id) = sent_without_answer().await;
    assert_eq!(job(&app, id).status, "pending");
    // The operator's "Retry now" resets the attempts; the unknown outcome is kept.
    assert_eq!(jobs::retry_now(&mut app.conn(), &[id]).unwrap(), vec![id]);
    assert_eq!(job(&app, id).attempts, 0);
    settle(&app);
    drain(&app, &backend).await;
    let done = job(&app, id);
    assert_eq!(done.status, "done", "{}", done.last_error);
    let public: String = badge_assertions::table
        .select(badge_assertions::public_id)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(public, "Made", "found, not posted a second time");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_token_endpoint_holds_up_no_event() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    token_endpoint()
        .respond_with(token_response("tok-1", "ref-1").set_delay(Duration::from_secs(6)))
        .on(&badgr)
        .await;
    app.login_superuser().await;
    let service = app.create_user("lms", false, false);
    accolade::badging::grant_lms_permissions(&mut app.conn(), service).unwrap();
    let token = app.create_token(service).await;
    let backend = backend(&app, &badgr, Duration::from_secs(10));
    queue(&app, "alice");
    let (db, hanging) = (app.db.clone(), Arc::clone(&backend));
    let worker = tokio::task::spawn_blocking(move || {
        worker::drain(&db, hanging.as_ref(), &settings(), "test").unwrap()
    });
    while badgr
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker waits on Badgr's token endpoint: the LMS's events go on being accepted.
    for n in 0..20 {
        let sent = app
            .send_certificate(&token, &format!("cert-{n}"), COURSE, "Test Course")
            .await;
        assert_eq!(sent.status(), 202, "event {n}");
    }
    assert!(
        !worker.is_finished(),
        "every event was accepted while the token request hung"
    );
    worker.await.unwrap();
}

/// An assertion as Badgr lists it.
fn listed(entity: &str, email: &str, revoked: bool) -> serde_json::Value {
    json!({
        "entityType": "Assertion", "entityId": entity,
        "openBadgeId": format!("http://www.example.com/{entity}"),
        "image": format!("http://www.example.com/{entity}.png"),
        "recipient": {"identity": "sha256$abc", "hashed": true, "type": "email", "salt": "s",
                      "plaintextIdentity": email},
        "revoked": revoked
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_adopts_revokes_duplicates_and_reports_the_rest() {
    use accolade::badging::reconcile::{self, kind};
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token_and_class(&badgr).await;
    for (who, entity) in [("alice", "A1"), ("carol", "C1"), ("erin", "E1")] {
        assertions_on("POST")
            .and(body_string_contains(format!("{who}@")))
            .respond_with(created(entity))
            .once_on(&badgr)
            .await;
    }
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    for who in ["alice", "carol", "erin"] {
        queue(&app, who);
    }
    drain(&app, &backend).await;
    // Carol's badge is revoked in Accolade; the revocation never reached Badgr.
    let carol: i64 = badge_assertions::table
        .filter(badge_assertions::public_id.eq("C1"))
        .select(badge_assertions::id)
        .first(&mut *app.conn())
        .unwrap();
    accolade::badging::assertions::revoke(&mut app.conn(), carol, "Issued in error").unwrap();
    // Bob's award waits (Accolade asked for it; nothing recorded yet). Dave is known but
    // was never awarded this badge; the twins share an address.
    queue(&app, "bob");
    learners::upsert(&mut app.conn(), "dave", "dave@example.com").unwrap();
    learners::upsert(&mut app.conn(), "twin1", "twins@example.com").unwrap();
    learners::upsert(&mut app.conn(), "twin2", "Twins@Example.com").unwrap();

    Mock::given(method("GET"))
        .and(path("/v2/issuers/test-issuer/badgeclasses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": {"success": true},
            "result": [{"entityId": CLASS, "tags": []}, {"entityId": "Stray", "name": "Stray", "tags": []}]
        })))
        .on(&badgr)
        .await;
    assertions_on("GET")
        .and(query_param("include_revoked", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": {"success": true},
            "result": [
                listed("A1", "alice@example.com", false),
                listed("A2", "alice@example.com", false),
                listed("B1", "bob@example.com", false),
                listed("C1", "carol@example.com", false),
                listed("X1", "stranger@example.com", false),
                listed("R1", "bob@example.com", true),
                listed("D1", "dave@example.com", false),
                listed("T1", "twins@example.com", false),
                // Erin's recorded copy was revoked on Badgr by hand: the other live copy
                // may be her only badge, so it is reported, not revoked.
                listed("E1", "erin@example.com", true),
                listed("E2", "erin@example.com", false)
            ]
        })))
        .on(&badgr)
        .await;
    for (entity, reason) in [("A2", "Duplicate of"), ("C1", "Issued in error")] {
        Mock::given(method("DELETE"))
            .and(path(format!("/v2/assertions/{entity}")))
            .and(body_string_contains(reason))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"status": {"success": true}})),
            )
            .once_on(&badgr)
            .await;
    }

    let (db, on_badgr) = (app.db.clone(), Arc::clone(&backend));
    let (report, fixed) = tokio::task::spawn_blocking(move || {
        let report = reconcile::run(&db, on_badgr.as_ref(), false)
            .unwrap()
            .unwrap();
        let fixed = reconcile::run(&db, on_badgr.as_ref(), true)
            .unwrap()
            .unwrap();
        (report, fixed)
    })
    .await
    .unwrap();
    for run in [&report, &fixed] {
        assert_eq!(run.count(kind::DUPLICATE), 2, "{:?}", run.findings);
        assert_eq!(run.count(kind::UNEXPECTED_AWARD), 1);
        assert_eq!(run.count(kind::AMBIGUOUS_RECIPIENT), 1);
        assert_eq!(run.count(kind::REVOKED_ON_BACKEND), 1);
        assert_eq!(run.count(kind::ERROR), 0, "{:?}", run.findings);
        assert_eq!(run.count(kind::ADOPTED), 1);
        assert_eq!(run.count(kind::REVOCATION_MISSING), 1);
        assert_eq!(run.count(kind::UNKNOWN_RECIPIENT), 1);
        assert_eq!(run.count(kind::ORPHAN_CLASS), 1);
    }
    assert!(
        report.findings.iter().all(|f| f.action.is_empty()),
        "a report changes nothing"
    );
    assert!(
        report.summary.contains("(report only)"),
        "{}",
        report.summary
    );
    let adopted: Vec<String> = badge_assertions::table
        .inner_join(accolade::db::schema::learners::table)
        .filter(accolade::db::schema::learners::username.eq("bob"))
        .select(badge_assertions::public_id)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(
        adopted,
        ["B1"],
        "bob's live assertion, the revoked one left"
    );

    // The admin page shows the last run; it takes the right to see assertions.
    app.login_superuser().await;
    let page = app.get_html("/admin/badges/reconciliation/").await;
    assert!(page.contains(&format!("Run #{}", fixed.id)), "{page}");
    assert!(
        page.contains("revoked on the backend") && page.contains("orphan class"),
        "{page}"
    );
    let nobody = app.create_user("nobody", true, false);
    let client = common::new_client();
    app.login_with(&client, "nobody", common::PASSWORD).await;
    let refused = app.get_with(&client, "/admin/badges/reconciliation/").await;
    assert_eq!(refused.status(), 403, "user #{nobody}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_yes_from_badgr_that_cannot_be_read_is_looked_up_not_posted_again() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token_and_class(&badgr).await;
    assertions_on("POST")
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>Maintenance</html>"))
        .once_on(&badgr)
        .await;
    assertions_on("GET")
        .and(query_param("recipient", "alice@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(assertion("Made")))
        .once_on(&badgr)
        .await;
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    let id = queue(&app, "alice");
    drain(&app, &backend).await;
    let unread = job(&app, id);
    assert_eq!(unread.status, "pending", "{}", unread.last_error);
    // Retry now, once settled: looked up, found, not posted a second time.
    jobs::retry_now(&mut app.conn(), &[id]).unwrap();
    settle(&app);
    drain(&app, &backend).await;
    assert_eq!(job(&app, id).status, "done");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_survives_a_failed_first_attempt() {
    let app = spawn_app().await;
    let badgr = MockServer::start().await;
    mount_token_and_class(&badgr).await;
    assertions_on("POST")
        .respond_with(created("Alice"))
        .on(&badgr)
        .await;
    // The first revocation's answer is lost after Badgr revoked; the second finds it so.
    Mock::given(method("DELETE"))
        .and(path("/v2/assertions/Alice"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .up_to_n_times(1)
        .on(&badgr)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/assertions/Alice"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!(["Assertion is already revoked"])),
        )
        .on(&badgr)
        .await;
    let backend = backend(&app, &badgr, Duration::from_secs(5));
    queue(&app, "alice");
    drain(&app, &backend).await;
    let assertion = accolade::badging::assertions::by_public_id(&mut app.conn(), "Alice")
        .unwrap()
        .unwrap();
    let revocation =
        jobs::enqueue_revocation(&mut app.conn(), &assertion, COURSE, "Issued in error")
            .unwrap()
            .unwrap();
    drain(&app, &backend).await;
    assert_eq!(job(&app, revocation).status, "pending");
    retry(&app, &backend, revocation).await;
    let done = job(&app, revocation);
    assert_eq!(done.status, "done", "{}", done.last_error);
    let revoked = accolade::badging::assertions::by_public_id(&mut app.conn(), "Alice")
        .unwrap()
        .unwrap();
    assert!(revoked.revoked, "revoked in Accolade's record too");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_award_is_looked_up_where_it_was_sent() {
    let (app, _badgr, backend, id) = sent_without_answer().await;
    assert_eq!(job(&app, id).status, "pending");
    // Meanwhile the LMS reports a new address for alice.
    learners::upsert(&mut app.conn(), "alice", "alice.new@example.com").unwrap();
    settle(&app);
    retry(&app, &backend, id).await;
    let done = job(&app, id);
    assert_eq!(done.status, "done", "{}", done.last_error);
    assert!(done.last_error.is_empty());
}
