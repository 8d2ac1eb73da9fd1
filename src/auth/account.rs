//! An account as it is stored: the row every part of auth reads, with no rule of its own
//! (the rules are in `users`, `permissions` and `groups`).

use diesel::prelude::*;

use crate::db::schema::users;

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
