//! Failing fast and saying so: `/readyz` and its checks (database read and write, pending
//! migrations, the badge backend), a disk that takes no more writes, and a PostgreSQL
//! outage answered with 503 at once (JSON for the API, a page for the admin) while
//! `/healthz` stays up, then service resuming by itself. Answer times are printed
//! (`cargo test --test health -- --nocapture`), never asserted.

mod common;

use std::time::{Duration, Instant};

use accolade::db::{DbConnection, settings};
use common::link::FlakyLink;
use common::{TestApp, TestDatabase, spawn_app, spawn_app_on, spawn_app_with};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHECKS: [&str; 4] = [
    "database_read",
    "database_write",
    "migrations",
    "badge_backend",
];

/// `/readyz`'s status and body.
async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app.get("/readyz").await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    // Public: fixed words only, never a path or a URL (they go to the log).
    assert!(!text.contains('/'), "nothing private in {text}");
    (status, serde_json::from_str(&text).unwrap())
}

fn check(body: &Value, name: &str) -> Value {
    body["checks"][name]["status"].clone()
}

/// How long a GET of `path` takes, and its status.
async fn timed(app: &TestApp, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = app.get(path).await.status().as_u16();
    (status, started.elapsed())
}

#[tokio::test]
async fn readyz_passes_every_check_and_its_write_is_committed() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    for path in ["/healthz", "/readyz"] {
        let (status, took) = timed(&app, path).await;
        println!("{path}: {status} in {took:?}");
    }
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["badge_backend"], "local");
    for name in CHECKS {
        assert_eq!(check(&body, name), "ok", "{name}: {body}");
    }
    // A real write, committed: another connection reads it, and the next check rewrites it.
    let first = settings::get(&mut app.conn(), "readiness_probe").unwrap();
    assert!(first.is_some(), "the probe's row is written");
    readyz(&app).await;
    let second = settings::get(&mut app.conn(), "readiness_probe").unwrap();
    assert_ne!(first, second, "each check writes anew");
}

/// Turns every connection of the application's pool read-only (the pool is shared with
/// the test): reads still work, every write is refused by the database itself.
fn refuse_writes(app: &TestApp) {
    let mut held = Vec::new();
    while let Ok(conn) = app.db.get_within(Duration::from_millis(300)) {
        held.push(conn);
    }
    assert!(!held.is_empty());
    for conn in &mut held {
        match &mut **conn {
            DbConnection::Sqlite(c) => c.batch_execute("PRAGMA query_only = ON"),
            DbConnection::Postgresql(c) => {
                c.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            }
        }
        .unwrap();
    }
}

#[tokio::test]
async fn readyz_fails_when_the_database_refuses_writes() {
    let app = spawn_app().await;
    refuse_writes(&app);
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(check(&body, "database_write"), "failed", "{body}");
    assert_eq!(check(&body, "database_read"), "ok", "{body}");
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "liveness is not readiness");
}

#[tokio::test]
async fn readyz_fails_while_a_migration_is_pending() {
    let app = spawn_app().await;
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut *app.conn())
    .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(check(&body, "migrations"), "pending");
    assert_eq!(body["checks"]["migrations"]["pending"], 1);
    assert_eq!(check(&body, "database_write"), "ok");
}

/// The application issuing through a Badgr (wiremock) that answers `issuer` with `status`.
async fn app_with_badgr(badgr: &MockServer) -> TestApp {
    spawn_app_with(&[
        ("BADGR_BASE_URL", &badgr.uri()),
        ("BADGR_ISSUER_SLUG", "test-issuer"),
        ("BADGR_USERNAME", "example@example.com"),
        ("BADGR_PASSWORD", "password"),
    ])
    .await
}

async fn mock_badgr(issuer_status: u16, expected_issuer_requests: u64) -> MockServer {
    let badgr = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/o/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok", "token_type": "Bearer", "expires_in": 86400,
            "scope": "rw:issuer", "refresh_token": "ref"
        })))
        .mount(&badgr)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/issuers/test-issuer"))
        .respond_with(ResponseTemplate::new(issuer_status).set_body_json(json!({})))
        .expect(expected_issuer_requests)
        .mount(&badgr)
        .await;
    badgr
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_asks_badgr_once_in_a_while_and_fails_when_badgr_does() {
    // However often /readyz is asked, Badgr is asked once (the answer is reused).
    let badgr = mock_badgr(200, 1).await;
    let app = app_with_badgr(&badgr).await;
    for _ in 0..5 {
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["badge_backend"], "badgr-v2");
        assert_eq!(check(&body, "badge_backend"), "ok");
    }
    let failing = mock_badgr(500, 1).await;
    let app = app_with_badgr(&failing).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(check(&body, "badge_backend"), "failed");
    assert_eq!(check(&body, "database_write"), "ok");
}

