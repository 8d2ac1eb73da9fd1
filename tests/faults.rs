//! Exactly once, on the backend too: Accolade must never leave a learner with two live
//! Badgr assertions of one badge class, nor make badge classes on Badgr that none of its
//! own points to — whatever Badgr does, and however often Accolade's processes are killed.
//!
//! The real binary (one instance on SQLite, two on one PostgreSQL database) issues through
//! a Badgr of the test's own that injects faults (`common/fault_badgr.rs`) while the LMS's
//! certificate events stream in, an operator presses "Retry now" and "Issue badge now", two
//! courses that turn badges on late are backfilled (one from its admin page, one from the
//! command line), Badgr forgets its tokens now and then, and the instances are SIGKILLed
//! and restarted every few seconds. Then the faults stop, the operator retries whatever
//! waits or failed (as after an outage), the jobs are left to finish, `accolade reconcile
//! --fix` runs where the build has it, and what Badgr holds is counted. Pass or fail
//! depends only on those final counts, after bounded waits.
//!
//! `cargo test --test faults -- --nocapture` prints the counts. `FAULTS_SEED` changes the
//! seed of the faults, the kills and the operator's choices (how requests interleave still
//! varies from run to run). Every process's log is kept in the target directory, under
//! `tmp/faults-sqlite/` or `tmp/faults-postgresql/`.

mod common;
#[path = "common/fault_badgr.rs"]
mod fault_badgr;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accolade::db::schema::{award_jobs, badge_assertions, badge_classes, certificates, courses};
use accolade::db::{Database, DbConnection};
use common::binary::{self, Process};
use diesel::prelude::*;
use fault_badgr::{Fault, FaultBadgr, Route};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// `BADGR_TIMEOUT`: short, so that hangs cost little and late commits land after a retry.
const BADGR_TIMEOUT: Duration = Duration::from_secs(2);
/// `ACCOLADE_AWARD_LEASE_SECONDS`: a killed worker's job is taken up again this soon.
const LEASE_SECONDS: u32 = 10;
/// `ACCOLADE_AWARD_MAX_ATTEMPTS`: with backoff of about 2, 4, 8 and 16 s, some jobs use up
/// their attempts during the storm and fail, for the operator to retry.
const MAX_ATTEMPTS: u32 = 5;
/// Badgr's tokens: 5 s past Accolade's 300 s refresh margin, so it refreshes them every few
/// seconds and the token endpoint's faults are met.
const TOKEN_LIFETIME: u64 = 305;
const LEARNERS: usize = 40;
/// How long events, operator actions, faults and kills go on.
const STORM: Duration = Duration::from_secs(45);
/// The longest wait for the jobs to finish once the faults stop.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);
const RECONCILE_LIMIT: Duration = Duration::from_secs(120);
const DEFAULT_SEED: u64 = 20_261_201;

const MAIN: &str = "course-v1:Faults+Main+2026";
const SECOND: &str = "course-v1:Faults+Second+2026";
/// Badges off until its events are in, then on and backfilled from its admin page.
const LATE: &str = "course-v1:Faults+Late+2026";
/// Badges off until past half the storm, then on and backfilled from the command line.
const LATER: &str = "course-v1:Faults+Later+2026";
/// The courses whose awards are skipped (badges off) until a backfill.
const LATE_COURSES: [&str; 2] = [LATE, LATER];

const CERTIFICATES_ADMIN: &str = "/admin/certificates/generatedcertificate/";
const JOBS_ADMIN: &str = "/admin/badges/awardjob/";
const COURSES_ADMIN: &str = "/admin/courses/course/";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn badgr_faults_and_killed_instances_never_award_twice_nor_orphan_a_class() {
    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let plan = Plan::new(&mut StdRng::seed_from_u64(seed));
    let run = Run::start(seed).await;
    println!(
        "faults on {}, seed {seed}: {} instance(s), logs in {}",
        backend_name(),
        run.cluster.slots.len(),
        run.cluster.logs.display()
    );
    storm(&run, &plan).await;
    let calm = calm_down(&run).await;
    let tally = Tally::take(&run, &plan).await;
    report(&run, &calm, &tally);
    tally.assert_exactly_once(&calm);
}

fn backend_name() -> &'static str {
    if common::on_postgres() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// A certificate the LMS reports twice, `generating` then `downloadable`: two events, two
/// award jobs for one badge.
struct Certificate {
    id: usize,
    username: String,
    email: String,
    course: &'static str,
    mode: &'static str,
}

impl Certificate {
    fn event(&self, status: &str) -> Value {
        json!({
            "event_id": format!("cert-{}-{status}", self.id), "username": self.username,
            "email": self.email, "course_id": self.course, "mode": self.mode, "status": status,
            "verify_uuid": common::verify_uuid(&format!("cert-{}", self.id)),
            "course_name": self.course.split('+').nth(1).unwrap_or_default(),
        })
    }
}

