//! Carrying out an award job, with upstream's semantics. A course completion: a learner
//! with a passing certificate in a course with badges on gets the badge class of that course
//! and their mode, once. A course-event badge: the learner gets the `openedx__course` class
//! the configuration names, once, with no evidence (and whatever the course's setting).

use diesel::Connection;
use diesel::prelude::*;

use super::assertions;
use super::backend::{AwardError, BadgeBackend};
use super::jobs::{self, AwardJob, Outcome};
use super::learners;
use crate::badges::classes::{self, BadgeClass, BadgeClassError, BadgeClassSpec, ImageSource};
use crate::badges::event_config::EVENT_COMPONENT;
use crate::badges::images::{BadgeImageError, image_for_mode};
use crate::courses;
use crate::db::DbConnection;
use crate::db::schema::badge_image_configurations as configs;

/// Upstream's words when a course has "Issue Open Badges" off.
const COURSE_BADGES_OFF: &str = "Course is not configured to issue badges.";

/// What an award may do, from the configuration.
#[derive(Clone, Debug)]
pub struct AwardSettings {
    /// `ENABLE_OPENBADGES`.
    pub badges_enabled: bool,
    /// `ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES`.
    pub allow_shipped_images: bool,
    pub lms_url: String,
}

/// The evidence of a course completion: the learner's certificate page.
pub fn evidence_url(lms_url: &str, verify_uuid: &str) -> String {
    format!(
        "{}/certificates/{verify_uuid}?evidence_visit=1",
        lms_url.trim_end_matches('/')
    )
}

/// Carries out one award job.
///
/// Deliberately not one transaction: a backend call (HTTP to Badgr) must not hold the
/// database's write lock. Each step is idempotent instead: the class row is unique, freezing
/// is conditional, the assertion is unique per learner and class, and a retried award first
/// asks the backend whether the earlier attempt got through.
pub fn carry_out(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    settings: &AwardSettings,
    job: &AwardJob,
) -> Outcome {
    match award(conn, backend, settings, job) {
        Ok(outcome) => outcome,
        Err(AwardError::Retryable(reason)) => Outcome::Retry {
            reason,
            after: None,
        },
        Err(AwardError::RetryAfter { wait, reason }) => Outcome::Retry {
            reason,
            after: Some(wait),
        },
        Err(AwardError::Permanent(reason)) => Outcome::Failed { reason },
    }
}

/// The class a job awards, or why there is nothing to award.
enum ClassLookup {
    Found(Box<BadgeClass>),
    Skip(String),
}

fn award(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    settings: &AwardSettings,
    job: &AwardJob,
) -> Result<Outcome, AwardError> {
    if job.kind == jobs::REVOCATION {
        // An operator's explicit request: carried out even with badging off.
        return revoke(conn, backend, job);
    }
    if !settings.badges_enabled {
        return Ok(Outcome::Skipped {
            reason: "Badging is off for this site (ENABLE_OPENBADGES=false).".into(),
        });
    }
    let lookup = match job.kind.as_str() {
        jobs::COURSE_COMPLETION => course_completion_class(conn, settings, job)?,
        jobs::EVENT_BADGE => event_badge_class(conn, job)?,
        other => {
            return Err(AwardError::Permanent(format!("unknown job kind {other:?}")));
        }
    };
    match lookup {
        ClassLookup::Found(class) => issue(conn, backend, *class, job),
        ClassLookup::Skip(reason) => Ok(Outcome::Skipped { reason }),
    }
}

/// Revokes the job's assertion on its backend, then in Accolade's record.
fn revoke(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    job: &AwardJob,
) -> Result<Outcome, AwardError> {
    let id = job
        .assertion_id
        .ok_or_else(|| AwardError::Permanent("the job names no assertion".into()))?;
    let Some(assertion) = assertions::by_id(conn, id)? else {
        return Ok(Outcome::Skipped {
            reason: "The assertion no longer exists.".into(),
        });
    };
    if assertion.revoked {
        return Ok(Outcome::Done {
            assertion_id: id,
            reason: "already revoked".into(),
        });
    }
    let class = classes::by_id(conn, assertion.badge_class_id)?;
    backend.revoke(&class, &assertion, &job.revocation_reason)?;
    assertions::revoke(conn, id, &job.revocation_reason)?;
    tracing::info!(assertion = id, class = %class.slug, "assertion revoked");
    Ok(Outcome::Done {
        assertion_id: id,
        reason: "revoked".into(),
    })
}

