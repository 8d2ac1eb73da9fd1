//! What the model admins of Authentication and Authorization share: the fields that grant
//! rights.

use diesel::QueryResult;

use crate::admin::{Actor, FieldSpec, Widget};
use crate::auth::permissions;
use crate::db::DbConnection;

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

/// Every permission as a choice of a multi-select.
pub(super) fn permission_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    let choices = permissions::choices(conn)?.into_iter();
    Ok(choices.map(|(id, label)| (id.to_string(), label)).collect())
}
