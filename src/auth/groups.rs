//! Groups: named sets of permissions that users belong to, and who may change them.

use diesel::prelude::*;

use super::users::{self, User};
use crate::db::DbConnection;
use crate::db::schema::{group_permissions, groups, user_groups, users as user_rows};
use crate::validation::FieldErrors;

/// Every group as (id, name) for a select widget, by name.
pub fn choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    Ok(groups::table
        .order(groups::name)
        .select((groups::id, groups::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

/// A group's name and the ids of its permissions.
pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<(String, Vec<i64>)>> {
    let Some(name) = groups::table
        .find(id)
        .select(groups::name)
        .first::<String>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let permissions = group_permissions::table
        .filter(group_permissions::group_id.eq(id))
        .select(group_permissions::permission_id)
        .load(conn)?;
    Ok(Some((name, permissions)))
}

/// The groups among `ids` that exist, as (id, name), by id.
pub fn names(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .order(groups::id)
        .select((groups::id, groups::name))
        .load(conn)
}

const DUPLICATE: &str = "Group with this Name already exists.";

fn duplicate() -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add("name", DUPLICATE);
    errors
}

/// Adds (`id` `None`) or changes a group as `actor` (a user id) asks; returns its id and
/// name. The name is required, at most 150 characters and unique. Only a superuser sets
/// the permissions (others leave them as they are), and a change is refused while the
/// actor may not manage some member (see [`refusal`]).
pub fn save(
    conn: &mut DbConnection,
    actor: i64,
    id: Option<i64>,
    name: &str,
    permissions: &[i64],
) -> QueryResult<Result<(i64, String), FieldErrors>> {
    let actor = users::find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
    let name = name.trim();
    let mut errors = FieldErrors::default();
    if let Some(id) = id
        && let Some(reason) = refusal_given(conn, &actor, id)?
    {
        errors.add(FieldErrors::NON_FIELD, reason);
        return Ok(Err(errors));
    }
    if name.is_empty() {
        errors.add("name", FieldErrors::REQUIRED);
    } else if let Err(problem) = crate::validation::max_chars(name, 150) {
        errors.add("name", problem);
    } else {
        let clash: Option<i64> = groups::table
            .filter(groups::name.eq(name))
            .select(groups::id)
            .first(conn)
            .optional()?;
        if clash.is_some() && clash != id {
            errors.add("name", DUPLICATE);
        }
    }
    if let Err(errors) = errors.into_result() {
        return Ok(Err(errors));
    }
    // In a savepoint, so that on PostgreSQL the surrounding transaction survives a name
    // taken since it was checked: the name is the only unique key of `groups` besides its
    // id.
    let written = conn.transaction(|conn| match id {
        Some(id) => diesel::update(groups::table.find(id))
            .set(groups::name.eq(name))
            .execute(conn)
            .and_then(|n| {
                if n == 1 {
                    Ok(id)
                } else {
                    Err(diesel::result::Error::NotFound)
                }
            }),
        None => diesel::insert_into(groups::table)
            .values(groups::name.eq(name))
            .returning(groups::id)
            .get_result(conn),
    });
    let group_id = match written {
        Err(e) if crate::db::violates_unique(conn, &e, &["groups_name_key"]) => {
            return Ok(Err(duplicate()));
        }
        written => written?,
    };
    if actor.is_superuser {
        let permissions = super::permissions::existing(conn, permissions)?;
        replace_links!(
            conn,
            group_permissions,
            group_id,
            group_id,
            permission_id,
            permissions
        );
    }
    Ok(Ok((group_id, name.to_string())))
}

/// How many refused members a group's refusal names before it sums up the rest.
const NAMED_MEMBERS: usize = 20;

/// Why `actor` (a user id) may not delete the group `id` or change it: members whom the
/// actor may not manage, named with the reason (see [`users::group_members_refused`]).
pub fn refusal(conn: &mut DbConnection, actor: i64, id: i64) -> QueryResult<Option<String>> {
    let actor = users::find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
    refusal_given(conn, &actor, id)
}

fn refusal_given(conn: &mut DbConnection, actor: &User, id: i64) -> QueryResult<Option<String>> {
    let refused = users::group_members_refused(conn, actor, id)?;
    if refused.is_empty() {
        return Ok(None);
    }
    let mut named: Vec<String> = refused
        .iter()
        .take(NAMED_MEMBERS)
        .map(|(name, why)| format!("{name} ({})", why.short()))
        .collect();
    if refused.len() > NAMED_MEMBERS {
        named.push(format!("… and {} more", refused.len() - NAMED_MEMBERS));
    }
    Ok(Some(format!(
        "Members of this group hold rights you do not hold, and deleting the group or changing its permissions would change theirs: only a superuser may. Members you may not change: {}.",
        named.join("; ")
    )))
}

/// Deletes the groups `ids`, with their memberships and permissions.
pub fn delete(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(groups::table.filter(groups::id.eq_any(ids))).execute(conn)
}

/// Which end of memberships a delete starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Members {
    OfUsers,
    OfGroups,
}

/// The users (or groups) among `ids` that exist, as (id, name) by id, each with the
/// memberships a delete takes with it ("Group membership: alice in editors"), read in
/// one query.
pub fn with_memberships(
    conn: &mut DbConnection,
    of: Members,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let found = match of {
        Members::OfUsers => users::names(conn, ids)?,
        Members::OfGroups => names(conn, ids)?,
    };
    let query = user_groups::table
        .inner_join(user_rows::table)
        .inner_join(groups::table)
        .into_boxed();
    let query = match of {
        Members::OfUsers => query.filter(user_groups::user_id.eq_any(ids)),
        Members::OfGroups => query.filter(user_groups::group_id.eq_any(ids)),
    };
    let links: Vec<(i64, i64, String, String)> = query
        .order((user_rows::username, groups::name))
        .select((
            user_groups::user_id,
            user_groups::group_id,
            user_rows::username,
            groups::name,
        ))
        .load(conn)?;
    // The user or group each membership belongs to, by the end the query starts from.
    let owner = |user: i64, group: i64| match of {
        Members::OfUsers => user,
        Members::OfGroups => group,
    };
    Ok(found
        .into_iter()
        .map(|(id, name)| {
            let related = links
                .iter()
                .filter(|(user, group, _, _)| owner(*user, *group) == id)
                .map(|(_, _, user, group)| format!("Group membership: {user} in {group}"))
                .collect();
            (id, name, related)
        })
        .collect())
}
