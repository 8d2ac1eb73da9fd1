//! The admin's generic pages: one set of handlers for every registered model.

mod changelist;
mod delete;
mod form;
mod history;
mod index;
mod views;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::AppState;
use super::staff::Staff;
use crate::admin::ModelAdmin;
use crate::error::{AppError, redirect};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index::index))
        .route("/{app}/{model}/", web::get().to(changelist::show))
        .route("/{app}/{model}/", web::post().to(changelist::act))
        .route("/{app}/{model}/add/", web::get().to(form::add_form))
        .route("/{app}/{model}/add/", web::post().to(form::add))
        .route(
            "/{app}/{model}/{id}/change/",
            web::get().to(form::change_form),
        )
        .route("/{app}/{model}/{id}/change/", web::post().to(form::change))
        .route(
            "/{app}/{model}/{id}/delete/",
            web::get().to(delete::confirm),
        )
        .route(
            "/{app}/{model}/{id}/delete/",
            web::post().to(delete::delete),
        )
        .route("/{app}/{model}/{id}/history/", web::get().to(history::show))
        .route("/{app}/{model}/{id}/", web::get().to(object_root))
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

/// The registered model named by the URL, or 404.
fn model_for(state: &AppState, app: &str, model: &str) -> Result<Arc<dyn ModelAdmin>, AppError> {
    state.admin.get(app, model).ok_or(AppError::NotFound)
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
