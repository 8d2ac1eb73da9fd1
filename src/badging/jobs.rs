//! Award jobs: the durable record of an award to be made, claimed by one worker at a time,
//! retried with backoff when the failure can heal, and kept with every attempt's outcome.
//!
//! A job is claimed by setting a lease (`locked_until`). A worker that dies mid-award simply
//! lets its lease run out, and the job is claimed again; the unique (learner, class) index
//! on assertions keeps that from ever awarding twice.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use rand::Rng;

pub use super::job_types::{
    AttemptOutcome, JobKind, JobPayload, JobStatus, JobWork, MissingAssertion,
};
use crate::db::schema::{award_attempts, award_jobs};
use crate::db::{DbConnection, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = award_jobs)]
pub struct AwardJob {
    pub id: i64,
    pub kind: JobKind,
    pub learner_id: i64,
    pub course_id: String,
    pub mode: String,
    pub evidence_url: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub next_attempt_at: chrono::NaiveDateTime,
    pub locked_by: String,
    pub locked_until: Option<chrono::NaiveDateTime>,
    pub last_error: String,
    pub assertion_id: Option<i64>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// The class of an event badge; empty for a course completion.
    pub badge_slug: String,
    /// Why an operator revoked the assertion (`assertion_id`) of a revocation job.
    pub revocation_reason: String,
    /// The backfill that queued it, if one did.
    pub backfill_id: Option<i64>,
}

impl AwardJob {
    /// The job's payload, as its kind reads it; a revocation job whose row names no
    /// assertion has none ([`JobPayload::checked`] is then [`MissingAssertion`]).
    pub fn work(&self) -> JobPayload<'_> {
        JobPayload::new(match self.kind {
            JobKind::CourseCompletion => Ok(JobWork::CourseCompletion {
                mode: &self.mode,
                evidence_url: &self.evidence_url,
                backfill: self.backfill_id,
            }),
            JobKind::EventBadge => Ok(JobWork::EventBadge {
                slug: &self.badge_slug,
            }),
            JobKind::Revocation => match self.assertion_id {
                Some(assertion_id) => Ok(JobWork::Revocation {
                    assertion_id,
                    reason: &self.revocation_reason,
                }),
                None => Err(MissingAssertion { job: self.id }),
            },
        })
    }
}

/// A job to queue; part of the caller's transaction.
#[derive(Insertable)]
#[diesel(table_name = award_jobs)]
struct NewJob<'a> {
    kind: JobKind,
    learner_id: i64,
    course_id: &'a str,
    mode: &'a str,
    evidence_url: &'a str,
    badge_slug: &'a str,
    revocation_reason: &'a str,
    assertion_id: Option<i64>,
    backfill_id: Option<i64>,
    next_attempt_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl<'a> NewJob<'a> {
    /// A job doing `work` for the learner, due now; the columns no kind of work uses
    /// are empty.
    fn new(work: JobWork<'a>, learner_id: i64, course_id: &'a str) -> NewJob<'a> {
        let now = now();
        let mut job = NewJob {
            kind: work.kind(),
            learner_id,
            course_id,
            mode: "",
            evidence_url: "",
            badge_slug: "",
            revocation_reason: "",
            assertion_id: None,
            backfill_id: None,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        };
        match work {
            JobWork::CourseCompletion {
                mode,
                evidence_url,
                backfill,
            } => (job.mode, job.evidence_url, job.backfill_id) = (mode, evidence_url, backfill),
            JobWork::EventBadge { slug } => job.badge_slug = slug,
            JobWork::Revocation {
                assertion_id,
                reason,
            } => (job.assertion_id, job.revocation_reason) = (Some(assertion_id), reason),
        }
        job
    }

    /// Inserts the job, unless the same award already has an open job (a partial unique
    /// index allows one per award): then that job is the answer, made due now.
    fn insert(&self, conn: &mut DbConnection) -> QueryResult<Queued> {
        let mut id = None;
        let inserted = crate::db::insert_unless_duplicate(conn, |conn| {
            id = Some(
                diesel::insert_into(award_jobs::table)
                    .values(self)
                    .returning(award_jobs::id)
                    .get_result(conn)?,
            );
            Ok(1)
        })?;
        if let (true, Some(id)) = (inserted, id) {
            return Ok(Queued { id, joined: false });
        }
        let open = self.open_job(conn)?;
        diesel::update(
            award_jobs::table
                .find(open)
                .filter(award_jobs::status.eq(JobStatus::Pending))
                .filter(award_jobs::next_attempt_at.gt(self.next_attempt_at)),
        )
        .set(award_jobs::next_attempt_at.eq(self.next_attempt_at))
        .execute(conn)?;
        Ok(Queued {
            id: open,
            joined: true,
        })
    }

    /// The open job the unique index found for the same award.
    fn open_job(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        let open = award_jobs::table
            .filter(award_jobs::kind.eq(self.kind))
            .filter(award_jobs::status.eq_any(JobStatus::OPEN))
            .select(award_jobs::id)
            .into_boxed();
        match self.kind {
            JobKind::Revocation => open.filter(award_jobs::assertion_id.eq(self.assertion_id)),
            JobKind::EventBadge => open
                .filter(award_jobs::learner_id.eq(self.learner_id))
                .filter(award_jobs::badge_slug.eq(self.badge_slug)),
            JobKind::CourseCompletion => open
                .filter(award_jobs::learner_id.eq(self.learner_id))
                .filter(award_jobs::course_id.eq(self.course_id))
                .filter(award_jobs::mode.eq(self.mode)),
        }
        .first(conn)
    }
}

