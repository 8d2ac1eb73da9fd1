//! What a model declares to appear in the admin: a static [`AdminMeta`] and a typed
//! [`ModelAdmin`], which the generic pages reach through the object-safe
//! [`DynModelAdmin`]. Ids are parsed and forms read once, here, so a model admin deals in
//! its own id and form types only.

use std::fmt::Display;
use std::str::FromStr;

use diesel::QueryResult;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::form::{Choices, FieldErrors, FieldSpec, FormData, ProcessedUploads, parse_ids};
use super::list::{Column, Filter, FilterChoices, FilterSpec, ListPage, ListQuery};
use crate::auth::permissions::Action;
use crate::db::DbConnection;

/// Names a model goes by, as Django's `Meta` gives them.
#[derive(Debug)]
pub struct ModelInfo {
    /// URL segment and permission prefix of the app, e.g. `auth`.
    pub app_label: &'static str,
    /// The app's heading on the index, e.g. "Authentication and Authorization".
    pub app_name: &'static str,
    /// URL segment and permission suffix, e.g. `user`.
    pub model: &'static str,
    pub verbose_name: &'static str,
    pub verbose_name_plural: &'static str,
}

/// Everything about a model admin that does not depend on the data: Django's class
/// attributes (`list_display`, `search_fields`' help, `actions`, …), one static value per
/// model, built with the `const` methods below.
#[derive(Debug)]
pub struct AdminMeta {
    pub info: ModelInfo,
    /// Changelist columns; the first links to the change form.
    pub columns: &'static [Column],
    /// Whether the changelist shows a search box, and what it searches.
    pub search_help: Option<&'static str>,
    /// The sidebar's filters, in order.
    pub filters: &'static [Filter],
    pub actions: &'static [ActionSpec],
    /// Actions (by name) also offered as buttons on an object's change page.
    pub object_actions: &'static [&'static str],
    /// What the admin offers on this model at all, whatever the permissions: records the
    /// system makes (award jobs, learners) are never added by hand.
    pub offers: &'static [Action],
    /// Whether the form offers "Preview": validate and show the result without saving.
    pub preview: bool,
    /// Whether "Save" on the add form goes on to the change form (as Django's user admin
    /// does, since the add form asks only for the essentials).
    pub continue_after_add: bool,
    /// The (form name, label) of every field of a read-only detail page: what the default
    /// [`ModelAdmin::fields`] shows, so that a view-only model needs no `fields`.
    pub view_fields: &'static [(&'static str, &'static str)],
}

impl AdminMeta {
    pub const fn new(info: ModelInfo, columns: &'static [Column]) -> AdminMeta {
        AdminMeta {
            info,
            columns,
            search_help: None,
            filters: &[],
            actions: &[],
            object_actions: &[],
            offers: &[Action::View, Action::Add, Action::Change, Action::Delete],
            preview: false,
            continue_after_add: false,
            view_fields: &[],
        }
    }

    /// The fields of a read-only detail page, as (form name, label), in order.
    pub const fn view_fields(
        mut self,
        fields: &'static [(&'static str, &'static str)],
    ) -> AdminMeta {
        self.view_fields = fields;
        self
    }

    pub const fn search(mut self, help: &'static str) -> AdminMeta {
        self.search_help = Some(help);
        self
    }

    pub const fn filters(mut self, filters: &'static [Filter]) -> AdminMeta {
        self.filters = filters;
        self
    }

    pub const fn actions(mut self, actions: &'static [ActionSpec]) -> AdminMeta {
        self.actions = actions;
        self
    }

    pub const fn object_actions(mut self, names: &'static [&'static str]) -> AdminMeta {
        self.object_actions = names;
        self
    }

    pub const fn offers(mut self, offers: &'static [Action]) -> AdminMeta {
        self.offers = offers;
        self
    }

    pub const fn preview(mut self) -> AdminMeta {
        self.preview = true;
        self
    }

    pub const fn continue_after_add(mut self) -> AdminMeta {
        self.continue_after_add = true;
        self
    }
}

