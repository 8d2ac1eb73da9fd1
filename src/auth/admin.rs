//! The admin pages of users and groups.
//!
//! Only superusers may grant rights (staff status, superuser status, groups, permissions):
//! otherwise anyone allowed to change users could make themselves a superuser.

use diesel::prelude::*;

use crate::admin::FormChecks;

use super::password;
use super::permissions;
use super::users::{self as accounts, NewUser, User};
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec,
    FilterSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row, SaveError, Saved,
    Widget, ids_as_i64,
};
use crate::db::DbConnection;
use crate::db::schema::{group_permissions, groups, user_groups, user_permissions, users};

const APP_NAME: &str = "Authentication and Authorization";

pub struct UserAdmin;

static USER_INFO: ModelInfo = ModelInfo {
    app_label: "auth",
    app_name: APP_NAME,
    model: "user",
    verbose_name: "user",
    verbose_name_plural: "users",
};

static USER_COLUMNS: &[Column] = &[
    Column {
        key: "username",
        label: "Username",
        sortable: true,
    },
    Column {
        key: "email",
        label: "Email address",
        sortable: true,
    },
    Column {
        key: "first_name",
        label: "First name",
        sortable: true,
    },
    Column {
        key: "last_name",
        label: "Last name",
        sortable: true,
    },
    Column {
        key: "is_staff",
        label: "Staff status",
        sortable: true,
    },
    Column {
        key: "is_active",
        label: "Active",
        sortable: true,
    },
    Column {
        key: "last_login",
        label: "Last login",
        sortable: true,
    },
];

const PRIVILEGE_HELP: &str = "Only superusers may change this.";

const END_SESSIONS: &str = "end_sessions";

static USER_ACTIONS: &[ActionSpec] = &[ActionSpec::new(
    END_SESSIONS,
    "Log out everywhere (end every session of the selected users)",
)];

fn parse_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

