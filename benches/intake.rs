//! The LMS at full tilt: `cargo bench --bench intake`.
//!
//! 10,000 passing certificate events go over HTTP into a running Accolade whose Badgr is a
//! mock on 127.0.0.1 that answers each assertion after 50 ms. Two runs, each on a fresh
//! database:
//!
//! 1. events with the award workers stopped (intake alone), then 4 workers for the first
//!    1,000 awards, then 32 workers for the rest;
//! 2. 32 workers from the start, events and awards together: the time until all 10,000
//!    are issued.
//!
//! Each run ends by checking that nothing was lost or doubled: 10,000 jobs done, 10,000
//! assertions for 10,000 learners, and exactly 10,000 assertions posted to Badgr.
//! `ACCOLADE_BENCH_DATABASE_URL` runs it on PostgreSQL instead of SQLite; `BENCH_EVENTS`
//! changes the number of events; `BENCH_INTAKE_ONLY=1` stops after the intake.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accolade::badging::worker;
use accolade::db::Database;
use accolade::db::schema::{award_jobs, badge_assertions};
use diesel::prelude::*;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const COURSES: usize = 100;
const BADGR_DELAY: Duration = Duration::from_millis(50);
const SECRET_KEY: &str = "bench-secret-key-that-is-long-enough-0123456789";

/// Badgr's answer to an assertion, with a fresh id each time, after the delay.
struct AssertionAnswer(AtomicU64);

impl Respond for AssertionAnswer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let entity = format!("bench{n:017}");
        ResponseTemplate::new(201)
            .set_delay(BADGR_DELAY)
            .set_body_json(json!({"status": {"success": true}, "result": [{
                "entityType": "Assertion", "entityId": entity,
                "openBadgeId": format!("https://badgr.example/public/assertions/{entity}"),
                "image": format!("https://badgr.example/public/assertions/{entity}/image"),
                "issuer": "https://badgr.example/public/issuers/bench",
                "recipient": {"identity": "sha256$0", "hashed": true, "type": "email"},
                "revoked": false
            }]}))
    }
}

/// Badgr's answer to a new badge class, with a fresh id each time.
struct ClassAnswer(AtomicU64);

impl Respond for ClassAnswer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        ResponseTemplate::new(201).set_body_json(
            json!({"status": {"success": true}, "result": [{"entityId": format!("class{n:017}")}]}),
        )
    }
}

async fn mock_badgr() -> MockServer {
    let badgr = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/o/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "bench-token", "token_type": "Bearer", "expires_in": 86400,
            "scope": "rw:issuer", "refresh_token": "bench-refresh"
        })))
        .mount(&badgr)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/issuers/bench/badgeclasses"))
        .respond_with(ClassAnswer(AtomicU64::new(0)))
        .mount(&badgr)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v2/badgeclasses/[^/]+/assertions$"))
        .respond_with(AssertionAnswer(AtomicU64::new(0)))
        .mount(&badgr)
        .await;
    badgr
}

struct Service {
    address: String,
    token: String,
    prepared_db: Database,
    backend: Arc<dyn accolade::badging::backend::BadgeBackend>,
    settings: worker::WorkerSettings,
    _dir: tempfile::TempDir,
}

