//! Users: lookup, creation and changes (as an admin makes them), password changes, and
//! who may manage whom.

use diesel::prelude::*;

use super::{password, permissions};
use crate::db::schema::{groups, user_groups, user_permissions, users};
use crate::db::{DbConnection, now};
use crate::validation::FieldErrors;

pub use super::account::User;

/// The username of the superuser created on a site without any (`accolade serve` on an empty
/// database).
pub const INITIAL_SUPERUSER: &str = "admin";

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
        Some(FieldErrors::REQUIRED)
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

/// Why a username is taken: the same name, or one that differs only in case or in
/// look-alike characters (shown, since they are the same to a reader).
fn clash_message(existing: &str, wanted: &str) -> String {
    if existing == normalize_username(wanted) {
        TAKEN.into()
    } else {
        format!(
            "A user with that username already exists: “{existing}”. Usernames that differ only in upper and lower case, or in look-alike characters (such as fullwidth letters), are the same username."
        )
    }
}

const TAKEN: &str = "A user with that username already exists.";

/// A username that another request took first (the database's unique key decided).
fn taken() -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add("username", TAKEN);
    errors
}

/// The unique keys on a username: the name as stored, and its folded key (see
/// [`username_key`]). Besides the id, they are the only unique keys of `users`.
const USERNAME_KEYS: [&str; 2] = ["users_username_key", "users_username_folded"];

/// Runs a write that sets a username in a savepoint (so that on PostgreSQL the
/// surrounding transaction survives), and maps a violation of [`USERNAME_KEYS`] to
/// "taken": another request took the name since it was checked.
fn unless_taken<T>(
    conn: &mut DbConnection,
    write: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<Result<T, FieldErrors>> {
    match conn.transaction(write) {
        Err(e) if crate::db::violates_unique(conn, &e, &USERNAME_KEYS) => Ok(Err(taken())),
        other => other.map(Ok),
    }
}

/// Checks a (normalised) username: its form, and that no other account has it.
fn check_username(
    conn: &mut DbConnection,
    username: &str,
    own_id: Option<i64>,
    errors: &mut FieldErrors,
) -> QueryResult<()> {
    if let Some(problem) = validate_username(username) {
        errors.add("username", problem);
    } else if let Some(existing) = find_clash(conn, username)?
        && Some(existing.id) != own_id
    {
        errors.add("username", clash_message(&existing.username, username));
    }
    Ok(())
}

/// An account's e-mail address is optional; when given, the shared rule applies.
fn check_email(email: &str, errors: &mut FieldErrors) {
    if !email.is_empty()
        && let Err(problem) = crate::validation::email_address(email)
    {
        errors.add("email", problem);
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

/// Creates an account with a password chosen for its user, so a pending change (see
/// [`set_password_for`]); returns its id and normalised username. The username must be
/// valid and not the same as another's (see [`username_key`]), the e-mail address valid
/// if given, and the password given twice (`passwords`), alike, and strong enough.
pub fn create_account(
    conn: &mut DbConnection,
    username: &str,
    email: &str,
    passwords: [&str; 2],
) -> QueryResult<Result<(i64, String), FieldErrors>> {
    let mut errors = FieldErrors::default();
    let username = normalize_username(username);
    let email = email.trim();
    check_username(conn, &username, None, &mut errors)?;
    check_email(email, &mut errors);
    let [first, second] = passwords;
    for (field, value) in [("password1", first), ("password2", second)] {
        if value.trim().is_empty() {
            errors.add(field, FieldErrors::REQUIRED);
        }
    }
    if !first.is_empty() && !second.is_empty() && first != second {
        errors.add("password2", "The two password fields didn’t match.");
    } else if !first.is_empty() {
        for problem in password::validate(first, &username, email) {
            errors.add("password2", problem);
        }
    }
    if let Err(errors) = errors.into_result() {
        return Ok(Err(errors));
    }
    let hash = password::hash(first);
    let account = NewUser::set_up_by_admin(&username, email, &hash);
    Ok(unless_taken(conn, |conn| create(conn, &account))?.map(|id| (id, username)))
}

/// An account's details and rights as an admin changes them.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_active: bool,
    /// The rights: applied only when a superuser changes the account, since anyone else
    /// who may change users could otherwise make themselves a superuser.
    pub is_staff: bool,
    pub is_superuser: bool,
    pub groups: Vec<i64>,
    pub permissions: Vec<i64>,
}

/// Changes the account `id` as `actor` (a user id) asks, and returns its normalised
/// username. Refused unless the actor may manage the account ([`management_refusal`]);
/// the rights are left as they are unless the actor is a superuser; taking a status away
/// ends the user's sessions ([`set_status`]); groups and permissions that do not exist are
/// ignored.
pub fn update_account(
    conn: &mut DbConnection,
    actor: i64,
    id: i64,
    change: &AccountChange,
) -> QueryResult<Result<String, FieldErrors>> {
    let actor = find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
    let target = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
    let mut errors = FieldErrors::default();
    if let Some(refusal) = management_refusal(conn, &actor, &target)? {
        errors.add(FieldErrors::NON_FIELD, refusal.message());
        return Ok(Err(errors));
    }
    let username = normalize_username(&change.username);
    let (first_name, last_name) = (change.first_name.trim(), change.last_name.trim());
    let email = change.email.trim();
    check_username(conn, &username, Some(id), &mut errors)?;
    check_email(email, &mut errors);
    for (field, value) in [("first_name", first_name), ("last_name", last_name)] {
        if let Err(problem) = crate::validation::max_chars(value, 150) {
            errors.add(field, problem);
        }
    }
    if let Err(errors) = errors.into_result() {
        return Ok(Err(errors));
    }
    if let Err(errors) = unless_taken(conn, |conn| rename(conn, id, &username))? {
        return Ok(Err(errors));
    }
    diesel::update(users::table.find(id))
        .set((
            users::first_name.eq(first_name),
            users::last_name.eq(last_name),
            users::email.eq(email),
        ))
        .execute(conn)?;
    let granted = |flag: bool| actor.is_superuser.then_some(flag);
    let (staff, superuser) = (granted(change.is_staff), granted(change.is_superuser));
    set_status(conn, id, change.is_active, staff, superuser)?;
    if actor.is_superuser {
        let groups = existing_groups(conn, &change.groups)?;
        replace_links!(conn, user_groups, user_id, id, group_id, groups);
        let permissions = permissions::existing(conn, &change.permissions)?;
        replace_links!(
            conn,
            user_permissions,
            user_id,
            id,
            permission_id,
            permissions
        );
    }
    Ok(Ok(username))
}

/// Which users a list shows; `None` leaves a criterion out.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserFilter {
    pub staff: Option<bool>,
    pub superuser: Option<bool>,
    pub active: Option<bool>,
    /// Members of this group.
    pub group: Option<i64>,
}

/// The users that meet `filter`, as a query to search, order and page further.
pub fn matching(filter: UserFilter) -> users::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut query = users::table.into_boxed();
    if let Some(staff) = filter.staff {
        query = query.filter(users::is_staff.eq(staff));
    }
    if let Some(superuser) = filter.superuser {
        query = query.filter(users::is_superuser.eq(superuser));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::is_active.eq(active));
    }
    if let Some(group) = filter.group {
        let members = user_groups::table
            .filter(user_groups::group_id.eq(group))
            .select(user_groups::user_id);
        query = query.filter(users::id.eq_any(members));
    }
    query
}

