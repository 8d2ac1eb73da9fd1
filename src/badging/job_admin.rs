//! The operators' pages for award jobs ("Badges › Award jobs"): every award with its state,
//! attempts and last error, and the actions "Retry now" and "Cancel". Jobs are made by
//! events and `accolade award`, never by hand, and their records are read-only.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::admin::list::format_time;
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, DeletedObject, FieldSpec, FilterSpec, FormData,
    ListPage, ListQuery, ModelAdmin, ModelInfo, Row, ids_as_i64,
};
use crate::auth::permissions::Action;
use crate::db::DbConnection;
use crate::db::schema::{award_attempts, award_jobs, learners};
use crate::{page_of, search_terms};

static INFO: ModelInfo = ModelInfo {
    app_label: "badges",
    app_name: "Badges",
    model: "awardjob",
    verbose_name: "award job",
    verbose_name_plural: "award jobs",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "id",
        label: "Job",
        sortable: true,
    },
    Column {
        key: "status",
        label: "State",
        sortable: true,
    },
    Column {
        key: "learner",
        label: "Learner",
        sortable: true,
    },
    Column {
        key: "course",
        label: "Course",
        sortable: true,
    },
    Column {
        key: "badge",
        label: "Badge",
        sortable: false,
    },
    Column {
        key: "attempts",
        label: "Attempts",
        sortable: true,
    },
    Column {
        key: "next",
        label: "Next attempt",
        sortable: true,
    },
    Column {
        key: "error",
        label: "Last error",
        sortable: false,
    },
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "retry",
        description: "Retry now",
    },
    ActionSpec {
        name: "cancel",
        description: "Cancel",
    },
];

pub struct AwardJobAdmin;

type JobRow = (
    i64,
    String,
    String,
    String,
    (String, String, String),
    i32,
    chrono::NaiveDateTime,
    String,
);

impl ModelAdmin for AwardJobAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches learner and course.")
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn allows(&self, action: Action) -> bool {
        action != Action::Add
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![FilterSpec {
            param: "status__exact",
            title: "state",
            choices: ["pending", "running", "done", "failed"]
                .iter()
                .map(|s| (s.to_string(), s.to_string()))
                .collect(),
        }])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = award_jobs::table.inner_join(learners::table).into_boxed();
            query = search_terms!(query, &q.terms, learners::username, award_jobs::course_id);
            if let Some(status) = q.filter("status__exact") {
                query = query.filter(award_jobs::status.eq(status.to_string()));
            }
            query
        };
        let total = award_jobs::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<JobRow> = page_of!(filtered(), q, COLUMNS, award_jobs::id, {
            "id" => award_jobs::id,
            "status" => award_jobs::status,
            "learner" => learners::username,
            "course" => award_jobs::course_id,
            "attempts" => award_jobs::attempts,
            "next" => award_jobs::next_attempt_at,
        })
        .select((
            award_jobs::id,
            award_jobs::status,
            learners::username,
            award_jobs::course_id,
            (award_jobs::kind, award_jobs::mode, award_jobs::badge_slug),
            award_jobs::attempts,
            award_jobs::next_attempt_at,
            award_jobs::last_error,
        ))
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(
                |(id, status, learner, course, (kind, mode, slug), attempts, next, error)| Row {
                    id: id.to_string(),
                    cells: vec![
                        Cell::Text(format!("#{id}")),
                        Cell::Text(status.clone()),
                        Cell::Text(learner),
                        Cell::Text(course),
                        Cell::Text(super::jobs::badge_label(&kind, &mode, &slug)),
                        Cell::Text(attempts.to_string()),
                        Cell::Time((status == "pending").then_some(next)),
                        Cell::Text(error.chars().take(120).collect()),
                    ],
                },
            )
            .collect();
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        _id: Option<&str>,
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

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(job) = super::jobs::get(conn, id)? else {
            return Ok(None);
        };
        let learner = super::learners::get(conn, job.learner_id)?;
        let attempts: Vec<(chrono::NaiveDateTime, String, String, String, bool)> =
            award_attempts::table
                .filter(award_attempts::job_id.eq(id))
                .order(award_attempts::id)
                .select((
                    award_attempts::started_at,
                    award_attempts::worker,
                    award_attempts::outcome,
                    award_attempts::reason,
                    award_attempts::unanswered,
                ))
                .load(conn)?;
        let mut data = FormData::default();
        data.set("status", &job.status);
        data.set(
            "learner",
            format!("{} <{}>", learner.username, learner.email),
        );
        data.set("course", &job.course_id);
        data.set(
            "badge",
            super::jobs::badge_label(&job.kind, &job.mode, &job.badge_slug),
        );
        data.set(
            "evidence",
            if job.evidence_url.is_empty() {
                "-"
            } else {
                job.evidence_url.as_str()
            },
        );
        data.set("attempts", job.attempts.to_string());
        data.set(
            "next",
            if job.status == "pending" {
                format_time(&job.next_attempt_at)
            } else {
                "-".into()
            },
        );
        data.set(
            "assertion",
            job.assertion_id.map_or("-".to_string(), |a| {
                super::assertions::url_of(conn, a).unwrap_or_else(|_| a.to_string())
            }),
        );
        data.set(
            "last_error",
            if job.last_error.is_empty() {
                "-"
            } else {
                job.last_error.as_str()
            },
        );
        data.set(
            "history",
            attempts
                .iter()
                .map(|(at, worker, outcome, reason, unanswered)| {
                    let unknown = if *unanswered {
                        " (sent, no answer: looked up before sending again)"
                    } else {
                        ""
                    };
                    format!(
                        "{} {outcome}{unknown} by {worker}: {reason}",
                        format_time(at)
                    )
                })
                .collect::<Vec<_>>()
                .join(" · "),
        );
        Ok(Some((format!("Award job #{id}"), data)))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<i64> = award_jobs::table
            .filter(award_jobs::id.eq_any(ids_as_i64(ids)))
            .select(award_jobs::id)
            .load(conn)?;
        let attempts: HashMap<i64, i64> = award_attempts::table
            .filter(award_attempts::job_id.eq_any(&found))
            .group_by(award_attempts::job_id)
            .select((award_attempts::job_id, count_star()))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .collect();
        Ok(found
            .into_iter()
            .map(|id| {
                let related = attempts
                    .get(&id)
                    .map(|n| vec![format!("{n} recorded attempt(s)")])
                    .unwrap_or_default();
                let repr = format!("Award job #{id}");
                (id.to_string(), DeletedObject::new(repr, related))
            })
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(award_jobs::table.filter(award_jobs::id.eq_any(ids_as_i64(ids))))
            .execute(conn)
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        let ids = ids_as_i64(ids);
        let (chosen, message) = match action {
            "retry" => (super::jobs::retry_now(conn, &ids)?, "queued again"),
            "cancel" => (super::jobs::cancel(conn, &ids)?, "cancelled"),
            _ => return Ok(ActionOutcome::default()),
        };
        let skipped = ids.len() - chosen.len();
        let mut text = format!("{} award job(s) {message}.", chosen.len());
        if skipped > 0 {
            text.push_str(&format!(
                " {skipped} left as they were (not in a state for that, or another job for the same award is waiting)."
            ));
        }
        Ok(ActionOutcome {
            message: text,
            changed: chosen
                .into_iter()
                .map(|id| (id.to_string(), format!("Award job #{id}")))
                .collect(),
        })
    }
}
