//! Per-model permissions (`view`, `add`, `change`, `delete`), granted to users or groups.

use std::collections::HashSet;

use diesel::prelude::*;

use super::account::User;
use crate::db::DbConnection;
use crate::db::schema::{group_permissions, permissions, user_groups, user_permissions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    View,
    Add,
    Change,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Add, Action::Change, Action::Delete, Action::View];

    pub fn codename(self, model: &str) -> String {
        let verb = match self {
            Action::View => "view",
            Action::Add => "add",
            Action::Change => "change",
            Action::Delete => "delete",
        };
        format!("{verb}_{model}")
    }
}

/// One permission, as Django names it: `app_label.{action}_{model}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub app_label: &'static str,
    pub action: Action,
    pub model: &'static str,
}

impl Permission {
    pub fn codename(self) -> String {
        self.action.codename(self.model)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.app_label, self.codename())
    }
}

/// What one user may do, loaded once per request.
#[derive(Clone, Debug, Default)]
pub struct PermissionSet {
    superuser: bool,
    /// `app_label.codename`, as Django spells them.
    granted: HashSet<String>,
}

impl PermissionSet {
    pub fn superuser() -> PermissionSet {
        PermissionSet {
            superuser: true,
            granted: HashSet::new(),
        }
    }

    /// A user with change permission may also view, as in Django.
    pub fn has(&self, app_label: &str, action: Action, model: &str) -> bool {
        let holds = |a: Action| {
            self.granted
                .contains(&format!("{app_label}.{}", a.codename(model)))
        };
        self.superuser || holds(action) || (action == Action::View && holds(Action::Change))
    }

    pub fn grants(&self, permission: Permission) -> bool {
        self.has(permission.app_label, permission.action, permission.model)
    }

    pub fn has_any(&self, app_label: &str, model: &str) -> bool {
        Action::ALL.iter().any(|&a| self.has(app_label, a, model))
    }

    /// True when this set grants everything `other` grants (a superuser covers everyone;
    /// only a superuser covers a superuser).
    pub fn covers(&self, other: &PermissionSet) -> bool {
        if self.superuser {
            return true;
        }
        !other.superuser
            && other.granted.iter().all(|permission| {
                self.granted.contains(permission)
                    || change_implying(permission)
                        .is_some_and(|change| self.granted.contains(&change))
            })
    }
}

/// For `app.view_model`, the `app.change_model` that implies it.
fn change_implying(permission: &str) -> Option<String> {
    let (app, model) = permission.split_once(".view_")?;
    Some(format!("{app}.change_{model}"))
}

/// The permissions an active user holds directly or through groups.
pub fn load(conn: &mut DbConnection, user: &User) -> QueryResult<PermissionSet> {
    if !user.is_active {
        return Ok(PermissionSet::default());
    }
    held(conn, user)
}

/// The permissions a user holds, whether or not the account is active (what it would act
/// with if it were reactivated).
pub fn held(conn: &mut DbConnection, user: &User) -> QueryResult<PermissionSet> {
    if user.is_superuser {
        return Ok(PermissionSet::superuser());
    }
    let direct: Vec<(String, String)> = user_permissions::table
        .inner_join(permissions::table)
        .filter(user_permissions::user_id.eq(user.id))
        .select((permissions::app_label, permissions::codename))
        .load(conn)?;
    let via_groups: Vec<(String, String)> = user_groups::table
        .inner_join(
            group_permissions::table.on(group_permissions::group_id.eq(user_groups::group_id)),
        )
        .inner_join(permissions::table.on(permissions::id.eq(group_permissions::permission_id)))
        .filter(user_groups::user_id.eq(user.id))
        .select((permissions::app_label, permissions::codename))
        .load(conn)?;
    let granted = direct
        .into_iter()
        .chain(via_groups)
        .map(|(app, code)| format!("{app}.{code}"))
        .collect();
    Ok(PermissionSet {
        superuser: false,
        granted,
    })
}

/// Grants a permission directly to a user (for set-up outside the admin, whose forms grant
/// through the user's page); granting one the user holds changes nothing.
pub fn grant(conn: &mut DbConnection, user_id: i64, permission: Permission) -> QueryResult<()> {
    let permission_id: i64 = permissions::table
        .filter(permissions::app_label.eq(permission.app_label))
        .filter(permissions::codename.eq(permission.codename()))
        .select(permissions::id)
        .first(conn)?;
    crate::db::insert_unless_duplicate(conn, |conn| {
        diesel::insert_into(user_permissions::table)
            .values((
                user_permissions::user_id.eq(user_id),
                user_permissions::permission_id.eq(permission_id),
            ))
            .execute(conn)
    })?;
    Ok(())
}

/// A model that has permissions: what the admin registers.
pub struct ModelPermissions<'a> {
    pub app_label: &'a str,
    pub model: &'a str,
    pub verbose_name: &'a str,
}

/// Creates the four permissions of every model that lacks them (Django's post-migrate step).
pub fn sync(conn: &mut DbConnection, models: &[ModelPermissions]) -> QueryResult<usize> {
    let existing: HashSet<(String, String)> = permissions::table
        .select((permissions::app_label, permissions::codename))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut created = 0;
    for m in models {
        for action in Action::ALL {
            let codename = action.codename(m.model);
            if existing.contains(&(m.app_label.to_string(), codename.clone())) {
                continue;
            }
            let verb = codename.split('_').next().unwrap_or_default();
            let inserted = crate::db::insert_unless_duplicate(conn, |conn| {
                diesel::insert_into(permissions::table)
                    .values((
                        permissions::app_label.eq(m.app_label),
                        permissions::model.eq(m.model),
                        permissions::codename.eq(&codename),
                        permissions::name.eq(format!("Can {verb} {}", m.verbose_name)),
                    ))
                    .execute(conn)
            })?;
            if inserted {
                created += 1;
            }
        }
    }
    Ok(created)
}

/// The permissions among `ids` that exist.
pub fn existing(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    permissions::table
        .filter(permissions::id.eq_any(ids))
        .select(permissions::id)
        .load(conn)
}

/// Every permission as (id, "app | model | Can …"), for the assignment widgets.
pub fn choices(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String)>> {
    let rows: Vec<(i64, String, String, String)> = permissions::table
        .order((permissions::app_label, permissions::model, permissions::id))
        .select((
            permissions::id,
            permissions::app_label,
            permissions::model,
            permissions::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, app, model, name)| (id, format!("{app} | {model} | {name}")))
        .collect())
}
