//! Badge assertions: one badge awarded to one learner.

use std::collections::{HashMap, HashSet};
use std::fmt;

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::badges::classes::BadgeClass;
use crate::courses::CourseKey;
use crate::db::schema::{badge_assertions, badge_classes, learners};
use crate::db::{DbConnection, lower, now};
use crate::display::format_time;

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

/// An assertion as the backend made it, ready to be recorded.
#[derive(Debug, Clone)]
pub struct IssuedAssertion {
    /// The public identifier in Accolade's URLs (random, unguessable).
    pub public_id: String,
    /// The backend's response (Badgr) or the hosted document (local issuer).
    pub data: serde_json::Value,
    pub image_url: String,
    pub assertion_url: String,
    pub recipient_salt: String,
    pub recipient_identity: String,
    /// The baked image, when Accolade hosts it.
    pub baked_png: Option<Vec<u8>>,
}

impl BadgeAssertion {
    /// "Valid", or when and why it was revoked.
    pub fn state(&self) -> String {
        if self.revoked {
            let (on, reason) = (format_time(&self.modified), &self.revocation_reason);
            format!("Revoked on {on}: {reason}")
        } else {
            "Valid".into()
        }
    }
}

/// Every badge class as a choice of a filter, by name: "Python 101 (verified)" when the
/// class is for one mode.
pub fn class_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    use badge_classes::{display_name, id, mode};
    let classes: Vec<(i64, String, String)> = badge_classes::table
        .order((display_name, id))
        .select((id, display_name, mode))
        .load(conn)?;
    let label = |(class, name, kind): (i64, String, String)| match kind.as_str() {
        "" => (class.to_string(), name),
        kind => (class.to_string(), format!("{name} ({kind})")),
    };
    Ok(classes.into_iter().map(label).collect())
}

/// An assertion as its record page shows it, every value in words ("-" for none).
#[derive(serde::Serialize, serde::Deserialize, Default, Debug)]
pub struct Description {
    /// "alice <alice@example.com>".
    pub learner: String,
    /// The class's name and display string.
    pub badge_class: String,
    pub backend: String,
    pub evidence: String,
    pub created: String,
    /// Valid, or revoked with when and why.
    pub state: String,
    pub assertion_url: String,
    pub image_url: String,
}

/// The assertion with its learner and badge class: its display string ([`repr`]) and its
/// description; `None` if there is none.
pub fn describe(conn: &mut DbConnection, id: i64) -> QueryResult<Option<(String, Description)>> {
    let Some(assertion) = by_id(conn, id)? else {
        return Ok(None);
    };
    let learner = crate::learners::get(conn, assertion.learner_id)?;
    let class = crate::badges::classes::by_id(conn, assertion.badge_class_id)?;
    let description = Description {
        learner: learner.to_string(),
        badge_class: format!("{} {}", class.display_name, class.repr()),
        backend: assertion.backend.clone(),
        evidence: crate::display::or_dash(&assertion.evidence_url),
        created: format_time(&assertion.created),
        state: assertion.state(),
        assertion_url: assertion.assertion_url,
        image_url: assertion.image_url,
    };
    Ok(Some((repr(&learner.username, &class), description)))
}

