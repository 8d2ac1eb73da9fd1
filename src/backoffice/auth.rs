//! What the model admins of Authentication and Authorization share: the app's names, the
//! fields that grant rights, and deletes that take memberships with them.

use diesel::QueryResult;

use crate::admin::{Actor, DeletedObject, FieldSpec, ModelInfo, Widget};
use crate::auth::groups::{self, Members};
use crate::auth::permissions;
use crate::db::DbConnection;

/// The names of a model of this app.
pub(super) const fn info(
    model: &'static str,
    verbose_name: &'static str,
    verbose_name_plural: &'static str,
) -> ModelInfo {
    ModelInfo {
        app_label: "auth",
        app_name: "Authentication and Authorization",
        model,
        verbose_name,
        verbose_name_plural,
    }
}

/// A field that grants rights (a status, groups, permissions): only a superuser changes
/// it, anyone else sees it read-only.
pub(super) fn rights(
    actor: Actor,
    name: &'static str,
    label: &'static str,
    widget: Widget,
    help: &str,
) -> FieldSpec {
    let field = FieldSpec::new(name, label, widget);
    match actor.is_superuser {
        true => field.help(help),
        false => field.read_only().help("Only superusers may change this."),
    }
}

/// Users or groups as a delete removes them, each with its memberships.
pub(super) fn deleted_with_memberships(
    conn: &mut DbConnection,
    of: Members,
    ids: &[i64],
) -> QueryResult<Vec<(i64, DeletedObject)>> {
    let found = groups::with_memberships(conn, of, ids)?.into_iter();
    let found = found.map(|(id, name, links)| (id, DeletedObject::new(name, links)));
    Ok(found.collect())
}

/// Every permission as a choice of a multi-select.
pub(super) fn permission_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    let choices = permissions::choices(conn)?.into_iter();
    Ok(choices.map(|(id, label)| (id.to_string(), label)).collect())
}
