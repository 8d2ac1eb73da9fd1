//! Deleting courses. A course is kept while anything refers to it that is never deleted
//! with it: its team roles (rights, taken away one by one where each removal asks whether
//! the remover may manage that member) and the badges issued for it (revoked, never
//! deleted). Courses live below badging, so the rule that joins them lives here.

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::courses::{self, Course, CourseId, roles};
use crate::db::DbConnection;
use crate::db::schema::{badge_assertions, badge_classes, course_roles, courses as course_rows};

/// What keeps a course from being deleted.
#[derive(Debug, Default)]
pub struct Protection {
    /// "Course team role: alice (staff)", one a member.
    pub team: Vec<String>,
    /// The badges issued for the course, as `assertions::issued_of_course` names them.
    pub issued: Vec<String>,
}

/// The courses of `ids` that exist, by key, each with what protects it.
pub fn protections(
    conn: &mut DbConnection,
    ids: &[CourseId],
) -> QueryResult<Vec<(Course, Protection)>> {
    let mut found = Vec::new();
    for course in courses::by_ids(conn, ids)? {
        let team = roles::team_of(conn, course.id)?.into_iter();
        let protection = Protection {
            team: team
                .map(|member| format!("Course team role: {member}"))
                .collect(),
            issued: super::assertions::issued_of_course(conn, &course.course_id)?,
        };
        found.push((course, protection));
    }
    Ok(found)
}

/// Deletes the courses of `ids` that nothing protects, in one statement, so a team role
/// given or a badge issued meanwhile keeps its course. Returns how many were deleted.
pub fn delete_unprotected(conn: &mut DbConnection, ids: &[CourseId]) -> QueryResult<usize> {
    let team = course_roles::table
        .filter(course_roles::course_id.eq(course_rows::id))
        .select(course_roles::id);
    let issued = badge_assertions::table
        .inner_join(badge_classes::table)
        .filter(badge_classes::course_id.eq(course_rows::course_id))
        .select(badge_assertions::id);
    diesel::delete(
        course_rows::table
            .filter(course_rows::id.eq_any(ids))
            .filter(not(exists(team)))
            .filter(not(exists(issued))),
    )
    .execute(conn)
}
