//! Learners: the LMS users that badges are awarded to, with what the LMS reported of
//! them: their enrollments and their certificates. Everything here comes from the LMS's
//! events; nothing here knows of badges.

pub mod certificates;
pub mod enrollments;

use diesel::prelude::*;

use crate::db::schema::learners;
use crate::db::{DbConnection, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = learners)]
pub struct Learner {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// "alice <alice@example.com>", as the admin's detail pages name a learner.
impl std::fmt::Display for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.username, self.email)
    }
}

/// Whether a username is one the LMS could have made (see
/// [`crate::validation::learner_username`]).
pub fn valid_username(username: &str) -> bool {
    crate::validation::learner_username(username).is_ok()
}

/// The learner with this username, created or given the new e-mail address.
pub fn upsert(conn: &mut DbConnection, username: &str, email: &str) -> QueryResult<Learner> {
    let existing = find(conn, username)?;
    match existing {
        Some(learner) if learner.email == email => return Ok(learner),
        Some(learner) => {
            diesel::update(learners::table.find(learner.id))
                .set((learners::email.eq(email), learners::updated_at.eq(now())))
                .execute(conn)?;
        }
        None => {
            // Losing the race to an identical insert is fine: that row stands.
            crate::db::insert_unless_duplicate(conn, |conn| {
                diesel::insert_into(learners::table)
                    .values((
                        learners::username.eq(username),
                        learners::email.eq(email),
                        learners::created_at.eq(now()),
                        learners::updated_at.eq(now()),
                    ))
                    .execute(conn)
            })?;
        }
    }
    find(conn, username)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find(conn: &mut DbConnection, username: &str) -> QueryResult<Option<Learner>> {
    learners::table
        .filter(learners::username.eq(username))
        .select(Learner::as_select())
        .first(conn)
        .optional()
}

pub fn get(conn: &mut DbConnection, id: i64) -> QueryResult<Learner> {
    learners::table
        .find(id)
        .select(Learner::as_select())
        .first(conn)
}