/// What the LMS reports, and in which order.
struct Plan {
    certificates: Vec<Certificate>,
    /// (index in `certificates`, status), in the order sent: the late courses' first.
    events: Vec<(usize, &'static str)>,
    /// How many of `events` are the late courses'.
    late_events: usize,
}

impl Plan {
    /// Every learner passes the main course (verified or honor); every third the second
    /// course too; every eighth changes mode and gets the main course's certificate again in
    /// the other mode; the first twelve pass the late course, the next twelve the later one.
    fn new(rng: &mut StdRng) -> Plan {
        let mut certificates = Vec::new();
        for n in 0..LEARNERS {
            let (mode, other) = if n % 2 == 0 {
                ("verified", "honor")
            } else {
                ("honor", "verified")
            };
            let mut passed = vec![(MAIN, mode)];
            if n % 3 == 0 {
                passed.push((SECOND, "professional"));
            }
            if n % 8 == 5 {
                passed.push((MAIN, other));
            }
            match n / 12 {
                0 => passed.push((LATE, "honor")),
                1 => passed.push((LATER, "honor")),
                _ => {}
            }
            for (course, mode) in passed {
                certificates.push(Certificate {
                    id: certificates.len() + 1,
                    username: format!("learner{n:02}"),
                    email: format!("learner{n:02}@example.org"),
                    course,
                    mode,
                });
            }
        }
        let (late, rest): (Vec<usize>, Vec<usize>) =
            (0..certificates.len()).partition(|&i| LATE_COURSES.contains(&certificates[i].course));
        let mut events = interleave(&late, rng);
        let late_events = events.len();
        events.extend(interleave(&rest, rng));
        Plan {
            certificates,
            events,
            late_events,
        }
    }

    /// The badges Badgr must hold once at the end: (e-mail, course, mode) of every
    /// certificate.
    fn expected(&self) -> BTreeSet<(&str, &'static str, &'static str)> {
        self.certificates
            .iter()
            .map(|c| (c.email.as_str(), c.course, c.mode))
            .collect()
    }
}

/// Both events of each certificate, shuffled, each certificate's `generating` first.
fn interleave(certificates: &[usize], rng: &mut StdRng) -> Vec<(usize, &'static str)> {
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = certificates.iter().flat_map(|&c| [c, c]).collect();
    order.shuffle(rng);
    let mut seen = HashSet::new();
    order
        .into_iter()
        .map(|c| {
            let status = if seen.insert(c) {
                "generating"
            } else {
                "downloadable"
            };
            (c, status)
        })
        .collect()
}

/// The serving instances (one on SQLite, two on PostgreSQL), each restartable on a new port.
struct Cluster {
    database_url: String,
    /// The suite's settings, on top of `binary::accolade`'s.
    settings: Vec<(&'static str, String)>,
    logs: PathBuf,
    slots: Vec<Mutex<Option<Instance>>>,
    turn: AtomicUsize,
    kills: AtomicUsize,
    /// Instances found dead that nobody killed.
    crashes: AtomicUsize,
}

struct Instance {
    process: Process,
    address: String,
}

impl Cluster {
    fn new(database_url: &str, badgr_url: &str) -> Cluster {
        let logs =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("faults-{}", backend_name()));
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs).unwrap();
        let instances = if common::on_postgres() { 2 } else { 1 };
        Cluster {
            database_url: database_url.to_string(),
            settings: settings(badgr_url),
            logs,
            slots: (0..instances).map(|_| Mutex::new(None)).collect(),
            turn: AtomicUsize::new(0),
            kills: AtomicUsize::new(0),
            crashes: AtomicUsize::new(0),
        }
    }

    /// The binary with the suite's settings, its output appended to `{log}.log`.
    fn command(&self, port: u16, log: &str) -> Command {
        let mut command = binary::accolade(&self.database_url, port);
        command.envs(self.settings.iter().map(|(k, v)| (k, v)));
        let path = self.logs.join(format!("{log}.log"));
        command
            .stdout(binary::log_to(&path))
            .stderr(binary::log_to(&path));
        command
    }

    async fn start(&self, slot: usize) {
        let port = binary::free_port();
        let mut command = self.command(port, &format!("instance-{slot}"));
        command.arg("serve");
        let process = binary::serve(&mut command, port)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = format!("http://127.0.0.1:{port}");
        *self.slots[slot].lock().unwrap() = Some(Instance { process, address });
    }

    /// SIGKILL: nothing is cleaned up, claimed jobs wait for their lease to run out.
    fn kill(&self, slot: usize) {
        let Some(mut instance) = self.slots[slot].lock().unwrap().take() else {
            return;
        };
        if !instance.process.running() {
            self.crashes.fetch_add(1, Ordering::SeqCst);
        }
        drop(instance);
        self.kills.fetch_add(1, Ordering::SeqCst);
    }

    /// A serving instance's address, taking turns; `None` while none is up.
    fn address(&self) -> Option<String> {
        let first = self.turn.fetch_add(1, Ordering::Relaxed);
        (0..self.slots.len()).find_map(|i| {
            let slot = self.slots[(first + i) % self.slots.len()].lock().unwrap();
            slot.as_ref().map(|instance| instance.address.clone())
        })
    }

    /// Starts every instance that is not serving (none should have died by itself).
    async fn ensure_serving(&self) {
        for slot in 0..self.slots.len() {
            let down = {
                let mut guard = self.slots[slot].lock().unwrap();
                match guard.as_mut().map(|instance| instance.process.running()) {
                    Some(true) => false,
                    Some(false) => {
                        self.crashes.fetch_add(1, Ordering::SeqCst);
                        guard.take();
                        true
                    }
                    None => true,
                }
            };
            if down {
                self.start(slot).await;
            }
        }
    }

