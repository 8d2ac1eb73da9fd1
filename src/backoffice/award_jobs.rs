//! Badges › Award jobs: every award with its state, attempts and last error, and the
//! actions "Retry now" and "Cancel". Jobs are made by events and `accolade award`, never
//! by hand, and their records are read-only.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, AdminMeta, Cell, Column, DeletedObject, FieldSpec,
    FilterSpec, ListPage, ListQuery, ModelAdmin, ModelInfo, Row,
};
use crate::auth::permissions::Action;
use crate::badging::assertions;
use crate::badging::jobs::{self, JobStatus};
use crate::db::DbConnection;
use crate::db::schema::{award_jobs, learners as learner_rows};
use crate::display::{format_time, or_dash};
use crate::learners;

static META: AdminMeta = AdminMeta::new(
    ModelInfo {
        app_label: "badges",
        app_name: "Badges",
        model: "awardjob",
        verbose_name: "award job",
        verbose_name_plural: "award jobs",
    },
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
.actions(&[
    ActionSpec::new("retry", "Retry now"),
    ActionSpec::new("cancel", "Cancel"),
])
.offers(&[Action::View, Action::Change, Action::Delete]);

pub struct AwardJobAdmin;

/// What the job's page shows; nothing on it is edited.
#[derive(Serialize, Deserialize, Default)]
pub struct JobView {
    status: String,
    learner: String,
    course: String,
    badge: String,
    evidence: String,
    attempts: String,
    next: String,
    assertion: String,
    last_error: String,
    history: String,
}

fn repr(id: i64) -> String {
    format!("Award job #{id}")
}

impl ModelAdmin for AwardJobAdmin {
    type Id = i64;
    type Form = JobView;

    fn meta(&self) -> &'static AdminMeta {
        &META
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let states = JobStatus::ALL.iter().map(|s| s.as_str());
        let states: Vec<&str> = states.collect();
        Ok(vec![FilterSpec::values("status__exact", "state", &states)])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = award_jobs::table
                .inner_join(learner_rows::table)
                .into_boxed();
            query = search_terms!(
                query,
                &q.terms,
                learner_rows::username,
                award_jobs::course_id
            );
            if let Some(status) = q.filter("status__exact") {
                query = query.filter(award_jobs::status.eq(status.to_string()));
            }
            query
        };
        let total = award_jobs::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(jobs::AwardJob, String)> =
            page_of!(filtered(), q, META.columns, award_jobs::id, {
                "id" => award_jobs::id,
                "status" => award_jobs::status,
                "learner" => learner_rows::username,
                "course" => award_jobs::course_id,
                "attempts" => award_jobs::attempts,
                "next" => award_jobs::next_attempt_at,
            })
            .select((jobs::AwardJob::as_select(), learner_rows::username))
            .load(conn)?;
        let rows = page.into_iter().map(|(job, learner)| Row {
            id: job.id.to_string(),
            cells: vec![
                Cell::Text(format!("#{}", job.id)),
                Cell::Text(job.status.to_string()),
                Cell::Text(learner),
                Cell::Text(job.course_id.clone()),
                Cell::Text(job.work().to_string()),
                Cell::Text(job.attempts.to_string()),
                Cell::Time((job.status == JobStatus::Pending).then_some(job.next_attempt_at)),
                Cell::Text(job.last_error.chars().take(120).collect()),
            ],
        });
        Ok(ListPage::new(rows.collect(), count, Some(total)))
    }

    fn fields(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        _id: Option<&i64>,
    ) -> QueryResult<Vec<FieldSpec>> {
        Ok(FieldSpec::read_only_list(&[
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
        ]))
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Option<(String, JobView)>> {
        let Some(job) = jobs::get(conn, *id)? else {
            return Ok(None);
        };
        let learner = learners::get(conn, job.learner_id)?;
        let attempts = jobs::attempts_of(conn, *id)?;
        let assertion = match job.assertion_id {
            Some(a) => assertions::url_of(conn, a).unwrap_or_else(|_| a.to_string()),
            None => "-".into(),
        };
        let view = JobView {
            learner: format!("{} <{}>", learner.username, learner.email),
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
            history: attempts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" · "),
            status: job.status.to_string(),
        };
        Ok(Some((repr(*id), view)))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<(i64, DeletedObject)>> {
        let found = jobs::with_attempt_counts(conn, ids)?;
        Ok(found
            .into_iter()
            .map(|(id, attempts)| {
                let related = match attempts {
                    0 => Vec::new(),
                    n => vec![format!("{n} recorded attempt(s)")],
                };
                (id, DeletedObject::new(repr(id), related))
            })
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
        jobs::delete(conn, ids)
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[i64],
    ) -> QueryResult<ActionOutcome> {
        let (chosen, done) = match action {
            "retry" => (jobs::retry_now(conn, ids)?, "queued again"),
            "cancel" => (jobs::cancel(conn, ids)?, "cancelled"),
            _ => return Ok(ActionOutcome::default()),
        };
        let skipped = ids.len() - chosen.len();
        let mut message = format!("{} award job(s) {done}.", chosen.len());
        if skipped > 0 {
            message.push_str(&format!(
                " {skipped} left as they were (not in a state for that, or another job for the same award is waiting)."
            ));
        }
        let changed = chosen.into_iter().map(|id| (id.to_string(), repr(id)));
        Ok(ActionOutcome {
            message,
            changed: changed.collect(),
        })
    }
}