impl ModelInfo {
    pub const fn new(
        (app_label, app_name): (&'static str, &'static str),
        model: &'static str,
        verbose_name: &'static str,
        verbose_name_plural: &'static str,
    ) -> ModelInfo {
        ModelInfo {
            app_label,
            app_name,
            model,
            verbose_name,
            verbose_name_plural,
        }
    }
}

/// Who is acting, for models whose fields depend on it (e.g. only superusers grant rights).
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub is_superuser: bool,
}

/// What a hook that depends on who acts receives (as Django's hooks receive `request`):
/// the connection, and the acting user.
pub struct Request<'a> {
    pub conn: &'a mut DbConnection,
    pub actor: Actor,
}

impl<'a> Request<'a> {
    pub fn new(conn: &'a mut DbConnection, actor: Actor) -> Request<'a> {
        Request { conn, actor }
    }
}

/// What [`ModelAdmin::load`] finds: the object's display string and its form values.
pub type Loaded<Form> = Option<(String, Form)>;

/// A bulk action besides "Delete selected".
#[derive(Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// For an action that asks for more (a reason) on a page of its own: that page's path
    /// under the changelist, where "Go" sends the selected ids.
    pub page: Option<&'static str>,
}

impl ActionSpec {
    pub const fn new(name: &'static str, description: &'static str) -> ActionSpec {
        ActionSpec {
            name,
            description,
            page: None,
        }
    }

    pub const fn on_page(mut self, page: &'static str) -> ActionSpec {
        self.page = Some(page);
        self
    }
}

/// What a bulk action did: the message to show, and the (id, display string) it changed.
#[derive(Debug, Default)]
pub struct ActionOutcome {
    pub message: String,
    pub changed: Vec<(String, String)>,
}

impl ActionOutcome {
    /// A message and the objects changed, as (id, display string) in the model's own id.
    pub fn new<Id: ToString>(
        message: impl Into<String>,
        changed: impl IntoIterator<Item = (Id, String)>,
    ) -> ActionOutcome {
        ActionOutcome {
            message: message.into(),
            changed: changed
                .into_iter()
                .map(|(id, repr)| (id.to_string(), repr))
                .collect(),
        }
    }

    /// Appends " {n} {what}" to the message when `n` is not zero: how many of the
    /// selection the action left alone, and why ("2 left as they were (…).").
    pub fn noting(mut self, n: usize, what: &str) -> ActionOutcome {
        if n > 0 {
            self.message.push_str(&format!(" {n} {what}"));
        }
        self
    }

    /// A message and nothing changed (e.g. the selection does not fit the action).
    pub fn refused(message: impl Into<String>) -> ActionOutcome {
        ActionOutcome {
            message: message.into(),
            changed: Vec::new(),
        }
    }
}

/// The result of a successful save.
#[derive(Debug)]
pub struct Saved {
    pub id: String,
    pub repr: String,
    /// Shown after the success message (e.g. what a change does not reach).
    pub warnings: Vec<String>,
}

impl Saved {
    pub fn new(id: impl ToString, repr: impl Into<String>) -> Saved {
        Saved {
            id: id.to_string(),
            repr: repr.into(),
            warnings: Vec::new(),
        }
    }
}

