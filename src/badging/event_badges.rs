//! Which course-event badges an event makes due, under the configuration in force: a
//! badge is due when its threshold is reached (or its group completed), its class exists,
//! and the learner neither holds it nor has an award of it waiting.

use diesel::prelude::*;

use super::{assertions, jobs};
use crate::badges::classes;
use crate::badges::event_config::{self, EVENT_COMPONENT, EventBadgeRules};
use crate::db::DbConnection;
use crate::learners::{certificates, enrollments};

/// After a passing certificate in `course_id`: completion thresholds and the groups that
/// contain the course.
pub fn due_after_certificate(
    conn: &mut DbConnection,
    learner_id: i64,
    course_id: &str,
) -> QueryResult<Vec<String>> {
    let Some(rules) = event_config::rules_in_force(conn)? else {
        return Ok(Vec::new());
    };
    let passed = certificates::passed_courses(conn, learner_id)?;
    let mut slugs = EventBadgeRules::reached(&rules.completed, passed.len() as i64);
    slugs.extend(
        rules
            .groups
            .iter()
            .filter(|(_, keys)| keys.iter().any(|k| k == course_id))
            .filter(|(_, keys)| keys.iter().all(|k| passed.contains(k)))
            .map(|(slug, _)| slug.clone()),
    );
    not_yet_awarded(conn, learner_id, slugs)
}

/// After an enrollment: enrollment thresholds, by the learner's active enrollments.
pub fn due_after_enrollment(conn: &mut DbConnection, learner_id: i64) -> QueryResult<Vec<String>> {
    let Some(rules) = event_config::rules_in_force(conn)? else {
        return Ok(Vec::new());
    };
    let active = enrollments::active_count(conn, learner_id)?;
    not_yet_awarded(
        conn,
        learner_id,
        EventBadgeRules::reached(&rules.enrolled, active),
    )
}

/// As upstream, a slug without a class is passed over silently: admins create the classes.
fn not_yet_awarded(
    conn: &mut DbConnection,
    learner_id: i64,
    mut slugs: Vec<String>,
) -> QueryResult<Vec<String>> {
    slugs.sort();
    slugs.dedup();
    let mut due = Vec::new();
    for slug in slugs {
        let Some(class) = classes::find(conn, &slug, EVENT_COMPONENT, "")? else {
            continue;
        };
        if assertions::for_learner_and_class(conn, learner_id, class.id)?.is_none()
            && !jobs::event_badge_open(conn, learner_id, &slug)?
        {
            due.push(slug);
        }
    }
    Ok(due)
}

/// Queues the due badges; part of the caller's transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    learner_id: i64,
    course_id: &str,
    slugs: &[String],
) -> QueryResult<Vec<i64>> {
    slugs
        .iter()
        .map(|slug| jobs::enqueue_event_badge(conn, learner_id, course_id, slug).map(|q| q.id))
        .collect()
}