    /// `accolade backfill --course K` with workers of its own, left running.
    fn backfill_from_command_line(&self, course: &str) -> Process {
        let mut command = self.command(0, "backfill-cli");
        command
            .args(["backfill", "--course", course])
            .env("ACCOLADE_WORKERS", "2");
        Process(command.spawn().expect("start accolade backfill"))
    }
}

/// Award workers on, Badgr (the fault Badgr) as the backend, short timeouts and lease.
fn settings(badgr_url: &str) -> Vec<(&'static str, String)> {
    [
        ("ACCOLADE_WORKERS", "4"),
        ("ACCOLADE_DB_POOL_SIZE", "8"),
        ("ENABLE_OPENBADGES", "true"),
        ("ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", "true"),
        ("ACCOLADE_LMS_URL", "https://lms.example"),
        ("BADGR_BASE_URL", badgr_url),
        ("BADGR_ISSUER_SLUG", fault_badgr::ISSUER),
        ("BADGR_USERNAME", fault_badgr::USERNAME),
        ("BADGR_PASSWORD", fault_badgr::PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .chain([
        ("BADGR_TIMEOUT", BADGR_TIMEOUT.as_secs().to_string()),
        ("ACCOLADE_AWARD_LEASE_SECONDS", LEASE_SECONDS.to_string()),
        ("ACCOLADE_AWARD_MAX_ATTEMPTS", MAX_ATTEMPTS.to_string()),
    ])
    .collect()
}

/// The superuser's admin session, used on whichever instance is up (sessions live in the
/// database).
struct Operator {
    client: reqwest::Client,
    /// Posts that got no answer, or not the expected one, and were sent again.
    failed_posts: AtomicUsize,
}

impl Operator {
    async fn log_in(cluster: &Cluster) -> Operator {
        let operator = Operator {
            client: common::new_client(),
            failed_posts: AtomicUsize::new(0),
        };
        let credentials = [("username", "root"), ("password", common::PASSWORD)];
        assert!(
            operator.post(cluster, "/admin/login/", &credentials).await,
            "the superuser logs in"
        );
        operator
    }

    /// Posts an admin form until an instance answers with the redirect of a form that was
    /// carried out (an instance may be killed under it); false if none did within 30 s.
    async fn post(&self, cluster: &Cluster, path: &str, fields: &[(&str, &str)]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(base) = cluster.address() {
                match common::try_post_form(&self.client, &base, path, fields).await {
                    Ok(r) if r.status() == 302 && !common::location(&r).contains("/login/") => {
                        return true;
                    }
                    _ => self.failed_posts.fetch_add(1, Ordering::SeqCst),
                };
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    }

    /// A changelist's action on the selected objects.
    async fn act(&self, cluster: &Cluster, list: &str, action: &str, ids: &[i64]) -> bool {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        let mut fields = vec![("action", action)];
        fields.extend(ids.iter().map(|id| ("_selected_action", id.as_str())));
        self.post(cluster, list, &fields).await
    }
}

/// Everything a run holds; dropped in order (the instances before the database).
struct Run {
    seed: u64,
    badgr: FaultBadgr,
    cluster: Cluster,
    operator: Operator,
    token: String,
    db: Database,
    counts: Counts,
    _database: common::TestDatabase,
}

/// What the storm did.
#[derive(Default)]
struct Counts {
    events: AtomicUsize,
    event_retries: AtomicUsize,
    issue_now: AtomicUsize,
    certificates_issued: AtomicUsize,
    retry_now: AtomicUsize,
    jobs_retried: AtomicUsize,
}

fn add(counter: &AtomicUsize, n: usize) {
    counter.fetch_add(n, Ordering::SeqCst);
}

fn read(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

impl Run {
    /// The fault Badgr, a fresh database with the superuser `root`, the LMS's service
    /// token, the late courses with badges off, the instances serving, the operator logged in.
    async fn start(seed: u64) -> Run {
        let badgr = FaultBadgr::start(seed, BADGR_TIMEOUT).await;
        badgr.state().token_lifetime = TOKEN_LIFETIME;
        let database = common::TestDatabase::new();
        binary::create_superuser(&database.url, "root");
        let db = Database::connect(&database.url, 2).expect("the test database");
        let cluster = Cluster::new(&database.url, &badgr.url);
        for slot in 0..cluster.slots.len() {
            cluster.start(slot).await;
        }
        // After the start, which registers the permissions the service user is given.
        let token = query(&db, seed_site).await;
        let operator = Operator::log_in(&cluster).await;
        Run {
            seed,
            badgr,
            cluster,
            operator,
            token,
            db,
            counts: Counts::default(),
            _database: database,
        }
    }

    /// A generator of its own for each part of the storm, all from the run's seed.
    fn rng(&self, part: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed.wrapping_mul(31).wrapping_add(part))
    }
}

/// The LMS's service user and token; the late courses, badges off. Returns the token.
fn seed_site(conn: &mut DbConnection) -> QueryResult<String> {
    use accolade::auth::{service_tokens, users};
    let hash = common::shared_hash();
    let lms = users::create(conn, &users::NewUser::new("lms", "", &hash))?;
    accolade::badging::grant_lms_permissions(conn, lms)?;
    let (_, token) = service_tokens::create(conn, "LMS", lms)?;
    for course in LATE_COURSES {
        let key = accolade::courses::CourseKey::parse(course).unwrap();
        let late = accolade::courses::create(conn, &key, "Late")?;
        accolade::courses::set_issue_badges(conn, late.id, false)?;
    }
    Ok(token)
}

/// Runs a query on a blocking thread (SQLite may wait for its write lock).
async fn query<T: Send + 'static>(
    db: &Database,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
) -> T {
    let db = db.clone();
    tokio::task::spawn_blocking(move || work(&mut db.get().expect("a connection")))
        .await
        .unwrap()
        .expect("a query of the test")
}

/// Faults at modest odds on every route: class creation (rare: once per course and mode)
/// gets more, so that a run meets each kind there too.
fn forecast(badgr: &FaultBadgr) {
    let mut faults = badgr.faults();
    for (route, scale) in [(Route::CreateAssertion, 1.0), (Route::CreateClass, 2.0)] {
        for (fault, p) in [
            (Fault::ErrorBefore, 0.03),
            (Fault::ErrorAfter, 0.04),
            (Fault::HangBefore, 0.03),
            (Fault::DropAfter, 0.04),
            (Fault::SilentAfter, 0.03),
            (Fault::LateCommit, 0.05),
            (Fault::TooManyRequests, 0.03),
        ] {
            faults.set(route, fault, p * scale);
        }
    }
    let reads = [
        Route::ListAssertions,
        Route::IssuerAssertions,
        Route::GetAssertion,
        Route::ListClasses,
        Route::GetClass,
    ];
    for route in reads {
        faults.set(route, Fault::ErrorBefore, 0.04);
        faults.set(route, Fault::HangBefore, 0.03);
        faults.set(route, Fault::TooManyRequests, 0.03);
    }
    faults.set(Route::Token, Fault::HangBefore, 0.2);
}

/// Events, operator actions, faults and kills, all at once for [`STORM`].
async fn storm(run: &Run, plan: &Plan) {
    forecast(&run.badgr);
    let late_sent = AtomicBool::new(false);
    let until = Instant::now() + STORM;
    let ((), (), backfill) = tokio::join!(
        send_events(run, plan, &late_sent),
        kill_repeatedly(run, until),
        operate(run, &late_sent, until),
    );
    if let Some(mut backfill) = backfill
        && backfill.running()
    {
        // Its workers die mid-award like the instances'.
        drop(backfill);
        run.cluster.kills.fetch_add(1, Ordering::SeqCst);
    }
}

/// The LMS: every certificate's two events, paced over most of the storm, each posted
/// until an instance accepts it (a repeated event id changes nothing, so resending is safe).
async fn send_events(run: &Run, plan: &Plan, late_sent: &AtomicBool) {
    let pace = STORM.mul_f64(0.7) / plan.events.len() as u32;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for (n, &(certificate, status)) in plan.events.iter().enumerate() {
        let event = plan.certificates[certificate].event(status);
        add(
            &run.counts.event_retries,
            deliver(run, &client, &event).await,
        );
        add(&run.counts.events, 1);
        if n + 1 == plan.late_events {
            late_sent.store(true, Ordering::SeqCst);
        }
        tokio::time::sleep(pace).await;
    }
}

/// Posts one event until an instance accepts it; returns how many tries failed.
async fn deliver(run: &Run, client: &reqwest::Client, event: &Value) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failed = 0;
    loop {
        if let Some(base) = run.cluster.address() {
            let sent = client
                .post(format!("{base}/api/v1/events/certificate"))
                .bearer_auth(&run.token)
                .json(event)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return failed,
                Ok(r) if r.status().is_client_error() => {
                    panic!(
                        "the event {} was refused: {}",
                        event["event_id"],
                        r.status()
                    )
                }
                _ => {}
            }
        }
        failed += 1;
        assert!(
            Instant::now() < deadline,
            "no instance accepted the event {} within 60 s",
            event["event_id"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every 2.5 to 5 s, SIGKILLs an instance and starts it again; one time in three, Badgr
/// also forgets its access tokens (the next calls get 401 and refresh).
async fn kill_repeatedly(run: &Run, until: Instant) {
    let mut rng = run.rng(1);
    loop {
        let wait = Duration::from_millis(rng.random_range(2500..5000));
        if Instant::now() + wait >= until {
            return;
        }
        tokio::time::sleep(wait).await;
        // One that died by itself (or was stopped from outside) serves again first.
        run.cluster.ensure_serving().await;
        let slot = rng.random_range(0..run.cluster.slots.len());
        run.cluster.kill(slot);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1000))).await;
        run.cluster.start(slot).await;
        if rng.random_bool(1.0 / 3.0) {
            run.badgr.state().expire_access_tokens();
        }
    }
}

/// The operator, every 2 to 4 s: "Issue badge now" on a few certificates or "Retry now" on
/// waiting and failed jobs; once the late courses' events are in, the late course's badges
/// on and its backfill from the admin; past 60% of the storm, the later course's badges on
/// and its backfill from the command line (returned, still running or not).
async fn operate(run: &Run, late_sent: &AtomicBool, until: Instant) -> Option<Process> {
    let mut rng = run.rng(2);
    let started = Instant::now();
    let (mut late_on, mut backfill) = (false, None);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..4000))).await;
        if !late_on && late_sent.load(Ordering::SeqCst) {
            turn_badges_on(run, LATE).await;
            let id = course_id(run, LATE).await;
            assert!(
                run.operator
                    .act(&run.cluster, COURSES_ADMIN, "backfill", &[id])
                    .await,
                "the late course's backfill went through"
            );
            late_on = true;
        } else if late_on && backfill.is_none() && started.elapsed() > STORM.mul_f64(0.6) {
            turn_badges_on(run, LATER).await;
            backfill = Some(run.cluster.backfill_from_command_line(LATER));
        } else if rng.random_bool(0.5) {
            issue_now(run, &mut rng).await;
        } else {
            retry_now(run, &mut rng).await;
        }
    }
    assert!(
        backfill.is_some(),
        "both late courses were backfilled during the storm"
    );
    backfill
}

