//! Authentication and Authorization › Users: accounts, their rights and sessions. Only
//! superusers grant rights; that rule, and who may manage whom, are in `auth::users`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::auth::{permission_choices, rights};
use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Choices, Column, Deletion, FieldSpec, Filter,
    ListPage, ListQuery, Loaded, ModelAdmin, ModelInfo, Request, Row, SaveResult, Saved, Widget,
    parse_ids,
};
use crate::auth::groups;
use crate::auth::users::{self, AccountChange, User, UserFilter};
use crate::auth::{password, sessions, user_deletion};
use crate::db::DbConnection;
use crate::db::schema::users as user_rows;
use crate::display::format_time;

const END_SESSIONS: &str = "end_sessions";
const GROUP: &str = "groups__id__exact";
const LOG_OUT_EVERYWHERE: &str = "Log out everywhere (end every session of the selected users)";

const PASSWORD_HELP: &str =
    "Raw passwords are not stored, so there is no way to see this user’s password.";
const ACTIVE_HELP: &str = "Designates whether this user should be treated as active. Unselect this instead of deleting accounts.";
const STAFF_HELP: &str = "Designates whether the user can log into this admin site.";
const SUPERUSER_HELP: &str =
    "Designates that this user has all permissions without explicitly assigning them.";
const GROUPS_HELP: &str = "The groups this user belongs to. A user will get all permissions granted to each of their groups.";
const RIGHTS_HELP: &str = "Specific permissions for this user.";
const SESSIONS_HELP: &str = "Where this user is logged in. “Log out everywhere” ends every session; so does setting a new password.";

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::AUTH, "user", "user", "users"),
    &[
        Column::sorted("username", "Username"),
        Column::sorted("email", "Email address"),
        Column::sorted("first_name", "First name"),
        Column::sorted("last_name", "Last name"),
        Column::sorted("is_staff", "Staff status"),
        Column::sorted("is_active", "Active"),
        Column::sorted("last_login", "Last login"),
    ],
)
.search("Searches username, first and last name, and email address.")
.filters(&[
    Filter::boolean("is_staff__exact", "staff status"),
    Filter::boolean("is_superuser__exact", "superuser status"),
    Filter::boolean("is_active__exact", "active"),
    Filter::from_data(GROUP, "groups"),
])
.actions(&[ActionSpec::new(END_SESSIONS, LOG_OUT_EVERYWHERE)])
.object_actions(&[END_SESSIONS])
.continue_after_add();

pub struct UserAdmin;

/// The add form (username, e-mail, password twice) and the change form (the rest).
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct UserForm {
    username: String,
    email: String,
    password1: String,
    password2: String,
    password: String,
    first_name: String,
    last_name: String,
    #[serde(deserialize_with = "crate::admin::checkbox")]
    is_active: bool,
    #[serde(deserialize_with = "crate::admin::checkbox")]
    is_staff: bool,
    #[serde(deserialize_with = "crate::admin::checkbox")]
    is_superuser: bool,
    groups: Vec<String>,
    user_permissions: Vec<String>,
    last_login: String,
    date_joined: String,
    sessions: String,
}

impl ModelAdmin for UserAdmin {
    type Id = i64;
    type Form = UserForm;

    const META: &'static AdminMeta = &META;
    const DELETION: Option<Deletion<i64>> =
        Some(Deletion::new(user_deletion::deleted, users::delete));

    fn refusal(&self, req: &mut Request, id: &i64) -> QueryResult<Option<String>> {
        let refusal = users::refusal_for(req.conn, req.actor.user_id, *id)?;
        Ok(refusal.map(|r| r.message().into()))
    }

    /// The groups there are.
    fn filter_choices(&self, conn: &mut DbConnection, _: &str) -> QueryResult<Option<Choices>> {
        Ok(Some(groups::choices(conn)?))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        use user_rows::{email, first_name, is_active, is_staff, last_login, last_name, username};
        let group = q.filter(GROUP).map(|g| g.parse().unwrap_or(-1));
        let filter = UserFilter {
            staff: q.bool_filter("is_staff__exact"),
            superuser: q.bool_filter("is_superuser__exact"),
            active: q.bool_filter("is_active__exact"),
            group,
        };
        list_page!(conn, q, &META,
            total: user_rows::table,
            filtered: || {
                let query = users::matching(filter);
                search_terms!(query, &q.terms, username, first_name, last_name, email)
            },
            pk: user_rows::id,
            order: {
                "username" => username,
                "email" => email,
                "first_name" => first_name,
                "last_name" => last_name,
                "is_staff" => is_staff,
                "is_active" => is_active,
                "last_login" => last_login,
            },
            select: User::as_select(),
            row: |u: User| Row::new(u.id, vec![
                Cell::Text(u.username),
                Cell::Text(u.email),
                Cell::Text(u.first_name),
                Cell::Text(u.last_name),
                Cell::Bool(Some(u.is_staff)),
                Cell::Bool(Some(u.is_active)),
                Cell::Time(u.last_login),
            ]),
        )
    }