/// A queued job: a new one, or the open job of the same award that the request joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queued {
    pub id: i64,
    pub joined: bool,
}

/// Queues a course-completion award, or joins the one already waiting; part of the
/// caller's transaction.
pub fn enqueue_course_completion(
    conn: &mut DbConnection,
    learner_id: i64,
    course_id: &str,
    mode: &str,
    evidence_url: &str,
) -> QueryResult<Queued> {
    enqueue_backfilled(conn, None, learner_id, course_id, mode, evidence_url)
}

/// Queues a course-completion award on behalf of a backfill (when `backfill` is set).
pub fn enqueue_backfilled(
    conn: &mut DbConnection,
    backfill: Option<i64>,
    learner_id: i64,
    course_id: &str,
    mode: &str,
    evidence_url: &str,
) -> QueryResult<Queued> {
    let work = JobWork::CourseCompletion {
        mode,
        evidence_url,
        backfill,
    };
    NewJob::new(work, learner_id, course_id).insert(conn)
}

/// Queues a course-event badge award; `course_id` is the course whose event made it due.
pub fn enqueue_event_badge(
    conn: &mut DbConnection,
    learner_id: i64,
    course_id: &str,
    slug: &str,
) -> QueryResult<Queued> {
    NewJob::new(JobWork::EventBadge { slug }, learner_id, course_id).insert(conn)
}

/// Queues the revocation of an assertion, unless one is already waiting or under way;
/// returns the job, or `None` when there was one.
pub fn enqueue_revocation(
    conn: &mut DbConnection,
    assertion: &super::assertions::BadgeAssertion,
    course_id: &str,
    reason: &str,
) -> QueryResult<Option<i64>> {
    let work = JobWork::Revocation {
        assertion_id: assertion.id,
        reason,
    };
    let queued = NewJob::new(work, assertion.learner_id, course_id).insert(conn)?;
    Ok((!queued.joined).then_some(queued.id))
}

/// Whether the learner has an event badge job for the class waiting or under way.
pub fn event_badge_open(conn: &mut DbConnection, learner_id: i64, slug: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        award_jobs::table
            .filter(award_jobs::learner_id.eq(learner_id))
            .filter(award_jobs::kind.eq(JobKind::EventBadge))
            .filter(award_jobs::badge_slug.eq(slug))
            .filter(award_jobs::status.eq_any(JobStatus::OPEN)),
    ))
    .get_result(conn)
}

