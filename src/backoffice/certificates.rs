//! Certificates › Generated certificates: what the LMS's certificate events reported, with
//! the action "Issue badge now" for a certificate whose award was lost or never asked for.
//! Certificates come from the LMS and are view-only.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Choices, Column, Filter, ListPage, ListQuery,
    Loaded, ModelAdmin, ModelInfo, Request, Row,
};
use crate::auth::permissions::Action;
use crate::badging::{award, backfill};
use crate::db::DbConnection;
use crate::db::schema::{certificates, learners};
use crate::display::format_time;
use crate::learners::certificates::{self as records, Certificate, STATUSES};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(
        super::CERTIFICATES,
        "generatedcertificate",
        "generated certificate",
        "generated certificates",
    ),
    &[
        Column::sorted("learner", "Learner"),
        Column::sorted("course", "Course"),
        Column::sorted("mode", "Mode"),
        Column::sorted("status", "Status"),
        Column::sorted("updated", "Reported"),
    ],
)
.search("Searches learner and course.")
.filters(&[
    Filter::values("status__exact", "status", &STATUSES),
    // Any mode the LMS reports (upstream has more than its five best known).
    Filter::from_data("mode__exact", "mode"),
])
.actions(&[ActionSpec::new("issue", "Issue badge now")])
.offers(&[Action::View, Action::Change])
.view_fields(&[
    ("learner", "Learner"),
    ("course", "Course"),
    ("mode", "Mode"),
    ("status", "Status"),
    ("evidence", "Certificate page"),
    ("updated", "Reported"),
]);

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

    const META: &'static AdminMeta = &META;

    fn filter_choices(&self, conn: &mut DbConnection, _: &str) -> QueryResult<Option<Choices>> {
        let modes = records::modes(conn)?.into_iter();
        Ok(Some(modes.map(|mode| (mode.clone(), mode)).collect()))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: certificates::table,
            filtered: || {
                let mut query = certificates::table.inner_join(learners::table).into_boxed();
                query = search_terms!(query, &q.terms, learners::username, certificates::course_id);
                if let Some(status) = q.filter("status__exact") {
                    query = query.filter(certificates::status.eq(status.to_string()));
                }
                if let Some(mode) = q.filter("mode__exact") {
                    query = query.filter(certificates::mode.eq(mode.to_string()));
                }
                query
            },
            pk: certificates::id,
            order: {
                "learner" => learners::username,
                "course" => certificates::course_id,
                "mode" => certificates::mode,
                "status" => certificates::status,
                "updated" => certificates::updated_at,
            },
            select: (Certificate::as_select(), learners::username),
            row: |(certificate, learner): (Certificate, String)| Row::new(certificate.id, vec![
                Cell::Text(learner),
                Cell::Text(certificate.course_id),
                Cell::Text(certificate.mode),
                Cell::Text(certificate.status),
                Cell::Time(Some(certificate.updated_at)),
            ]),
        )
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<CertificateView>> {
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

    fn run_action(&self, req: &mut Request, _: &str, ids: &[i64]) -> QueryResult<ActionOutcome> {
        let issued = backfill::issue_now(req.conn, ids, &self.lms_url)?;
        let joined = issued.iter().filter(|(_, job)| job.joined).count();
        let skipped = ids.len() - issued.len();
        let message = format!("{} award job(s) queued.", issued.len() - joined);
        let changed = issued
            .iter()
            .map(|(c, job)| (c.id, backfill::issued_repr(c, job)));
        Ok(ActionOutcome::new(message, changed.collect::<Vec<_>>())
            .noting(joined, "already waiting: not queued twice.")
            .noting(
                skipped,
                "certificate(s) skipped: not passing, or no longer there.",
            ))
    }
}