/// Upstream's display string, closed (upstream defect D19).
pub fn repr(username: &str, class: &BadgeClass) -> String {
    format!(
        "<{username} Badge Assertion for {} for {}>",
        class.slug, class.issuing_component
    )
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
/// Why issued badges stand in the way of deleting what they were issued for.
pub const NEVER_DELETED: &str =
    "Issued badges are never deleted: revoke them instead, and the learners’ badges then say so.";

pub fn issued_of_class(conn: &mut DbConnection, class: i64) -> QueryResult<Vec<String>> {
    issued_of_classes(conn, &[class])
}

/// The issued badges of a course's badge classes, worded as [`issued_of_class`]: they keep
/// the course from being deleted (their classes name it, and their criteria is its page).
pub fn issued_of_course(conn: &mut DbConnection, course_key: &str) -> QueryResult<Vec<String>> {
    let classes: Vec<i64> = badge_classes::table
        .filter(badge_classes::course_id.eq(course_key))
        .select(badge_classes::id)
        .load(conn)?;
    issued_of_classes(conn, &classes)
}

fn issued_of_classes(conn: &mut DbConnection, classes: &[i64]) -> QueryResult<Vec<String>> {
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

/// An assertion picked for revocation, as the confirmation page lists it.
pub struct Selected {
    pub id: i64,
    pub repr: String,
    pub badge: String,
    pub revoked: bool,
}

/// The picked assertions that exist, in id order.
pub fn selected(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Selected>> {
    let found: Vec<(i64, String, BadgeClass, bool)> = badge_assertions::table
        .inner_join(learners::table)
        .inner_join(badge_classes::table)
        .filter(badge_assertions::id.eq_any(ids))
        .order(badge_assertions::id)
        .select((
            badge_assertions::id,
            learners::username,
            BadgeClass::as_select(),
            badge_assertions::revoked,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, username, class, revoked)| Selected {
            id,
            repr: repr(&username, &class),
            badge: class.display_name,
            revoked,
        })
        .collect())
}

/// An assertion with its learner and badge, as a list of assertions shows it.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = badge_assertions)]
pub struct Summary {
    pub id: i64,
    #[diesel(select_expression = learners::username)]
    pub learner: String,
    #[diesel(select_expression = badge_classes::display_name)]
    pub badge: String,
    #[diesel(select_expression = badge_classes::course_id)]
    pub course_id: String,
    pub backend: String,
    pub created: chrono::NaiveDateTime,
    pub revoked: bool,
}

/// The most assertions one search finds (a course with more gives its first ones).
pub const MAX_FOUND: i64 = 10_000;

/// Which assertions a list shows; `None` leaves a criterion out.
#[derive(Clone, Debug, Default)]
pub struct AssertionFilter {
    /// Among these (what a [`search`] found).
    pub ids: Option<Vec<i64>>,
    pub backend: Option<String>,
    pub badge_class: Option<i64>,
    /// Created at or after.
    pub since: Option<chrono::NaiveDateTime>,
    pub revoked: Option<bool>,
}

/// Assertions with their learners and badge classes, as a query to order and page further.
pub type Listed = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::InnerJoin<
        diesel::dsl::InnerJoin<badge_assertions::table, learners::table>,
        badge_classes::table,
    >,
    crate::db::MultiBackend,
>;

/// The assertions that meet `filter`, with their learners and badge classes.
pub fn matching(filter: AssertionFilter) -> Listed {
    let mut query = badge_assertions::table
        .inner_join(learners::table)
        .inner_join(badge_classes::table)
        .into_boxed();
    if let Some(ids) = filter.ids {
        query = query.filter(badge_assertions::id.eq_any(ids));
    }
    if let Some(backend) = filter.backend {
        query = query.filter(badge_assertions::backend.eq(backend));
    }
    if let Some(class) = filter.badge_class {
        query = query.filter(badge_assertions::badge_class_id.eq(class));
    }
    if let Some(from) = filter.since {
        query = query.filter(badge_assertions::created.ge(from));
    }
    if let Some(revoked) = filter.revoked {
        query = query.filter(badge_assertions::revoked.eq(revoked));
    }
    query
}

/// The assertions a search finds: each term must be a learner's username or e-mail (in
/// any case), or a course key, exactly. Looked up in the indexes and answered as ids, so
/// the database never walks every assertion to find a few (a substring search, or a
/// filter on the joined tables under `ORDER BY created`, would). No terms find nothing.
pub fn search(conn: &mut DbConnection, terms: &[String]) -> QueryResult<Vec<i64>> {
    let mut found: Option<Vec<i64>> = None;
    for term in terms {
        // A course key (it has a ':' or '/') is never a username or an e-mail address, so
        // each term is one query: the assertions of its course's classes, or of its learner.
        let mut ids: Vec<i64> = if CourseKey::parse(term).is_ok() {
            let class_ids = badge_classes::table
                .filter(badge_classes::course_id.eq(term))
                .select(badge_classes::id);
            badge_assertions::table
                .filter(badge_assertions::badge_class_id.eq_any(class_ids))
                .select(badge_assertions::id)
                .limit(MAX_FOUND)
                .load(conn)?
        } else {
            // Two indexes, username and lower(email), each used for its side of the OR.
            let learner_ids = learners::table
                .filter(
                    learners::username
                        .eq(term)
                        .or(lower(learners::email).eq(term.to_ascii_lowercase())),
                )
                .select(learners::id);
            badge_assertions::table
                .filter(badge_assertions::learner_id.eq_any(learner_ids))
                .select(badge_assertions::id)
                .limit(MAX_FOUND)
                .load(conn)?
        };
        if let Some(earlier) = &found {
            let earlier: HashSet<&i64> = earlier.iter().collect();
            ids.retain(|id| earlier.contains(id));
        }
        found = Some(ids);
    }
    Ok(found.unwrap_or_default())
}

/// A badge a learner was awarded, as the learner's page lists it.
#[derive(Queryable, Debug)]
pub struct Held {
    pub slug: String,
    pub course_id: String,
    pub assertion_url: String,
    pub revoked: bool,
}

/// "verified_completion [course-v1:Org+X+2026] https://… (revoked)".
impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.revoked { " (revoked)" } else { "" };
        let (slug, course, url) = (&self.slug, &self.course_id, &self.assertion_url);
        write!(f, "{slug} [{course}] {url}{state}")
    }
}

