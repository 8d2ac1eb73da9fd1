//! What deleting users takes with them: their group memberships, service tokens and
//! course team roles (all removed by the database's cascades), named for the admin's
//! confirmation page.

use diesel::QueryResult;

use super::groups::{self, Members};
use crate::db::DbConnection;

/// The users among `ids` that exist, as (id, username, what goes with each), by id.
pub fn deleted(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let mut found = groups::with_memberships(conn, Members::OfUsers, ids)?;
    let mut also = super::service_tokens::of_users(conn, ids)?;
    also.extend(crate::courses::roles::of_users(conn, ids)?);
    for (id, _, related) in &mut found {
        let theirs = also.iter().filter(|(user, _)| user == id);
        related.extend(theirs.map(|(_, text)| text.clone()));
    }
    Ok(found)
}
