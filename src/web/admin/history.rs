//! An object's history page.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::{capfirst, changelist_url, missing_object, object_url, permitted_model};
use crate::admin::history;
use crate::auth::permissions::Action;
use crate::display::format_time;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::page::Crumb;
use crate::web::staff::Staff;

pub struct HistoryRow {
    pub time: String,
    pub user: String,
    pub action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/object_history.html")]
pub struct HistoryPage {
    page: crate::web::page::Page,
    rows: Vec<HistoryRow>,
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
) -> Result<HistoryPage, AppError> {
    let (app, model_name, id) = path.into_inner();
    let model = permitted_model(&state, &staff, &app, &model_name, Action::View)?;
    let (loaded, entries) = {
        let (model, id) = (model.clone(), id.clone());
        state
            .db
            .run(move |conn| {
                let loaded = model.load(conn, &id)?;
                let entries = history::for_object(conn, model.info(), &id)?;
                Ok::<_, AppError>((loaded, entries))
            })
            .await?
    };
    // A deleted object's history stays readable by its last known name.
    let repr = match (&loaded, entries.last()) {
        (Some((repr, _)), _) => repr.clone(),
        (None, Some(entry)) => entry.object_repr.clone(),
        (None, None) => return Err(missing_object(&staff, model.as_ref(), &id)),
    };
    let info = model.info();
    let mut crumbs = vec![
        Crumb::link(info.app_name, crate::urls::ADMIN),
        Crumb::link(
            capfirst(info.verbose_name_plural),
            changelist_url(model.as_ref()),
        ),
    ];
    if loaded.is_some() {
        crumbs.push(Crumb::link(
            repr.clone(),
            object_url(model.as_ref(), &id, "change"),
        ));
    }
    crumbs.push(Crumb::here("History"));
    Ok(HistoryPage {
        page: staff.page(format!("Change history: {repr}"), crumbs),
        rows: entries
            .iter()
            .map(|e| HistoryRow {
                time: format_time(&e.action_time),
                user: e.username.clone(),
                action: e.message(),
            })
            .collect(),
    })
}
