//! "Revoke selected badge assertions": the page that asks for the reason, then queues the
//! revocations (the award workers carry them out on the backend, with retries).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::admin::history::{self, ChangeMessage};
use crate::admin::{DynModelAdmin, FormData};
use crate::auth::permissions::Action;
use crate::badging::assertions::{self, Selected};
use crate::badging::jobs;
use crate::error::{AppError, redirect};
use crate::web::AppState;
use crate::web::admin::{capfirst, changelist_url, permitted_model};
use crate::web::page::Crumb;
use crate::web::query::pairs;
use crate::web::session::Level;
use crate::web::staff::Staff;

pub const PATH: &str = "/badges/badgeassertion/revoke/";
const MAX_REASON: usize = 1000;

#[derive(Template, WebTemplate)]
#[template(path = "admin/revoke_confirmation.html")]
pub struct RevokePage {
    page: crate::web::page::Page,
    objects: Vec<Selected>,
    reason: String,
    error: Option<String>,
    max_reason: usize,
    action_url: String,
    cancel_url: String,
}

fn model(state: &AppState, staff: &Staff) -> Result<Arc<dyn DynModelAdmin>, AppError> {
    permitted_model(state, staff, "badges", "badgeassertion", Action::Change)
}

async fn load(state: &AppState, ids: Vec<String>) -> Result<Vec<Selected>, AppError> {
    // Ids that do not parse name no assertion.
    let ids: Vec<i64> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    let found = state
        .db
        .run(move |conn| assertions::selected(conn, &ids))
        .await?;
    if found.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(found)
}

fn page(
    staff: &Staff,
    model: &dyn DynModelAdmin,
    objects: Vec<Selected>,
    reason: String,
    error: Option<String>,
) -> RevokePage {
    let info = model.info();
    RevokePage {
        page: staff.page(
            "Revoke badge assertions",
            vec![
                Crumb::link(info.app_name, crate::urls::ADMIN),
                Crumb::link(capfirst(info.verbose_name_plural), changelist_url(model)),
                Crumb::here("Revoke"),
            ],
        ),
        objects,
        reason,
        error,
        max_reason: MAX_REASON,
        action_url: format!("/admin{PATH}"),
        cancel_url: changelist_url(model),
    }
}

/// The assertions picked, as the changelist's action sends them (`?ids=…&ids=…`) and the
/// confirmation posts them back.
fn picked(form: &FormData) -> Vec<String> {
    form.all("ids").into_iter().map(str::to_string).collect()
}

pub async fn confirm(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<RevokePage, AppError> {
    let model = model(&state, &staff)?;
    let objects = load(&state, picked(&FormData::new(pairs(req.query_string())))).await?;
    Ok(page(&staff, model.as_ref(), objects, String::new(), None))
}

pub async fn revoke(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let model = model(&state, &staff)?;
    let form = crate::web::admin::upload::urlencoded_form(&body)?;
    let reason = form.text("reason");
    let objects = load(&state, picked(&form)).await?;
    let problem = if reason.is_empty() {
        Some("A reason is required: it is published with the revoked assertion.".to_string())
    } else if reason.contains('\0') {
        Some("Null characters are not allowed.".to_string())
    } else if reason.chars().count() > MAX_REASON {
        Some(format!(
            "Ensure the reason has at most {MAX_REASON} characters."
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        let page = page(&staff, model.as_ref(), objects, reason, Some(message));
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page.render()?));
    }
    let author = staff.author();
    let info = model.info();
    let picked = objects.len();
    let queued = state
        .db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let queued = jobs::queue_revocations(conn, &objects, &reason)?;
                let note = ChangeMessage::Note(format!("Revocation requested: {reason}"));
                for (id, repr) in &queued {
                    history::log(conn, &author, info, &id.to_string(), repr, &note)?;
                }
                Ok::<_, diesel::result::Error>(queued.len())
            })
        })
        .await?;
    staff.session.add_message(
        Level::Success,
        format!(
            "Revocation of {queued} badge assertion{} queued: the award workers revoke {} on the badge backend (see Award jobs).",
            if queued == 1 { "" } else { "s" },
            if queued == 1 { "it" } else { "them" }
        ),
    );
    if queued < picked {
        staff.session.add_message(
            Level::Warning,
            format!(
                "{} of the selected assertions were already revoked or being revoked, and were left as they are.",
                picked - queued
            ),
        );
    }
    Ok(redirect(&changelist_url(model.as_ref())))
}
