//! Courses, their "Issue Open Badges" setting, and course teams.

pub mod admin;
pub mod keys;
pub mod role_admin;

use diesel::prelude::*;

pub use keys::CourseKey;

use crate::db::schema::{badge_classes, course_roles, courses};
use crate::db::{DbConnection, now};

pub const ISSUE_BADGES_LABEL: &str = "Issue Open Badges";
pub const ISSUE_BADGES_HELP: &str =
    "Issue Open Badges badges for this course. Badges are generated when certificates are created.";

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = courses)]
pub struct Course {
    pub id: i64,
    pub course_id: String,
    pub display_name: String,
    pub org: String,
    pub start_date: Option<chrono::NaiveDate>,
    pub end_date: Option<chrono::NaiveDate>,
    pub issue_badges: bool,
    pub modes: String,
    pub about_url: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl Course {
    /// The badge criteria: the course's about page.
    pub fn about_url(&self, lms_url: &str) -> String {
        if self.about_url.is_empty() {
            format!(
                "{}/courses/{}/about",
                lms_url.trim_end_matches('/'),
                self.course_id
            )
        } else {
            self.about_url.clone()
        }
    }

    pub fn mode_list(&self) -> Vec<&str> {
        split_modes(&self.modes)
    }
}

/// A course mode is a lowercase slug such as `verified` or `no-id-professional`.
pub fn validate_mode(mode: &str) -> Option<String> {
    if mode.is_empty() {
        Some("This field is required.".into())
    } else if mode.chars().count() > 125 {
        Some(format!(
            "Ensure this value has at most 125 characters (it has {}).",
            mode.chars().count()
        ))
    } else if !mode
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || !mode.chars().any(|c| c.is_ascii_lowercase())
    {
        Some(format!(
            "“{mode}” is not a valid mode: use lowercase letters, digits, hyphens and underscores, such as “verified” or “no-id-professional”."
        ))
    } else {
        None
    }
}

/// `honor, verified` → `["honor", "verified"]`.
pub fn split_modes(modes: &str) -> Vec<&str> {
    modes
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect()
}

pub fn find_by_key(conn: &mut DbConnection, course_id: &str) -> QueryResult<Option<Course>> {
    courses::table
        .filter(courses::course_id.eq(course_id))
        .select(Course::as_select())
        .first(conn)
        .optional()
}

/// A course with the defaults (badges on), for keys first seen in an event.
pub fn create(conn: &mut DbConnection, key: &CourseKey, display_name: &str) -> QueryResult<Course> {
    diesel::insert_into(courses::table)
        .values((
            courses::course_id.eq(key.to_string()),
            courses::display_name.eq(display_name),
            courses::org.eq(&key.org),
            courses::created_at.eq(now()),
            courses::updated_at.eq(now()),
        ))
        .execute(conn)?;
    courses::table
        .filter(courses::course_id.eq(key.to_string()))
        .select(Course::as_select())
        .first(conn)
}

pub fn set_issue_badges(conn: &mut DbConnection, id: i64, on: bool) -> QueryResult<usize> {
    diesel::update(courses::table.find(id))
        .set((courses::issue_badges.eq(on), courses::updated_at.eq(now())))
        .execute(conn)
}

/// The modes of a course whose badge image is frozen (its badge class exists on the backend).
pub fn frozen_modes(conn: &mut DbConnection, course_id: &str) -> QueryResult<Vec<String>> {
    badge_classes::table
        .filter(badge_classes::course_id.eq(course_id))
        .filter(badge_classes::frozen_at.is_not_null())
        .order(badge_classes::mode)
        .select(badge_classes::mode)
        .load(conn)
}

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
    actor: &crate::auth::users::User,
    target: &crate::auth::users::User,
    course: i64,
    role: Role,
) -> QueryResult<Option<&'static str>> {
    if actor.is_superuser {
        return Ok(None);
    }
    if let Some(refusal) = crate::auth::users::management_refusal(conn, actor, target)? {
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
