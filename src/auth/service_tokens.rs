//! Service tokens: how a service (the LMS) authenticates to the API, as a service user.
//! The secret is shown once at creation; only its SHA-256 is stored (the secret is 256
//! random bits, so a fast hash is enough).

use diesel::prelude::*;

use super::tokens::random_token;
use super::users::{self as accounts, User};
use crate::db::schema::{service_tokens, users};
use crate::db::{DbConnection, now};
use crate::validation::FieldErrors;

/// A token as it is kept: its name, the user it acts as, the start of its secret (to tell
/// tokens apart), and when it was made, last used and revoked.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = service_tokens)]
pub struct ServiceToken {
    pub id: i64,
    pub name: String,
    pub user_id: i64,
    pub token_prefix: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

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

impl ServiceToken {
    /// How the token's secret starts, as shown: "acc_1a2b…".
    pub fn shown_prefix(&self) -> String {
        format!("{}…", self.token_prefix)
    }

    /// Whether the token is active, when it was made and when last used, in words.
    pub fn status(&self) -> String {
        use crate::display::format_time;
        let created = format_time(&self.created_at);
        let used = match self.last_used_at {
            Some(t) => format!("last used {}", format_time(&t)),
            None => "never used".into(),
        };
        match self.revoked_at {
            Some(t) => format!("Revoked {}; created {created}; {used}", format_time(&t)),
            None => format!("Active; created {created}; {used}"),
        }
    }
}

/// The tokens with the usernames of the users they act as, to search, order and page.
pub type Listed = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::InnerJoin<service_tokens::table, users::table>,
    crate::db::MultiBackend,
>;

/// The tokens that are active (`Some(true)`: not revoked), revoked, or all (`None`), with
/// the users they act as.
pub fn matching(active: Option<bool>) -> Listed {
    let query = service_tokens::table.inner_join(users::table).into_boxed();
    match active {
        Some(true) => query.filter(service_tokens::revoked_at.is_null()),
        Some(false) => query.filter(service_tokens::revoked_at.is_not_null()),
        None => query,
    }
}

/// A token with the username of the user it acts as.
pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<(ServiceToken, String)>> {
    service_tokens::table
        .inner_join(users::table)
        .filter(service_tokens::id.eq(id))
        .select((ServiceToken::as_select(), users::username))
        .first(conn)
        .optional()
}

/// The users a new token of `actor` (a user id) may act as, as (id, username) for a select
/// widget, by username: active, not superusers, and none the actor may not manage, so
/// that a token never carries rights its creator lacks.
pub fn acting_user_choices(
    conn: &mut DbConnection,
    actor: i64,
) -> QueryResult<Vec<(String, String)>> {
    let actor = accounts::find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
    let candidates: Vec<User> = users::table
        .filter(users::is_active.eq(true))
        .filter(users::is_superuser.eq(false))
        .order(users::username)
        .select(User::as_select())
        .load(conn)?;
    // The actor's rights, read once; `None` for a superuser, who may choose anyone.
    let own = match actor.is_superuser {
        true => None,
        false => Some(accounts::rights(conn, &actor)?),
    };
    let mut choices = Vec::with_capacity(candidates.len());
    for user in candidates {
        let refused = match &own {
            Some(own) => accounts::refusal_given(conn, own, &user)?.is_some(),
            None => false,
        };
        if !refused {
            choices.push((user.id.to_string(), user.username));
        }
    }
    Ok(choices)
}

/// A token's name: required, at most 150 characters.
fn check_name(name: &str, errors: &mut FieldErrors) {
    if name.is_empty() {
        errors.add("name", FieldErrors::REQUIRED);
    } else if let Err(problem) = crate::validation::max_chars(name, 150) {
        errors.add("name", problem);
    }
}

/// Creates a token named `name` for `actor` (a user id), acting as `user`: the value of
/// one of [`acting_user_choices`], as a select sends it (empty: none chosen). Returns its
/// id and the secret, to be shown once: only its digest is stored.
pub fn create_by(
    conn: &mut DbConnection,
    actor: i64,
    name: &str,
    user: &str,
) -> QueryResult<Result<(i64, String), FieldErrors>> {
    let (name, user) = (name.trim(), user.trim());
    let mut errors = FieldErrors::default();
    check_name(name, &mut errors);
    let chosen = match user {
        "" => None,
        user => acting_user_choices(conn, actor)?
            .into_iter()
            .find(|(id, _)| id == user)
            .and_then(|(id, _)| id.parse().ok()),
    };
    match chosen {
        None if user.is_empty() => errors.add("user", FieldErrors::REQUIRED),
        None => errors.add("user", FieldErrors::INVALID_CHOICE),
        Some(_) => {}
    }
    match chosen {
        Some(user) if errors.is_empty() => create(conn, name, user).map(Ok),
        _ => Ok(Err(errors)),
    }
}

/// Renames the token `id` as `actor` (a user id) asks: refused while the actor may not
/// manage its user (see [`refusal`]). What the token acts as never changes.
pub fn rename(
    conn: &mut DbConnection,
    actor: i64,
    id: i64,
    name: &str,
) -> QueryResult<Result<String, FieldErrors>> {
    let name = name.trim();
    let mut errors = FieldErrors::default();
    if let Some(reason) = refusal(conn, actor, id)? {
        errors.add(FieldErrors::NON_FIELD, reason);
    }
    check_name(name, &mut errors);
    if let Err(errors) = errors.into_result() {
        return Ok(Err(errors));
    }
    let changed = diesel::update(service_tokens::table.find(id))
        .set(service_tokens::name.eq(name))
        .execute(conn)?;
    match changed {
        0 => Err(diesel::result::Error::NotFound),
        _ => Ok(Ok(name.to_string())),
    }
}

/// Why `actor` (a user id) may not rename, revoke or delete the token `id`: a token acts
/// with its user's rights, so whoever may not manage the user (see
/// [`accounts::refusal_for`]) may not touch the user's tokens either.
pub fn refusal(conn: &mut DbConnection, actor: i64, id: i64) -> QueryResult<Option<String>> {
    let owner: Option<i64> = service_tokens::table
        .find(id)
        .select(service_tokens::user_id)
        .first(conn)
        .optional()?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    Ok(accounts::refusal_for(conn, actor, owner)?.map(|refusal| {
        format!(
            "This token acts as a user you may not manage ({}): only a superuser, or someone who may manage that user, may change, revoke or delete it.",
            refusal.short()
        )
    }))
}

/// Revokes the tokens among `ids` that are active; returns them as (id, name).
pub fn revoke(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    let active: Vec<(i64, String)> = service_tokens::table
        .filter(service_tokens::id.eq_any(ids))
        .filter(service_tokens::revoked_at.is_null())
        .select((service_tokens::id, service_tokens::name))
        .load(conn)?;
    let chosen: Vec<i64> = active.iter().map(|(id, _)| *id).collect();
    diesel::update(service_tokens::table.filter(service_tokens::id.eq_any(chosen)))
        .set(service_tokens::revoked_at.eq(Some(now())))
        .execute(conn)?;
    Ok(active)
}

/// The tokens among `ids` that exist, as (id, name), by id.
/// The tokens among `ids` that exist, as (id, name, what is deleted with it: nothing).
pub fn deleted(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let found: Vec<(i64, String)> = service_tokens::table
        .filter(service_tokens::id.eq_any(ids))
        .order(service_tokens::id)
        .select((service_tokens::id, service_tokens::name))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, name)| (id, name, Vec::new()))
        .collect())
}

pub fn delete(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(service_tokens::table.filter(service_tokens::id.eq_any(ids))).execute(conn)
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

/// The tokens of these users, as (user, "Service token: name"): what deleting the users
/// deletes with them.
pub fn of_users(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    let tokens: Vec<(i64, String)> = service_tokens::table
        .filter(service_tokens::user_id.eq_any(user_ids))
        .order(service_tokens::name)
        .select((service_tokens::user_id, service_tokens::name))
        .load(conn)?;
    Ok(tokens
        .into_iter()
        .map(|(user, name)| (user, format!("Service token: {name}")))
        .collect())
}