pub fn get(conn: &mut DbConnection, id: i64) -> QueryResult<Option<AwardJob>> {
    award_jobs::table
        .find(id)
        .select(AwardJob::as_select())
        .first(conn)
        .optional()
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Claims the next due job (pending and due, or running with an expired lease) for
/// `worker`, atomically: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two workers never
/// take the same job; on SQLite under the single write lock.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    lease: Duration,
) -> QueryResult<Option<AwardJob>> {
    let now = now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let lock = match conn {
        DbConnection::Postgresql(_) => "FOR UPDATE SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE award_jobs SET status = $1, locked_by = $2, locked_until = $3, \
         attempts = attempts + 1, updated_at = $4 \
         WHERE id = (SELECT id FROM award_jobs \
                     WHERE (status = $5 AND next_attempt_at <= $4) \
                        OR (status = $1 AND locked_until < $4) \
                     ORDER BY next_attempt_at, id LIMIT 1 {lock}) \
         RETURNING id"
    );
    let claimed: Option<Claimed> = crate::db::write_transaction(conn, |conn| {
        // Parameters in order of first appearance, as SQLite numbers them.
        diesel::sql_query(&sql)
            .bind::<Text, _>(JobStatus::Running)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(JobStatus::Pending)
            .get_result(conn)
            .optional()
    })?;
    match claimed {
        Some(Claimed { id }) => get(conn, id),
        None => Ok(None),
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Awarded (or already held): the assertion.
    Done { assertion_id: i64, reason: String },
    /// Nothing to award, by design (badges off, already awarded before the job).
    Skipped { reason: String },
    /// Try again later (not before `after`, when the backend said so).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Not yet, and not counted as an attempt: another job holds what this one needs, or an
    /// unanswered request must settle first.
    Wait { reason: String, after: Duration },
    /// Will not succeed.
    Failed { reason: String },
}

/// What one attempt came to, and whether its request may have reached the backend
/// without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    pub unanswered: bool,
}

/// Exponential backoff with jitter: about 2 s, 4 s, 8 s … capped at ten minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let base = 2f64 * 2f64.powi(exponent as i32);
    let capped = base.min(600.0);
    let jitter = rand::rng().random_range(0.75..1.25);
    Duration::from_secs_f64(capped * jitter)
}

