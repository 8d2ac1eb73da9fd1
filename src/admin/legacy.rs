//! The model-admin trait as it was before [`super::ModelAdmin`] became typed and
//! declarative: kept only while the model admins move to the back office, one by one.

use diesel::QueryResult;

use super::form::{FieldSpec, FormData, ProcessedUploads};
use super::list::{Column, FilterSpec, ListPage, ListQuery};
use super::model::{
    ActionOutcome, ActionSpec, Actor, DeletedObject, DynModelAdmin, ModelInfo, SaveError, Saved,
};
use crate::auth::permissions::Action;
use crate::db::DbConnection;

pub trait LegacyModelAdmin: Send + Sync {
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

/// A legacy model admin, registered as a [`DynModelAdmin`].
pub struct Legacy<T>(pub T);

impl<T: LegacyModelAdmin> DynModelAdmin for Legacy<T> {
    fn info(&self) -> &'static ModelInfo {
        self.0.info()
    }
    fn columns(&self) -> &'static [Column] {
        self.0.columns()
    }
    fn search_help(&self) -> Option<&'static str> {
        self.0.search_help()
    }
    fn actions(&self) -> &'static [ActionSpec] {
        self.0.actions()
    }
    fn object_actions(&self) -> &'static [&'static str] {
        self.0.object_actions()
    }
    fn allows(&self, action: Action) -> bool {
        self.0.allows(action)
    }
    fn has_preview(&self) -> bool {
        self.0.has_preview()
    }
    fn continue_after_add(&self) -> bool {
        self.0.continue_after_add()
    }
    fn action_page(&self, action: &str) -> Option<&'static str> {
        self.0.action_page(action)
    }
    fn initial(&self, conn: &mut DbConnection) -> QueryResult<FormData> {
        self.0.initial(conn)
    }
    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        self.0.filters(conn)
    }
    fn process_uploads(&self, data: &FormData) -> ProcessedUploads {
        self.0.process_uploads(data)
    }
    fn site_notices(&self, conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        self.0.site_notices(conn)
    }
    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &str,
    ) -> QueryResult<Option<String>> {
        self.0.refusal(conn, actor, id)
    }
    fn list(&self, conn: &mut DbConnection, query: &ListQuery) -> QueryResult<ListPage> {
        self.0.list(conn, query)
    }
    fn fields(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        self.0.fields(conn, actor, id)
    }
    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        self.0.load(conn, id)
    }
    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        self.0.save(conn, actor, id, data)
    }
    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        self.0.delete_preview(conn, ids)
    }
    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        self.0.delete(conn, ids)
    }
    fn run_action(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        self.0.run_action(conn, actor, action, ids)
    }
}
