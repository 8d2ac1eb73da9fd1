//! Course teams: who is instructor or staff on which course. A role is a right (a team
//! member changes the course in Studio), so it is given and taken as rights are.

use diesel::prelude::*;

use super::Course;
use crate::auth::users::{self, User};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses, users as user_rows};
use crate::validation::FieldErrors;

const INVALID_CHOICE: &str = "Select a valid choice.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Instructor,
    Staff,
}

impl Role {
    pub const CHOICES: [(&'static str, &'static str); 2] =
        [("instructor", "Instructor"), ("staff", "Staff")];

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "instructor" => Some(Role::Instructor),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Instructor => "instructor",
            Role::Staff => "staff",
        }
    }

    /// Whether holding this role includes holding `other` (an instructor may do all that
    /// staff may, as in Open edX).
    pub fn includes(self, other: Role) -> bool {
        let rank = |role| match role {
            Role::Staff => 1,
            Role::Instructor => 2,
        };
        rank(self) >= rank(other)
    }
}

/// A user's course team roles, by course id. They are rights like permissions (a team
/// member changes the course in Studio), so they count wherever rights are compared.
#[derive(Clone, Debug, Default)]
pub struct TeamRoles(std::collections::HashMap<i64, Role>);

impl TeamRoles {
    /// True when, on every course where `other` holds a role, these roles hold the same or
    /// a higher one.
    pub fn covers(&self, other: &TeamRoles) -> bool {
        other
            .0
            .iter()
            .all(|(course, role)| self.on(*course).is_some_and(|own| own.includes(*role)))
    }

    pub fn on(&self, course: i64) -> Option<Role> {
        self.0.get(&course).copied()
    }
}

pub fn team_roles(conn: &mut DbConnection, user_id: i64) -> QueryResult<TeamRoles> {
    let rows: Vec<(i64, String)> = course_roles::table
        .filter(course_roles::user_id.eq(user_id))
        .select((course_roles::course_id, course_roles::role))
        .load(conn)?;
    Ok(TeamRoles(
        rows.into_iter()
            // The database allows only the known roles (a CHECK constraint).
            .filter_map(|(course, role)| Some((course, Role::parse(&role)?)))
            .collect(),
    ))
}

const ROLE_NOT_HELD: &str = "You may give only a role that you hold yourself on this course (or a lower one): course team roles are rights, and only a superuser grants rights freely.";

/// Why `actor` may not give `target` the role `role` on `course`, or `None`. Course roles
/// are rights: a superuser gives them freely; anyone else may give only a role they hold
/// themselves on that course (or a lower one), and only to a user they may manage.
pub fn grant_refusal(
    conn: &mut DbConnection,
    actor: &User,
    target: &User,
    course: i64,
    role: Role,
) -> QueryResult<Option<&'static str>> {
    if actor.is_superuser {
        return Ok(None);
    }
    if let Some(refusal) = users::management_refusal(conn, actor, target)? {
        return Ok(Some(refusal.message()));
    }
    let held = team_roles(conn, actor.id)?.on(course);
    Ok((!held.is_some_and(|own| own.includes(role))).then_some(ROLE_NOT_HELD))
}