/// The class of a course-event badge: made by an admin, looked up only.
fn event_badge_class(conn: &mut DbConnection, job: &AwardJob) -> Result<ClassLookup, AwardError> {
    Ok(
        match classes::find(conn, &job.badge_slug, EVENT_COMPONENT, "")? {
            Some(class) => ClassLookup::Found(Box::new(class)),
            None => ClassLookup::Skip(format!(
                "There is no badge class with the slug {:?} and the issuing component {EVENT_COMPONENT:?}.",
                job.badge_slug
            )),
        },
    )
}

/// The class of a course completion, created the first time from the course and the
/// mode's image.
fn course_completion_class(
    conn: &mut DbConnection,
    settings: &AwardSettings,
    job: &AwardJob,
) -> Result<ClassLookup, AwardError> {
    let course = courses::find_by_key(conn, &job.course_id)?
        .ok_or_else(|| AwardError::Permanent(format!("unknown course {:?}", job.course_id)))?;
    if !course.issue_badges {
        return Ok(ClassLookup::Skip(COURSE_BADGES_OFF.into()));
    }
    let slug = classes::course_slug(&course.course_id, &job.mode);
    if classes::find(conn, &slug, "", &course.course_id)?.is_none() {
        refuse_shipped_image(conn, settings, &job.mode)?;
    }
    let name = if course.display_name.is_empty() {
        course.course_id.clone()
    } else {
        course.display_name.clone()
    };
    let spec = BadgeClassSpec {
        slug,
        issuing_component: String::new(),
        description: classes::badge_description(
            &name,
            &job.mode,
            course.start_date,
            course.end_date,
        ),
        display_name: name,
        criteria: course.about_url(&settings.lms_url),
        mode: job.mode.clone(),
        course_id: Some(course.course_id.clone()),
        image: ImageSource::ForMode(job.mode.clone()),
    };
    match classes::get_badge_class(conn, &spec, true) {
        Ok(Some(class)) => Ok(ClassLookup::Found(Box::new(class))),
        Ok(None) => Err(AwardError::Permanent(
            "the badge class could not be created".into(),
        )),
        Err(BadgeClassError::CourseBadgesDisabled) => {
            Ok(ClassLookup::Skip(COURSE_BADGES_OFF.into()))
        }
        Err(BadgeClassError::Image(BadgeImageError::NotConfigured(mode))) => Err(no_image(&mode)),
        Err(BadgeClassError::Database(e)) => Err(e.into()),
        Err(other) => Err(AwardError::Permanent(other.to_string())),
    }
}