/// The ids of the groups a user belongs to and of the permissions granted to them directly.
pub fn links_of(conn: &mut DbConnection, id: i64) -> QueryResult<(Vec<i64>, Vec<i64>)> {
    let groups = user_groups::table
        .filter(user_groups::user_id.eq(id))
        .select(user_groups::group_id)
        .load(conn)?;
    let permissions = user_permissions::table
        .filter(user_permissions::user_id.eq(id))
        .select(user_permissions::permission_id)
        .load(conn)?;
    Ok((groups, permissions))
}

/// The users among `ids` that exist, as (id, username), by id.
pub fn names(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select((users::id, users::username))
        .load(conn)
}

/// Logs the users `ids` out everywhere: ends every session of each. Returns how many
/// sessions ended, and the users as (id, username).
pub fn end_sessions(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<(usize, Vec<(i64, String)>)> {
    let found = names(conn, ids)?;
    let mut ended = 0;
    for (id, _) in &found {
        ended += super::sessions::end_all(conn, *id, None)?;
    }
    Ok((ended, found))
}

/// Deletes the users `ids`, with their memberships, grants, roles and sessions.
pub fn delete(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(users::table.filter(users::id.eq_any(ids))).execute(conn)
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

/// [`management_refusal`] by ids, for what belongs to a user (the user's account, service
/// tokens and course roles): `None` when either user does not exist.
pub fn refusal_for(
    conn: &mut DbConnection,
    actor: i64,
    target: i64,
) -> QueryResult<Option<Refusal>> {
    match (find(conn, actor)?, find(conn, target)?) {
        (Some(actor), Some(target)) => management_refusal(conn, &actor, &target),
        _ => Ok(None),
    }
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

/// The ids among `ids` that name groups.
fn existing_groups(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .select(groups::id)
        .load(conn)
}
