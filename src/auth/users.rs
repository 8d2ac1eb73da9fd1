//! Users: lookup, creation and password changes.

use diesel::prelude::*;

use super::permissions;
use crate::db::schema::users;
use crate::db::{DbConnection, now};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub must_change_password: bool,
    pub last_login: Option<chrono::NaiveDateTime>,
    pub date_joined: chrono::NaiveDateTime,
}

/// What creating a user needs; the password is already hashed.
#[derive(Insertable, Debug)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Normalised (see [`normalize_username`]).
    pub username: String,
    pub username_key: String,
    pub email: &'a str,
    pub password: &'a str,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub must_change_password: bool,
    pub date_joined: chrono::NaiveDateTime,
}

impl<'a> NewUser<'a> {
    /// An active account with no admin rights.
    pub fn new(username: &'a str, email: &'a str, password_hash: &'a str) -> NewUser<'a> {
        let username = normalize_username(username);
        NewUser {
            username_key: username_key(&username),
            username,
            email,
            password: password_hash,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            must_change_password: false,
            date_joined: now(),
        }
    }

    /// An account whose first password an admin chose: a pending change, as for any
    /// password chosen for someone else (see [`set_password_for`]).
    pub fn set_up_by_admin(
        username: &'a str,
        email: &'a str,
        password_hash: &'a str,
    ) -> NewUser<'a> {
        NewUser {
            must_change_password: true,
            ..NewUser::new(username, email, password_hash)
        }
    }

    /// An active staff account with every permission.
    pub fn superuser(username: &'a str, email: &'a str, password_hash: &'a str) -> NewUser<'a> {
        NewUser {
            is_staff: true,
            is_superuser: true,
            ..NewUser::new(username, email, password_hash)
        }
    }
}

/// A username as it is stored and looked up: NFKC-normalised (as Django's
/// `normalize_username`), so that compatibility forms such as fullwidth `ａｄｍｉｎ` are the
/// plain letters they look like.
pub fn normalize_username(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.trim().nfkc().collect()
}

/// What makes two usernames the same account: the normalised name in lower case. Unique
/// in the database, so `Admin` cannot be created beside `admin`, even by two requests at
/// once.
pub fn username_key(username: &str) -> String {
    normalize_username(username).to_lowercase()
}

/// The account whose username is the same as `username` ignoring case and look-alike
/// forms, if any.
pub fn find_clash(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username_key.eq(username_key(username)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The rules Django applies to usernames: 1–150 characters of letters, digits and @.+-_
pub fn validate_username(username: &str) -> Option<&'static str> {
    if username.is_empty() {
        Some("This field is required.")
    } else if username.chars().count() > 150
        || !username
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        Some(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters (at most 150).",
        )
    } else {
        None
    }
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(normalize_username(username)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn create(conn: &mut DbConnection, new: &NewUser) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)
}

/// Renames a user (the name already validated and normalised).
pub fn rename(conn: &mut DbConnection, id: i64, username: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::username.eq(username),
            users::username_key.eq(username_key(username)),
        ))
        .execute(conn)
}

/// Sets whether a user is active, staff and superuser (`None`: left as it is). Taking any of
/// them away ends every session of the user, so that a cookie copied before does not come
/// back to life when the status is given back.
pub fn set_status(
    conn: &mut DbConnection,
    id: i64,
    active: bool,
    staff: Option<bool>,
    superuser: Option<bool>,
) -> QueryResult<()> {
    let Some(before) = find(conn, id)? else {
        return Ok(());
    };
    let staff = staff.unwrap_or(before.is_staff);
    let superuser = superuser.unwrap_or(before.is_superuser);
    diesel::update(users::table.find(id))
        .set((
            users::is_active.eq(active),
            users::is_staff.eq(staff),
            users::is_superuser.eq(superuser),
        ))
        .execute(conn)?;
    let taken_away = (before.is_active && !active)
        || (before.is_staff && !staff)
        || (before.is_superuser && !superuser);
    if taken_away {
        super::sessions::end_all(conn, id, None)?;
    }
    Ok(())
}

/// Sets a password and ends the user's sessions, but `keep` (the session that changed its
/// own password stays logged in).
pub fn set_password(
    conn: &mut DbConnection,
    id: i64,
    password_hash: &str,
    must_change: bool,
    keep: Option<&str>,
) -> QueryResult<usize> {
    let changed = diesel::update(users::table.find(id))
        .set((
            users::password.eq(password_hash),
            users::must_change_password.eq(must_change),
        ))
        .execute(conn)?;
    super::sessions::end_all(conn, id, keep)?;
    Ok(changed)
}