/// Records the attempt and moves the job on. A retry past `max_attempts` fails the job;
/// a wait gives back the attempt its claim counted.
pub fn finish(
    conn: &mut DbConnection,
    job: &AwardJob,
    worker: &str,
    started: chrono::NaiveDateTime,
    attempt: Attempt,
    max_attempts: i32,
) -> QueryResult<()> {
    let outcome = match attempt.outcome {
        Outcome::Retry { reason, .. } if job.attempts >= max_attempts => Outcome::Failed {
            reason: format!("{reason} (gave up after {} attempts)", job.attempts),
        },
        other => other,
    };
    let (status, label, reason, assertion) = match &outcome {
        Outcome::Done {
            assertion_id,
            reason,
        } => (
            JobStatus::Done,
            AttemptOutcome::Done,
            reason.clone(),
            Some(*assertion_id),
        ),
        Outcome::Skipped { reason } => (
            JobStatus::Done,
            AttemptOutcome::Skipped,
            reason.clone(),
            None,
        ),
        Outcome::Retry { reason, .. } | Outcome::Wait { reason, .. } => (
            JobStatus::Pending,
            AttemptOutcome::Retry,
            reason.clone(),
            None,
        ),
        Outcome::Failed { reason } => (
            JobStatus::Failed,
            AttemptOutcome::Failed,
            reason.clone(),
            None,
        ),
    };
    let (next, uncounted) = match outcome {
        Outcome::Retry { after, .. } => {
            let wait = backoff(job.attempts).max(after.unwrap_or_default());
            (
                now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                0,
            )
        }
        Outcome::Wait { after, .. } => (
            now() + chrono::Duration::from_std(after).unwrap_or_default(),
            1,
        ),
        _ => (job.next_attempt_at, 0),
    };
    crate::db::write_transaction(conn, |conn| {
        // Only the worker that holds the job moves it on: one whose lease ran out and whose
        // job was taken up again (or cancelled, or deleted) meanwhile records nothing.
        let moved = diesel::update(
            award_jobs::table
                .find(job.id)
                .filter(award_jobs::status.eq(JobStatus::Running))
                .filter(award_jobs::locked_by.eq(worker)),
        )
        .set((
            award_jobs::status.eq(status),
            award_jobs::attempts.eq(award_jobs::attempts - uncounted),
            award_jobs::next_attempt_at.eq(next),
            award_jobs::locked_by.eq(""),
            award_jobs::locked_until.eq(None::<chrono::NaiveDateTime>),
            award_jobs::last_error.eq(if status == JobStatus::Done {
                ""
            } else {
                &reason
            }),
            // A revocation job's assertion is its input: kept whatever the outcome.
            award_jobs::assertion_id.eq(assertion.or(job.assertion_id)),
            award_jobs::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if moved == 0 {
            tracing::warn!(job = job.id, %worker, "the job is no longer this worker's; outcome not recorded");
            return Ok(());
        }
        diesel::insert_into(award_attempts::table)
            .values((
                award_attempts::job_id.eq(job.id),
                award_attempts::worker.eq(worker),
                award_attempts::started_at.eq(started),
                award_attempts::finished_at.eq(now()),
                award_attempts::outcome.eq(label),
                award_attempts::reason.eq(&reason),
                award_attempts::unanswered.eq(attempt.unanswered),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Keeps the leases of the jobs in hand alive: each (worker, job) stays the worker's for
/// `lease` more. Called while the jobs run, so that only a dead process's jobs — or a job
/// its worker let go of without recording an outcome — are taken up again.
pub fn renew_leases(
    conn: &mut DbConnection,
    in_hand: &[(String, i64)],
    lease: Duration,
) -> QueryResult<usize> {
    if in_hand.is_empty() {
        return Ok(0);
    }
    let until = now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    let (workers, ids): (Vec<&str>, Vec<i64>) =
        in_hand.iter().map(|(w, id)| (w.as_str(), *id)).unzip();
    diesel::update(
        award_jobs::table
            .filter(award_jobs::status.eq(JobStatus::Running))
            .filter(award_jobs::id.eq_any(ids))
            .filter(award_jobs::locked_by.eq_any(workers)),
    )
    .set(award_jobs::locked_until.eq(Some(until)))
    .execute(conn)
}

/// "Retry now": the chosen pending or failed jobs, due now with a fresh budget of attempts.
/// A job whose award has another open job meanwhile is left as it is (the database allows
/// one open job per award). Returns the jobs queued again.
///
/// An award whose earlier request got no answer keeps that knowledge in its claim, not in
/// the attempt count, so a retried job still looks on the backend before sending again.
pub fn retry_now(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let mut retried = Vec::new();
    for &id in ids {
        let queued = crate::db::insert_unless_duplicate(conn, |conn| {
            // The state condition is part of the UPDATE, so a job a worker claims meanwhile
            // is left alone rather than changed under it.
            diesel::update(
                award_jobs::table
                    .find(id)
                    .filter(award_jobs::status.eq_any([JobStatus::Pending, JobStatus::Failed])),
            )
            .set((
                award_jobs::status.eq(JobStatus::Pending),
                award_jobs::attempts.eq(0),
                award_jobs::next_attempt_at.eq(now()),
                award_jobs::updated_at.eq(now()),
            ))
            .execute(conn)
            .and_then(|n| match n {
                1 => Ok(1),
                // Not in a state for it: roll back nothing, report it as skipped.
                _ => Err(diesel::result::Error::NotFound),
            })
        });
        match queued {
            Ok(true) => retried.push(id),
            Ok(false) | Err(diesel::result::Error::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(retried)
}

/// Cancels the chosen pending jobs (a running one is in a worker's hands: it finishes or its
/// lease runs out first). Returns the jobs cancelled.
pub fn cancel(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    diesel::update(
        award_jobs::table
            .filter(award_jobs::id.eq_any(ids))
            .filter(award_jobs::status.eq(JobStatus::Pending)),
    )
    .set((
        award_jobs::status.eq(JobStatus::Failed),
        award_jobs::last_error.eq("Cancelled in the admin."),
        award_jobs::updated_at.eq(now()),
    ))
    .returning(award_jobs::id)
    .get_results(conn)
}

/// Why the job's latest attempt ended as it did.
pub fn last_reason(conn: &mut DbConnection, job: i64) -> QueryResult<String> {
    Ok(award_attempts::table
        .filter(award_attempts::job_id.eq(job))
        .order(award_attempts::id.desc())
        .select(award_attempts::reason)
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

/// One recorded attempt at a job.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = award_attempts)]
pub struct AttemptRecord {
    pub started_at: chrono::NaiveDateTime,
    pub worker: String,
    pub outcome: AttemptOutcome,
    pub reason: String,
    /// The request was sent and got no answer: the award was looked up before sending again.
    pub unanswered: bool,
}

impl std::fmt::Display for AttemptRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unknown = if self.unanswered {
            " (sent, no answer: looked up before sending again)"
        } else {
            ""
        };
        let started = crate::display::format_time(&self.started_at);
        let (outcome, worker, reason) = (&self.outcome, &self.worker, &self.reason);
        write!(f, "{started} {outcome}{unknown} by {worker}: {reason}")
    }
}

/// The job's attempts, oldest first.
pub fn attempts_of(conn: &mut DbConnection, job: i64) -> QueryResult<Vec<AttemptRecord>> {
    award_attempts::table
        .filter(award_attempts::job_id.eq(job))
        .order(award_attempts::id)
        .select(AttemptRecord::as_select())
        .load(conn)
}

/// The jobs among `ids` that exist, each with its number of recorded attempts.
pub fn with_attempt_counts(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    award_jobs::table
        .left_join(award_attempts::table)
        .filter(award_jobs::id.eq_any(ids))
        .group_by(award_jobs::id)
        .order(award_jobs::id)
        .select((
            award_jobs::id,
            diesel::dsl::count(award_attempts::id.nullable()),
        ))
        .load(conn)
}

/// A job as its record page shows it, every value in words ("-" for none).
#[derive(serde::Serialize, serde::Deserialize, Default, Debug)]
pub struct Description {
    pub status: String,
    /// "alice <alice@example.com>".
    pub learner: String,
    pub course: String,
    pub badge: String,
    pub evidence: String,
    pub attempts: String,
    /// When a pending job is tried next.
    pub next: String,
    /// The URL of the assertion the job made.
    pub assertion: String,
    pub last_error: String,
    /// Every attempt made, oldest first, joined by " · ".
    pub history: String,
}

/// The job with its learner, assertion and attempts, described; `None` if there is none.
pub fn describe(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Description>> {
    use crate::display::{format_time, or_dash};
    let Some(job) = get(conn, id)? else {
        return Ok(None);
    };
    let learner = crate::learners::get(conn, job.learner_id)?;
    let attempts = attempts_of(conn, id)?.into_iter().map(|a| a.to_string());
    let assertion = match job.assertion_id {
        Some(a) => super::assertions::url_of(conn, a).unwrap_or_else(|_| a.to_string()),
        None => "-".into(),
    };
    Ok(Some(Description {
        learner: learner.to_string(),
        course: job.course_id.clone(),
        badge: job.work().to_string(),
        evidence: or_dash(&job.evidence_url),
        attempts: job.attempts.to_string(),
        next: match job.status {
            JobStatus::Pending => format_time(&job.next_attempt_at),
            _ => "-".into(),
        },
        assertion,
        last_error: or_dash(&job.last_error),
        history: attempts.collect::<Vec<_>>().join(" · "),
        status: job.status.to_string(),
    }))
}

/// The job's display string: "Award job #12".
pub fn repr(id: i64) -> String {
    format!("Award job #{id}")
}

/// The jobs among `ids` that exist, as a delete removes them: each with its display
/// string and its recorded attempts ("3 recorded attempt(s)"), if any.
pub fn deleted(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let found = with_attempt_counts(conn, ids)?.into_iter();
    let found = found.map(|(id, attempts)| {
        let related = match attempts {
            0 => Vec::new(),
            n => vec![format!("{n} recorded attempt(s)")],
        };
        (id, repr(id), related)
    });
    Ok(found.collect())
}

/// Deletes the jobs (their attempts go with them).
pub fn delete(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(award_jobs::table.filter(award_jobs::id.eq_any(ids))).execute(conn)
}

/// The jobs, with their learners, in the state named `status` (text that names no state
/// matches no job), as a query to search, order and page further.
pub fn matching(
    status: Option<&str>,
) -> diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::InnerJoin<award_jobs::table, crate::db::schema::learners::table>,
    crate::db::MultiBackend,
> {
    let query = award_jobs::table
        .inner_join(crate::db::schema::learners::table)
        .into_boxed();
    match status.map(str::parse::<JobStatus>) {
        Some(Ok(status)) => query.filter(award_jobs::status.eq(status)),
        Some(Err(_)) => query.filter(award_jobs::status.eq_any(Vec::<JobStatus>::new())),
        None => query,
    }
}

/// Pending, running and failed jobs, newest first (for `accolade jobs`).
pub fn unfinished(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<AwardJob>> {
    award_jobs::table
        .filter(award_jobs::status.ne(JobStatus::Done))
        .order(award_jobs::id.desc())
        .limit(limit)
        .select(AwardJob::as_select())
        .load(conn)
}

/// The longest revocation reason (it is published with the revoked assertion).
pub const MAX_REVOCATION_REASON: usize = 1000;

/// Why `reason` (trimmed) cannot be published as a revocation reason, or `None`.
pub fn revocation_reason_problem(reason: &str) -> Option<String> {
    if reason.is_empty() {
        return Some("A reason is required: it is published with the revoked assertion.".into());
    }
    if reason.contains('\0') {
        return Some("Null characters are not allowed.".into());
    }
    crate::validation::max_chars(reason, MAX_REVOCATION_REASON).err()
}

/// Queues the revocation, for `reason`, of each of these assertions that is not revoked
/// (nor being revoked); part of the caller's transaction. Returns the ones queued with
/// their display strings, or why the reason cannot be published.
pub fn queue_revocations(
    conn: &mut DbConnection,
    ids: &[i64],
    reason: &str,
) -> QueryResult<Result<Vec<(i64, String)>, String>> {
    let reason = reason.trim();
    if let Some(problem) = revocation_reason_problem(reason) {
        return Ok(Err(problem));
    }
    let mut queued = Vec::new();
    for picked in super::assertions::selected(conn, ids)? {
        let Some(assertion) = super::assertions::by_id(conn, picked.id)? else {
            continue;
        };
        if assertion.revoked {
            continue;
        }
        let class = crate::badges::classes::by_id(conn, assertion.badge_class_id)?;
        if enqueue_revocation(conn, &assertion, &class.course_id, reason)?.is_some() {
            queued.push((picked.id, picked.repr));
        }
    }
    Ok(Ok(queued))
}

/// A learner's job, as the learner's page lists it: "#12 course-v1:Org+X+2026 done
/// 2026-01-02 03:04:05 UTC".
#[derive(Queryable, Debug)]
pub struct LearnerJob {
    pub id: i64,
    pub course_id: String,
    pub status: JobStatus,
    pub updated_at: chrono::NaiveDateTime,
}

impl std::fmt::Display for LearnerJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, course, status) = (self.id, &self.course_id, &self.status);
        let at = crate::display::format_time(&self.updated_at);
        write!(f, "#{id} {course} {status} {at}")
    }
}

/// The learner's jobs, oldest first.
pub fn of_learner(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<LearnerJob>> {
    award_jobs::table
        .filter(award_jobs::learner_id.eq(learner))
        .order(award_jobs::id)
        .select((
            award_jobs::id,
            award_jobs::course_id,
            award_jobs::status,
            award_jobs::updated_at,
        ))
        .load(conn)
}

/// How many jobs each of the learners has, in any state (learners without any are left
/// out).
pub fn count_by_learner(
    conn: &mut DbConnection,
    learners: &[i64],
) -> QueryResult<std::collections::HashMap<i64, i64>> {
    let counts = award_jobs::table
        .filter(award_jobs::learner_id.eq_any(learners))
        .group_by(award_jobs::learner_id)
        .select((award_jobs::learner_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?;
    Ok(counts.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1).as_secs_f64();
        assert!((1.5..=2.5).contains(&first), "{first}");
        let fourth = backoff(4).as_secs_f64();
        assert!((12.0..=20.0).contains(&fourth), "{fourth}");
        assert!(backoff(40).as_secs_f64() <= 750.0);
    }

    fn revocation_job(assertion_id: Option<i64>) -> AwardJob {
        let time = now();
        AwardJob {
            id: 12,
            kind: JobKind::Revocation,
            learner_id: 3,
            course_id: "course-v1:edX+DemoX+Demo_Course".into(),
            mode: String::new(),
            evidence_url: String::new(),
            status: JobStatus::Pending,
            attempts: 0,
            next_attempt_at: time,
            locked_by: String::new(),
            locked_until: None,
            last_error: String::new(),
            assertion_id,
            created_at: time,
            updated_at: time,
            badge_slug: String::new(),
            revocation_reason: "Issued in error".into(),
            backfill_id: None,
        }
    }

    #[test]
    fn a_revocation_naming_no_assertion_has_no_work_and_says_so() {
        let corrupt = revocation_job(None);
        assert_eq!(
            corrupt.work().checked(),
            Err(MissingAssertion { job: 12 }),
            "no assertion 0 made up"
        );
        assert_eq!(
            MissingAssertion { job: 12 }.to_string(),
            "revocation job #12 names no assertion (its assertion_id is NULL); nothing was revoked"
        );
        assert_eq!(corrupt.work().to_string(), "revocation (no assertion)");

        let sound = revocation_job(Some(5));
        assert_eq!(
            sound.work().checked(),
            Ok(JobWork::Revocation {
                assertion_id: 5,
                reason: "Issued in error"
            })
        );
        assert_eq!(sound.work().to_string(), "revocation");
    }
}
