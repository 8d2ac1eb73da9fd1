//! `GET /healthz`, liveness: the process answers, and says what it knows of its database.
//! `GET /readyz`, readiness: this instance can do its work now (read and write its
//! database, no migration pending, the badge backend answers), 503 when it cannot.
//!
//! Both are public, so their bodies hold only fixed words: causes (which may hold paths or
//! URLs) go to the log. Every wait is bounded, so neither hangs on what it checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::router::{Router, endpoint};
use crate::badging::backend::BadgeBackend;
use crate::db::{self, Database, DbConnection, DbError, RunError};
use crate::error::RETRY_AFTER_SECONDS;

/// The longest `/healthz` waits on the database.
const LIVENESS_WAIT: Duration = Duration::from_millis(500);
/// The longest each database check of `/readyz` takes.
const DATABASE_CHECK_BOUND: Duration = Duration::from_secs(1);
/// The longest the badge backend's check takes (Badgr: a token, then a request).
const BACKEND_CHECK_BOUND: Duration = Duration::from_secs(2);
/// How long the badge backend's answer is reused: `/readyz` is public, and must not be a
/// way to send requests to Badgr.
const BACKEND_CHECK_REUSE: Duration = Duration::from_secs(5);

pub fn routes(routes: &mut Router) {
    routes.add(endpoint("/healthz").get(healthz));
    routes.add(endpoint("/readyz").get(readyz));
}

// The fields of the answers are declared in the order of their keys (byte order, as the
// `serde_json::Value` maps they once were wrote them): the same JSON, byte for byte.

/// The `/healthz` answer: `status` is always `ok`.
#[derive(Debug, Serialize)]
struct Liveness {
    /// The database's kind (`SQLite`, `PostgreSQL`).
    backend: &'static str,
    /// What the instance knows of its database (see [`database_liveness`]).
    database: &'static str,
    status: &'static str,
}

/// The `/readyz` answer.
#[derive(Debug, Serialize)]
struct Readiness {
    /// The database's kind.
    backend: &'static str,
    /// The badge backend's name (`local`, `badgr`).
    badge_backend: &'static str,
    checks: Checks,
    /// `ok` when every check is, else `unavailable`.
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct Checks {
    badge_backend: Check,
    database_read: Check,
    database_write: Check,
    migrations: Check,
}

impl Checks {
    fn all_ok(&self) -> bool {
        [
            &self.database_read,
            &self.database_write,
            &self.migrations,
            &self.badge_backend,
        ]
        .iter()
        .all(|check| check.status == OK)
    }
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Liveness {
        backend: state.db.kind().name(),
        database: database_liveness(&state.db).await,
        status: OK,
    })
}

/// What `/healthz` says of the database: `unreachable` while it is known to be down, else
/// what a trivial query finds within [`LIVENESS_WAIT`]. The query takes no turn among the
/// pool's users, so that liveness answers however busy the pool is.
async fn database_liveness(db: &Database) -> &'static str {
    if db.known_down() {
        return "unreachable";
    }
    let probe = db.clone();
    let ping = tokio::task::spawn_blocking(move || probe.ping(LIVENESS_WAIT));
    match tokio::time::timeout(LIVENESS_WAIT, ping).await {
        Ok(Ok(Ok(()))) => "ok",
        Ok(Ok(Err(e))) => database_word(&e),
        Ok(Err(_)) => "failed",
        Err(_) => "timed out",
    }
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = &state.db;
    let (database_read, database_write, migrations, badge_backend) = tokio::join!(
        database_check(db, "database_read", db::select_one),
        database_check(db, "database_write", db::settings::record_readiness_probe),
        migrations_check(db),
        state.badge_backend.check(),
    );
    let checks = Checks {
        badge_backend,
        database_read,
        database_write,
        migrations,
    };
    let ready = checks.all_ok();
    let body = Readiness {
        backend: db.kind().name(),
        badge_backend: state.badge_backend.name(),
        checks,
        status: if ready { OK } else { "unavailable" },
    };
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        let mut refused = HttpResponse::ServiceUnavailable();
        refused.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        refused
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

const OK: &str = "ok";

/// One check's outcome as `/readyz` tells it: `ok`, or a word for what went wrong
/// (`failed`, `unreachable`, `busy`, `timed out`, `pending`), and how long it took.
#[derive(Clone, Debug, Serialize)]
struct Check {
    ms: f64,
    /// How many migrations are pending, when the check is `migrations` and some are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<usize>,
    status: &'static str,
}

impl Check {
    fn finished(started: Instant, outcome: Result<(), &'static str>) -> Check {
        Check {
            status: outcome.err().unwrap_or(OK),
            ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
            pending: None,
        }
    }
}

