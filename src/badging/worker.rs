//! Award workers: threads that claim due jobs and carry them out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::award::{AwardSettings, carry_out};
use super::backend::BadgeBackend;
use super::jobs::{self, AwardJob, Outcome};
use crate::db::{Database, now};

/// How workers behave.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub award: AwardSettings,
    /// A claimed job whose worker has not finished it by then may be claimed again.
    pub lease: Duration,
    pub max_attempts: i32,
    /// How long an idle worker waits before looking again.
    pub poll: Duration,
    /// How often the workers reconcile with the backend (zero: never).
    pub reconcile_every: Duration,
}

/// Carries out one claimed job and records the outcome. No pool connection is held while
/// the job runs: one is taken to record the outcome.
pub fn run_job(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    job: &AwardJob,
    worker: &str,
) -> Result<Outcome, String> {
    let started = now();
    let attempt = carry_out(db, backend, &settings.award, job, worker);
    match &attempt.outcome {
        Outcome::Done { reason, .. } | Outcome::Skipped { reason } => {
            tracing::info!(job = job.id, %reason, "award job finished")
        }
        Outcome::Retry { reason, .. } => {
            tracing::warn!(job = job.id, attempt = job.attempts, %reason, "award job will be retried")
        }
        Outcome::Wait { reason, .. } => tracing::info!(job = job.id, %reason, "award job waits"),
        Outcome::Failed { reason } => tracing::error!(job = job.id, %reason, "award job failed"),
    }
    let outcome = attempt.outcome.clone();
    let mut conn = db.get().map_err(|e| e.to_string())?;
    jobs::finish(
        &mut conn,
        job,
        worker,
        started,
        attempt,
        settings.max_attempts,
    )
    .map_err(|e| e.to_string())?;
    Ok(outcome)
}

/// The jobs this process's workers hold right now, by worker: what the heartbeat renews.
/// A job leaves it when its worker is done with it, recorded or not — a job whose outcome
/// could not be recorded (the database away) is then free once its lease runs out.
#[derive(Clone, Default)]
pub struct InHand(Arc<Mutex<HashMap<String, i64>>>);

impl InHand {
    fn hold(&self, worker: &str, job: i64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(worker.to_string(), job);
    }

    fn release(&self, worker: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(worker);
    }

    fn jobs(&self) -> Vec<(String, i64)> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().map(|(w, id)| (w.clone(), *id)).collect()
    }
}

/// Claims and runs the next due job; returns whether there was one.
fn run_next(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    worker: &str,
    in_hand: &InHand,
) -> Result<bool, String> {
    let claimed = {
        let mut conn = db.get().map_err(|e| e.to_string())?;
        jobs::claim(&mut conn, worker, settings.lease).map_err(|e| e.to_string())?
    };
    let Some(job) = claimed else {
        return Ok(false);
    };
    in_hand.hold(worker, job.id);
    let ran = run_job(db, backend, settings, &job, worker);
    in_hand.release(worker);
    ran.map(|_| true)
}

/// Claims and runs due jobs until none is due; returns how many ran.
pub fn drain(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &WorkerSettings,
    worker: &str,
) -> Result<usize, String> {
    let in_hand = InHand::default();
    let _heartbeat = Heartbeat::start(db.clone(), in_hand.clone(), settings.lease);
    let mut ran = 0;
    while run_next(db, backend, settings, worker, &in_hand)? {
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
    let names: Vec<String> = (0..count)
        .map(|n| format!("{}-{instance}-{n}", hostname()))
        .collect();
    let in_hand = InHand::default();
    let heartbeat = heartbeat(db.clone(), in_hand.clone(), settings.lease, stop.clone());
    let mut threads: Vec<_> = names
        .into_iter()
        .enumerate()
        .map(|(n, name)| {
            let (db, backend, settings, stop, in_hand) = (
                db.clone(),
                backend.clone(),
                settings.clone(),
                stop.clone(),
                in_hand.clone(),
            );
            std::thread::Builder::new()
                .name(format!("award-worker-{n}"))
                .spawn(move || {
                    let mut failures = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        match run_next(&db, backend.as_ref(), &settings, &name, &in_hand) {
                            // Another may be due at once.
                            Ok(true) => failures = 0,
                            Ok(false) => {
                                failures = 0;
                                std::thread::sleep(settings.poll);
                            }
                            Err(e) => {
                                // The database is away: look again less and less often (up
                                // to every 10 s), and say so once a streak, not every turn.
                                if failures == 0 {
                                    tracing::error!(worker = %name, error = %e, "award worker");
                                }
                                failures = failures.saturating_add(1);
                                std::thread::sleep(error_pause(settings.poll, failures));
                            }
                        }
                    }
                })
                .expect("spawning a worker thread")
        })
        .collect();
    threads.push(heartbeat);
    if !settings.reconcile_every.is_zero() {
        threads.push(reconciler(db, backend, settings.reconcile_every, stop));
    }
    threads
}

/// Reconciles with the backend every `every`, whichever instance's turn it is, from one
/// interval after the start; stops when `stop` is set.
fn reconciler(
    db: Database,
    backend: Arc<dyn BadgeBackend>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("reconciliation".into())
        .spawn(move || {
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if last.elapsed() < every {
                    continue;
                }
                last = std::time::Instant::now();
                match super::reconcile::run_if_due(&db, backend.as_ref(), every) {
                    Ok(Some(run)) => tracing::info!(run = run.id, summary = %run.summary, "reconciled with the backend"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "reconciliation failed"),
                }
            }
        })
        .expect("spawning the reconciliation thread")
}

/// Renews the leases of the jobs in hand every third of the lease, on a thread of its own,
/// until `stop` is set: a live worker keeps its job however long the backend takes, and a
/// killed one's jobs are free within one lease.
fn heartbeat(
    db: Database,
    in_hand: InHand,
    lease: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let every = lease / 3;
    std::thread::Builder::new()
        .name("award-leases".into())
        .spawn(move || {
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(every));
                if last.elapsed() < every {
                    continue;
                }
                last = std::time::Instant::now();
                let renewed = db.get().map_err(|e| e.to_string()).and_then(|mut conn| {
                    jobs::renew_leases(&mut conn, &in_hand.jobs(), lease).map_err(|e| e.to_string())
                });
                if let Err(e) = renewed {
                    tracing::warn!(error = %e, "could not renew the award jobs' leases");
                }
            }
        })
        .expect("spawning the lease heartbeat")
}

/// A heartbeat for as long as the guard lives.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(db: Database, in_hand: InHand, lease: Duration) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        Heartbeat {
            thread: Some(heartbeat(db, in_hand, lease, stop.clone())),
            stop,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The pause after the `failures`-th failure in a row: doubling from `poll`, at most 10 s.
fn error_pause(poll: Duration, failures: u32) -> Duration {
    poll.saturating_mul(1 << failures.min(16))
        .min(Duration::from_secs(10))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "accolade".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_pauses_longer_while_the_database_is_away() {
        let poll = Duration::from_millis(500);
        assert_eq!(error_pause(poll, 1), Duration::from_secs(1));
        assert_eq!(error_pause(poll, 3), Duration::from_secs(4));
        assert_eq!(error_pause(poll, 40), Duration::from_secs(10));
    }
}
