//! The operators' page for certificates ("Certificates › Generated certificates"): what the LMS's
//! certificate events reported, with the action "Issue badge now" for a certificate whose
//! award was lost or never asked for. Certificates come from the LMS and are view-only.

use diesel::prelude::*;

use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, FieldSpec, FilterSpec, FormData,
    LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row, ids_as_i64,
};
use crate::auth::permissions::Action;
use crate::db::DbConnection;
use crate::db::schema::{certificates, learners};
use crate::display::format_time;

use super::intake::PASSING;

static INFO: ModelInfo = ModelInfo {
    app_label: "certificates",
    app_name: "Certificates",
    model: "generatedcertificate",
    verbose_name: "generated certificate",
    verbose_name_plural: "generated certificates",
};

static COLUMNS: &[Column] = &[
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
        key: "mode",
        label: "Mode",
        sortable: true,
    },
    Column {
        key: "status",
        label: "Status",
        sortable: true,
    },
    Column {
        key: "updated",
        label: "Reported",
        sortable: true,
    },
];

static ACTIONS: &[ActionSpec] = &[ActionSpec::new("issue", "Issue badge now")];

pub struct CertificateAdmin {
    /// For the evidence URL of the awards the action queues.
    pub lms_url: String,
}

type CertificateRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
);

/// The columns a `CertificateRow` is loaded from (certificates joined to learners).
const SHOWN: (
    certificates::id,
    learners::username,
    certificates::course_id,
    certificates::mode,
    certificates::status,
    certificates::verify_uuid,
    certificates::updated_at,
) = (
    certificates::id,
    learners::username,
    certificates::course_id,
    certificates::mode,
    certificates::status,
    certificates::verify_uuid,
    certificates::updated_at,
);

impl LegacyModelAdmin for CertificateAdmin {
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
        matches!(action, Action::View | Action::Change)
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let choices = |values: &[&str]| {
            values
                .iter()
                .map(|v| (v.to_string(), v.to_string()))
                .collect()
        };
        Ok(vec![
            FilterSpec {
                param: "status__exact",
                title: "status",
                choices: choices(&["downloadable", "generating", "notpassing", "unavailable"]),
            },
            FilterSpec {
                param: "mode__exact",
                title: "mode",
                choices: choices(&[
                    "honor",
                    "verified",
                    "professional",
                    "no-id-professional",
                    "audit",
                ]),
            },
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = certificates::table.inner_join(learners::table).into_boxed();
            query = search_terms!(query, &q.terms, learners::username, certificates::course_id);
            if let Some(status) = q.filter("status__exact") {
                query = query.filter(certificates::status.eq(status.to_string()));
            }
            if let Some(mode) = q.filter("mode__exact") {
                query = query.filter(certificates::mode.eq(mode.to_string()));
            }
            query
        };
        let total = certificates::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<CertificateRow> = page_of!(filtered(), q, COLUMNS, certificates::id, {
            "learner" => learners::username,
            "course" => certificates::course_id,
            "mode" => certificates::mode,
            "status" => certificates::status,
            "updated" => certificates::updated_at,
        })
        .select(SHOWN)
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(|(id, learner, course, mode, status, _uuid, updated)| Row {
                id: id.to_string(),
                cells: vec![
                    Cell::Text(learner),
                    Cell::Text(course),
                    Cell::Text(mode),
                    Cell::Text(status),
                    Cell::Time(Some(updated)),
                ],
            })
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
            ("learner", "Learner"),
            ("course", "Course"),
            ("mode", "Mode"),
            ("status", "Status"),
            ("evidence", "Certificate page"),
            ("updated", "Reported"),
        ]))
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let found: Option<CertificateRow> = certificates::table
            .inner_join(learners::table)
            .filter(certificates::id.eq(id))
            .select(SHOWN)
            .first(conn)
            .optional()?;
        let Some((_, learner, course, mode, status, uuid, updated)) = found else {
            return Ok(None);
        };
        let mut data = FormData::default();
        data.set("learner", &learner);
        data.set("course", &course);
        data.set("mode", &mode);
        data.set("status", &status);
        data.set("evidence", super::award::evidence_url(&self.lms_url, &uuid));
        data.set("updated", format_time(&updated));
        Ok(Some((format!("{learner} in {course}"), data)))
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        if action != "issue" {
            return Ok(ActionOutcome::default());
        }
        let passing: Vec<(i64, i64, String, String, String)> = certificates::table
            .filter(certificates::id.eq_any(ids_as_i64(ids)))
            .filter(certificates::status.eq_any(PASSING))
            .select((
                certificates::id,
                certificates::learner_id,
                certificates::course_id,
                certificates::mode,
                certificates::verify_uuid,
            ))
            .load(conn)?;
        let (mut changed, mut joined) = (Vec::new(), 0);
        for (id, learner, course, mode, uuid) in &passing {
            // A learner who already holds the badge is skipped by the award itself.
            let evidence = super::award::evidence_url(&self.lms_url, uuid);
            let job =
                super::jobs::enqueue_course_completion(conn, *learner, course, mode, &evidence)?;
            let how = if job.joined { " (already waiting)" } else { "" };
            joined += usize::from(job.joined);
            changed.push((
                id.to_string(),
                format!(
                    "Certificate #{id} ({course}, {mode}): award job #{}{how}",
                    job.id
                ),
            ));
        }
        let mut message = format!("{} award job(s) queued.", passing.len() - joined);
        if joined > 0 {
            message.push_str(&format!(" {joined} already waiting: not queued twice."));
        }
        let skipped = ids.len() - passing.len();
        if skipped > 0 {
            message.push_str(&format!(" {skipped} certificate(s) skipped: not passing."));
        }
        Ok(ActionOutcome { message, changed })
    }
}
