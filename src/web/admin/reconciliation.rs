//! The reconciliation page: the last run's findings (what differed between Badgr and
//! Accolade, and what was done), and the runs before it.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::auth::permissions::Action;
use crate::badging::reconcile::{self, FindingRecord, RunRecord};
use crate::display::format_time;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::page::{Crumb, Page};
use crate::web::staff::Staff;

/// The most findings shown: the CLI and the logs have them all.
const SHOWN: i64 = 500;

pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub fix: bool,
    pub summary: String,
}

pub struct FindingRow {
    pub kind: String,
    pub class_url: Option<String>,
    pub class_id: String,
    pub learner_url: Option<String>,
    pub learner_id: String,
    pub backend_id: String,
    pub detail: String,
    pub action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reconciliation.html")]
pub struct ReconciliationPage {
    page: Page,
    latest: Option<RunRow>,
    findings: Vec<FindingRow>,
    shown_limit: i64,
    earlier: Vec<RunRow>,
}

pub async fn show(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    let assertions = state
        .admin
        .get("badges", "badgeassertion")
        .ok_or(AppError::NotFound)?;
    staff.require(assertions.as_ref(), Action::View)?;
    let (runs, findings) = state
        .db
        .run(|conn| {
            let runs = reconcile::recent_runs(conn, 11)?;
            let findings = match runs.first() {
                Some(run) => reconcile::findings_of(conn, run.id, SHOWN)?,
                None => Vec::new(),
            };
            Ok::<_, diesel::result::Error>((runs, findings))
        })
        .await?;
    let mut runs = runs.into_iter().map(run_row);
    let page = ReconciliationPage {
        page: staff.page(
            "Reconciliation with Badgr",
            vec![
                Crumb::link("Badges", crate::urls::ADMIN),
                Crumb::here("Reconciliation with Badgr"),
            ],
        ),
        latest: runs.next(),
        findings: findings.into_iter().map(finding_row).collect(),
        shown_limit: SHOWN,
        earlier: runs.collect(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

fn run_row(run: RunRecord) -> RunRow {
    RunRow {
        id: run.id,
        started_at: format_time(&run.started_at),
        finished_at: run
            .finished_at
            .as_ref()
            .map(format_time)
            .unwrap_or_default(),
        fix: run.fix,
        summary: run.summary,
    }
}

fn finding_row(f: FindingRecord) -> FindingRow {
    let shown = |id: Option<i64>| id.map(|id| id.to_string()).unwrap_or_else(|| "-".into());
    FindingRow {
        kind: f.kind.replace('_', " "),
        class_url: f
            .badge_class_id
            .map(|id| crate::urls::object("badges", "badgeclass", &id.to_string(), "change")),
        class_id: shown(f.badge_class_id),
        learner_url: f
            .learner_id
            .map(|id| crate::urls::object("learners", "learner", &id.to_string(), "change")),
        learner_id: shown(f.learner_id),
        backend_id: f.backend_id,
        detail: f.detail,
        action: f.action,
    }
}
