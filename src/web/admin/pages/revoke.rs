//! "Revoke selected badge assertions": the page that asks for the reason, then queues the
//! revocations (the award workers carry them out on the backend, with retries).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::admin::history::{self, ChangeMessage};
use crate::admin::{DynModelAdmin, FormData, parse_ids};
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
    let ids: Vec<i64> = parse_ids(&ids);
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
        max_reason: jobs::MAX_REVOCATION_REASON,
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
    let author = staff.author();
    let info = model.info();
    let picked = objects.len();
    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let queued = {
        let reason = reason.clone();
        state
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let queued = match jobs::queue_revocations(conn, &ids, &reason)? {
                        Ok(queued) => queued,
                        Err(problem) => return Ok(Err(problem)),
                    };
                    let note =
                        ChangeMessage::Note(format!("Revocation requested: {}", reason.trim()));
                    for (id, repr) in &queued {
                        history::log(conn, &author, info, &id.to_string(), repr, &note)?;
                    }
                    Ok::<_, diesel::result::Error>(Ok(queued.len()))
                })
            })
            .await?
    };
    let queued = match queued {
        Ok(queued) => queued,
        Err(problem) => {
            let page = page(&staff, model.as_ref(), objects, reason, Some(problem));
            return Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?));
        }
    };
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
