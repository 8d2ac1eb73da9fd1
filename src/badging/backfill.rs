//! Backfill: when a course turns badges on late, its learners with passing certificates
//! get their course-completion badges. One run queues an award for every passing
//! certificate whose learner neither holds the course's badge nor has one waiting, and
//! remembers the jobs, so the course page and `accolade backfill` can show its progress.

use std::collections::HashSet;

use diesel::prelude::*;

use super::jobs::{self, JobKind, JobStatus, Queued};
use super::stats::StateCounts;
use crate::db::schema::{award_jobs, backfills, badge_assertions, badge_classes};
use crate::db::{DbConnection, now};
use crate::learners::certificates::{self, Certificate};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = backfills)]
pub struct Backfill {
    pub id: i64,
    pub course_id: String,
    pub requested_by: String,
    pub queued: i32,
    pub skipped: i32,
    pub created_at: chrono::NaiveDateTime,
}

/// Where a backfill's jobs stand.
pub type Progress = StateCounts;

impl Progress {
    pub fn finished(&self) -> bool {
        self.waiting == 0
    }

    pub fn describe(&self) -> String {
        format!(
            "{} done, {} failed, {} pending",
            self.done, self.failed, self.waiting
        )
    }
}

/// Queues the awards; part of the caller's transaction. `requested_by` names who asked
/// (a username, or "command line").
pub fn start(
    conn: &mut DbConnection,
    course_id: &str,
    requested_by: &str,
    lms_url: &str,
) -> QueryResult<Backfill> {
    let passing = certificates::passing_in_course(conn, course_id)?;
    let mut covered = holders(conn, course_id)?;
    covered.extend(waiting(conn, course_id)?);
    let id: i64 = diesel::insert_into(backfills::table)
        .values((
            backfills::course_id.eq(course_id),
            backfills::requested_by.eq(requested_by),
            backfills::queued.eq(0),
            backfills::skipped.eq(0),
            backfills::created_at.eq(now()),
        ))
        .returning(backfills::id)
        .get_result(conn)?;
    let mut queued = 0;
    for certificate in &passing {
        let learner = certificate.learner_id;
        if covered.contains(&learner) {
            continue;
        }
        let evidence = super::award::evidence_url(lms_url, &certificate.verify_uuid);
        let mode = &certificate.mode;
        if !jobs::enqueue_backfilled(conn, Some(id), learner, course_id, mode, &evidence)?.joined {
            queued += 1;
        }
    }
    let skipped = passing.len() as i32 - queued;
    diesel::update(backfills::table.find(id))
        .set((backfills::queued.eq(queued), backfills::skipped.eq(skipped)))
        .execute(conn)?;
    backfills::table
        .find(id)
        .select(Backfill::as_select())
        .first(conn)
}

/// "Issue badge now", for certificates whose award was lost or never asked for: queues the
/// course-completion award of each passing certificate among `ids`, or joins the one
/// waiting (a learner who already holds the badge is skipped by the award itself); part of
/// the caller's transaction. Returns the passing certificates, in id order, each with its
/// job; the others are left out.
pub fn issue_now(
    conn: &mut DbConnection,
    ids: &[i64],
    lms_url: &str,
) -> QueryResult<Vec<(Certificate, Queued)>> {
    let passing = certificates::passing_among(conn, ids)?;
    let mut issued = Vec::with_capacity(passing.len());
    for certificate in passing {
        let evidence = super::award::evidence_url(lms_url, &certificate.verify_uuid);
        let (learner, course, mode) = (
            certificate.learner_id,
            &certificate.course_id,
            &certificate.mode,
        );
        let job = jobs::enqueue_course_completion(conn, learner, course, mode, &evidence)?;
        issued.push((certificate, job));
    }
    Ok(issued)
}

/// What issuing did for one certificate, as its history entry says it:
/// "Certificate #7 (course-v1:Org+X+2026, verified): award job #12 (already waiting)".
pub fn issued_repr(certificate: &Certificate, job: &Queued) -> String {
    let how = if job.joined { " (already waiting)" } else { "" };
    let (id, course, mode) = (certificate.id, &certificate.course_id, &certificate.mode);
    format!(
        "Certificate #{id} ({course}, {mode}): award job #{}{how}",
        job.id
    )
}

