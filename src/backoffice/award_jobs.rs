//! Badges › Award jobs: every award with its state, attempts and last error, and the
//! actions "Retry now" and "Cancel". Jobs are made by events and `accolade award`, never
//! by hand, and their records are read-only.

use diesel::prelude::*;

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Column, Deletion, Filter, ListPage, ListQuery,
    Loaded, ModelAdmin, ModelInfo, Request, Row,
};
use crate::auth::permissions::Action;
use crate::badging::jobs::{self, AwardJob, JobStatus};
use crate::db::DbConnection;
use crate::db::schema::{award_jobs, learners as learner_rows};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::BADGES, "awardjob", "award job", "award jobs"),
    &[
        Column::sorted("id", "Job"),
        Column::sorted("status", "State"),
        Column::sorted("learner", "Learner"),
        Column::sorted("course", "Course"),
        Column::new("badge", "Badge"),
        Column::sorted("attempts", "Attempts"),
        Column::sorted("next", "Next attempt"),
        Column::new("error", "Last error"),
    ],
)
.search("Searches learner and course.")
.filters(&[STATE])
.actions(&[
    ActionSpec::new("retry", "Retry now"),
    ActionSpec::new("cancel", "Cancel"),
])
.offers(&[Action::View, Action::Change, Action::Delete])
.view_fields(&[
    ("status", "State"),
    ("learner", "Learner"),
    ("course", "Course"),
    ("badge", "Badge"),
    ("evidence", "Evidence"),
    ("attempts", "Attempts"),
    ("next", "Next attempt"),
    ("assertion", "Assertion"),
    ("last_error", "Last error"),
    ("history", "Attempts made"),
]);

const STATE: Filter = Filter::values("status__exact", "state", JobStatus::NAMES);

pub struct AwardJobAdmin;

impl ModelAdmin for AwardJobAdmin {
    type Id = i64;
    type Form = jobs::Description;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> = Some(Deletion::new(jobs::deleted, jobs::delete));

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: award_jobs::table,
            filtered: || {
                let query = jobs::matching(q.filter(STATE.param));
                let (learner, course) = (learner_rows::username, award_jobs::course_id);
                search_terms!(query, &q.terms, learner, course)
            },
            pk: award_jobs::id,
            order: {
                "id" => award_jobs::id,
                "status" => award_jobs::status,
                "learner" => learner_rows::username,
                "course" => award_jobs::course_id,
                "attempts" => award_jobs::attempts,
                "next" => award_jobs::next_attempt_at,
            },
            select: (AwardJob::as_select(), learner_rows::username),
            row: |(job, learner): (AwardJob, String)| Row::new(job.id, vec![
                Cell::Text(format!("#{}", job.id)),
                Cell::Text(job.status.to_string()),
                Cell::Text(learner),
                Cell::Text(job.course_id.clone()),
                Cell::Text(job.work().to_string()),
                Cell::Text(job.attempts.to_string()),
                Cell::Time((job.status == JobStatus::Pending).then_some(job.next_attempt_at)),
                Cell::Text(job.last_error.chars().take(120).collect()),
            ]),
        )
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<jobs::Description>> {
        Ok(jobs::describe(conn, *id)?.map(|job| (jobs::repr(*id), job)))
    }

    fn run_action(&self, req: &mut Request, name: &str, ids: &[i64]) -> QueryResult<ActionOutcome> {
        let (chosen, done) = match name {
            "retry" => (jobs::retry_now(req.conn, ids)?, "queued again"),
            "cancel" => (jobs::cancel(req.conn, ids)?, "cancelled"),
            _ => return Ok(ActionOutcome::default()),
        };
        let skipped = ids.len() - chosen.len();
        let message = format!("{} award job(s) {done}.", chosen.len());
        let changed = chosen.into_iter().map(|id| (id, jobs::repr(id)));
        let why = "left as they were (not in a state for that, or another job for the same award is waiting).";
        Ok(ActionOutcome::new(message, changed).noting(skipped, why))
    }
}