/// Once a late course's awards (skipped: badges off) are settled, so that none is caught
/// half-way by the switch: its badges on, from the admin.
async fn turn_badges_on(run: &Run, course: &'static str) {
    wait_for_jobs(run, Some(course), Duration::from_secs(60)).await;
    let id = course_id(run, course).await;
    assert!(
        run.operator
            .act(&run.cluster, COURSES_ADMIN, "enable_badges", &[id])
            .await,
        "badges on for {course}"
    );
}

async fn course_id(run: &Run, course: &'static str) -> i64 {
    query(&run.db, move |conn| {
        courses::table
            .filter(courses::course_id.eq(course))
            .select(courses::id)
            .first(conn)
    })
    .await
}

/// "Issue badge now" on three passing certificates (not the late courses': their backfills
/// cover them, and an award queued before their badges are on would be skipped).
async fn issue_now(run: &Run, rng: &mut StdRng) {
    let passing = query(&run.db, |conn| {
        certificates::table
            .filter(certificates::course_id.ne_all(LATE_COURSES))
            .filter(certificates::status.eq_any(accolade::learners::certificates::PASSING))
            .select(certificates::id)
            .load::<i64>(conn)
    })
    .await;
    let counters = (&run.counts.issue_now, &run.counts.certificates_issued);
    act_on_some(
        run,
        rng,
        (CERTIFICATES_ADMIN, "issue"),
        &passing,
        3,
        counters,
    )
    .await;
}