/// Awards the class to the job's learner, once.
fn issue(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    class: BadgeClass,
    job: &AwardJob,
) -> Result<Outcome, AwardError> {
    if let Some(existing) = assertions::for_learner_and_class(conn, job.learner_id, class.id)? {
        tracing::info!(job = job.id, class = %class.slug, "the learner already holds this badge");
        return Ok(Outcome::Done {
            assertion_id: existing.id,
            reason: "already awarded".into(),
        });
    }
    let class = ensure_frozen(conn, backend, class)?;
    let learner = learners::get(conn, job.learner_id)?;
    let evidence = (!job.evidence_url.is_empty()).then_some(job.evidence_url.as_str());
    let issued = backend.award(conn, &class, &learner, evidence, job.attempts > 1)?;
    // In a savepoint: a concurrent award of the same badge wins, and this one reports it.
    let recorded = conn.transaction(|conn| {
        assertions::record(
            conn,
            &issued,
            backend.name(),
            learner.id,
            class.id,
            &job.evidence_url,
            Some(job.id),
        )
    });
    let id = match recorded {
        Ok(id) => id,
        Err(e) if crate::db::is_unique_violation(&e) => {
            let existing = assertions::for_learner_and_class(conn, learner.id, class.id)?
                .ok_or_else(|| AwardError::Retryable("the concurrent award vanished".into()))?;
            return Ok(Outcome::Done {
                assertion_id: existing.id,
                reason: "already awarded".into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    log_created(&class, &learner, id, &issued);
    Ok(Outcome::Done {
        assertion_id: id,
        reason: format!("awarded: {}", issued.assertion_url),
    })
}

fn no_image(mode: &str) -> AwardError {
    AwardError::Permanent(format!(
        "no badge image configured for mode {mode:?} and no default image"
    ))
}

/// A shipped default image is not frozen into a badge class unless the site allows it.
fn refuse_shipped_image(
    conn: &mut DbConnection,
    settings: &AwardSettings,
    mode: &str,
) -> Result<(), AwardError> {
    let image = match image_for_mode(conn, mode) {
        Ok(image) => image,
        Err(BadgeImageError::NotConfigured(mode)) => return Err(no_image(&mode)),
        Err(BadgeImageError::Database(e)) => return Err(e.into()),
    };
    let shipped: bool = diesel::select(diesel::dsl::exists(
        configs::table
            .filter(configs::image_hash.eq(&image.image_hash))
            .filter(configs::is_shipped.eq(true)),
    ))
    .get_result(conn)?;
    if shipped && !settings.allow_shipped_images {
        return Err(AwardError::Permanent(format!(
            "the badge image for mode {mode:?} is still the one shipped with Accolade: replace it in the admin (or set ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES=true)"
        )));
    }
    Ok(())
}

/// Creates the class on the backend the first time, which freezes its image.
fn ensure_frozen(
    conn: &mut DbConnection,
    backend: &dyn BadgeBackend,
    class: BadgeClass,
) -> Result<BadgeClass, AwardError> {
    if class.is_frozen() && !class.backend_id.is_empty() {
        return Ok(class);
    }
    let backend_id = backend.create_badge_class(conn, &class)?;
    if backend_id.is_empty() {
        // An empty identifier is "not created" (upstream cached it and never created again).
        return Err(AwardError::Retryable(
            "the backend returned no identifier for the new badge class".into(),
        ));
    }
    if classes::mark_frozen(conn, class.id, &backend_id)? == 0 {
        // Another worker created and froze the class first; its identifier is the one kept,
        // so every award of the class goes to the same class on the backend.
        let kept = classes::by_id(conn, class.id)?;
        tracing::warn!(class = class.id, ours = %backend_id, kept = %kept.backend_id, "the badge class was created on the backend twice at once; the first is kept");
        if kept.backend_id.is_empty() {
            return Err(AwardError::Retryable(
                "the badge class is frozen without a backend identifier".into(),
            ));
        }
        return Ok(kept);
    }
    Ok(BadgeClass {
        frozen_at: Some(crate::db::now()),
        backend_id,
        ..class
    })
}

/// Upstream's `edx.badge.assertion.created` event, as one JSON log line.
fn log_created(
    class: &BadgeClass,
    learner: &learners::Learner,
    assertion_id: i64,
    issued: &super::backend::IssuedAssertion,
) {
    let event = serde_json::json!({
        "name": "edx.badge.assertion.created",
        "user_id": learner.id,
        "badge_slug": class.slug,
        "badge_badgr_server_slug": class.backend_id,
        "badge_name": class.display_name,
        "issuing_component": class.issuing_component,
        "course_id": if class.course_id.is_empty() { "None" } else { class.course_id.as_str() },
        "enrollment_mode": class.mode,
        "assertion_id": assertion_id,
        "assertion_image_url": issued.image_url,
        "assertion_json_url": issued.assertion_url,
        "issuer": issued.data.get("issuer").cloned().unwrap_or_else(|| issued.data.get("badge").cloned().unwrap_or_default()),
    });
    tracing::info!(target: "accolade::events", event = %event, "edx.badge.assertion.created");
}
