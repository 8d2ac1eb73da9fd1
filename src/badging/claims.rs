//! Claims: one award in flight per learner and badge class, and one creator per badge
//! class on the backend, each held in a row that the database keeps unique.
//!
//! A job claims its award before any backend call. The claim belongs to the job (not to a
//! worker), so a job taken up again after its worker died finds the claim its own; another
//! job for the same award finds it taken while the holder is open, and takes it over once
//! the holder has finished or failed. Before each request that may make something on the
//! backend, the claim's `sent_at` is set, in one statement that also checks the job is
//! still this worker's; it is cleared when the backend answers that nothing was made, and
//! the claim is removed when the assertion is recorded. A claim with `sent_at` set is an
//! unknown outcome: whoever holds it next looks on the backend before sending again.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::jobs::JobStatus;
use crate::db::schema::{award_claims, badge_classes};
use crate::db::{DbConnection, now, write_transaction};

/// What a job holds after claiming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The job holds the claim; `sent_at` is an earlier request with no known outcome,
    /// sent to the address `sent_to`.
    Held {
        sent_at: Option<chrono::NaiveDateTime>,
        sent_to: String,
    },
    /// Another open job holds it.
    Taken { by_job: i64 },
}

#[derive(QueryableByName)]
struct Sent {
    #[diesel(sql_type = Nullable<Timestamp>)]
    sent_at: Option<chrono::NaiveDateTime>,
    #[diesel(sql_type = Text)]
    sent_to: String,
}

/// The SQL condition "the row's holder job is not open": then the claim may pass on.
fn holder_closed(column: &str) -> String {
    format!(
        "({column} = $1 OR {column} IS NULL OR {column} NOT IN \
         (SELECT id FROM award_jobs WHERE status IN ('{}', '{}')))",
        JobStatus::Pending,
        JobStatus::Running
    )
}

/// Claims the award of `class` to `learner` for `job`.
pub fn claim_award(
    conn: &mut DbConnection,
    job: i64,
    learner: i64,
    class: i64,
) -> QueryResult<Claim> {
    write_transaction(conn, |conn| {
        crate::db::insert_unless_duplicate(conn, |conn| {
            diesel::insert_into(award_claims::table)
                .values((
                    award_claims::learner_id.eq(learner),
                    award_claims::badge_class_id.eq(class),
                    award_claims::job_id.eq(job),
                    award_claims::claimed_at.eq(now()),
                ))
                .execute(conn)
        })?;
        let sql = format!(
            "UPDATE award_claims SET job_id = $1 \
             WHERE learner_id = $2 AND badge_class_id = $3 AND {} RETURNING sent_at, sent_to",
            holder_closed("job_id")
        );
        let held: Option<Sent> = diesel::sql_query(sql)
            .bind::<BigInt, _>(job)
            .bind::<BigInt, _>(learner)
            .bind::<BigInt, _>(class)
            .get_result(conn)
            .optional()?;
        match held {
            Some(Sent { sent_at, sent_to }) => Ok(Claim::Held { sent_at, sent_to }),
            None => Ok(Claim::Taken {
                by_job: award_claims::table
                    .find((learner, class))
                    .select(award_claims::job_id)
                    .first(conn)?,
            }),
        }
    })
}

/// The SQL condition that the job (parameter `job`) is running under the worker
/// (parameter `worker`): a worker whose lease ran out must not send anything more.
fn running_as(job: &str, worker: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM award_jobs \
         WHERE id = {job} AND status = '{}' AND locked_by = {worker})",
        JobStatus::Running
    )
}

/// Marks the award as sent to `email`, now, if `job` still holds it and is still
/// `worker`'s; false otherwise (nothing may be sent then).
pub fn mark_sent(
    conn: &mut DbConnection,
    (job, worker): (i64, &str),
    learner: i64,
    class: i64,
    email: &str,
) -> QueryResult<bool> {
    // Parameters in order of first use: SQLite numbers `$n` by appearance.
    let sql = format!(
        "UPDATE award_claims SET sent_at = $1, sent_to = $2 \
         WHERE learner_id = $3 AND badge_class_id = $4 AND job_id = $5 AND {}",
        running_as("$5", "$6")
    );
    let marked = diesel::sql_query(sql)
        .bind::<Timestamp, _>(now())
        .bind::<Text, _>(email)
        .bind::<BigInt, _>(learner)
        .bind::<BigInt, _>(class)
        .bind::<BigInt, _>(job)
        .bind::<Text, _>(worker)
        .execute(conn)?;
    Ok(marked == 1)
}

