//! The add and change forms, and what happens after Save.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::upload;
use super::views::{FieldView, field_views};
use super::{capfirst, changelist_url, missing_object, object_url, or_missing};
use super::{permitted_model, preserved};
use crate::admin::form::changed_fields;
use crate::admin::history::{self, ChangeMessage};
use crate::admin::{
    DynModelAdmin, FieldErrors, FormChecks, FormData, ProcessedUploads, Request, SaveError, Saved,
};
use crate::auth::permissions::Action;
use crate::error::{AppError, redirect};
use crate::web::AppState;
use crate::web::page::Crumb;
use crate::web::session::Level;
use crate::web::staff::Staff;

#[derive(Template, WebTemplate)]
#[template(path = "admin/change_form.html")]
pub struct ChangeFormPage {
    page: crate::web::page::Page,
    heading: String,
    object_repr: Option<String>,
    fields: Vec<FieldView>,
    error_banner: Option<&'static str>,
    non_field_errors: Vec<String>,
    /// Why the acting user may not change this object (it is then shown read-only).
    refusal: Option<String>,
    can_save: bool,
    can_preview: bool,
    /// Forms with uploads are sent as multipart.
    multipart: bool,
    can_add_another: bool,
    delete_url: Option<String>,
    history_url: Option<String>,
    /// Buttons that run an action on this object (posted to the changelist).
    object_actions: Vec<ObjectAction>,
    action_url: String,
    object_id: String,
    preserved_filters: String,
}

pub struct ObjectAction {
    pub name: &'static str,
    pub description: &'static str,
}

fn object_actions(model: &dyn DynModelAdmin) -> Vec<ObjectAction> {
    model
        .actions()
        .iter()
        .filter(|a| model.object_actions().contains(&a.name))
        .map(|a| ObjectAction {
            name: a.name,
            description: a.description,
        })
        .collect()
}

/// What the form is for: a new object, or an existing one with its display string.
enum Target {
    Add,
    Change { id: String, repr: String },
}

struct FormContext<'a> {
    staff: &'a Staff,
    model: &'a dyn DynModelAdmin,
    preserved_filters: String,
}

impl FormContext<'_> {
    fn page(
        &self,
        target: &Target,
        fields: Vec<crate::admin::FieldSpec>,
        data: &FormData,
        errors: &FieldErrors,
    ) -> ChangeFormPage {
        let info = self.model.info();
        // A change form with nothing editable (a record the system keeps) is a view.
        let editable = fields.iter().any(crate::admin::FieldSpec::is_editable);
        let may_change = self.staff.can(self.model, Action::Change);
        let can_change = may_change && editable;
        let (heading, crumb, object_repr, id) = match target {
            Target::Add => (
                format!("Add {}", info.verbose_name),
                format!("Add {}", info.verbose_name),
                None,
                None,
            ),
            Target::Change { id, repr } => {
                let verb = if can_change { "Change" } else { "View" };
                (
                    format!("{verb} {}", info.verbose_name),
                    repr.clone(),
                    Some(repr.clone()),
                    Some(id.as_str()),
                )
            }
        };
        let read_only = id.is_some() && !can_change;
        let list_url = preserved::changelist(self.model, &self.preserved_filters);
        let multipart = fields
            .iter()
            .any(|f| matches!(f.widget, crate::admin::Widget::Image { .. }));
        ChangeFormPage {
            page: self.staff.page(
                heading.clone(),
                vec![
                    Crumb::link(info.app_name, crate::urls::ADMIN),
                    Crumb::link(capfirst(info.verbose_name_plural), list_url),
                    Crumb::here(crumb),
                ],
            ),
            heading,
            object_repr,
            fields: field_views(fields, data, errors, read_only),
            error_banner: match errors.count() {
                0 => None,
                1 => Some("Please correct the error below."),
                _ => Some("Please correct the errors below."),
            },
            non_field_errors: errors.get(FieldErrors::NON_FIELD).to_vec(),
            refusal: None,
            can_save: !read_only,
            can_preview: !read_only && self.model.has_preview(),
            multipart,
            can_add_another: self.staff.can(self.model, Action::Add),
            delete_url: id
                .filter(|_| self.staff.can(self.model, Action::Delete))
                .map(|id| {
                    preserved::carry(
                        object_url(self.model, id, "delete"),
                        &self.preserved_filters,
                    )
                }),
            history_url: id.map(|id| object_url(self.model, id, "history")),
            // Actions act on the object, not on its fields: a record offers them too.
            object_actions: if id.is_some() && may_change {
                object_actions(self.model)
            } else {
                Vec::new()
            },
            action_url: changelist_url(self.model),
            object_id: id.unwrap_or_default().to_string(),
            preserved_filters: self.preserved_filters.clone(),
        }
    }
}