/// The badges awarded to the learner, revoked ones included, oldest first.
pub fn held_by(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<Held>> {
    badge_assertions::table
        .inner_join(badge_classes::table)
        .filter(badge_assertions::learner_id.eq(learner))
        .order(badge_assertions::id)
        .select((
            badge_classes::slug,
            badge_classes::course_id,
            badge_assertions::assertion_url,
            badge_assertions::revoked,
        ))
        .load(conn)
}

/// How many badges each of the learners holds, revoked ones left out (as are learners
/// without any).
pub fn count_held_by(conn: &mut DbConnection, learners: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let counts = badge_assertions::table
        .filter(badge_assertions::learner_id.eq_any(learners))
        .filter(badge_assertions::revoked.eq(false))
        .group_by(badge_assertions::learner_id)
        .select((badge_assertions::learner_id, count_star()))
        .load::<(i64, i64)>(conn)?;
    Ok(counts.into_iter().collect())
}

/// Which of a learner's badges the LMS asks for (upstream's `course_id`, `slug` and
/// `issuing_component`).
#[derive(Debug, Default)]
pub struct HeldFilter {
    /// `Some(Some(key))`: of that course; `Some(None)`: of no course; `None`: any.
    pub course: Option<Option<String>>,
    /// `(slug, issuing component)`.
    pub class: Option<(String, String)>,
}

/// A live badge of a learner: its class and where the assertion and image are.
#[derive(Queryable, Debug)]
pub struct LiveBadge {
    pub class: BadgeClass,
    pub image_url: String,
    pub assertion_url: String,
    pub created: chrono::NaiveDateTime,
}

/// One page of the live (not revoked) badges of the learner named `username`, newest
/// first, with how many there are in all.
pub fn live_badges_of(
    conn: &mut DbConnection,
    username: &str,
    filter: &HeldFilter,
    start: i64,
    page_size: i64,
) -> QueryResult<(i64, Vec<LiveBadge>)> {
    let filtered = || {
        let mut q = badge_assertions::table
            .inner_join(learners::table)
            .inner_join(badge_classes::table)
            .filter(learners::username.eq(username))
            .filter(badge_assertions::revoked.eq(false))
            .into_boxed();
        match &filter.course {
            Some(Some(key)) => q = q.filter(badge_classes::course_id.eq(key.clone())),
            Some(None) => q = q.filter(badge_classes::course_id.eq("")),
            None => {}
        }
        if let Some((slug, component)) = &filter.class {
            q = q
                .filter(badge_classes::slug.eq(slug.clone()))
                .filter(badge_classes::issuing_component.eq(component.clone()));
        }
        q
    };
    let count: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((
            badge_assertions::created.desc(),
            badge_assertions::id.desc(),
        ))
        .offset(start)
        .limit(page_size)
        .select((
            BadgeClass::as_select(),
            badge_assertions::image_url,
            badge_assertions::assertion_url,
            badge_assertions::created,
        ))
        .load(conn)?;
    Ok((count, rows))
}
