//! Certificates: what the LMS's certificate events reported, one per learner and course.
//! A passing certificate is what a course-completion badge is awarded for.

use std::collections::HashMap;
use std::fmt;

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{certificates, learners};
use crate::db::{DbConnection, now};

/// Certificate statuses that mean the learner passed (as upstream).
pub const PASSING: [&str; 2] = ["downloadable", "generating"];

/// Every certificate status of Open edX (`CertificateStatuses`); an event with any other
/// is refused.
pub const STATUSES: [&str; 15] = [
    "downloadable",
    "generating",
    "notpassing",
    "unavailable",
    "audit_passing",
    "audit_notpassing",
    "honor_passing",
    "auditing",
    "deleted",
    "deleting",
    "error",
    "invalidated",
    "requesting",
    "restricted",
    "unverified",
];

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = certificates)]
pub struct Certificate {
    pub id: i64,
    pub learner_id: i64,
    pub course_id: String,
    pub mode: String,
    pub status: String,
    pub verify_uuid: String,
    pub updated_at: chrono::NaiveDateTime,
}

/// "course-v1:Org+X+2026 (verified, downloadable)".
impl fmt::Display for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.course_id, self.mode, self.status)
    }
}

pub fn is_passing(status: &str) -> bool {
    PASSING.contains(&status)
}

/// Records the certificate the LMS reported, replacing the learner's earlier one in the
/// course; part of the caller's transaction.
pub fn record(
    conn: &mut DbConnection,
    learner: i64,
    course_id: &str,
    mode: &str,
    status: &str,
    verify_uuid: &str,
) -> QueryResult<()> {
    diesel::delete(
        certificates::table
            .filter(certificates::learner_id.eq(learner))
            .filter(certificates::course_id.eq(course_id)),
    )
    .execute(conn)?;
    diesel::insert_into(certificates::table)
        .values((
            certificates::learner_id.eq(learner),
            certificates::course_id.eq(course_id),
            certificates::mode.eq(mode),
            certificates::status.eq(status),
            certificates::verify_uuid.eq(verify_uuid),
            certificates::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The courses the learner passed.
pub fn passed_courses(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<String>> {
    certificates::table
        .filter(certificates::learner_id.eq(learner))
        .filter(certificates::status.eq_any(PASSING))
        .select(certificates::course_id)
        .load(conn)
}

/// The passing certificates of a course, oldest first.
pub fn passing_in_course(
    conn: &mut DbConnection,
    course_id: &str,
) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::course_id.eq(course_id))
        .filter(certificates::status.eq_any(PASSING))
        .order(certificates::id)
        .select(Certificate::as_select())
        .load(conn)
}

/// The passing certificates among `ids`, in id order; the others are left out.
pub fn passing_among(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::id.eq_any(ids))
        .filter(certificates::status.eq_any(PASSING))
        .order(certificates::id)
        .select(Certificate::as_select())
        .load(conn)
}

/// The modes certificates were reported in, in order.
pub fn modes(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    certificates::table
        .select(certificates::mode)
        .distinct()
        .order(certificates::mode)
        .load(conn)
}

/// The certificate, with its learner's username.
pub fn with_learner(
    conn: &mut DbConnection,
    id: i64,
) -> QueryResult<Option<(Certificate, String)>> {
    certificates::table
        .inner_join(learners::table)
        .filter(certificates::id.eq(id))
        .select((Certificate::as_select(), learners::username))
        .first(conn)
        .optional()
}

/// The learner's certificates, oldest first.
pub fn of_learner(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::learner_id.eq(learner))
        .order(certificates::id)
        .select(Certificate::as_select())
        .load(conn)
}

/// How many certificates each of the learners has (learners without any are left out).
pub fn count_by_learner(
    conn: &mut DbConnection,
    learners: &[i64],
) -> QueryResult<HashMap<i64, i64>> {
    let counts = certificates::table
        .filter(certificates::learner_id.eq_any(learners))
        .group_by(certificates::learner_id)
        .select((certificates::learner_id, count_star()))
        .load::<(i64, i64)>(conn)?;
    Ok(counts.into_iter().collect())
}