    fn fields(&self, req: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let text = Widget::Text { max_length: 150 };
        let name = FieldSpec::new("username", "Username", text.clone())
            .required()
            .help("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.");
        let Some(id) = id else {
            let secret = |name, label| FieldSpec::new(name, label, Widget::Password).required();
            return Ok(vec![
                name,
                FieldSpec::new("email", "Email address", Widget::Email),
                secret("password1", "Password").help(password::requirements()),
                secret("password2", "Password confirmation")
                    .help("Enter the same password as before, for verification."),
            ]);
        };
        let (groups, permissions) = (groups::choices(req.conn)?, permission_choices(req.conn)?);
        let actor = req.actor;
        let shown = |name, label| FieldSpec::new(name, label, Widget::ReadOnly);
        let password = shown("password", "Password").help(PASSWORD_HELP);
        // Short names for the widgets of the rights fields, so each fits on a line.
        let (check, select) = (|| Widget::Checkbox, Widget::MultiSelect);
        Ok(vec![
            name,
            password.link(crate::urls::set_password(*id), "Set a new password"),
            FieldSpec::new("first_name", "First name", text.clone()),
            FieldSpec::new("last_name", "Last name", text),
            FieldSpec::new("email", "Email address", Widget::Email),
            FieldSpec::new("is_active", "Active", Widget::Checkbox).help(ACTIVE_HELP),
            rights(actor, "is_staff", "Staff status", check(), STAFF_HELP),
            rights(
                actor,
                "is_superuser",
                "Superuser status",
                check(),
                SUPERUSER_HELP,
            ),
            rights(actor, "groups", "Groups", select(groups), GROUPS_HELP),
            rights(
                actor,
                "user_permissions",
                "User permissions",
                select(permissions),
                RIGHTS_HELP,
            ),
            shown("last_login", "Last login"),
            shown("date_joined", "Date joined"),
            shown("sessions", "Sessions").help(SESSIONS_HELP),
        ])
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<UserForm>> {
        let Some(user) = users::find(conn, *id)? else {
            return Ok(None);
        };
        let (groups, permissions) = users::links_of(conn, *id)?;
        let form = UserForm {
            password: password::summary(&user.password).into(),
            first_name: user.first_name,
            last_name: user.last_name,
            email: user.email,
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            groups: groups.iter().map(i64::to_string).collect(),
            user_permissions: permissions.iter().map(i64::to_string).collect(),
            last_login: user.last_login.map_or("-".into(), |t| format_time(&t)),
            date_joined: format_time(&user.date_joined),
            sessions: sessions::summary(conn, *id)?,
            username: user.username.clone(),
            ..UserForm::default()
        };
        Ok(Some((user.username, form)))
    }

    fn save(&self, req: &mut Request, id: Option<&i64>, form: UserForm) -> SaveResult {
        let Some(&id) = id else {
            let passwords = [form.password1.as_str(), &form.password2];
            let created = users::create_account(req.conn, &form.username, &form.email, passwords);
            let (id, name) = created??;
            return Ok(Saved::new(id, name));
        };
        let change = AccountChange {
            groups: parse_ids(&form.groups),
            permissions: parse_ids(&form.user_permissions),
            username: form.username,
            first_name: form.first_name,
            last_name: form.last_name,
            email: form.email,
            is_active: form.is_active,
            is_staff: form.is_staff,
            is_superuser: form.is_superuser,
        };
        let username = users::update_account(req.conn, req.actor.user_id, id, &change)??;
        Ok(Saved::new(id, username))
    }

    fn run_action(&self, req: &mut Request, _: &str, ids: &[i64]) -> QueryResult<ActionOutcome> {
        let (ended, found) = users::end_sessions(req.conn, ids)?;
        let n = found.len();
        let message = format!("Ended {ended} session(s) of {n} user(s): they must log in again.");
        Ok(ActionOutcome::new(message, found))
    }
}