/// The courses on whose team the user is, with the role, by course key.
pub fn courses_of(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<(Course, String)>> {
    course_roles::table
        .inner_join(courses::table)
        .filter(course_roles::user_id.eq(user_id))
        .order(courses::course_id)
        .select((Course::as_select(), course_roles::role))
        .load(conn)
}

pub fn role_on(conn: &mut DbConnection, user_id: i64, course: i64) -> QueryResult<Option<Role>> {
    let role: Option<String> = course_roles::table
        .filter(course_roles::user_id.eq(user_id))
        .filter(course_roles::course_id.eq(course))
        .select(course_roles::role)
        .first(conn)
        .optional()?;
    Ok(role.as_deref().and_then(Role::parse))
}

pub fn has_any_role(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        course_roles::table.filter(course_roles::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// A role to give: to whom, on which course (by id).
#[derive(Clone, Copy, Debug)]
pub struct NewRole {
    pub user: i64,
    pub course: i64,
    pub role: Role,
}

/// A role as shown: its holder's username and its course's key.
#[derive(Queryable, Clone, Debug, Default)]
pub struct TeamRole {
    pub id: i64,
    pub user_id: i64,
    pub course_id: i64,
    pub username: String,
    pub role: String,
    pub course_key: String,
}

impl TeamRole {
    pub fn repr(&self) -> String {
        format!("{}: {} on {}", self.username, self.role, self.course_key)
    }
}

/// The roles of these ids that exist, by id.
pub fn described(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<TeamRole>> {
    course_roles::table
        .inner_join(user_rows::table)
        .inner_join(courses::table)
        .filter(course_roles::id.eq_any(ids))
        .order(course_roles::id)
        .select((
            course_roles::id,
            course_roles::user_id,
            course_roles::course_id,
            user_rows::username,
            course_roles::role,
            courses::course_id,
        ))
        .load(conn)
}

/// A course's team, each member as "username (role)", by username.
pub fn team_of(conn: &mut DbConnection, course: i64) -> QueryResult<Vec<String>> {
    let team: Vec<(String, String)> = course_roles::table
        .inner_join(user_rows::table)
        .filter(course_roles::course_id.eq(course))
        .order(user_rows::username)
        .select((user_rows::username, course_roles::role))
        .load(conn)?;
    Ok(team
        .into_iter()
        .map(|(user, role)| format!("{user} ({role})"))
        .collect())
}

/// Why the user `actor` may not change or remove the role `id`, or `None`: whoever may not
/// manage its holder may not (see [`users::management_refusal`]).
pub fn change_refusal(
    conn: &mut DbConnection,
    actor: i64,
    id: i64,
) -> QueryResult<Option<&'static str>> {
    let holder: Option<i64> = course_roles::table
        .find(id)
        .select(course_roles::user_id)
        .first(conn)
        .optional()?;
    let Some(holder) = holder else {
        return Ok(None);
    };
    match (users::find(conn, actor)?, users::find(conn, holder)?) {
        (Some(actor), Some(holder)) => {
            Ok(users::management_refusal(conn, &actor, &holder)?.map(|r| r.message()))
        }
        _ => Ok(None),
    }
}

/// Gives a role (`id` `None`) or changes the role `id`, as the user `actor`, with every
/// rule: the user and the course exist, a user holds one role per course, and the actor
/// may give it ([`grant_refusal`]). Returns the role's id.
pub fn save_role(
    conn: &mut DbConnection,
    actor: i64,
    id: Option<i64>,
    new: NewRole,
) -> QueryResult<Result<i64, FieldErrors>> {
    let mut errors = FieldErrors::default();
    let user = users::find(conn, new.user)?;
    if user.is_none() {
        errors.add("user", INVALID_CHOICE);
    }
    let course_exists: bool =
        diesel::select(diesel::dsl::exists(courses::table.find(new.course))).get_result(conn)?;
    if !course_exists {
        errors.add("course", INVALID_CHOICE);
    }
    let clash: Option<i64> = course_roles::table
        .filter(course_roles::user_id.eq(new.user))
        .filter(course_roles::course_id.eq(new.course))
        .select(course_roles::id)
        .first(conn)
        .optional()?;
    if clash.is_some() && clash != id {
        errors.add(
            FieldErrors::NON_FIELD,
            "This user already has a role on this course.",
        );
    }
    if let Some(user) = user.filter(|_| errors.is_empty()) {
        let actor = users::find(conn, actor)?.ok_or(diesel::result::Error::NotFound)?;
        if let Some(problem) = grant_refusal(conn, &actor, &user, new.course, new.role)? {
            errors.add(FieldErrors::NON_FIELD, problem);
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let values = (
        course_roles::user_id.eq(new.user),
        course_roles::course_id.eq(new.course),
        course_roles::role.eq(new.role.as_str()),
    );
    Ok(Ok(match id {
        Some(id) => {
            diesel::update(course_roles::table.find(id))
                .set(values)
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(course_roles::table)
            .values(values)
            .returning(course_roles::id)
            .get_result(conn)?,
    }))
}

pub fn delete_roles(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(course_roles::table.filter(course_roles::id.eq_any(ids))).execute(conn)
}
