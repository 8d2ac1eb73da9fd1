//! Course teams: who is instructor or staff on which course. A role is a right (a team
//! member changes the course in Studio), so it is given and taken as rights are.

use diesel::prelude::*;

use super::{Course, CourseId};
use crate::db::DbConnection;
use crate::db::schema::{course_roles, courses, users as user_rows};

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
pub struct TeamRoles(std::collections::HashMap<CourseId, Role>);

impl TeamRoles {
    /// True when, on every course where `other` holds a role, these roles hold the same or
    /// a higher one.
    pub fn covers(&self, other: &TeamRoles) -> bool {
        other
            .0
            .iter()
            .all(|(course, role)| self.on(*course).is_some_and(|own| own.includes(*role)))
    }

    pub fn on(&self, course: CourseId) -> Option<Role> {
        self.0.get(&course).copied()
    }
}

pub fn team_roles(conn: &mut DbConnection, user_id: i64) -> QueryResult<TeamRoles> {
    let rows: Vec<(CourseId, String)> = course_roles::table
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

/// The courses on whose team the user is, with the role, by course key.
pub fn courses_of(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<(Course, String)>> {
    course_roles::table
        .inner_join(courses::table)
        .filter(course_roles::user_id.eq(user_id))
        .order(courses::course_id)
        .select((Course::as_select(), course_roles::role))
        .load(conn)
}

pub fn role_on(
    conn: &mut DbConnection,
    user_id: i64,
    course: CourseId,
) -> QueryResult<Option<Role>> {
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
    pub course: CourseId,
    pub role: Role,
}

/// A role as shown: its holder's username and its course's key.
#[derive(Queryable, Clone, Debug, Default)]
pub struct TeamRole {
    pub id: i64,
    pub user_id: i64,
    /// The course's row id; its key is `course_key` (`course_id` in Open edX's words).
    pub course: CourseId,
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
pub fn team_of(conn: &mut DbConnection, course: CourseId) -> QueryResult<Vec<String>> {
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

/// The roles among `ids` that exist, as (id, display string, what goes with it: nothing).
pub fn deleted(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, Vec<String>)>> {
    let found = described(conn, ids)?.into_iter();
    Ok(found
        .map(|role| (role.id, role.repr(), Vec::new()))
        .collect())
}

/// Why a course's team roles stand in the way of deleting it: they are rights.
pub const REMOVED_ONE_BY_ONE: &str = "A course’s team roles are removed first, one by one, in the course team roles list (where each removal asks whether you may manage that member).";

pub fn delete_roles(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(course_roles::table.filter(course_roles::id.eq_any(ids))).execute(conn)
}

/// The team roles of these users, as (user, "Course team role: staff on <course key>"):
/// what deleting the users deletes with them.
pub fn of_users(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    let roles: Vec<(i64, String, String)> = course_roles::table
        .inner_join(courses::table)
        .filter(course_roles::user_id.eq_any(user_ids))
        .order(courses::course_id)
        .select((
            course_roles::user_id,
            course_roles::role,
            courses::course_id,
        ))
        .load(conn)?;
    Ok(roles
        .into_iter()
        .map(|(user, role, course)| (user, format!("Course team role: {role} on {course}")))
        .collect())
}
