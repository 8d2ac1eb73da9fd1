//! The trait a model implements to appear in the admin.

use diesel::QueryResult;

use super::form::{FieldErrors, FieldSpec, FormData, ProcessedUploads};
use super::list::{Column, FilterSpec, ListPage, ListQuery};
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

/// Who is acting, for models whose fields depend on it (e.g. only superusers grant rights).
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub is_superuser: bool,
}

/// A bulk action besides "Delete selected".
#[derive(Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
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

/// What a bulk action did: the message to show, and the (id, display string) it changed.
#[derive(Debug, Default)]
pub struct ActionOutcome {
    pub message: String,
    pub changed: Vec<(String, String)>,
}

/// The result of a successful save.
#[derive(Debug)]
pub struct Saved {
    pub id: String,
    pub repr: String,
    /// Shown after the success message (e.g. what a change does not reach).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("invalid form")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
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
    /// Why the acting user may not delete this object (see [`ModelAdmin::refusal`]).
    pub refusal: Option<String>,
}

impl DeletedObject {
    pub fn new(repr: impl Into<String>, related: Vec<String>) -> DeletedObject {
        DeletedObject {
            repr: repr.into(),
            related,
            protected: Vec::new(),
            refusal: None,
        }
    }

    /// Names the protected objects that keep this one from being deleted.
    pub fn protected_by(mut self, protected: Vec<String>) -> DeletedObject {
        self.protected = protected;
        self
    }

    /// True when this object may not be deleted.
    pub fn is_blocked(&self) -> bool {
        !self.protected.is_empty() || self.refusal.is_some()
    }
}

pub trait ModelAdmin: Send + Sync {
    fn info(&self) -> &'static ModelInfo;

    /// Changelist columns; the first links to the change form.
    fn columns(&self) -> &'static [Column];

    /// Whether the changelist shows a search box, and what it searches.
    fn search_help(&self) -> Option<&'static str> {
        None
    }

    /// Whether the admin offers `action` on this model at all, whatever the permissions.
    /// Records made by the system (award jobs, learners) are never added by hand: no Add
    /// button, and the add pages answer 403.
    fn allows(&self, _action: Action) -> bool {
        true
    }

    /// The add form's initial values (e.g. a checkbox that defaults to on, or the values
    /// in force for a versioned configuration).
    fn initial(&self, _conn: &mut DbConnection) -> QueryResult<FormData> {
        Ok(FormData::default())
    }

    /// Whether "Save" on the add form goes on to the change form (as Django's user admin
    /// does, since the add form asks only for the essentials).
    fn continue_after_add(&self) -> bool {
        false
    }

    fn filters(&self, _conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(Vec::new())
    }

    fn actions(&self) -> &'static [ActionSpec] {
        &[]
    }

    /// Actions (by name, from `actions`) also offered as buttons on an object's change
    /// page, for that one object.
    fn object_actions(&self) -> &'static [&'static str] {
        &[]
    }

    /// For an action that asks for more (a reason) on a page of its own: that page's
    /// path under the changelist, where "Go" sends the selected ids.
    fn action_page(&self, _action: &str) -> Option<&'static str> {
        None
    }

    /// Turns the form's uploads into what will be stored (e.g. decodes and scales an
    /// image), and reports the fields whose upload failed. Pure CPU and memory work: the
    /// generic views run it on the bounded CPU pool, only for a form with files, before
    /// any database connection is taken; they then store the result outside the save's
    /// transaction, so it survives a failed save.
    fn process_uploads(&self, _data: &FormData) -> ProcessedUploads {
        ProcessedUploads::default()
    }

    /// Whether the form offers "Preview": validate and show the result without saving.
    fn has_preview(&self) -> bool {
        false
    }

    /// Warnings shown on every admin page while they hold (e.g. shipped images in place).
    fn site_notices(&self, _conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// Why `actor` may not change or delete this object although it holds the model's
    /// permissions (e.g. a user with more rights than the actor's), or `None`. The change
    /// form then shows the object read-only with the reason, a change is refused, and so
    /// is a delete.
    fn refusal(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        _id: &str,
    ) -> QueryResult<Option<String>> {
        Ok(None)
    }

    /// One page of rows for the query (search, filters, order, page), with counts.
    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage>;

    /// The form's fields; `id` is `None` on the add form.
    fn fields(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>>;

    /// The object's display string and its current form values.
    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>>;

    /// Validates and saves; runs inside a transaction with the history entry. Models
    /// whose fields are all display-only are never saved (the form has no Save button and
    /// a POST is refused), so they need not implement it.
    fn save(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        _id: Option<&str>,
        _data: &FormData,
    ) -> Result<Saved, SaveError> {
        Err(not_offered("saving").into())
    }

    /// What deleting these objects would remove; ids that do not exist are left out.
    /// Needed only when `allows(Action::Delete)`.
    fn delete_preview(
        &self,
        _conn: &mut DbConnection,
        _ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        Err(not_offered("deleting"))
    }

    fn delete(&self, _conn: &mut DbConnection, _ids: &[String]) -> QueryResult<usize> {
        Err(not_offered("deleting"))
    }

    /// Runs a declared bulk action inside a transaction; the generic code logs a history
    /// entry for every object the outcome names.
    fn run_action(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        _action: &str,
        _ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        Ok(ActionOutcome::default())
    }
}

/// The error of a default method the generic views never call for a model that does not
/// offer it; reaching it is a bug, reported rather than silently doing nothing.
fn not_offered(what: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("{what} is not offered for this model").into())
}

/// Ids from the URL or a form as integers; malformed ones are dropped (they match nothing).
pub fn ids_as_i64(ids: &[String]) -> Vec<i64> {
    ids.iter().filter_map(|id| id.parse().ok()).collect()
}
