//! Certificates › Generated certificates: what the LMS's certificate events reported, with
//! the action "Issue badge now" for a certificate whose award was lost or never asked for.
//! Certificates come from the LMS and are view-only.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, AdminMeta, Cell, Column, FieldSpec, FilterSpec, ListPage,
    ListQuery, ModelAdmin, ModelInfo, Row,
};
use crate::auth::permissions::Action;
use crate::badging::{award, backfill};
use crate::db::DbConnection;
use crate::db::schema::{certificates, learners};
use crate::display::format_time;
use crate::learners::certificates::{self as records, Certificate};

static META: AdminMeta = AdminMeta::new(
    ModelInfo {
        app_label: "certificates",
        app_name: "Certificates",
        model: "generatedcertificate",
        verbose_name: "generated certificate",
        verbose_name_plural: "generated certificates",
    },
    &[
        Column::sorted("learner", "Learner"),
        Column::sorted("course", "Course"),
        Column::sorted("mode", "Mode"),
        Column::sorted("status", "Status"),
        Column::sorted("updated", "Reported"),
    ],
)
.search("Searches learner and course.")
.actions(&[ActionSpec::new("issue", "Issue badge now")])
.offers(&[Action::View, Action::Change]);

const STATUSES: [&str; 4] = ["downloadable", "generating", "notpassing", "unavailable"];
const MODES: [&str; 5] = [
    "honor",
    "verified",
    "professional",
    "no-id-professional",
    "audit",
];

pub struct CertificateAdmin {
    /// For the evidence URL of the awards the action queues.
    pub lms_url: String,
}

/// What the certificate's page shows; nothing on it is edited.
#[derive(Serialize, Deserialize, Default)]
pub struct CertificateView {
    learner: String,
    course: String,
    mode: String,
    status: String,
    evidence: String,
    updated: String,
}

impl ModelAdmin for CertificateAdmin {
    type Id = i64;
    type Form = CertificateView;

    fn meta(&self) -> &'static AdminMeta {
        &META
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![
            FilterSpec::values("status__exact", "status", &STATUSES),
            FilterSpec::values("mode__exact", "mode", &MODES),
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
        let page: Vec<(Certificate, String)> =
            page_of!(filtered(), q, META.columns, certificates::id, {
                "learner" => learners::username,
                "course" => certificates::course_id,
                "mode" => certificates::mode,
                "status" => certificates::status,
                "updated" => certificates::updated_at,
            })
            .select((Certificate::as_select(), learners::username))
            .load(conn)?;
        let rows = page.into_iter().map(|(certificate, learner)| Row {
            id: certificate.id.to_string(),
            cells: vec![
                Cell::Text(learner),
                Cell::Text(certificate.course_id),
                Cell::Text(certificate.mode),
                Cell::Text(certificate.status),
                Cell::Time(Some(certificate.updated_at)),
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
            ("learner", "Learner"),
            ("course", "Course"),
            ("mode", "Mode"),
            ("status", "Status"),
            ("evidence", "Certificate page"),
            ("updated", "Reported"),
        ]))
    }

    fn load(
        &self,
        conn: &mut DbConnection,
        id: &i64,
    ) -> QueryResult<Option<(String, CertificateView)>> {
        let Some((certificate, learner)) = records::with_learner(conn, *id)? else {
            return Ok(None);
        };
        let repr = format!("{learner} in {}", certificate.course_id);
        let view = CertificateView {
            evidence: award::evidence_url(&self.lms_url, &certificate.verify_uuid),
            updated: format_time(&certificate.updated_at),
            learner,
            course: certificate.course_id,
            mode: certificate.mode,
            status: certificate.status,
        };
        Ok(Some((repr, view)))
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[i64],
    ) -> QueryResult<ActionOutcome> {
        if action != "issue" {
            return Ok(ActionOutcome::default());
        }
        let issued = backfill::issue_now(conn, ids, &self.lms_url)?;
        let joined = issued.iter().filter(|(_, job)| job.joined).count();
        let mut message = format!("{} award job(s) queued.", issued.len() - joined);
        if joined > 0 {
            message.push_str(&format!(" {joined} already waiting: not queued twice."));
        }
        let skipped = ids.len() - issued.len();
        if skipped > 0 {
            message.push_str(&format!(" {skipped} certificate(s) skipped: not passing."));
        }
        let changed = issued.into_iter().map(|(c, job)| {
            let how = if job.joined { " (already waiting)" } else { "" };
            let (id, course, mode) = (c.id, c.course_id, c.mode);
            let repr = format!(
                "Certificate #{id} ({course}, {mode}): award job #{}{how}",
                job.id
            );
            (id.to_string(), repr)
        });
        Ok(ActionOutcome {
            message,
            changed: changed.collect(),
        })
    }
}