pub async fn add_form(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<ChangeFormPage, AppError> {
    let model = permitted_model(&state, &staff, &path.0, &path.1, Action::Add)?;
    let actor = staff.actor();
    let (fields, initial) = {
        let model = model.clone();
        state
            .db
            .run(move |conn| {
                Ok::<_, AppError>((
                    model.fields(&mut Request::new(conn, actor), None)?,
                    model.initial(conn)?,
                ))
            })
            .await?
    };
    let context = FormContext {
        staff: &staff,
        model: model.as_ref(),
        preserved_filters: preserved::from_request(&req),
    };
    Ok(context.page(&Target::Add, fields, &initial, &FieldErrors::default()))
}

pub async fn change_form(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<ChangeFormPage, AppError> {
    let (app, model_name, id) = path.into_inner();
    let model = permitted_model(&state, &staff, &app, &model_name, Action::View)?;
    let actor = staff.actor();
    let found = {
        let (model, id) = (model.clone(), id.clone());
        state
            .db
            .run(move |conn| {
                Ok::<_, AppError>((
                    model.fields(&mut Request::new(conn, actor), Some(&id))?,
                    model.load(conn, &id)?,
                    model.refusal(&mut Request::new(conn, actor), &id)?,
                ))
            })
            .await
    };
    let (fields, loaded, refusal) =
        found.map_err(|e| or_missing(&staff, model.as_ref(), &id, AppError::from(e)))?;
    let (repr, data) = loaded.ok_or_else(|| missing_object(&staff, model.as_ref(), &id))?;
    let context = FormContext {
        staff: &staff,
        model: model.as_ref(),
        preserved_filters: preserved::from_request(&req),
    };
    let fields = match refusal {
        // Read-only, and without the links that lead to changing it another way.
        Some(_) => fields
            .into_iter()
            .map(|field| crate::admin::FieldSpec {
                link: None,
                ..field.read_only()
            })
            .collect(),
        None => fields,
    };
    let mut page = context.page(
        &Target::Change { id, repr },
        fields,
        &data,
        &FieldErrors::default(),
    );
    page.refusal = refusal;
    Ok(page)
}

pub async fn add(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let model = permitted_model(&state, &staff, &path.0, &path.1, Action::Add)?;
    let data = upload::read_form(&req, payload, state.config.images.max_upload_bytes).await?;
    submit(&state, &staff, model, None, data).await
}

pub async fn change(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let (app, model_name, id) = path.into_inner();
    let model = permitted_model(&state, &staff, &app, &model_name, Action::Change)?;
    let data = upload::read_form(&req, payload, state.config.images.max_upload_bytes).await?;
    let submitted = submit(&state, &staff, model.clone(), Some(id.clone()), data).await;
    submitted.map_err(|e| or_missing(&staff, model.as_ref(), &id, e))
}

enum Submitted {
    Saved {
        saved: Saved,
        added: bool,
    },
    /// Shown again: with errors, or valid but only previewed.
    Shown {
        target: Target,
        fields: Vec<crate::admin::FieldSpec>,
        errors: FieldErrors,
    },
}

/// The page a form shown again belongs to: the object's change page, or the add page.
fn target_of(id: Option<String>, before: Option<(String, FormData)>) -> Target {
    match (id, before) {
        (Some(id), Some((repr, _))) => Target::Change { id, repr },
        _ => Target::Add,
    }
}

/// Runs the model's upload processing (image decoding) on the CPU pool, before a database
/// connection is taken, and lets go of the files' bytes; a form without files skips it.
async fn process_uploads(
    state: &AppState,
    model: &Arc<dyn DynModelAdmin>,
    mut data: FormData,
) -> Result<(FormData, ProcessedUploads), AppError> {
    if !data.has_files() {
        return Ok((data, ProcessedUploads::default()));
    }
    let model = model.clone();
    state
        .cpu
        .run(move || {
            let processed = model.process_uploads(&data);
            data.clear_files();
            (data, processed)
        })
        .await
}

/// Processes uploads, then stores them and validates and saves in one transaction with its
/// history entry, and redirects as the pressed button asks. An invalid form, or a preview,
/// is shown again with what was processed (so an upload is not lost) and nothing is saved.
async fn submit(
    state: &AppState,
    staff: &Staff,
    model: Arc<dyn DynModelAdmin>,
    id: Option<String>,
    data: FormData,
) -> Result<HttpResponse, AppError> {
    let actor = staff.actor();
    let author = staff.author();
    let preview = data.has("_preview") && model.has_preview();
    let (data, processed) = process_uploads(state, &model, data).await?;
    let (outcome, data) = {
        let model = model.clone();
        state
            .db
            .run(move |conn| {
                let mut data = data;
                let fields = model.fields(&mut Request::new(conn, actor), id.as_deref())?;
                if let Some(id) = &id
                    && let Some(reason) = model.refusal(&mut Request::new(conn, actor), id)?
                {
                    return Err(AppError::Forbidden(reason));
                }
                if !fields.iter().any(crate::admin::FieldSpec::is_editable) {
                    return Err(AppError::Forbidden(
                        "Nothing on this page can be changed.".into(),
                    ));
                }
                let before = match &id {
                    Some(id) => Some(model.load(conn, id)?.ok_or(AppError::NotFound)?),
                    None => None,
                };
                let mut refused = FieldErrors::default();
                refused.check_null_characters(&fields, &data);
                refused.check_lengths(&fields, &data);
                if !refused.is_empty() {
                    // Not even validated: the database would refuse the text.
                    let shown = Submitted::Shown {
                        target: target_of(id, before),
                        fields,
                        errors: refused,
                    };
                    return Ok((shown, data));
                }
                let mut errors = processed.store(conn, &mut data)?;
                errors.check_required(&fields, &data);
                errors.check_choices(&fields, &data);
                let keep = errors.is_empty() && !preview;
                let result = crate::db::write_transaction(conn, |conn| {
                    let saved = model.save(&mut Request::new(conn, actor), id.as_deref(), &data)?;
                    if !keep {
                        // Validated only: roll back.
                        return Err(SaveError::Invalid(FieldErrors::default()));
                    }
                    let message = match &before {
                        None => ChangeMessage::Added,
                        Some((_, old)) => {
                            let (_, new) = model.load(conn, &saved.id)?.unwrap_or_default();
                            ChangeMessage::Changed {
                                fields: changed_fields(&fields, old, &new),
                            }
                        }
                    };
                    history::log(
                        conn,
                        &author,
                        model.info(),
                        &saved.id,
                        &saved.repr,
                        &message,
                    )?;
                    Ok::<_, SaveError>(saved)
                });
                let outcome = match result {
                    Ok(saved) => Submitted::Saved {
                        saved,
                        added: before.is_none(),
                    },
                    Err(SaveError::Invalid(save_errors)) => {
                        errors.merge_preferring_own(save_errors);
                        Submitted::Shown {
                            target: target_of(id, before),
                            fields,
                            errors,
                        }
                    }
                    Err(SaveError::Database(e)) => return Err(AppError::from(e)),
                };
                Ok((outcome, data))
            })
            .await?
    };
    let preserved_filters = data.text(preserved::PARAM);
    match outcome {
        Submitted::Saved { saved, added } => Ok(after_save(
            staff,
            model.as_ref(),
            &data,
            saved,
            added,
            &preserved_filters,
        )),
        Submitted::Shown {
            target,
            fields,
            errors,
        } => {
            if preview && errors.is_empty() {
                staff.session.add_message(
                    Level::Info,
                    "Preview: this is what will be issued. Nothing is saved until you press Save.",
                );
            }
            let context = FormContext {
                staff,
                model: model.as_ref(),
                preserved_filters,
            };
            let page = context.page(&target, fields, &data, &errors);
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?))
        }
    }
}

fn after_save(
    staff: &Staff,
    model: &dyn DynModelAdmin,
    data: &FormData,
    saved: Saved,
    added: bool,
    preserved: &str,
) -> HttpResponse {
    let info = model.info();
    let warnings = saved.warnings.clone();
    let verb = if added { "added" } else { "changed" };
    let done = format!(
        "The {} “{}” was {verb} successfully.",
        info.verbose_name, saved.repr
    );
    let keep = |url: String| preserved::carry(url, preserved);
    let (message, location) = if data.has("_addanother") {
        (
            format!("{done} You may add another {} below.", info.verbose_name),
            keep(format!("{}add/", changelist_url(model))),
        )
    } else if data.has("_continue") || (added && model.continue_after_add()) {
        (
            format!("{done} You may edit it again below."),
            keep(object_url(model, &saved.id, "change")),
        )
    } else {
        (done, preserved::changelist(model, preserved))
    };
    staff.session.add_message(Level::Success, message);
    for warning in warnings {
        staff.session.add_message(Level::Warning, warning);
    }
    redirect(&location)
}
