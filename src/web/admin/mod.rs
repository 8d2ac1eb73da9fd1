//! The admin's generic pages: one set of handlers for every registered model.

mod changelist;
mod chart;
mod delete;
mod form;
mod frozen;
mod history;
mod index;
mod preserved;
mod revoke;
mod upload;
mod views;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::staff::Staff;
use super::{AppState, resource};
use crate::admin::ModelAdmin;
use crate::auth::permissions::Action;
use crate::error::{AppError, redirect};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").get(index::index))
        // Before the generic routes, which would read it as app "badges", model "frozen-images".
        .service(resource("/badges/frozen-images/").get(frozen::show))
        .service(
            resource(revoke::PATH)
                .get(revoke::confirm)
                .post(revoke::revoke),
        )
        .service(
            resource("/{app}/{model}/")
                .get(changelist::show)
                .post(changelist::act),
        )
        .service(
            resource("/{app}/{model}/add/")
                .get(form::add_form)
                .post(form::add),
        )
        .service(
            resource("/{app}/{model}/{id}/change/")
                .get(form::change_form)
                .post(form::change),
        )
        .service(
            resource("/{app}/{model}/{id}/delete/")
                .get(delete::confirm)
                .post(delete::delete),
        )
        .service(resource("/{app}/{model}/{id}/history/").get(history::show))
        .service(resource("/{app}/{model}/{id}/").get(object_root))
        .default_service(web::to(not_found));
}

/// Anything else under /admin: login first, then 404 (no model enumeration).
async fn not_found(_staff: Staff) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn object_root(_staff: Staff, path: web::Path<(String, String, String)>) -> HttpResponse {
    let (app, model, id) = path.into_inner();
    redirect(&format!("/admin/{app}/{model}/{id}/change/"))
}

/// The registered model named by the URL (404 if none) when the user holds `action` on it
/// (403 otherwise).
fn permitted_model(
    state: &AppState,
    staff: &Staff,
    app: &str,
    model: &str,
    action: Action,
) -> Result<Arc<dyn ModelAdmin>, AppError> {
    let model = state.admin.get(app, model).ok_or(AppError::NotFound)?;
    staff.require(model.as_ref(), action)?;
    Ok(model)
}

pub fn changelist_url(model: &dyn ModelAdmin) -> String {
    let info = model.info();
    format!("/admin/{}/{}/", info.app_label, info.model)
}

pub fn object_url(model: &dyn ModelAdmin, id: &str, page: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
    format!("{}{encoded}/{page}/", changelist_url(model))
}

/// Capitalises the first letter, as Django's `capfirst`.
pub fn capfirst(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