pub type SaveResult = Result<Saved, SaveError>;

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("invalid form")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Invalid input, as domain functions report it (`QueryResult<Result<T, FieldErrors>>`
/// becomes `domain_call(..)??` in a `save`).
impl From<FieldErrors> for SaveError {
    fn from(errors: FieldErrors) -> SaveError {
        SaveError::Invalid(errors)
    }
}

/// One object a delete would remove, with what goes with it ("Group membership: editors"),
/// and what stands in the way of deleting it.
#[derive(Debug)]
pub struct DeletedObject {
    pub repr: String,
    pub related: Vec<String>,
    /// Objects that are never deleted through the admin and would have to go with this
    /// one (issued badges): while there are any, the delete is refused (Django's protected
    /// objects).
    pub protected: Vec<String>,
    /// Why they are protected, and what to do instead.
    pub protected_because: Vec<&'static str>,
    /// Why the acting user may not delete this object (see [`ModelAdmin::refusal`]).
    pub refusal: Option<String>,
}

impl DeletedObject {
    pub fn new(repr: impl Into<String>, related: Vec<String>) -> DeletedObject {
        DeletedObject {
            repr: repr.into(),
            related,
            protected: Vec::new(),
            protected_because: Vec::new(),
            refusal: None,
        }
    }

    /// Names protected objects that keep this one from being deleted, and `because`: why
    /// they are protected and what to do instead. Nothing, when there are none.
    pub fn protected_by(mut self, protected: Vec<String>, because: &'static str) -> DeletedObject {
        if !protected.is_empty() {
            self.protected.extend(protected);
            self.protected_because.push(because);
        }
        self
    }

    /// True when this object may not be deleted.
    pub fn is_blocked(&self) -> bool {
        !self.protected.is_empty() || self.refusal.is_some()
    }
}

/// How a model deletes, for the common shape where the default
/// [`ModelAdmin::delete_preview`] and [`ModelAdmin::delete`] need only two domain calls.
pub struct Deletion<Id> {
    /// The objects among the ids that exist, each as (id, display string, what goes with
    /// it), in the order the preview lists them.
    pub preview: DeletionPreview<Id>,
    /// Deletes them; returns how many were deleted.
    pub delete: fn(&mut DbConnection, &[Id]) -> QueryResult<usize>,
}

impl<Id> Deletion<Id> {
    pub const fn new(
        preview: DeletionPreview<Id>,
        delete: fn(&mut DbConnection, &[Id]) -> QueryResult<usize>,
    ) -> Deletion<Id> {
        Deletion { preview, delete }
    }
}

/// See [`Deletion::preview`].
pub type DeletionPreview<Id> =
    fn(&mut DbConnection, &[Id]) -> QueryResult<Vec<(Id, String, Vec<String>)>>;

/// A model's admin: its declaration ([`ModelAdmin::meta`]) and the few hooks that read or
/// write its rows, each a call into the domain.
pub trait ModelAdmin: Send + Sync + 'static {
    /// The object id in URLs and forms, parsed once by the generic layer: an id that does
    /// not parse names no object.
    type Id: FromStr + Display + Send + Sync;
    /// The form's values. Read from the submitted form (unknown names ignored, checkboxes
    /// through [`super::form::checkbox`]) and written back for display.
    type Form: Serialize + DeserializeOwned + Default;

    /// The model's declaration.
    const META: &'static AdminMeta;

    /// The declaration in force: [`ModelAdmin::META`], unless it depends on the site's
    /// configuration (e.g. badge actions only while badging is on).
    fn meta(&self) -> &'static AdminMeta {
        Self::META
    }

    /// The add form's initial values (e.g. a checkbox that defaults to on, or the values
    /// in force for a versioned configuration).
    fn initial(&self, _conn: &mut DbConnection) -> QueryResult<Self::Form> {
        Ok(Self::Form::default())
    }

    /// The choices of a filter declared [`Filter::from_data`], or `None` to leave the
    /// filter out.
    fn filter_choices(
        &self,
        _conn: &mut DbConnection,
        _param: &str,
    ) -> QueryResult<Option<Choices>> {
        Ok(None)
    }

    /// Turns the form's uploads into what will be stored (e.g. decodes and scales an
    /// image), and reports the fields whose upload failed. Pure CPU and memory work: the
    /// generic views run it on the bounded CPU pool, only for a form with files, before
    /// any database connection is taken; they then store the result outside the save's
    /// transaction, so it survives a failed save.
    fn process_uploads(&self, _data: &FormData) -> ProcessedUploads {
        ProcessedUploads::default()
    }

    /// Warnings shown on every admin page while they hold (e.g. shipped images in place).
    fn site_notices(&self, _conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// Why `actor` may not change or delete this object although it holds the model's
    /// permissions (e.g. a user with more rights than the actor's), or `None`. The change
    /// form then shows the object read-only with the reason, a change is refused, and so
    /// is a delete.
    fn refusal(&self, _req: &mut Request, _id: &Self::Id) -> QueryResult<Option<String>> {
        Ok(None)
    }

    /// One page of rows for the query (search, filters, order, page), with counts.
    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage>;

    /// The form's fields; `id` is `None` on the add form. By default the read-only
    /// fields the declaration names ([`AdminMeta::view_fields`]).
    fn fields(&self, _req: &mut Request, _id: Option<&Self::Id>) -> QueryResult<Vec<FieldSpec>> {
        Ok(FieldSpec::read_only_list(self.meta().view_fields))
    }

    /// The object's display string and its current form values.
    fn load(&self, conn: &mut DbConnection, id: &Self::Id) -> QueryResult<Loaded<Self::Form>>;

    /// Validates and saves; runs inside a transaction with the history entry. Models
    /// whose fields are all display-only are never saved (the form has no Save button and
    /// a POST is refused), so they need not implement it.
    fn save(&self, _req: &mut Request, _id: Option<&Self::Id>, _form: Self::Form) -> SaveResult {
        Err(not_offered("saving").into())
    }

    /// How the model deletes, when two domain calls say it all (see [`Deletion`]): the
    /// default `delete_preview` and `delete` call it.
    const DELETION: Option<Deletion<Self::Id>> = None;

    /// What deleting these objects would remove; ids that do not exist are left out.
    /// Needed only when the model offers [`Action::Delete`]; by default from
    /// [`ModelAdmin::DELETION`].
    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[Self::Id],
    ) -> QueryResult<Vec<(Self::Id, DeletedObject)>> {
        let deletion = Self::DELETION.ok_or_else(|| not_offered("deleting"))?;
        let found = (deletion.preview)(conn, ids)?.into_iter();
        let found = found.map(|(id, repr, related)| (id, DeletedObject::new(repr, related)));
        Ok(found.collect())
    }

    /// By default through [`ModelAdmin::DELETION`].
    fn delete(&self, conn: &mut DbConnection, ids: &[Self::Id]) -> QueryResult<usize> {
        let deletion = Self::DELETION.ok_or_else(|| not_offered("deleting"))?;
        (deletion.delete)(conn, ids)
    }

    /// Runs a declared bulk action inside a transaction (the generic code refuses any
    /// other, so a model with one action need not look at its name) and logs a history
    /// entry for every object the outcome names.
    fn run_action(
        &self,
        _req: &mut Request,
        _action: &str,
        _ids: &[Self::Id],
    ) -> QueryResult<ActionOutcome> {
        Ok(ActionOutcome::default())
    }
}