/// A new, empty schema on the PostgreSQL server, as a URL that uses it.
fn fresh_schema(base: &str) -> String {
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::establish(base).expect("connect to PostgreSQL");
    diesel::sql_query(format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .expect("create the bench schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-csearch_path%3D{schema}")
}

async fn start_service(badgr: &MockServer) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match std::env::var("ACCOLADE_BENCH_DATABASE_URL") {
        Ok(base) if !base.is_empty() => fresh_schema(&base),
        _ => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let values: BTreeMap<String, String> = [
        ("DATABASE_URL", database_url.as_str()),
        ("ACCOLADE_BIND", "127.0.0.1:0"),
        ("ACCOLADE_SECRET_KEY", SECRET_KEY),
        ("ACCOLADE_HTTP_WORKERS", "2"),
        ("ACCOLADE_WORKERS", "0"),
        ("ACCOLADE_DB_POOL_SIZE", "40"),
        ("ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", "true"),
        ("ACCOLADE_LOG", "warn"),
        ("BADGR_BASE_URL", &badgr.uri()),
        ("BADGR_ISSUER_SLUG", "bench"),
        ("BADGR_USERNAME", "bench@example.com"),
        ("BADGR_PASSWORD", "bench-password"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = accolade::config::Config::from_values(&values).expect("bench configuration");
    let (prepared, backend) = tokio::task::spawn_blocking(move || {
        let prepared = accolade::prepare(config).expect("prepare");
        let backend = accolade::badge_backend(&prepared).expect("backend");
        (prepared, backend)
    })
    .await
    .unwrap();
    let settings = accolade::worker_settings(&prepared.config);
    let db = prepared.db.clone();
    let token = {
        let mut conn = db.get().unwrap();
        let hash = accolade::auth::password::hash("bench-password-never-used");
        let user = accolade::auth::users::create(
            &mut conn,
            &accolade::auth::users::NewUser::new("lms", "", &hash),
        )
        .unwrap();
        accolade::badging::grant_lms_permissions(&mut conn, user).unwrap();
        accolade::auth::service_tokens::create(&mut conn, "bench", user)
            .unwrap()
            .1
    };
    let app = accolade::Application::build(prepared).expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Service {
        address,
        token,
        prepared_db: db,
        backend,
        settings,
        _dir: dir,
    }
}

/// Concurrent HTTP clients sending events (`BENCH_CLIENTS`, default 8): an LMS posts from a
/// few workers, and more clients only queue for SQLite's single writer.
fn clients() -> usize {
    std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// Sends `events` certificate events from `clients()` concurrent clients; returns the time.
async fn send_events(service: &Service, events: usize) -> Duration {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..clients())
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            let url = format!("{}/api/v1/events/certificate", service.address);
            let token = service.token.clone();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= events {
                        break;
                    }
                    let event = json!({
                        "event_id": format!("cert-{n}"), "username": format!("learner{n}"),
                        "email": format!("learner{n}@example.com"),
                        "course_id": format!("course-v1:Bench+C{}+2026", n % COURSES),
                        "mode": "honor", "status": "downloadable",
                        "verify_uuid": format!("{n:032x}"),
                    });
                    let answer = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&event)
                        .send()
                        .await
                        .expect("the event is sent");
                    assert_eq!(answer.status(), 202, "event {n}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    started.elapsed()
}

fn count_done(db: &Database) -> i64 {
    award_jobs::table
        .filter(award_jobs::status.eq("done"))
        .count()
        .get_result(&mut *db.get().unwrap())
        .unwrap()
}

/// Runs `workers` award workers until `target` jobs are done; returns the time and the
/// number done in it.
fn award_until(service: &Service, workers: usize, target: i64) -> (Duration, i64) {
    let before = count_done(&service.prepared_db);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads = worker::spawn(
        workers,
        service.prepared_db.clone(),
        service.backend.clone(),
        service.settings.clone(),
        stop.clone(),
    );
    let mut done = before;
    while done < target {
        std::thread::sleep(Duration::from_millis(20));
        done = count_done(&service.prepared_db);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    (elapsed, done - before)
}

/// Nothing lost, nothing doubled: every job done, one assertion per learner, and Badgr
/// asked for exactly one assertion per event.
async fn check_exactly_once(service: &Service, badgr: &MockServer, events: usize) {
    let mut conn = service.prepared_db.get().unwrap();
    let jobs: i64 = award_jobs::table.count().get_result(&mut *conn).unwrap();
    let done = count_done(&service.prepared_db);
    let assertions: i64 = badge_assertions::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let learners: i64 = badge_assertions::table
        .select(diesel::dsl::count(badge_assertions::learner_id).aggregate_distinct())
        .first(&mut *conn)
        .unwrap();
    let posted = badgr
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/assertions"))
        .count();
    let events = events as i64;
    assert_eq!(
        (jobs, done, assertions, learners, posted as i64),
        (events, events, events, events, events),
        "jobs, done, assertions, learners with one, assertions posted to Badgr"
    );
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn per_second(count: i64, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing to run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let backend = if std::env::var("ACCOLADE_BENCH_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let ideal_32 = 32.0 / BADGR_DELAY.as_secs_f64();

    // Run 1: intake alone, then 4 workers, then 32.
    let badgr = mock_badgr().await;
    let service = start_service(&badgr).await;
    let intake = send_events(&service, events).await;
    if std::env::var("BENCH_INTAKE_ONLY").is_ok() {
        println!(
            "intake alone: {:.0} events/s ({events} events, {backend})",
            per_second(events as i64, intake)
        );
        std::thread::spawn(move || drop(service)).join().unwrap();
        return;
    }
    let first = (events as i64 / 10).max(1);
    let (service, four, thirty_two) = tokio::task::spawn_blocking(move || {
        let four = award_until(&service, 4, first);
        let thirty_two = award_until(&service, 32, events as i64);
        (service, four, thirty_two)
    })
    .await
    .unwrap();
    check_exactly_once(&service, &badgr, events).await;

    // Run 2: 32 workers while the events arrive.
    let badgr2 = mock_badgr().await;
    let service2 = start_service(&badgr2).await;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads = worker::spawn(
        32,
        service2.prepared_db.clone(),
        service2.backend.clone(),
        service2.settings.clone(),
        stop.clone(),
    );
    let intake_busy = send_events(&service2, events).await;
    let db = service2.prepared_db.clone();
    tokio::task::spawn_blocking(move || {
        while count_done(&db) < events as i64 {
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    let all_issued = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            thread.join().unwrap();
        }
    })
    .await
    .unwrap();
    check_exactly_once(&service2, &badgr2, events).await;

    println!(
        "intake benchmark: {events} certificate events, {backend}, Badgr mock answering after 50 ms"
    );
    println!(
        "  intake alone:            {:>8.0} events/s ({:.2} s, {} clients)",
        per_second(events as i64, intake),
        intake.as_secs_f64(),
        clients()
    );
    println!(
        "  awards with 4 workers:   {:>8.0} awards/s (first {} awards; ideal {:.0})",
        per_second(four.1, four.0),
        four.1,
        4.0 / BADGR_DELAY.as_secs_f64()
    );
    let rate_32 = per_second(thirty_two.1, thirty_two.0);
    println!(
        "  awards with 32 workers:  {:>8.0} awards/s ({} awards; ideal {ideal_32:.0}, {:.0}%)",
        rate_32,
        thirty_two.1,
        100.0 * rate_32 / ideal_32
    );
    println!(
        "  32 workers during intake: all {events} issued {:.2} s after the first event (events took {:.2} s, {:.0}/s)",
        all_issued.as_secs_f64(),
        intake_busy.as_secs_f64(),
        per_second(events as i64, intake_busy)
    );
    println!(
        "  no loss, no duplicates: {events} jobs done, {events} assertions for {events} learners, {events} posted to Badgr (both runs)"
    );
    println!(
        "  peak memory of the process (server, workers, mock, clients): {:.0} MiB",
        peak_rss_mib()
    );
    // The blocking Badgr clients own runtimes that must not be dropped on this one.
    std::thread::spawn(move || drop((service, service2)))
        .join()
        .unwrap();
}