/// Sets a password that `actor` chose for the user `target`, ending the target's sessions.
/// A password chosen for someone else is known to the one who chose it, so it is a pending
/// change: the user must choose their own before anything else (see README, "Security").
pub fn set_password_for(
    conn: &mut DbConnection,
    actor: i64,
    target: i64,
    password_hash: &str,
) -> QueryResult<usize> {
    set_password(conn, target, password_hash, actor != target, None)
}

/// Every user as (id, username) for a select widget, by username.
pub fn choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    Ok(users::table
        .order(users::username)
        .select((users::id, users::username))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

pub fn record_login(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::last_login.eq(Some(now())))
        .execute(conn)
}

/// Everything that gives a user rights: permissions (directly or through groups) and
/// course team roles, whether or not the account is active (what it would act with if it
/// were reactivated).
#[derive(Clone, Debug)]
pub struct Rights {
    pub permissions: permissions::PermissionSet,
    pub roles: crate::courses::TeamRoles,
}

pub fn rights(conn: &mut DbConnection, user: &User) -> QueryResult<Rights> {
    Ok(Rights {
        permissions: permissions::held(conn, user)?,
        roles: crate::courses::team_roles(conn, user.id)?,
    })
}

/// Why a user may not be managed by an actor who is not a superuser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Superuser,
    Permissions,
    CourseRoles,
}

impl Refusal {
    /// The sentence shown where the user is refused (forms, delete pages, 403s).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Superuser => {
                "This user is a superuser: only a superuser may change, deactivate or delete them, or set their password."
            }
            Refusal::Permissions => {
                "This user holds permissions that you do not hold: only a superuser may change, deactivate or delete them, or set their password."
            }
            Refusal::CourseRoles => {
                "This user holds a course team role that you do not hold (the same role or a higher one on the same course): only a superuser may change, deactivate or delete them, or set their password."
            }
        }
    }

    /// The reason in a few words, for lists of users.
    pub fn short(self) -> &'static str {
        match self {
            Refusal::Superuser => "a superuser",
            Refusal::Permissions => "holds permissions you do not hold",
            Refusal::CourseRoles => "holds a course team role you do not hold",
        }
    }
}

/// Why `actor` may not change, set the password of, deactivate, log out, delete or create a
/// service token for `target`, or `None` when it may. A superuser may manage anyone; anyone
/// else only users who are not superusers and hold no right (permission, directly or
/// through groups, or course team role) that the actor lacks, so that no one can take over
/// an account with more rights than their own.
pub fn management_refusal(
    conn: &mut DbConnection,
    actor: &User,
    target: &User,
) -> QueryResult<Option<Refusal>> {
    if actor.is_superuser {
        return Ok(None);
    }
    let own = rights(conn, actor)?;
    refusal_given(conn, &own, target)
}

/// [`management_refusal`] for an actor who is not a superuser and holds `own`, so that a
/// list of targets is judged with the actor's rights read once.
pub fn refusal_given(
    conn: &mut DbConnection,
    own: &Rights,
    target: &User,
) -> QueryResult<Option<Refusal>> {
    if target.is_superuser {
        return Ok(Some(Refusal::Superuser));
    }
    let theirs = rights(conn, target)?;
    Ok(if !own.permissions.covers(&theirs.permissions) {
        Some(Refusal::Permissions)
    } else if !own.roles.covers(&theirs.roles) {
        Some(Refusal::CourseRoles)
    } else {
        None
    })
}

/// The members of a group whom `actor` may not manage, by username, with why. Deleting
/// the group, or changing its permissions, changes their rights as surely as changing
/// them would, so both are refused while there are any.
pub fn group_members_refused(
    conn: &mut DbConnection,
    actor: &User,
    group_id: i64,
) -> QueryResult<Vec<(String, Refusal)>> {
    use crate::db::schema::user_groups;
    if actor.is_superuser {
        return Ok(Vec::new());
    }
    let members: Vec<User> = user_groups::table
        .inner_join(users::table)
        .filter(user_groups::group_id.eq(group_id))
        .order(users::username)
        .select(User::as_select())
        .load(conn)?;
    let own = rights(conn, actor)?;
    let mut refused = Vec::new();
    for member in members {
        if let Some(refusal) = refusal_given(conn, &own, &member)? {
            refused.push((member.username, refusal));
        }
    }
    Ok(refused)
}

pub fn any_superuser(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::is_superuser.eq(true)),
    ))
    .get_result(conn)
}