/// SQLite on a disk that fills up: the real binary, serving; then the kernel lets none of
/// its files grow any more (`RLIMIT_FSIZE` lowered to the write-ahead log's size), as a full
/// disk does. (PostgreSQL's disk is the server's, beyond a test's reach; its refused writes
/// are above.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn readyz_fails_when_the_disk_is_full() {
    use std::os::unix::process::CommandExt;

    use common::binary::{Process, free_port};
    if common::on_postgres() {
        return;
    }
    let database = TestDatabase::new();
    let port = free_port();
    let command = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_accolade"));
        command
            .env_clear()
            .env("DATABASE_URL", &database.url)
            .env("ACCOLADE_BIND", format!("127.0.0.1:{port}"))
            .env("ACCOLADE_SECRET_KEY", common::SECRET_KEY)
            .env("ACCOLADE_WORKERS", "0")
            .env("ACCOLADE_SUPERUSER_PASSWORD", common::PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let created = command()
        .args(["createsuperuser", "--username", "root", "--email"])
        .args(["root@example.org", "--no-input"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let mut serve = command();
    // SAFETY: between fork and exec, one async-signal-safe call.
    unsafe {
        serve.pre_exec(|| {
            // A write past the limit then fails (EFBIG) instead of ending the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        })
    };
    let server = Process(serve.spawn().expect("start accolade"));
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let client = reqwest::Client::new();
    let mut first = None;
    for _ in 0..400 {
        if let Ok(response) = client.get(&readyz).send().await {
            first = Some(response.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(first, Some(200), "ready while the disk has room");

    let wal = database.url.trim_start_matches("sqlite://").to_string() + "-wal";
    let full = std::fs::metadata(&wal).expect("the write-ahead log").len();
    forbid_growth(server.0.id(), full);
    // The next write must grow the log (unless it had been rewound; then a few more).
    let mut ready = Vec::new();
    let mut body = Value::Null;
    while ready.len() < 400 && ready.last() != Some(&503) {
        let response = client.get(&readyz).send().await.unwrap();
        ready.push(response.status().as_u16());
        body = response.json().await.unwrap();
    }
    println!("/readyz once the disk is full: {ready:?}");
    assert_eq!(ready.last(), Some(&503), "not ready: {body}");
    assert_eq!(
        body["checks"]["database_write"]["status"], "failed",
        "{body}"
    );
    assert_eq!(body["checks"]["database_read"]["status"], "ok", "{body}");
    let health = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive all the same");
}

/// Lets no file of process `pid` grow past `bytes` from now on.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn forbid_growth(pid: u32, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: a plain system call on values owned here.
    let done = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A request during the outage, timed: its status, `Retry-After`, content type and body.
async fn during_outage(request: reqwest::RequestBuilder, what: &str) -> (u16, String, String) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    println!("{what}: {} in {:?}", response.status(), started.elapsed());
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    assert!(status != 503 || retry_after == "5", "{what}: Retry-After");
    (status, content_type, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgresql_outage_is_answered_at_once_and_service_resumes() {
    if !common::on_postgres() {
        return;
    }
    let database = TestDatabase::new();
    let link = FlakyLink::to_server_of(&database.url);
    let url = link.url_through(&database.url);
    let app = spawn_app_on(database, &url, &[]).await;
    let lms = app.create_user("lms", false, false);
    accolade::badging::grant_lms_permissions(&mut app.conn(), lms).unwrap();
    let (_, token) = accolade::auth::service_tokens::create(&mut app.conn(), "LMS", lms).unwrap();
    app.login_superuser().await;
    let api = || {
        app.client
            .get(app.url("/api/badges/v1/assertions/user/alice/"))
            .bearer_auth(&token)
    };
    assert_eq!(api().send().await.unwrap().status(), 200);
    assert_eq!(app.get("/admin/").await.status(), 200);

    link.cut();
    let (status, content_type, body) = during_outage(api(), "API").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(content_type, "application/json");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert!(
        // Under the key the learners' API answers every error with, as upstream's.
        error["detail"].as_str().unwrap().contains("try again"),
        "{body}"
    );

    let admin = app.client.get(app.url("/admin/"));
    let (status, content_type, body) = during_outage(admin, "admin index").await;
    assert_eq!(status, 503);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("Service Unavailable (503)"), "{body}");
    assert!(
        body.contains("Accolade administration"),
        "the site's layout"
    );

    let as_json = app
        .client
        .get(app.url("/admin/"))
        .header("accept", "application/json");
    let (status, content_type, _) = during_outage(as_json, "admin index, Accept: JSON").await;
    assert_eq!((status, content_type.as_str()), (503, "application/json"));

    let health = app.client.get(app.url("/healthz"));
    let (status, _, body) = during_outage(health, "/healthz").await;
    assert_eq!(status, 200, "alive during the outage");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "unreachable");

    let ready = app.client.get(app.url("/readyz"));
    let (status, _, body) = during_outage(ready, "/readyz").await;
    assert_eq!(status, 503);
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(check(&ready, "database_read"), "unreachable", "{ready}");

    link.restore();
    let back = Instant::now();
    let mut status = 0;
    while back.elapsed() < Duration::from_secs(30) {
        status = app.get("/admin/").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("service resumed {:?} after the database", back.elapsed());
    assert_eq!(status, 200, "service resumes by itself");
    assert_eq!(api().send().await.unwrap().status(), 200);
    assert_eq!(readyz(&app).await.0, 200);
}
