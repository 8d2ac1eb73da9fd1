//! Enrollments: which courses a learner is enrolled in, in which mode, as the LMS's events
//! last reported it.

use std::fmt;

use diesel::prelude::*;

use crate::db::schema::enrollments;
use crate::db::{DbConnection, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = enrollments)]
pub struct Enrollment {
    pub id: i64,
    pub learner_id: i64,
    pub course_id: String,
    pub mode: String,
    pub is_active: bool,
    pub updated_at: chrono::NaiveDateTime,
}

/// "course-v1:Org+X+2026 (verified, inactive)".
impl fmt::Display for Enrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inactive = if self.is_active { "" } else { ", inactive" };
        write!(f, "{} ({}{inactive})", self.course_id, self.mode)
    }
}

/// Records the learner's enrollment in the course: its mode and whether it is active.
pub fn upsert(
    conn: &mut DbConnection,
    learner: i64,
    course_id: &str,
    mode: &str,
    active: bool,
) -> QueryResult<()> {
    let updated = diesel::update(
        enrollments::table
            .filter(enrollments::learner_id.eq(learner))
            .filter(enrollments::course_id.eq(course_id)),
    )
    .set((
        enrollments::mode.eq(mode),
        enrollments::is_active.eq(active),
        enrollments::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(enrollments::table)
            .values((
                enrollments::learner_id.eq(learner),
                enrollments::course_id.eq(course_id),
                enrollments::mode.eq(mode),
                enrollments::is_active.eq(active),
                enrollments::updated_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// How many courses the learner is actively enrolled in.
pub fn active_count(conn: &mut DbConnection, learner: i64) -> QueryResult<i64> {
    enrollments::table
        .filter(enrollments::learner_id.eq(learner))
        .filter(enrollments::is_active.eq(true))
        .count()
        .get_result(conn)
}

/// The learner's enrollments, oldest first.
pub fn of_learner(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<Enrollment>> {
    enrollments::table
        .filter(enrollments::learner_id.eq(learner))
        .order(enrollments::id)
        .select(Enrollment::as_select())
        .load(conn)
}