/// The backend answered that nothing was made: the award has no unknown outcome.
pub fn clear_sent(conn: &mut DbConnection, job: i64, learner: i64, class: i64) -> QueryResult<()> {
    diesel::update(
        award_claims::table
            .find((learner, class))
            .filter(award_claims::job_id.eq(job)),
    )
    .set(award_claims::sent_at.eq(None::<chrono::NaiveDateTime>))
    .execute(conn)?;
    Ok(())
}

/// The award is recorded: the claim has served (part of the recording transaction).
pub fn release(conn: &mut DbConnection, learner: i64, class: i64) -> QueryResult<()> {
    diesel::delete(award_claims::table.find((learner, class))).execute(conn)?;
    Ok(())
}

/// What a job holds after claiming a class's creation on the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Creation {
    /// The job is the class's creator: the tag to send with it, and an earlier creation
    /// request with no known outcome.
    Held {
        tag: String,
        sent_at: Option<chrono::NaiveDateTime>,
    },
    /// Another open job is creating it.
    Taken { by_job: i64 },
}

#[derive(QueryableByName)]
struct CreationRow {
    #[diesel(sql_type = Text)]
    creation_tag: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    creation_sent_at: Option<chrono::NaiveDateTime>,
}

/// Claims the creation of `class` on the backend for `job`. The tag, made once per class,
/// is what finds the class on the backend when a creation's answer was lost.
pub fn claim_creation(conn: &mut DbConnection, job: i64, class: i64) -> QueryResult<Creation> {
    let tag = format!("accolade-{}", uuid::Uuid::new_v4().simple());
    let sql = format!(
        "UPDATE badge_classes SET creation_job = $1, \
         creation_tag = CASE WHEN creation_tag = '' THEN $2 ELSE creation_tag END \
         WHERE id = $3 AND {} RETURNING creation_tag, creation_sent_at",
        holder_closed("creation_job")
    );
    let held: Option<CreationRow> = write_transaction(conn, |conn| {
        diesel::sql_query(sql)
            .bind::<BigInt, _>(job)
            .bind::<Text, _>(&tag)
            .bind::<BigInt, _>(class)
            .get_result(conn)
            .optional()
    })?;
    match held {
        Some(row) => Ok(Creation::Held {
            tag: row.creation_tag,
            sent_at: row.creation_sent_at,
        }),
        None => Ok(Creation::Taken {
            by_job: badge_classes::table
                .find(class)
                .select(badge_classes::creation_job)
                .first::<Option<i64>>(conn)?
                .unwrap_or_default(),
        }),
    }
}

/// Marks the class's creation as sent, now, if `job` is still its creator and still
/// `worker`'s.
pub fn mark_creation_sent(
    conn: &mut DbConnection,
    job: i64,
    worker: &str,
    class: i64,
) -> QueryResult<bool> {
    let sql = format!(
        "UPDATE badge_classes SET creation_sent_at = $1 \
         WHERE id = $2 AND backend_id = '' AND creation_job = $3 AND {}",
        running_as("$3", "$4")
    );
    let marked = diesel::sql_query(sql)
        .bind::<Timestamp, _>(now())
        .bind::<BigInt, _>(class)
        .bind::<BigInt, _>(job)
        .bind::<Text, _>(worker)
        .execute(conn)?;
    Ok(marked == 1)
}

/// The backend answered that no class was made.
pub fn clear_creation_sent(conn: &mut DbConnection, job: i64, class: i64) -> QueryResult<()> {
    diesel::update(
        badge_classes::table
            .find(class)
            .filter(badge_classes::creation_job.eq(job)),
    )
    .set(badge_classes::creation_sent_at.eq(None::<chrono::NaiveDateTime>))
    .execute(conn)?;
    Ok(())
}