/// Learners holding a course-completion badge of the course (any mode).
fn holders(conn: &mut DbConnection, course_id: &str) -> QueryResult<HashSet<i64>> {
    Ok(badge_assertions::table
        .inner_join(badge_classes::table)
        .filter(badge_classes::course_id.eq(course_id))
        .filter(badge_classes::issuing_component.eq(""))
        .select(badge_assertions::learner_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// Learners with a course-completion award of the course waiting or under way.
fn waiting(conn: &mut DbConnection, course_id: &str) -> QueryResult<HashSet<i64>> {
    Ok(award_jobs::table
        .filter(award_jobs::kind.eq(JobKind::CourseCompletion))
        .filter(award_jobs::course_id.eq(course_id))
        .filter(award_jobs::status.eq_any(JobStatus::OPEN))
        .select(award_jobs::learner_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}

/// The course's most recent backfill, if it ever had one.
pub fn latest(conn: &mut DbConnection, course_id: &str) -> QueryResult<Option<Backfill>> {
    backfills::table
        .filter(backfills::course_id.eq(course_id))
        .order(backfills::id.desc())
        .select(Backfill::as_select())
        .first(conn)
        .optional()
}

pub fn progress(conn: &mut DbConnection, backfill: i64) -> QueryResult<Progress> {
    let by_state: Vec<(JobStatus, i64)> = award_jobs::table
        .filter(award_jobs::backfill_id.eq(backfill))
        .group_by(award_jobs::status)
        .select((award_jobs::status, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(StateCounts::tally(by_state))
}

/// One line for the course page: when, by whom, and where its jobs stand.
pub fn summary(conn: &mut DbConnection, course_id: &str) -> QueryResult<String> {
    let Some(run) = latest(conn, course_id)? else {
        return Ok("Never run for this course.".into());
    };
    let progress = progress(conn, run.id)?;
    Ok(format!(
        "Last run {} by {}: {} awards queued ({} learners already had the badge or one waiting) — {}.",
        crate::display::format_time(&run.created_at),
        run.requested_by,
        run.queued,
        run.skipped,
        progress.describe()
    ))
}

/// What backfilling several courses did.
#[derive(Debug, Default)]
pub struct CoursesBackfill {
    /// Awards queued in all.
    pub queued: usize,
    /// The courses backfilled, as (id, course key), by course key.
    pub started: Vec<(crate::courses::CourseId, String)>,
    /// The courses left alone because "Issue Open Badges" is off for them.
    pub skipped: Vec<String>,
}

impl CoursesBackfill {
    /// What was done, for the person who asked.
    pub fn describe(&self) -> String {
        use crate::display::count_of;
        let mut text = format!(
            "Queued {} for existing passing certificates in {}; each course's page shows the progress.",
            count_of(self.queued, "badge award"),
            count_of(self.started.len(), "course")
        );
        if !self.skipped.is_empty() {
            let off = self.skipped.join(", ");
            text.push_str(&format!(
                " Skipped, because “Issue Open Badges” is off: {off}."
            ));
        }
        text
    }
}

/// Backfills the courses of these ids, but those that issue no badges; part of the
/// caller's transaction.
pub fn start_courses(
    conn: &mut DbConnection,
    ids: &[crate::courses::CourseId],
    requested_by: &str,
    lms_url: &str,
) -> QueryResult<CoursesBackfill> {
    let mut outcome = CoursesBackfill::default();
    for course in crate::courses::by_ids(conn, ids)? {
        if !course.issue_badges {
            outcome.skipped.push(course.course_id);
            continue;
        }
        let run = start(conn, &course.course_id, requested_by, lms_url)?;
        outcome.queued += usize::try_from(run.queued).unwrap_or_default();
        outcome.started.push((course.id, course.course_id));
    }
    Ok(outcome)
}
