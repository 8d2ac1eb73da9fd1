//! Service tokens: how a service (the LMS) authenticates to the API, as a service user.
//! The secret is shown once at creation; only its SHA-256 is stored (the secret is 256
//! random bits, so a fast hash is enough).

use diesel::prelude::*;

use super::tokens::random_token;
use crate::db::schema::{service_tokens, users};
use crate::db::{DbConnection, now};

pub const PREFIX: &str = "acc_";

/// A new secret and what is stored of it.
pub struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

pub fn new_secret() -> NewSecret {
    let secret = format!("{PREFIX}{}", random_token());
    NewSecret {
        prefix: secret.chars().take(12).collect(),
        hash: crate::digest::sha256_hex(secret.as_bytes()),
        secret,
    }
}

/// Creates a token acting as `user_id`; returns its id and the secret (shown once, never
/// stored).
pub fn create(conn: &mut DbConnection, name: &str, user_id: i64) -> QueryResult<(i64, String)> {
    let secret = new_secret();
    let id = diesel::insert_into(service_tokens::table)
        .values((
            service_tokens::name.eq(name),
            service_tokens::user_id.eq(user_id),
            service_tokens::token_prefix.eq(&secret.prefix),
            service_tokens::token_hash.eq(&secret.hash),
            service_tokens::created_at.eq(now()),
        ))
        .returning(service_tokens::id)
        .get_result(conn)?;
    Ok((id, secret.secret))
}

/// The rights a presented secret acts with — its service user's permissions — when the
/// token exists, is not revoked, and its user is active and not a superuser. A valid token
/// is not a right in itself: each use asks for the permission it needs. Records the use
/// (at most once a minute, to keep reads cheap).
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
) -> QueryResult<Option<super::permissions::PermissionSet>> {
    let hash = crate::digest::sha256_hex(secret.as_bytes());
    let found: Option<(i64, i64, Option<chrono::NaiveDateTime>)> = service_tokens::table
        .inner_join(users::table)
        .filter(service_tokens::token_hash.eq(&hash))
        .filter(service_tokens::revoked_at.is_null())
        .filter(users::is_active.eq(true))
        .filter(users::is_superuser.eq(false))
        .select((
            service_tokens::id,
            service_tokens::user_id,
            service_tokens::last_used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, user, last_used)) = found else {
        return Ok(None);
    };
    if last_used.is_none_or(|t| now() - t > chrono::Duration::minutes(1)) {
        diesel::update(service_tokens::table.find(id))
            .set(service_tokens::last_used_at.eq(Some(now())))
            .execute(conn)?;
    }
    let Some(user) = super::users::find(conn, user)? else {
        return Ok(None);
    };
    super::permissions::load(conn, &user).map(Some)
}