/// "Retry now" on up to ten jobs waiting or failed.
async fn retry_now(run: &Run, rng: &mut StdRng) {
    let retryable = query(&run.db, retryable_jobs).await;
    let counters = (&run.counts.retry_now, &run.counts.jobs_retried);
    act_on_some(run, rng, (JOBS_ADMIN, "retry"), &retryable, 10, counters).await;
}

/// The operator's admin action on up to `most` of `ids`, chosen at random; counts the
/// action and the objects it went to.
async fn act_on_some(
    run: &Run,
    rng: &mut StdRng,
    (admin, action): (&str, &str),
    ids: &[i64],
    most: usize,
    (actions, objects): (&AtomicUsize, &AtomicUsize),
) {
    let chosen: Vec<i64> = ids.choose_multiple(rng, most).copied().collect();
    if !chosen.is_empty() && run.operator.act(&run.cluster, admin, action, &chosen).await {
        add(actions, 1);
        add(objects, chosen.len());
    }
}

fn retryable_jobs(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
    award_jobs::table
        .filter(award_jobs::status.eq_any(["pending", "failed"]))
        .select(award_jobs::id)
        .load(conn)
}

/// Jobs pending or running (of one course, or all).
fn open_jobs(conn: &mut DbConnection, course: Option<&str>) -> QueryResult<i64> {
    let mut open = award_jobs::table
        .filter(award_jobs::status.eq_any(accolade::badging::jobs::JobStatus::OPEN))
        .into_boxed();
    if let Some(course) = course {
        open = open.filter(award_jobs::course_id.eq(course.to_string()));
    }
    open.count().get_result(conn)
}