/// The error of a default method the generic views never call for a model that does not
/// offer it; reaching it is a bug, reported rather than silently doing nothing.
fn not_offered(what: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("{what} is not offered for this model").into())
}

/// A model admin as the generic pages see it: ids and form values as the request
/// carries them, its declaration through accessors. Every [`ModelAdmin`] is one.
pub trait DynModelAdmin: Send + Sync {
    fn info(&self) -> &'static ModelInfo;
    fn columns(&self) -> &'static [Column];
    fn search_help(&self) -> Option<&'static str>;
    fn actions(&self) -> &'static [ActionSpec];
    fn object_actions(&self) -> &'static [&'static str];
    fn allows(&self, action: Action) -> bool;
    fn has_preview(&self) -> bool;
    fn continue_after_add(&self) -> bool;

    /// The page of an action that asks for more on a page of its own.
    fn action_page(&self, action: &str) -> Option<&'static str> {
        let spec = self.actions().iter().find(|a| a.name == action);
        spec.and_then(|a| a.page)
    }

    fn initial(&self, conn: &mut DbConnection) -> QueryResult<FormData>;
    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>>;
    fn process_uploads(&self, data: &FormData) -> ProcessedUploads;
    fn site_notices(&self, conn: &mut DbConnection) -> QueryResult<Vec<String>>;
    fn refusal(&self, req: &mut Request, id: &str) -> QueryResult<Option<String>>;
    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage>;
    fn fields(&self, req: &mut Request, id: Option<&str>) -> QueryResult<Vec<FieldSpec>>;
    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Loaded<FormData>>;
    fn save(&self, req: &mut Request, id: Option<&str>, data: &FormData) -> SaveResult;
    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>>;
    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize>;
    fn run_action(
        &self,
        req: &mut Request,
        name: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome>;
}

