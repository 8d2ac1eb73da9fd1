//! Award workers: threads that claim due jobs and carry them out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::award::{AwardSettings, carry_out};
use super::backend::BadgeBackend;
use super::jobs::{self, AwardJob, Outcome};
use crate::db::{Database, DbConnection, now};

/// How workers behave.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub award: AwardSettings,
    /// A claimed job whose worker has not finished it by then may be claimed again.
    pub lease: Duration,
    pub max_attempts: i32,
    /// How long an idle worker waits before looking again.
    pub poll: Duration,
}

/// Carries out one claimed job and records the outcome.
pub fn run_job(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    job: &AwardJob,
    worker: &str,
) -> diesel::QueryResult<Outcome> {
    let started = now();
    let outcome = carry_out(conn, backend, &settings.award, job);
    match &outcome {
        Outcome::Done { reason, .. } | Outcome::Skipped { reason } => {
            tracing::info!(job = job.id, %reason, "award job finished")
        }
        Outcome::Retry { reason, .. } => {
            tracing::warn!(job = job.id, attempt = job.attempts, %reason, "award job will be retried")
        }
        Outcome::Failed { reason } => tracing::error!(job = job.id, %reason, "award job failed"),
    }
    jobs::finish(
        conn,
        job,
        worker,
        started,
        outcome.clone(),
        settings.max_attempts,
    )?;
    Ok(outcome)
}

/// Claims and runs the next due job; returns whether there was one.
pub fn run_next(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    worker: &str,
) -> Result<bool, String> {
    let mut conn = db.get().map_err(|e| e.to_string())?;
    match jobs::claim(&mut conn, worker, settings.lease).map_err(|e| e.to_string())? {
        Some(job) => {
            run_job(&mut conn, backend, settings, &job, worker).map_err(|e| e.to_string())?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Claims and runs due jobs until none is due; returns how many ran.
pub fn drain(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    worker: &str,
) -> Result<usize, String> {
    let mut ran = 0;
    while run_next(db, backend, settings, worker)? {
        ran += 1;
    }
    Ok(ran)
}

/// Starts `count` worker threads that run until `stop` is set (each finishes the job in
/// hand first).
pub fn spawn(
    count: usize,
    db: Database,
    backend: Arc<dyn BadgeBackend>,
    settings: WorkerSettings,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    (0..count)
        .map(|n| {
            let (db, backend, settings, stop) =
                (db.clone(), backend.clone(), settings.clone(), stop.clone());
            let name = format!("{}-{instance}-{n}", hostname());
            std::thread::Builder::new()
                .name(format!("award-worker-{n}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match run_next(&db, backend.as_ref(), &settings, &name) {
                            // Another may be due at once.
                            Ok(true) => {}
                            Ok(false) => std::thread::sleep(settings.poll),
                            Err(e) => {
                                tracing::error!(worker = %name, error = %e, "award worker");
                                std::thread::sleep(settings.poll);
                            }
                        }
                    }
                })
                .expect("spawning a worker thread")
        })
        .collect()
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "accolade".into())
}