async fn database_check<F>(db: &Database, name: &'static str, work: F) -> Check
where
    F: FnOnce(&mut DbConnection) -> diesel::QueryResult<()> + Send + 'static,
{
    let started = Instant::now();
    Check::finished(started, on_database(db, name, work).await)
}

async fn migrations_check(db: &Database) -> Check {
    let started = Instant::now();
    match on_database(db, "migrations", db::pending_migrations).await {
        Ok(0) => Check::finished(started, Ok(())),
        Ok(pending) => Check {
            pending: Some(pending),
            ..Check::finished(started, Err("pending"))
        },
        Err(word) => Check::finished(started, Err(word)),
    }
}

/// Runs `work` on a connection within [`DATABASE_CHECK_BOUND`]: its value, or the word for
/// what went wrong (the cause is logged).
async fn on_database<T, E, F>(
    db: &Database,
    check: &'static str,
    work: F,
) -> Result<T, &'static str>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let run = db.run_within(DATABASE_CHECK_BOUND, work);
    let (word, cause) = match tokio::time::timeout(DATABASE_CHECK_BOUND, run).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(RunError::Db(e))) => (database_word(&e), e.to_string()),
        Ok(Err(RunError::Work(e))) => ("failed", e.to_string()),
        Err(_) => (
            "timed out",
            format!("no answer within {DATABASE_CHECK_BOUND:?}"),
        ),
    };
    tracing::warn!(check, %cause, "readiness check failed");
    Err(word)
}

fn database_word(e: &DbError) -> &'static str {
    match e {
        DbError::Unreachable(_) => "unreachable",
        DbError::Busy(_) => "busy",
        DbError::Query(_) | DbError::Task(_) => "failed",
    }
}

/// The badge backend's health for `/readyz`: asked off the executor within
/// [`BACKEND_CHECK_BOUND`], one request at a time, and the answer reused for
/// [`BACKEND_CHECK_REUSE`] (Badgr sees one request per instance per that time at most,
/// however often `/readyz` is asked).
pub struct BackendHealth {
    backend: Arc<dyn BadgeBackend>,
    last: tokio::sync::Mutex<Option<(Instant, Check)>>,
}

impl BackendHealth {
    pub fn new(backend: Arc<dyn BadgeBackend>) -> BackendHealth {
        BackendHealth {
            backend,
            last: tokio::sync::Mutex::new(None),
        }
    }

    fn name(&self) -> &'static str {
        self.backend.name()
    }

    async fn check(&self) -> Check {
        // Held while asking: concurrent checks wait for this answer instead of asking too.
        let mut last = self.last.lock().await;
        if let Some((at, check)) = last.as_ref()
            && at.elapsed() < BACKEND_CHECK_REUSE
        {
            return check.clone();
        }
        let check = self.ask().await;
        *last = Some((Instant::now(), check.clone()));
        check
    }

    async fn ask(&self) -> Check {
        let started = Instant::now();
        let backend = self.backend.clone();
        let asked = tokio::task::spawn_blocking(move || backend.health());
        let (word, cause) = match tokio::time::timeout(BACKEND_CHECK_BOUND, asked).await {
            Ok(Ok(Ok(_))) => return Check::finished(started, Ok(())),
            Ok(Ok(Err(e))) => ("failed", e),
            Ok(Err(e)) => ("failed", e.to_string()),
            Err(_) => (
                "timed out",
                format!("no answer within {BACKEND_CHECK_BOUND:?}"),
            ),
        };
        tracing::warn!(check = "badge_backend", %cause, "readiness check failed");
        Check::finished(started, Err(word))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(status: &'static str, ms: f64, pending: Option<usize>) -> Check {
        Check {
            ms,
            pending,
            status,
        }
    }

    /// The answers are the JSON the handlers built with `json!` for the same values: the
    /// same value, and the same text.
    fn same_as_before(answer: &impl Serialize, before: serde_json::Value, text: &str) {
        assert_eq!(before.to_string(), text, "the expectation itself");
        assert_eq!(serde_json::to_value(answer).unwrap(), before);
        assert_eq!(serde_json::to_string(answer).unwrap(), text);
    }

    #[test]
    fn liveness_answers_what_it_did() {
        same_as_before(
            &Liveness {
                backend: "SQLite",
                database: "timed out",
                status: OK,
            },
            json!({ "status": "ok", "database": "timed out", "backend": "SQLite" }),
            r#"{"backend":"SQLite","database":"timed out","status":"ok"}"#,
        );
    }

    #[test]
    fn readiness_answers_what_it_did() {
        let (read, write, migrations, backend) = (
            check("ok", 0.8, None),
            check("busy", 1000.0, None),
            check("pending", 2.7, Some(3)),
            check("timed out", 2001.3, None),
        );
        let checks = Checks {
            badge_backend: backend.clone(),
            database_read: read.clone(),
            database_write: write.clone(),
            migrations: migrations.clone(),
        };
        assert!(!checks.all_ok());
        same_as_before(
            &Readiness {
                backend: "PostgreSQL",
                badge_backend: "badgr",
                checks,
                status: "unavailable",
            },
            json!({
                "status": "unavailable",
                "backend": "PostgreSQL",
                "badge_backend": "badgr",
                "checks": {
                    "database_read": read,
                    "database_write": write,
                    "migrations": migrations,
                    "badge_backend": backend,
                },
            }),
            concat!(
                r#"{"backend":"PostgreSQL","badge_backend":"badgr","checks":{"#,
                r#""badge_backend":{"ms":2001.3,"status":"timed out"},"#,
                r#""database_read":{"ms":0.8,"status":"ok"},"#,
                r#""database_write":{"ms":1000.0,"status":"busy"},"#,
                r#""migrations":{"ms":2.7,"pending":3,"status":"pending"}},"#,
                r#""status":"unavailable"}"#
            ),
        );
        let ok = || check("ok", 1.0, None);
        let checks = Checks {
            badge_backend: ok(),
            database_read: ok(),
            database_write: ok(),
            migrations: ok(),
        };
        assert!(checks.all_ok());
    }
}
