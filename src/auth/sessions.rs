//! Logged-in sessions, kept in the database so that they can be ended.
//!
//! The session cookie carries a random key; the database keeps only its SHA-256, with the
//! user, the start and the last use. A session is valid while its row exists, it is younger
//! than the absolute lifetime, and it was used within the idle timeout. Logging out deletes
//! the row, so every copy of the cookie stops working at once, on every instance.

use std::time::Duration;

use diesel::prelude::*;

use super::tokens::random_token;
use crate::db::schema::user_sessions;
use crate::db::{DbConnection, now};

/// How long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// From login, whatever the use (`ACCOLADE_SESSION_MAX_AGE`).
    pub max_age: Duration,
    /// Since the last request (`ACCOLADE_SESSION_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
}

impl Default for SessionPolicy {
    fn default() -> SessionPolicy {
        SessionPolicy {
            max_age: Duration::from_secs(14 * 24 * 3600),
            idle_timeout: Duration::from_secs(2 * 3600),
        }
    }
}

impl SessionPolicy {
    /// The oldest start and the oldest last use a valid session may have.
    fn cutoffs(&self) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
        let ago =
            |d: Duration| now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        (ago(self.max_age), ago(self.idle_timeout))
    }
}

/// The last use is written at most this often, so that reading a page costs no write; the
/// idle timeout is therefore kept to within a minute.
const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::minutes(1);

fn digest(key: &str) -> String {
    crate::digest::sha256_hex(key.as_bytes())
}

/// Starts a session for the user; returns the key the cookie carries. Sessions that have
/// expired (anyone's) are removed on the way.
pub fn start(conn: &mut DbConnection, policy: &SessionPolicy, user_id: i64) -> QueryResult<String> {
    let (oldest_start, oldest_use) = policy.cutoffs();
    diesel::delete(
        user_sessions::table.filter(
            user_sessions::created_at
                .lt(oldest_start)
                .or(user_sessions::last_seen_at.lt(oldest_use)),
        ),
    )
    .execute(conn)?;
    let key = random_token();
    diesel::insert_into(user_sessions::table)
        .values((
            user_sessions::key_hash.eq(digest(&key)),
            user_sessions::user_id.eq(user_id),
            user_sessions::created_at.eq(now()),
            user_sessions::last_seen_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(key)
}

/// The user of a valid session, recording its use; an expired session is ended.
pub fn resume(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    key: &str,
) -> QueryResult<Option<i64>> {
    let found: Option<(i64, i64, chrono::NaiveDateTime, chrono::NaiveDateTime)> =
        user_sessions::table
            .filter(user_sessions::key_hash.eq(digest(key)))
            .select((
                user_sessions::id,
                user_sessions::user_id,
                user_sessions::created_at,
                user_sessions::last_seen_at,
            ))
            .first(conn)
            .optional()?;
    let Some((id, user_id, started, last_seen)) = found else {
        return Ok(None);
    };
    let (oldest_start, oldest_use) = policy.cutoffs();
    if started < oldest_start || last_seen < oldest_use {
        diesel::delete(user_sessions::table.find(id)).execute(conn)?;
        return Ok(None);
    }
    if now() - last_seen > TOUCH_INTERVAL {
        diesel::update(user_sessions::table.find(id))
            .set(user_sessions::last_seen_at.eq(now()))
            .execute(conn)?;
    }
    Ok(Some(user_id))
}

/// Ends one session (logout): every copy of its cookie stops working.
pub fn end(conn: &mut DbConnection, key: &str) -> QueryResult<usize> {
    diesel::delete(user_sessions::table.filter(user_sessions::key_hash.eq(digest(key))))
        .execute(conn)
}

/// Ends every session of a user but `keep` (the one that changed the password, say).
pub fn end_all(conn: &mut DbConnection, user_id: i64, keep: Option<&str>) -> QueryResult<usize> {
    let kept = keep.map(digest).unwrap_or_default();
    diesel::delete(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::key_hash.ne(kept)),
    )
    .execute(conn)
}

/// How many sessions a user has open (some may have expired without being used since).
pub fn count(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
    user_sessions::table
        .filter(user_sessions::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// Where a user is logged in, in words: "Not logged in", "1 session", "3 sessions".
pub fn summary(conn: &mut DbConnection, user_id: i64) -> QueryResult<String> {
    Ok(match count(conn, user_id)? {
        0 => "Not logged in".to_string(),
        1 => "1 session".to_string(),
        n => format!("{n} sessions"),
    })
}