/// Waits until no job (of `course`, or none at all) is pending or running; panics with
/// where the jobs stand after `limit`.
async fn wait_for_jobs(run: &Run, course: Option<&'static str>, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let open = query(&run.db, move |conn| open_jobs(conn, course)).await;
        if open == 0 {
            return;
        }
        if Instant::now() > deadline {
            let states = query(&run.db, job_states).await;
            panic!(
                "{open} award job(s) of {} still pending or running after {} s: {states:?}",
                course.unwrap_or("any course"),
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn job_states(conn: &mut DbConnection) -> QueryResult<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = award_jobs::table
        .group_by(award_jobs::status)
        .select((award_jobs::status, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// What happened once the faults stopped.
struct Calm {
    /// Jobs the operator retried (waiting or failed when the storm ended, then failed ones).
    retried: usize,
    /// Whether every request Badgr held (late commits) was over before counting.
    settled: bool,
    reconcile: Reconcile,
}

enum Reconcile {
    Missing,
    /// How it ended, and the summary it printed.
    Ran(ExitStatus, String),
    TimedOut,
}

/// Faults off, every instance serving; the operator retries whatever waits or failed,
/// twice (an attempt caught by a fault as the storm ended may fail after the first), each
/// time until every job is finished; then `accolade reconcile --fix`.
async fn calm_down(run: &Run) -> Calm {
    run.badgr.faults().clear();
    run.cluster.ensure_serving().await;
    run.badgr.settle(BADGR_TIMEOUT * 4).await;
    let mut retried = 0;
    for _ in 0..2 {
        retried += retry_all(run).await;
        wait_for_jobs(run, None, DRAIN_LIMIT).await;
    }
    let reconcile = reconcile(run).await;
    wait_for_jobs(run, None, DRAIN_LIMIT).await;
    let settled = run.badgr.settle(BADGR_TIMEOUT * 4).await;
    Calm {
        retried,
        settled,
        reconcile,
    }
}

/// "Retry now" on every job waiting or failed, 200 at a time.
async fn retry_all(run: &Run) -> usize {
    let retryable = query(&run.db, retryable_jobs).await;
    for chunk in retryable.chunks(200) {
        assert!(
            run.operator
                .act(&run.cluster, JOBS_ADMIN, "retry", chunk)
                .await,
            "the operator's Retry now went through"
        );
    }
    retryable.len()
}

/// `accolade reconcile --fix`, if this build has the command (it is being written).
async fn reconcile(run: &Run) -> Reconcile {
    let help = binary::accolade(&run.cluster.database_url, 0)
        .arg("--help")
        .stdout(Stdio::piped())
        .output()
        .expect("accolade --help");
    if !String::from_utf8_lossy(&help.stdout).contains("reconcile") {
        return Reconcile::Missing;
    }
    let mut command = run.cluster.command(0, "reconcile");
    command.args(["reconcile", "--fix"]);
    match binary::run_within(&mut command, RECONCILE_LIMIT).await {
        Some(status) => {
            let log =
                std::fs::read_to_string(run.cluster.logs.join("reconcile.log")).unwrap_or_default();
            let summary = log
                .lines()
                .rfind(|l| l.starts_with("Reconciliation #"))
                .unwrap_or("no summary printed")
                .to_string();
            Reconcile::Ran(status, summary)
        }
        None => Reconcile::TimedOut,
    }
}

/// What Badgr and Accolade hold at the end.
struct Tally {
    jobs: BTreeMap<String, i64>,
    failed_without_reason: Vec<i64>,
    badgr_classes: usize,
    live_assertions: usize,
    expected: usize,
    /// (e-mail, Badgr class) with more than one live assertion, and how many.
    duplicates: Vec<(String, String, usize)>,
    /// Expected badges with no live assertion on Badgr.
    missing: Vec<String>,
    /// Badgr classes that no Accolade class points to, with their live assertions.
    orphans: Vec<(String, usize)>,
    /// Accolade's live assertions whose Badgr assertion is revoked or absent.
    dangling: Vec<String>,
}

impl Tally {
    async fn take(run: &Run, plan: &Plan) -> Tally {
        let jobs = query(&run.db, job_states).await;
        let failed_without_reason = query(&run.db, failed_without_reason).await;
        let classes = query(&run.db, class_ids).await;
        let records = query(&run.db, live_records).await;
        let state = run.badgr.state();
        let live = state.live_by_recipient();
        let known: HashSet<String> = classes.values().cloned().collect();
        let missing = plan
            .expected()
            .into_iter()
            .filter(|(email, course, mode)| {
                let class = classes.get(&(course.to_string(), mode.to_string()));
                class.is_none_or(|class| state.live(email, class) == 0)
            })
            .map(|(email, course, mode)| format!("{email} in {course} ({mode})"))
            .collect();
        let live_ids: HashSet<&str> = state
            .assertions
            .iter()
            .filter(|a| !a.revoked)
            .map(|a| a.entity_id.as_str())
            .collect();
        Tally {
            jobs,
            failed_without_reason,
            badgr_classes: state.classes_of(fault_badgr::ISSUER),
            live_assertions: live.values().sum(),
            expected: plan.expected().len(),
            duplicates: live
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|((email, class), n)| (email.clone(), class.clone(), *n))
                .collect(),
            missing,
            orphans: state
                .orphan_classes(&known)
                .iter()
                .map(|c| (c.entity_id.clone(), live_in(&live, &c.entity_id)))
                .collect(),
            dangling: records
                .into_iter()
                .filter(|id| !live_ids.contains(id.as_str()))
                .collect(),
        }
    }

    /// The invariants, every breach listed at once.
    fn assert_exactly_once(&self, calm: &Calm) {
        let mut problems = Vec::new();
        let mut breach = |count: usize, what: &str, examples: Vec<String>| {
            if count > 0 {
                let shown: Vec<String> = examples.into_iter().take(5).collect();
                problems.push(format!("{count} {what}, e.g. {}", shown.join("; ")));
            }
        };
        breach(
            self.duplicates.len(),
            "(learner, class) pairs with more than one live Badgr assertion",
            self.duplicates
                .iter()
                .map(|(e, c, n)| format!("{e} holds {n} of {c}"))
                .collect(),
        );
        breach(
            self.orphans.len(),
            "Badgr classes no Accolade class points to",
            self.orphans
                .iter()
                .map(|(c, n)| format!("{c} ({n} live assertions)"))
                .collect(),
        );
        breach(
            self.missing.len(),
            "badges with no live Badgr assertion",
            self.missing.clone(),
        );
        breach(
            self.dangling.len(),
            "Accolade assertions whose Badgr assertion is not live",
            self.dangling.clone(),
        );
        breach(
            self.failed_without_reason.len(),
            "failed jobs without a reason",
            self.failed_without_reason
                .iter()
                .map(|id| format!("job {id}"))
                .collect(),
        );
        let open: i64 = self
            .jobs
            .iter()
            .filter(|(state, _)| !["done", "failed"].contains(&state.as_str()))
            .map(|(_, n)| n)
            .sum();
        breach(
            open as usize,
            "jobs neither done nor failed",
            vec![format!("{:?}", self.jobs)],
        );
        if let Reconcile::Ran(status, _) = &calm.reconcile
            && !status.success()
        {
            problems.push(format!("`accolade reconcile --fix` failed: {status}"));
        }
        if let Reconcile::TimedOut = calm.reconcile {
            problems.push(format!(
                "`accolade reconcile --fix` still ran after {} s",
                RECONCILE_LIMIT.as_secs()
            ));
        }
        assert!(
            problems.is_empty(),
            "exactly once, on Badgr too, does not hold on {}:\n  {}",
            backend_name(),
            problems.join("\n  ")
        );
    }
}

fn live_in(live: &BTreeMap<(String, String), usize>, class: &str) -> usize {
    live.iter()
        .filter(|((_, c), _)| c == class)
        .map(|(_, n)| n)
        .sum()
}

/// Accolade's course-completion classes created on Badgr: (course, mode) → Badgr id.
fn class_ids(conn: &mut DbConnection) -> QueryResult<HashMap<(String, String), String>> {
    let rows: Vec<(String, String, String)> = badge_classes::table
        .filter(badge_classes::backend_id.ne(""))
        .select((
            badge_classes::course_id,
            badge_classes::mode,
            badge_classes::backend_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(course, mode, id)| ((course, mode), id))
        .collect())
}

/// The Badgr ids of Accolade's assertions that are not revoked.
fn live_records(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    badge_assertions::table
        .filter(badge_assertions::revoked.eq(false))
        .select(badge_assertions::public_id)
        .load(conn)
}

fn failed_without_reason(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
    award_jobs::table
        .filter(award_jobs::status.eq("failed"))
        .filter(award_jobs::last_error.eq(""))
        .select(award_jobs::id)
        .load(conn)
}

/// The counts, for `--nocapture`.
fn report(run: &Run, calm: &Calm, tally: &Tally) {
    let counts = &run.counts;
    let state = run.badgr.state();
    println!(
        "storm of {} s: {} events sent ({} resent), {} kills ({} instances found dead), \
         Badgr forgot its tokens {} times, operator: {} \"Issue badge now\" ({} certificates), \
         {} \"Retry now\" ({} jobs), {} admin posts sent again",
        STORM.as_secs(),
        read(&counts.events),
        read(&counts.event_retries),
        read(&run.cluster.kills),
        read(&run.cluster.crashes),
        state.tokens_expired,
        read(&counts.issue_now),
        read(&counts.certificates_issued),
        read(&counts.retry_now),
        read(&counts.jobs_retried),
        read(&run.operator.failed_posts),
    );
    println!("faults injected: {:?}", state.injected_by_kind());
    println!("Badgr requests: {:?}", state.requests);
    let reconcile = match &calm.reconcile {
        Reconcile::Missing => "skipped (this build has no `accolade reconcile`)".to_string(),
        Reconcile::Ran(status, summary) => format!("ran, {status}; {summary}"),
        Reconcile::TimedOut => "killed after the time limit".to_string(),
    };
    println!(
        "calm: the operator retried {} jobs; Badgr idle before counting: {}; reconcile --fix: {reconcile}",
        calm.retried, calm.settled
    );
    println!(
        "jobs: {:?} ({} failed without a reason)",
        tally.jobs,
        tally.failed_without_reason.len()
    );
    println!(
        "Badgr: {} classes ({} orphans, holding {} live assertions), {} live assertions for {} \
         expected badges: {} (learner, class) pairs duplicated ({} extra assertions), {} missing; \
         {} Accolade assertions point to no live Badgr assertion",
        tally.badgr_classes,
        tally.orphans.len(),
        tally.orphans.iter().map(|(_, n)| n).sum::<usize>(),
        tally.live_assertions,
        tally.expected,
        tally.duplicates.len(),
        tally
            .duplicates
            .iter()
            .map(|(_, _, n)| n - 1)
            .sum::<usize>(),
        tally.missing.len(),
        tally.dangling.len(),
    );
}

/// The harness itself, against a client of the test's own: each fault makes (or not) what
/// it claims and answers (or not) as it claims; tokens, tags, filters and revocation work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_badgr_does_what_each_fault_claims() {
    let timeout = Duration::from_secs(1);
    let badgr = FaultBadgr::start(1, timeout).await;
    let client = reqwest::Client::builder().timeout(timeout).build().unwrap();
    let token = badgr_token(&client, &badgr).await;
    let class = badgr_class(&client, &badgr, &token).await;
    let award = |email: &str| {
        client
            .post(format!("{}/v2/badgeclasses/{class}/assertions", badgr.url))
            .bearer_auth(&token)
            .json(&json!({"recipient": {"identity": email, "type": "email", "hashed": true}}))
            .send()
    };
    for fault in Fault::ALL {
        badgr.faults().clear();
        badgr.faults().set(Route::CreateAssertion, fault, 1.0);
        let before = badgr.state().assertions.len();
        let answer = award("Fault@Example.org").await;
        assert!(badgr.settle(Duration::from_secs(10)).await);
        let made = badgr.state().assertions.len() - before;
        let status = answer.as_ref().ok().map(|r| r.status().as_u16());
        let claimed = match fault {
            Fault::ErrorBefore => (Some(500), 0),
            Fault::ErrorAfter => (Some(500), 1),
            Fault::TooManyRequests => (Some(429), 0),
            Fault::HangBefore => (None, 0),
            Fault::DropAfter | Fault::SilentAfter | Fault::LateCommit => (None, 1),
        };
        assert_eq!((status, made), claimed, "{fault:?}");
        if let Ok(answer) = answer {
            let retry_after = answer
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(
                retry_after.is_some(),
                fault == Fault::TooManyRequests,
                "{fault:?}"
            );
        }
    }
    badgr.faults().clear();
    let made = award("other@example.org").await.unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    assert_eq!(
        made["result"][0]["recipient"]["plaintextIdentity"],
        "other@example.org"
    );
    {
        let state = badgr.state();
        // One each from ErrorAfter, DropAfter, SilentAfter and LateCommit, lower-cased.
        assert_eq!(state.live("fault@example.org", &class), 4);
        assert_eq!(
            state.injected_by_kind().values().sum::<usize>(),
            Fault::ALL.len()
        );
    }
    badgr_lists_and_revokes(&client, &badgr, &token, &class).await;
}

async fn badgr_token(client: &reqwest::Client, badgr: &FaultBadgr) -> String {
    let grant = |username: &str| {
        client.post(format!("{}/o/token", badgr.url)).form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", fault_badgr::PASSWORD),
            ("client_id", "public"),
            ("scope", "rw:issuer"),
        ])
    };
    assert_eq!(
        grant("someone@example.org").send().await.unwrap().status(),
        400
    );
    let tokens: Value = common::json_of(grant(fault_badgr::USERNAME)).await;
    let refreshed: Value = common::json_of(client.post(format!("{}/o/token", badgr.url)).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", "public"),
        ("scope", "rw:issuer"),
    ]))
    .await;
    refreshed["access_token"].as_str().unwrap().to_string()
}