fn group_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    Ok(groups::table
        .order(groups::name)
        .select((groups::id, groups::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

fn permission_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    Ok(permissions::choices(conn)?
        .into_iter()
        .map(|(id, label)| (id.to_string(), label))
        .collect())
}

/// An account's e-mail address is optional; when given, the shared rule applies.
fn validate_email(email: &str, errors: &mut FieldErrors) {
    if let Err(problem) = crate::validation::email_address(email)
        && !email.is_empty()
    {
        errors.add("email", problem);
    }
}

fn validate_username(
    conn: &mut DbConnection,
    username: &str,
    own_id: Option<i64>,
    errors: &mut FieldErrors,
) -> QueryResult<()> {
    if let Some(problem) = accounts::validate_username(username) {
        errors.add("username", problem);
    } else if let Some(existing) = accounts::find_clash(conn, username)?
        && Some(existing.id) != own_id
    {
        errors.add("username", clash_message(&existing.username, username));
    }
    Ok(())
}

/// Why a username is taken: the same name, or one that differs only in case or in
/// look-alike characters (shown, since they are the same to a reader).
fn clash_message(existing: &str, wanted: &str) -> String {
    if existing == accounts::normalize_username(wanted) {
        "A user with that username already exists.".into()
    } else {
        format!(
            "A user with that username already exists: “{existing}”. Usernames that differ only in upper and lower case, or in look-alike characters (such as fullwidth letters), are the same username."
        )
    }
}

/// Replaces a user's or group's links (memberships, grants) with the submitted ids.
macro_rules! replace_links {
    ($conn:expr, $table:ident, $owner_col:ident, $owner:expr, $target_col:ident, $ids:expr) => {{
        diesel::delete($table::table.filter($table::$owner_col.eq($owner))).execute($conn)?;
        // One row at a time: batch inserts are not portable across both backends.
        for &id in &$ids {
            diesel::insert_into($table::table)
                .values(($table::$owner_col.eq($owner), $table::$target_col.eq(id)))
                .execute($conn)?;
        }
    }};
}

/// Ids from a multi-select that name existing rows of `table`.
fn existing_ids(
    conn: &mut DbConnection,
    values: Vec<&str>,
    groups_table: bool,
) -> QueryResult<Vec<i64>> {
    let wanted: Vec<i64> = values.iter().filter_map(|v| v.parse().ok()).collect();
    if groups_table {
        groups::table
            .filter(groups::id.eq_any(&wanted))
            .select(groups::id)
            .load(conn)
    } else {
        crate::db::schema::permissions::table
            .filter(crate::db::schema::permissions::id.eq_any(&wanted))
            .select(crate::db::schema::permissions::id)
            .load(conn)
    }
}

/// A username that another request took first (the database's unique key decided).
fn taken() -> SaveError {
    let mut errors = FieldErrors::default();
    errors.add("username", "A user with that username already exists.");
    SaveError::Invalid(errors)
}

fn renamed(conn: &mut DbConnection, id: i64, username: &str) -> Result<(), SaveError> {
    match accounts::rename(conn, id, username) {
        Err(e) if crate::db::is_unique_violation(&e) => Err(taken()),
        other => other.map(drop).map_err(SaveError::from),
    }
}

impl UserAdmin {
    fn add_fields() -> Vec<FieldSpec> {
        vec![
            FieldSpec::new("username", "Username", Widget::Text { max_length: 150 })
                .required()
                .help("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."),
            FieldSpec::new("email", "Email address", Widget::Email),
            FieldSpec::new("password1", "Password", Widget::Password)
                .required()
                .help(format!(
                    "At least {} characters; not too similar to the username or email address, not a common password, not entirely numeric.",
                    password::MIN_LENGTH
                )),
            FieldSpec::new("password2", "Password confirmation", Widget::Password)
                .required()
                .help("Enter the same password as before, for verification."),
        ]
    }

    fn add(&self, conn: &mut DbConnection, data: &FormData) -> Result<Saved, SaveError> {
        let mut errors = FieldErrors::default();
        errors.check_required(&Self::add_fields(), data);
        let username = accounts::normalize_username(&data.text("username"));
        let email = data.text("email");
        validate_username(conn, &username, None, &mut errors)?;
        validate_email(&email, &mut errors);
        let (p1, p2) = (data.raw("password1"), data.raw("password2"));
        if !p1.is_empty() && !p2.is_empty() && p1 != p2 {
            errors.add("password2", "The two password fields didn’t match.");
        } else if !p1.is_empty() {
            for problem in password::validate(p1, &username, &email) {
                errors.add("password2", problem);
            }
        }
        errors.into_result().map_err(SaveError::Invalid)?;
        let hash = password::hash(p1);
        let id = match accounts::create(conn, &NewUser::set_up_by_admin(&username, &email, &hash)) {
            Err(e) if crate::db::is_unique_violation(&e) => return Err(taken()),
            created => created?,
        };
        Ok(Saved::new(id, username))
    }

    fn change(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: i64,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let fields = self.fields(conn, actor, Some(&id.to_string()))?;
        let mut errors = FieldErrors::default();
        errors.check_required(&fields, data);
        errors.check_lengths(&fields, data);
        let username = accounts::normalize_username(&data.text("username"));
        let email = data.text("email");
        validate_username(conn, &username, Some(id), &mut errors)?;
        validate_email(&email, &mut errors);
        errors.into_result().map_err(SaveError::Invalid)?;
        renamed(conn, id, &username)?;
        diesel::update(users::table.find(id))
            .set((
                users::first_name.eq(data.text("first_name")),
                users::last_name.eq(data.text("last_name")),
                users::email.eq(&email),
            ))
            .execute(conn)?;
        // Only a superuser grants or takes away staff and superuser status.
        let by_superuser = |flag| actor.is_superuser.then(|| data.flag(flag));
        accounts::set_status(
            conn,
            id,
            data.flag("is_active"),
            by_superuser("is_staff"),
            by_superuser("is_superuser"),
        )?;
        if actor.is_superuser {
            let group_ids = existing_ids(conn, data.all("groups"), true)?;
            replace_links!(conn, user_groups, user_id, id, group_id, group_ids);
            let permission_ids = existing_ids(conn, data.all("user_permissions"), false)?;
            replace_links!(
                conn,
                user_permissions,
                user_id,
                id,
                permission_id,
                permission_ids
            );
        }
        Ok(Saved::new(id, username))
    }
}

/// Why `actor` may not manage the user `id` (see [`accounts::management_refusal`]).
pub fn refusal_for(
    conn: &mut DbConnection,
    actor: Actor,
    id: i64,
) -> QueryResult<Option<accounts::Refusal>> {
    if actor.is_superuser {
        return Ok(None);
    }
    match (
        accounts::find(conn, actor.user_id)?,
        accounts::find(conn, id)?,
    ) {
        (Some(actor), Some(target)) => accounts::management_refusal(conn, &actor, &target),
        _ => Ok(None),
    }
}

impl LegacyModelAdmin for UserAdmin {
    fn info(&self) -> &'static ModelInfo {
        &USER_INFO
    }

    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &str,
    ) -> QueryResult<Option<String>> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        Ok(refusal_for(conn, actor, id)?.map(|r| r.message().to_string()))
    }

    fn actions(&self) -> &'static [ActionSpec] {
        USER_ACTIONS
    }

    fn object_actions(&self) -> &'static [&'static str] {
        &[END_SESSIONS]
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        if action != END_SESSIONS {
            return Ok(ActionOutcome::default());
        }
        let found: Vec<(i64, String)> = users::table
            .filter(users::id.eq_any(ids_as_i64(ids)))
            .select((users::id, users::username))
            .load(conn)?;
        let mut ended = 0;
        for (id, _) in &found {
            ended += super::sessions::end_all(conn, *id, None)?;
        }
        Ok(ActionOutcome {
            message: format!(
                "Ended {ended} session(s) of {} user(s): they must log in again.",
                found.len()
            ),
            changed: found
                .into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect(),
        })
    }

    fn columns(&self) -> &'static [Column] {
        USER_COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches username, first and last name, and email address.")
    }

    fn continue_after_add(&self) -> bool {
        true
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        Ok(vec![
            FilterSpec::boolean("is_staff__exact", "staff status"),
            FilterSpec::boolean("is_superuser__exact", "superuser status"),
            FilterSpec::boolean("is_active__exact", "active"),
            FilterSpec {
                param: "groups__id__exact",
                title: "groups",
                choices: group_choices(conn)?,
            },
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = users::table.into_boxed();
            query = search_terms!(
                query,
                &q.terms,
                users::username,
                users::first_name,
                users::last_name,
                users::email
            );
            if let Some(v) = q.bool_filter("is_staff__exact") {
                query = query.filter(users::is_staff.eq(v));
            }
            if let Some(v) = q.bool_filter("is_superuser__exact") {
                query = query.filter(users::is_superuser.eq(v));
            }
            if let Some(v) = q.bool_filter("is_active__exact") {
                query = query.filter(users::is_active.eq(v));
            }
            if let Some(group) = q.filter("groups__id__exact") {
                let group: i64 = group.parse().unwrap_or(-1);
                query = query.filter(
                    users::id.eq_any(
                        user_groups::table
                            .filter(user_groups::group_id.eq(group))
                            .select(user_groups::user_id),
                    ),
                );
            }
            query
        };
        let total = users::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let ordered = page_of!(filtered(), q, USER_COLUMNS, users::id, {
            "username" => users::username,
            "email" => users::email,
            "first_name" => users::first_name,
            "last_name" => users::last_name,
            "is_staff" => users::is_staff,
            "is_active" => users::is_active,
            "last_login" => users::last_login,
        });
        let page: Vec<User> = ordered.select(User::as_select()).load(conn)?;
        let rows = page
            .into_iter()
            .map(|u| Row {
                id: u.id.to_string(),
                cells: vec![
                    Cell::Text(u.username),
                    Cell::Text(u.email),
                    Cell::Text(u.first_name),
                    Cell::Text(u.last_name),
                    Cell::Bool(Some(u.is_staff)),
                    Cell::Bool(Some(u.is_active)),
                    Cell::Time(u.last_login),
                ],
            })
            .collect();
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let Some(id) = id else {
            return Ok(Self::add_fields());
        };
        let password = FieldSpec::new("password", "Password", Widget::ReadOnly)
            .help("Raw passwords are not stored, so there is no way to see this user’s password.")
            .link(
                format!("/admin/auth/user/{id}/password/"),
                "Set a new password",
            );
        let privileged = |field: FieldSpec| {
            if actor.is_superuser {
                field
            } else {
                field.read_only().help(PRIVILEGE_HELP)
            }
        };
        Ok(vec![
            FieldSpec::new("username", "Username", Widget::Text { max_length: 150 })
                .required()
                .help("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."),
            password,
            FieldSpec::new("first_name", "First name", Widget::Text { max_length: 150 }),
            FieldSpec::new("last_name", "Last name", Widget::Text { max_length: 150 }),
            FieldSpec::new("email", "Email address", Widget::Email),
            FieldSpec::new("is_active", "Active", Widget::Checkbox).help(
                "Designates whether this user should be treated as active. Unselect this instead of deleting accounts.",
            ),
            privileged(FieldSpec::new("is_staff", "Staff status", Widget::Checkbox).help(
                "Designates whether the user can log into this admin site.",
            )),
            privileged(FieldSpec::new("is_superuser", "Superuser status", Widget::Checkbox).help(
                "Designates that this user has all permissions without explicitly assigning them.",
            )),
            privileged(FieldSpec::new("groups", "Groups", Widget::MultiSelect(group_choices(conn)?)).help(
                "The groups this user belongs to. A user will get all permissions granted to each of their groups.",
            )),
            privileged(FieldSpec::new(
                "user_permissions",
                "User permissions",
                Widget::MultiSelect(permission_choices(conn)?),
            )
            .help("Specific permissions for this user.")),
            FieldSpec::new("last_login", "Last login", Widget::ReadOnly),
            FieldSpec::new("date_joined", "Date joined", Widget::ReadOnly),
            FieldSpec::new("sessions", "Sessions", Widget::ReadOnly)
                .help("Where this user is logged in. “Log out everywhere” ends every session; so does setting a new password."),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Some(user) = parse_id(id)
            .map(|id| accounts::find(conn, id))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        let group_ids: Vec<i64> = user_groups::table
            .filter(user_groups::user_id.eq(user.id))
            .select(user_groups::group_id)
            .load(conn)?;
        let permission_ids: Vec<i64> = user_permissions::table
            .filter(user_permissions::user_id.eq(user.id))
            .select(user_permissions::permission_id)
            .load(conn)?;
        let mut data = FormData::default();
        data.set("username", &user.username);
        data.set("password", password_summary(&user.password));
        data.set("first_name", &user.first_name);
        data.set("last_name", &user.last_name);
        data.set("email", &user.email);
        data.set_flag("is_active", user.is_active);
        data.set_flag("is_staff", user.is_staff);
        data.set_flag("is_superuser", user.is_superuser);
        data.set_all("groups", group_ids.iter().map(i64::to_string));
        data.set_all(
            "user_permissions",
            permission_ids.iter().map(i64::to_string),
        );
        data.set(
            "last_login",
            user.last_login
                .map_or("-".into(), |t| crate::display::format_time(&t)),
        );
        data.set(
            "date_joined",
            crate::display::format_time(&user.date_joined),
        );
        data.set(
            "sessions",
            match super::sessions::count(conn, user.id)? {
                0 => "Not logged in".to_string(),
                1 => "1 session".to_string(),
                n => format!("{n} sessions"),
            },
        );
        Ok(Some((user.username, data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        match id {
            None => self.add(conn, data),
            Some(id) => {
                let id = parse_id(id).ok_or(diesel::result::Error::NotFound)?;
                self.change(conn, actor, id, data)
            }
        }
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<(i64, String)> = users::table
            .filter(users::id.eq_any(ids_as_i64(ids)))
            .order(users::id)
            .select((users::id, users::username))
            .load(conn)?;
        membership_preview(conn, Side::Users, found)
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(users::table.filter(users::id.eq_any(ids_as_i64(ids)))).execute(conn)
    }
}

/// Which end of the user–group link a delete starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Users,
    Groups,
}

/// The objects a delete removes, each with the memberships that go with it
/// ("Group membership: alice in editors"), read in one query.
fn membership_preview(
    conn: &mut DbConnection,
    side: Side,
    found: Vec<(i64, String)>,
) -> QueryResult<Vec<(String, DeletedObject)>> {
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    let query = user_groups::table
        .inner_join(users::table)
        .inner_join(groups::table)
        .into_boxed();
    let query = match side {
        Side::Users => query.filter(user_groups::user_id.eq_any(&ids)),
        Side::Groups => query.filter(user_groups::group_id.eq_any(&ids)),
    };
    let links: Vec<(i64, i64, String, String)> = query
        .order((users::username, groups::name))
        .select((
            user_groups::user_id,
            user_groups::group_id,
            users::username,
            groups::name,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, repr)| {
            let related = links
                .iter()
                .filter(|(user, group, _, _)| {
                    id == if side == Side::Users { *user } else { *group }
                })
                .map(|(_, _, user, group)| format!("Group membership: {user} in {group}"))
                .collect();
            (id.to_string(), DeletedObject::new(repr, related))
        })
        .collect())
}

/// What the admin shows instead of a password hash.
fn password_summary(hash: &str) -> String {
    if hash.starts_with("$argon2id$") {
        "algorithm: argon2id (hash not shown)".into()
    } else {
        "No password set.".into()
    }
}

pub struct GroupAdmin;

static GROUP_INFO: ModelInfo = ModelInfo {
    app_label: "auth",
    app_name: APP_NAME,
    model: "group",
    verbose_name: "group",
    verbose_name_plural: "groups",
};

static GROUP_COLUMNS: &[Column] = &[Column {
    key: "name",
    label: "Name",
    sortable: true,
}];

/// How many refused members a group's refusal names before it sums up the rest.
const NAMED_MEMBERS: usize = 20;

/// Why `actor` may not delete the group `id` or change its permissions: members whom the
/// actor may not manage, named with the reason (see [`accounts::group_members_refused`]).
fn group_refusal(conn: &mut DbConnection, actor: Actor, id: i64) -> QueryResult<Option<String>> {
    if actor.is_superuser {
        return Ok(None);
    }
    let Some(actor) = accounts::find(conn, actor.user_id)? else {
        return Err(diesel::result::Error::NotFound);
    };
    let refused = accounts::group_members_refused(conn, &actor, id)?;
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

impl LegacyModelAdmin for GroupAdmin {
    fn info(&self) -> &'static ModelInfo {
        &GROUP_INFO
    }

    fn refusal(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: &str,
    ) -> QueryResult<Option<String>> {
        match parse_id(id) {
            Some(id) => group_refusal(conn, actor, id),
            None => Ok(None),
        }
    }

    fn columns(&self) -> &'static [Column] {
        GROUP_COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches group names.")
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || search_terms!(groups::table.into_boxed(), &q.terms, groups::name);
        let total = groups::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(i64, String)> = page_of!(filtered(), q, GROUP_COLUMNS, groups::id, {
            "name" => groups::name,
        })
        .select((groups::id, groups::name))
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(|(id, name)| Row {
                id: id.to_string(),
                cells: vec![Cell::Text(name)],
            })
            .collect();
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        _id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let permissions = FieldSpec::new(
            "permissions",
            "Permissions",
            Widget::MultiSelect(permission_choices(conn)?),
        )
        .help("Members of this group get these permissions.");
        Ok(vec![
            FieldSpec::new("name", "Name", Widget::Text { max_length: 150 }).required(),
            if actor.is_superuser {
                permissions
            } else {
                permissions.read_only().help(PRIVILEGE_HELP)
            },
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        let Some(name) = groups::table
            .find(id)
            .select(groups::name)
            .first::<String>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let permission_ids: Vec<i64> = group_permissions::table
            .filter(group_permissions::group_id.eq(id))
            .select(group_permissions::permission_id)
            .load(conn)?;
        let mut data = FormData::default();
        data.set("name", &name);
        data.set_all("permissions", permission_ids.iter().map(i64::to_string));
        Ok(Some((name, data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let fields = self.fields(conn, actor, id)?;
        let mut errors = FieldErrors::default();
        errors.check_required(&fields, data);
        errors.check_lengths(&fields, data);
        let name = data.text("name");
        let own_id = id.and_then(parse_id);
        let clash: Option<i64> = groups::table
            .filter(groups::name.eq(&name))
            .select(groups::id)
            .first(conn)
            .optional()?;
        if clash.is_some() && clash != own_id {
            errors.add("name", "Group with this Name already exists.");
        }
        errors.into_result().map_err(SaveError::Invalid)?;
        let group_id = match own_id {
            Some(id) => {
                diesel::update(groups::table.find(id))
                    .set(groups::name.eq(&name))
                    .execute(conn)?;
                id
            }
            None => diesel::insert_into(groups::table)
                .values(groups::name.eq(&name))
                .returning(groups::id)
                .get_result(conn)?,
        };
        if actor.is_superuser {
            let permission_ids = existing_ids(conn, data.all("permissions"), false)?;
            replace_links!(
                conn,
                group_permissions,
                group_id,
                group_id,
                permission_id,
                permission_ids
            );
        }
        Ok(Saved::new(group_id, name))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<(i64, String)> = groups::table
            .filter(groups::id.eq_any(ids_as_i64(ids)))
            .order(groups::id)
            .select((groups::id, groups::name))
            .load(conn)?;
        membership_preview(conn, Side::Groups, found)
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(groups::table.filter(groups::id.eq_any(ids_as_i64(ids)))).execute(conn)
    }
}
