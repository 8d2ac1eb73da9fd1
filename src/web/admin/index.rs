//! The admin index: apps and models the user may see, their recent actions, the badges
//! issued per day and the award jobs that wait or failed.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::chart::BarChart;
use super::{capfirst, changelist_url, object_url};
use crate::admin::history;
use crate::auth::permissions::Action;
use crate::badging::stats;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::page::Page;
use crate::web::staff::Staff;

pub struct ModelLink {
    pub name: String,
    pub url: Option<String>,
    pub add_url: Option<String>,
    /// "Change" or, for view-only users, "View".
    pub change_label: &'static str,
}

pub struct AppView {
    pub name: &'static str,
    pub models: Vec<ModelLink>,
}

pub struct RecentView {
    pub repr: String,
    pub url: Option<String>,
    pub model: String,
    pub action: &'static str,
}

/// Award jobs that need an operator's eye, with links to them.
pub struct JobsView {
    pub waiting: i64,
    pub failed: i64,
    pub waiting_url: String,
    pub failed_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/index.html")]
pub struct IndexPage {
    page: Page,
    apps: Vec<AppView>,
    recent: Vec<RecentView>,
    chart: Option<BarChart>,
    jobs: Option<JobsView>,
}

/// Days the chart of issued badges covers.
const CHART_DAYS: u32 = 30;

/// The chart and job counts, for those who may view assertions and jobs.
async fn activity(
    state: &AppState,
    staff: &Staff,
) -> Result<(Option<BarChart>, Option<JobsView>), AppError> {
    let may_view = |model: &str| {
        state
            .admin
            .get("badges", model)
            .filter(|m| staff.can(m.as_ref(), Action::View))
            .map(|m| changelist_url(m.as_ref()))
    };
    let (assertions, jobs) = (may_view("badgeassertion"), may_view("awardjob"));
    let (want_chart, want_jobs) = (assertions.is_some(), jobs.is_some());
    let (series, counts) = state
        .db
        .run(move |conn| {
            let today = crate::db::now().date();
            let series = if want_chart {
                Some(stats::issued_per_day(conn, today, CHART_DAYS)?)
            } else {
                None
            };
            let counts = if want_jobs {
                Some(stats::job_counts(conn)?)
            } else {
                None
            };
            Ok::<_, AppError>((series, counts))
        })
        .await?;
    let jobs = jobs.zip(counts).map(|(url, counts)| JobsView {
        waiting: counts.waiting,
        failed: counts.failed,
        waiting_url: format!("{url}?status__exact=pending"),
        failed_url: format!("{url}?status__exact=failed"),
    });
    Ok((series.map(|s| BarChart::per_day(&s)), jobs))
}

pub async fn index(state: web::Data<AppState>, staff: Staff) -> Result<IndexPage, AppError> {
    let apps = state
        .admin
        .apps()
        .into_iter()
        .filter_map(|(name, models)| {
            let mut models: Vec<ModelLink> = models
                .iter()
                .filter(|m| {
                    staff
                        .permissions
                        .has_any(m.info().app_label, m.info().model)
                })
                .map(|m| {
                    let can_change = staff.can(m.as_ref(), Action::Change);
                    let can_view = staff.can(m.as_ref(), Action::View);
                    ModelLink {
                        name: capfirst(m.info().verbose_name_plural),
                        url: can_view.then(|| changelist_url(m.as_ref())),
                        add_url: staff
                            .can(m.as_ref(), Action::Add)
                            .then(|| format!("{}add/", changelist_url(m.as_ref()))),
                        change_label: if can_change { "Change" } else { "View" },
                    }
                })
                .collect();
            models.extend(
                state
                    .admin
                    .pages()
                    .iter()
                    .filter(|p| {
                        p.app_name == name
                            && staff.permissions.has(p.app_label, Action::View, p.model)
                    })
                    .map(|p| ModelLink {
                        name: p.label.to_string(),
                        url: Some(p.url.to_string()),
                        add_url: None,
                        change_label: "View",
                    }),
            );
            (!models.is_empty()).then_some(AppView { name, models })
        })
        .collect();
    let user_id = staff.user.id;
    let entries = state
        .db
        .run(move |conn| history::recent_for_user(conn, user_id, 10))
        .await?;
    let recent = entries
        .into_iter()
        .map(|e| {
            let model = state.admin.get(&e.app_label, &e.model);
            RecentView {
                url: model
                    .as_ref()
                    .filter(|m| !e.is_deletion() && staff.can(m.as_ref(), Action::View))
                    .map(|m| object_url(m.as_ref(), &e.object_id, "change")),
                model: model.map_or_else(|| e.model.clone(), |m| capfirst(m.info().verbose_name)),
                action: e.action_name(),
                repr: e.object_repr,
            }
        })
        .collect();
    let (chart, jobs) = activity(&state, &staff).await?;
    Ok(IndexPage {
        page: staff.page("Site administration", vec![]),
        apps,
        recent,
        chart,
        jobs,
    })
}
