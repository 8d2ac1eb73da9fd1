//! Badge assertions: one badge awarded to one learner.

use diesel::prelude::*;

use super::backend::IssuedAssertion;
use crate::db::schema::badge_assertions;
use crate::db::{DbConnection, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = badge_assertions)]
pub struct BadgeAssertion {
    pub id: i64,
    pub public_id: String,
    pub learner_id: i64,
    pub badge_class_id: i64,
    pub backend: String,
    pub data: String,
    pub image_url: String,
    pub assertion_url: String,
    pub evidence_url: String,
    pub recipient_salt: String,
    pub recipient_identity: String,
    pub job_id: Option<i64>,
    pub revoked: bool,
    pub revocation_reason: String,
    pub created: chrono::NaiveDateTime,
    pub modified: chrono::NaiveDateTime,
}

pub fn for_learner_and_class(
    conn: &mut DbConnection,
    learner: i64,
    class: i64,
) -> QueryResult<Option<BadgeAssertion>> {
    badge_assertions::table
        .filter(badge_assertions::learner_id.eq(learner))
        .filter(badge_assertions::badge_class_id.eq(class))
        .select(BadgeAssertion::as_select())
        .first(conn)
        .optional()
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<BadgeAssertion>> {
    badge_assertions::table
        .find(id)
        .select(BadgeAssertion::as_select())
        .first(conn)
        .optional()
}

pub fn by_public_id(
    conn: &mut DbConnection,
    public_id: &str,
) -> QueryResult<Option<BadgeAssertion>> {
    badge_assertions::table
        .filter(badge_assertions::public_id.eq(public_id))
        .select(BadgeAssertion::as_select())
        .first(conn)
        .optional()
}

pub fn url_of(conn: &mut DbConnection, id: i64) -> QueryResult<String> {
    badge_assertions::table
        .find(id)
        .select(badge_assertions::assertion_url)
        .first(conn)
}

pub fn baked_png(conn: &mut DbConnection, public_id: &str) -> QueryResult<Option<Vec<u8>>> {
    Ok(badge_assertions::table
        .filter(badge_assertions::public_id.eq(public_id))
        .select(badge_assertions::baked_png)
        .first::<Option<Vec<u8>>>(conn)
        .optional()?
        .flatten())
}

/// Records an assertion, and counts it for its day. The unique (learner, class) index makes
/// a second award of the same badge impossible; the caller treats that violation as
/// "already awarded" (and its savepoint takes the count back with it).
pub fn record(
    conn: &mut DbConnection,
    issued: &IssuedAssertion,
    backend: &str,
    learner: i64,
    class: i64,
    evidence_url: &str,
    job: Option<i64>,
) -> QueryResult<i64> {
    let created = now();
    conn.transaction(|conn| {
        let id = diesel::insert_into(badge_assertions::table)
            .values((
                badge_assertions::public_id.eq(&issued.public_id),
                badge_assertions::learner_id.eq(learner),
                badge_assertions::badge_class_id.eq(class),
                badge_assertions::backend.eq(backend),
                badge_assertions::data.eq(issued.data.to_string()),
                badge_assertions::image_url.eq(&issued.image_url),
                badge_assertions::assertion_url.eq(&issued.assertion_url),
                badge_assertions::evidence_url.eq(evidence_url),
                badge_assertions::recipient_salt.eq(&issued.recipient_salt),
                badge_assertions::recipient_identity.eq(&issued.recipient_identity),
                badge_assertions::baked_png.eq(&issued.baked_png),
                badge_assertions::job_id.eq(job),
                badge_assertions::created.eq(created),
                badge_assertions::modified.eq(created),
            ))
            .returning(badge_assertions::id)
            .get_result(conn)?;
        super::stats::count_issued(conn, created)?;
        Ok(id)
    })
}

/// Marks Accolade's record revoked.
pub fn revoke(conn: &mut DbConnection, id: i64, reason: &str) -> QueryResult<usize> {
    diesel::update(badge_assertions::table.find(id))
        .set((
            badge_assertions::revoked.eq(true),
            badge_assertions::revocation_reason.eq(reason),
            badge_assertions::modified.eq(now()),
        ))
        .execute(conn)
}

/// How many issued badges a delete's refusal names before it sums up the rest.
const NAMED_ISSUED: i64 = 20;

/// The issued badges of a badge class, worded for a refused delete ("Badge assertion:
/// alice, issued 2026-11-30"): issued badges are never deleted through the admin, so they
/// keep their class from being deleted.
pub fn issued_of_class(conn: &mut DbConnection, class: i64) -> QueryResult<Vec<String>> {
    issued_of_classes(conn, &[class])
}

/// The issued badges of a course's badge classes, worded as [`issued_of_class`]: they keep
/// the course from being deleted (their classes name it, and their criteria is its page).
pub fn issued_of_course(conn: &mut DbConnection, course_key: &str) -> QueryResult<Vec<String>> {
    use crate::db::schema::badge_classes;
    let classes: Vec<i64> = badge_classes::table
        .filter(badge_classes::course_id.eq(course_key))
        .select(badge_classes::id)
        .load(conn)?;
    issued_of_classes(conn, &classes)
}

fn issued_of_classes(conn: &mut DbConnection, classes: &[i64]) -> QueryResult<Vec<String>> {
    use crate::db::schema::learners;
    let total: i64 = badge_assertions::table
        .filter(badge_assertions::badge_class_id.eq_any(classes))
        .count()
        .get_result(conn)?;
    let named: Vec<(String, chrono::NaiveDateTime, bool)> = badge_assertions::table
        .inner_join(learners::table)
        .filter(badge_assertions::badge_class_id.eq_any(classes))
        .order(badge_assertions::id)
        .limit(NAMED_ISSUED)
        .select((
            learners::username,
            badge_assertions::created,
            badge_assertions::revoked,
        ))
        .load(conn)?;
    let mut issued: Vec<String> = named
        .into_iter()
        .map(|(learner, created, revoked)| {
            let state = if revoked { ", revoked" } else { "" };
            format!(
                "Badge assertion: {learner}, issued {}{state}",
                created.format("%Y-%m-%d")
            )
        })
        .collect();
    if total > NAMED_ISSUED {
        issued.push(format!(
            "… and {} more badge assertions",
            total - NAMED_ISSUED
        ));
    }
    Ok(issued)
}
