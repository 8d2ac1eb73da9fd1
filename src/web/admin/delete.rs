//! Deleting: the confirmation page that lists everything a delete takes with it, for one
//! object and for "Delete selected".

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::{capfirst, missing_object, object_url, permitted_model, preserved};
use crate::admin::history::{self, ChangeMessage};
use crate::admin::{Actor, DeletedObject, DynModelAdmin, Request};
use crate::auth::permissions::Action;
use crate::error::{AppError, redirect};
use crate::web::AppState;
use crate::web::page::Crumb;
use crate::web::session::Level;
use crate::web::staff::Staff;

#[derive(Template, WebTemplate)]
#[template(path = "admin/delete_confirmation.html")]
pub struct DeletePage {
    page: crate::web::page::Page,
    verbose_name: &'static str,
    verbose_name_plural: &'static str,
    objects: Vec<DeletedObject>,
    related_count: usize,
    /// Some object may not be deleted: the page says why and offers no confirmation.
    blocked: bool,
    /// Set for "Delete selected": the ids to post back with the confirmation.
    bulk_ids: Option<Vec<String>>,
    action_url: String,
    cancel_url: String,
    preserved_filters: String,
}

/// What deleting the objects would take with it, and what stands in the way.
fn assess(
    conn: &mut crate::db::DbConnection,
    model: &dyn DynModelAdmin,
    actor: Actor,
    ids: &[String],
) -> diesel::QueryResult<Vec<(String, DeletedObject)>> {
    let mut found = model.delete_preview(conn, ids)?;
    for (id, object) in &mut found {
        object.refusal = model.refusal(&mut Request::new(conn, actor), id)?;
    }
    Ok(found)
}

async fn preview(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    ids: Vec<String>,
) -> Result<Vec<(String, DeletedObject)>, AppError> {
    let actor = staff.actor();
    state
        .db
        .run(move |conn| assess(conn, model.as_ref(), actor, &ids))
        .await
        .map_err(AppError::from)
}

pub async fn confirm(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<DeletePage, AppError> {
    let (app, model_name, id) = path.into_inner();
    let model = permitted_model(&state, &staff, &app, &model_name, Action::Delete)?;
    let found = preview(&state, &staff, model.clone(), vec![id.clone()]).await?;
    let found = found.into_iter().next();
    let (_, object) = found.ok_or_else(|| missing_object(&staff, model.as_ref(), &id))?;
    let info = model.info();
    let preserved = preserved::from_request(&req);
    Ok(DeletePage {
        page: staff.page(
            "Are you sure?",
            vec![
                Crumb::link(info.app_name, crate::urls::ADMIN),
                Crumb::link(
                    capfirst(info.verbose_name_plural),
                    preserved::changelist(model.as_ref(), &preserved),
                ),
                Crumb::link(
                    object.repr.clone(),
                    object_url(model.as_ref(), &id, "change"),
                ),
                Crumb::here("Delete"),
            ],
        ),
        verbose_name: info.verbose_name,
        verbose_name_plural: info.verbose_name_plural,
        related_count: object.related.len(),
        blocked: object.is_blocked(),
        objects: vec![object],
        bulk_ids: None,
        action_url: object_url(model.as_ref(), &id, "delete"),
        cancel_url: object_url(model.as_ref(), &id, "change"),
        preserved_filters: preserved,
    })
}

pub async fn delete(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (app, model_name, id) = path.into_inner();
    let model = permitted_model(&state, &staff, &app, &model_name, Action::Delete)?;
    let form = super::upload::urlencoded_form(&body)?;
    let deleted = remove(&state, &staff, model.clone(), vec![id.clone()]).await?;
    let Some(repr) = deleted.into_iter().next() else {
        return Err(missing_object(&staff, model.as_ref(), &id));
    };
    let info = model.info();
    staff.session.add_message(
        Level::Success,
        format!(
            "The {} “{repr}” was deleted successfully.",
            info.verbose_name
        ),
    );
    Ok(redirect(&preserved::changelist(
        model.as_ref(),
        &form.text(preserved::PARAM),
    )))
}

/// "Delete selected": the confirmation page first, the delete once confirmed.
pub async fn bulk(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    ids: Vec<String>,
    confirmed: bool,
    back: String,
) -> Result<HttpResponse, AppError> {
    let info = model.info();
    if confirmed {
        let deleted = remove(state, staff, model.clone(), ids).await?;
        let noun = if deleted.len() == 1 {
            info.verbose_name
        } else {
            info.verbose_name_plural
        };
        staff.session.add_message(
            Level::Success,
            format!("Successfully deleted {} {noun}.", deleted.len()),
        );
        return Ok(redirect(&back));
    }
    let found = preview(state, staff, model.clone(), ids).await?;
    if found.is_empty() {
        staff.session.add_message(
            Level::Warning,
            "None of the selected objects exist any more. No items have been changed.",
        );
        return Ok(redirect(&back));
    }
    let related_count = found.iter().map(|(_, o)| o.related.len()).sum();
    let blocked = found.iter().any(|(_, o)| o.is_blocked());
    let (ids, objects): (Vec<String>, Vec<DeletedObject>) = found.into_iter().unzip();
    let page = DeletePage {
        page: staff.page(
            "Are you sure?",
            vec![
                Crumb::link(info.app_name, crate::urls::ADMIN),
                Crumb::link(capfirst(info.verbose_name_plural), back.clone()),
                Crumb::here(format!("Delete multiple {}", info.verbose_name_plural)),
            ],
        ),
        verbose_name: info.verbose_name,
        verbose_name_plural: info.verbose_name_plural,
        objects,
        related_count,
        blocked,
        bulk_ids: Some(ids),
        action_url: back.clone(),
        cancel_url: back,
        preserved_filters: String::new(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// Deletes the objects and logs each deletion, all in one transaction; returns the display
/// strings of what was deleted.
async fn remove(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    ids: Vec<String>,
) -> Result<Vec<String>, AppError> {
    let (author, actor) = (staff.author(), staff.actor());
    state
        .db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let found = assess(conn, model.as_ref(), actor, &ids)?;
                if found.iter().any(|(_, object)| object.is_blocked()) {
                    return Err(AppError::Forbidden(
                        "This cannot be deleted: open its delete page to see why.".into(),
                    ));
                }
                // Logged first, as Django does: an admin deleting their own account is the
                // author of the entry, and must still exist when it is written.
                for (id, object) in &found {
                    let deleted = ChangeMessage::Deleted;
                    history::log(conn, &author, model.info(), id, &object.repr, &deleted)?;
                }
                let found_ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
                // Fewer: something that protects an object came meanwhile (a delete
                // keeps what is protected at the moment it runs). All or nothing.
                if model.delete(conn, &found_ids)? < found_ids.len() {
                    return Err(AppError::Forbidden(
                        "Something that keeps this from being deleted was added meanwhile; nothing was deleted. Open its delete page to see why.".into(),
                    ));
                }
                Ok::<_, AppError>(found.into_iter().map(|(_, o)| o.repr).collect())
            })
        })
        .await
        .map_err(AppError::from)
}