/// A class made with a multipart form and two tags; its `entityId`.
async fn badgr_class(client: &reqwest::Client, badgr: &FaultBadgr, token: &str) -> String {
    let url = format!(
        "{}/v2/issuers/{}/badgeclasses",
        badgr.url,
        fault_badgr::ISSUER
    );
    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("name", "Class")
        .text("description", "A class")
        .text("criteriaUrl", "https://lms.example/about")
        .text("tags", "accolade:class:1")
        .text("tags", "accolade:site:test")
        .part(
            "image",
            reqwest::multipart::Part::bytes(png).file_name("badge.png"),
        );
    let refused = client.post(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let made = client
        .post(&url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    assert_eq!(
        made["result"][0]["tags"],
        json!(["accolade:class:1", "accolade:site:test"])
    );
    let listed: Value = common::json_of(client.get(&url).bearer_auth(token)).await;
    assert_eq!(listed["result"][0]["tags"], made["result"][0]["tags"]);
    made["result"][0]["entityId"].as_str().unwrap().to_string()
}

/// The recipient filter, revocation, and revoked assertions shown only when asked for.
async fn badgr_lists_and_revokes(
    client: &reqwest::Client,
    badgr: &FaultBadgr,
    token: &str,
    class: &str,
) {
    let list = |include_revoked: bool| {
        let mut query = vec![("recipient", "FAULT@example.org")];
        if include_revoked {
            query.push(("include_revoked", "true"));
        }
        client
            .get(format!("{}/v2/badgeclasses/{class}/assertions", badgr.url))
            .bearer_auth(token)
            .query(&query)
            .send()
    };
    let count = |answer: Value| answer["result"].as_array().unwrap().len();
    let found: Value = list(false).await.unwrap().json().await.unwrap();
    assert_eq!(count(found.clone()), 4, "another recipient's is not listed");
    let revoked = client
        .delete(format!(
            "{}/v2/assertions/{}",
            badgr.url,
            found["result"][0]["entityId"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .json(&json!({"revocation_reason": "duplicate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(count(list(false).await.unwrap().json().await.unwrap()), 3);
    assert_eq!(count(list(true).await.unwrap().json().await.unwrap()), 4);
}
