//! The admin's generic pages: one set of handlers for every registered model.

mod changelist;
mod chart;
mod delete;
mod form;
mod frozen;
mod history;
mod index;
mod pages;
mod preserved;
mod reconciliation;
mod upload;
mod views;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::AppState;
use super::router::{Router, endpoint};
use super::staff::Staff;
use crate::admin::DynModelAdmin;
use crate::auth::permissions::Action;
use crate::error::{AppError, redirect};
use crate::web::session::Level;

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint("/").get(index::index))
        // Before the generic routes, which would read it as app "badges", model "frozen-images".
        .add(endpoint("/badges/frozen-images/").get(frozen::show))
        .add(endpoint("/badges/reconciliation/").get(reconciliation::show))
        .add(
            endpoint(pages::revoke::PATH)
                .get(pages::revoke::confirm)
                .post(pages::revoke::revoke),
        )
        .add(
            endpoint("/{app}/{model}/")
                .get(changelist::show)
                .post(changelist::act),
        )
        .add(
            endpoint("/{app}/{model}/add/")
                .get(form::add_form)
                .post(form::add),
        )
        .add(
            endpoint("/{app}/{model}/{id}/change/")
                .get(form::change_form)
                .post(form::change),
        )
        .add(
            endpoint("/{app}/{model}/{id}/delete/")
                .get(delete::confirm)
                .post(delete::delete),
        )
        .add(endpoint("/{app}/{model}/{id}/history/").get(history::show))
        .add(endpoint("/{app}/{model}/{id}/").get(object_root))
        .fallback(not_found);
}

/// Anything else under /admin: login first, then 404 (no model enumeration).
async fn not_found(_staff: Staff) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn object_root(_staff: Staff, path: web::Path<(String, String, String)>) -> HttpResponse {
    let (app, model, id) = path.into_inner();
    let [app, model, id] = [&app, &model, &id].map(|s| segment(s));
    redirect(&crate::urls::object(&app, &model, &id, "change"))
}

/// The registered model named by the URL (404 if none) when the user holds `action` on it
/// (403 otherwise).
fn permitted_model(
    state: &AppState,
    staff: &Staff,
    app: &str,
    model: &str,
    action: Action,
) -> Result<Arc<dyn DynModelAdmin>, AppError> {
    let model = state.admin.get(app, model).ok_or(AppError::NotFound)?;
    staff.require(model.as_ref(), action)?;
    Ok(model)
}

/// Django's answer to an object id that names nothing (a stale link, an object deleted
/// meanwhile): back to the admin's index, with a warning that says so.
fn missing_object(staff: &Staff, model: &dyn DynModelAdmin, id: &str) -> AppError {
    let id: String = id.chars().take(50).collect();
    let name = capfirst(model.info().verbose_name);
    let message = format!("{name} with ID “{id}” doesn’t exist. Perhaps it was deleted?");
    staff.session.add_message(Level::Warning, message);
    AppError::Redirect(crate::urls::ADMIN.into())
}

/// [`missing_object`] for a page whose object was not found.
fn or_missing(staff: &Staff, model: &dyn DynModelAdmin, id: &str, error: AppError) -> AppError {
    match error {
        AppError::NotFound => missing_object(staff, model, id),
        other => other,
    }
}

pub fn changelist_url(model: &dyn DynModelAdmin) -> String {
    let info = model.info();
    crate::urls::changelist(info.app_label, info.model)
}

pub fn object_url(model: &dyn DynModelAdmin, id: &str, page: &str) -> String {
    let info = model.info();
    crate::urls::object(info.app_label, info.model, &segment(id), page)
}

/// A value as one path segment: nothing in it can end the segment or start a query.
fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Tells the page's reader that their search was cut to the bounds (shown now, not kept
/// in the session).
fn search_shortened(page: &mut crate::web::page::Page) {
    use crate::admin::list::{MAX_SEARCH_TERMS, MAX_TERM_CHARS};
    page.messages.push(crate::web::session::Message {
        level: crate::web::session::Level::Warning,
        text: format!(
            "The search was shortened to its first {MAX_SEARCH_TERMS} words, of at most {MAX_TERM_CHARS} characters each."
        ),
    });
}

/// Capitalises the first letter, as Django's `capfirst`.
pub fn capfirst(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