impl<T: ModelAdmin> DynModelAdmin for T {
    fn info(&self) -> &'static ModelInfo {
        &self.meta().info
    }

    fn columns(&self) -> &'static [Column] {
        self.meta().columns
    }

    fn search_help(&self) -> Option<&'static str> {
        self.meta().search_help
    }

    fn actions(&self) -> &'static [ActionSpec] {
        self.meta().actions
    }

    fn object_actions(&self) -> &'static [&'static str] {
        self.meta().object_actions
    }

    fn allows(&self, action: Action) -> bool {
        self.meta().offers.contains(&action)
    }

    fn has_preview(&self) -> bool {
        self.meta().preview
    }

    fn continue_after_add(&self) -> bool {
        self.meta().continue_after_add
    }

    fn initial(&self, conn: &mut DbConnection) -> QueryResult<FormData> {
        Ok(FormData::from_form(&ModelAdmin::initial(self, conn)?))
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let mut shown = Vec::new();
        for filter in self.meta().filters {
            let from_data = match filter.choices {
                FilterChoices::FromData => match self.filter_choices(conn, filter.param)? {
                    Some(choices) => choices,
                    None => continue,
                },
                _ => Vec::new(),
            };
            shown.push(filter.spec(from_data));
        }
        Ok(shown)
    }

    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        ModelAdmin::process_uploads(self, data)
    }

    fn site_notices(&self, conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        ModelAdmin::site_notices(self, conn)
    }

    // An id that does not parse names no object: nothing to refuse (a bulk selection may
    // hold one), nothing to load; a form for it is not found.
    fn refusal(&self, req: &mut Request, id: &str) -> QueryResult<Option<String>> {
        match id.parse() {
            Ok(id) => ModelAdmin::refusal(self, req, &id),
            Err(_) => Ok(None),
        }
    }

    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage> {
        ModelAdmin::list(self, conn, query)
    }

    fn fields(&self, req: &mut Request, id: Option<&str>) -> QueryResult<Vec<FieldSpec>> {
        let id = parsed::<T::Id>(id)?;
        ModelAdmin::fields(self, req, id.as_ref())
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Loaded<FormData>> {
        let Ok(id) = id.parse() else { return Ok(None) };
        let loaded = ModelAdmin::load(self, conn, &id)?;
        Ok(loaded.map(|(repr, form)| (repr, FormData::from_form(&form))))
    }

    fn save(&self, req: &mut Request, id: Option<&str>, data: &FormData) -> SaveResult {
        let id = parsed::<T::Id>(id)?;
        let form = data.to_form().map_err(SaveError::Invalid)?;
        ModelAdmin::save(self, req, id.as_ref(), form)
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found = ModelAdmin::delete_preview(self, conn, &parse_ids::<T::Id>(ids))?;
        Ok(found
            .into_iter()
            .map(|(id, object)| (id.to_string(), object))
            .collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        ModelAdmin::delete(self, conn, &parse_ids::<T::Id>(ids))
    }

    fn run_action(
        &self,
        req: &mut Request,
        name: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        ModelAdmin::run_action(self, req, name, &parse_ids::<T::Id>(ids))
    }
}

/// The object's id of a form (`None` on the add form); one that does not parse is not found.
fn parsed<Id: FromStr>(id: Option<&str>) -> QueryResult<Option<Id>> {
    id.map(|id| id.parse().map_err(|_| diesel::result::Error::NotFound))
        .transpose()
}
