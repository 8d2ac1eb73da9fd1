//! Carrying out an award job, with upstream's semantics. A course completion: a learner
//! with a passing certificate in a course with badges on gets the badge class of that course
//! and their mode, once. A course-event badge: the learner gets the `openedx__course` class
//! the configuration names, once, with no evidence (and whatever the course's setting).
//!
//! Never one transaction, and no pool connection held across a backend call: HTTP to Badgr
//! must not hold up the intake. Each step is safe to repeat instead: the class row is
//! unique; its creation and each award are claimed, one job at a time (`claims`); a request
//! is marked sent before it leaves; and a request that got no answer is looked up on the
//! backend, once it has settled, before anything is sent again.

use std::time::Duration;

use super::assertions::{self, IssuedAssertion};
pub use super::award_class::AwardSettings;
use super::award_class::{ClassLookup, course_completion_class, event_badge_class};
use super::backend::{AwardError, BadgeBackend};
use super::claims::{self, Claim, Creation};
use super::jobs::{Attempt, AwardJob, JobWork, Outcome};
use crate::badges::classes::{self, BadgeClass};
use crate::db::{Database, DbConnection, now};
use crate::learners::{self, Learner};

/// How long a job that waits for another job's class creation looks again.
const CREATION_POLL: Duration = Duration::from_secs(5);

/// The evidence of a course completion: the learner's certificate page.
pub fn evidence_url(lms_url: &str, verify_uuid: &str) -> String {
    format!(
        "{}/certificates/{verify_uuid}?evidence_visit=1",
        lms_url.trim_end_matches('/')
    )
}

/// Carries out one award job claimed by `worker`.
pub fn carry_out(
    db: &Database,
    backend: &dyn BadgeBackend,
    settings: &AwardSettings,
    job: &AwardJob,
    worker: &str,
) -> Attempt {
    let award = Award {
        db,
        backend,
        settings,
        job,
        worker,
    };
    let result = award.run();
    let unanswered = matches!(result, Err(AwardError::Unanswered(_)));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(AwardError::Retryable(reason) | AwardError::Unanswered(reason)) => Outcome::Retry {
            reason,
            after: None,
        },
        Err(AwardError::RetryAfter { wait, reason }) => Outcome::Retry {
            reason,
            after: Some(wait),
        },
        Err(AwardError::Wait { wait, reason }) => Outcome::Wait {
            reason,
            after: wait,
        },
        Err(AwardError::Permanent(reason)) => Outcome::Failed { reason },
    };
    Attempt {
        outcome,
        unanswered,
    }
}

/// The job is no longer this worker's (its lease ran out and another took it up): nothing
/// more may be sent, and its outcome will not be recorded.
fn lease_lost() -> AwardError {
    AwardError::Retryable("the job is no longer this worker's; nothing was sent".into())
}

/// One job in the hands of one worker.
struct Award<'a> {
    db: &'a Database,
    backend: &'a dyn BadgeBackend,
    settings: &'a AwardSettings,
    job: &'a AwardJob,
    worker: &'a str,
}

impl Award<'_> {
    /// Database work on a connection taken for it alone and given back at once.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, AwardError>,
    ) -> Result<T, AwardError> {
        let mut conn = self
            .db
            .get()
            .map_err(|e| AwardError::Retryable(e.to_string()))?;
        work(&mut conn)
    }

    fn run(&self) -> Result<Outcome, AwardError> {
        let job = self.job;
        // A corrupt row (a revocation naming no assertion) fails for good, saying so.
        let work = job
            .work()
            .checked()
            .map_err(|e| AwardError::Permanent(e.to_string()))?;
        if let JobWork::Revocation {
            assertion_id,
            reason,
        } = work
        {
            // An operator's explicit request: carried out even with badging off.
            return self.revoke(assertion_id, reason);
        }
        if !self.settings.badges_enabled {
            return Ok(Outcome::Skipped {
                reason: "Badging is off for this site (ENABLE_OPENBADGES=false).".into(),
            });
        }
        let lookup = self.with_conn(|conn| match work {
            JobWork::CourseCompletion { mode, .. } => {
                course_completion_class(conn, self.settings, &job.course_id, mode)
            }
            JobWork::EventBadge { slug } => event_badge_class(conn, slug),
            JobWork::Revocation { .. } => {
                Err(AwardError::Permanent("a revocation awards no class".into()))
            }
        })?;
        match lookup {
            ClassLookup::Found(class) => self.issue(*class),
            ClassLookup::Skip(reason) => Ok(Outcome::Skipped { reason }),
        }
    }

    /// Revokes the job's assertion `id` on its backend, then in Accolade's record.
    fn revoke(&self, id: i64, reason: &str) -> Result<Outcome, AwardError> {
        let found = self.with_conn(|conn| {
            let Some(assertion) = assertions::by_id(conn, id)? else {
                return Ok(None);
            };
            let class = classes::by_id(conn, assertion.badge_class_id)?;
            Ok(Some((assertion, class)))
        })?;
        let Some((assertion, class)) = found else {
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
        self.backend.revoke(&class, &assertion.public_id, reason)?;
        self.with_conn(|conn| Ok(assertions::revoke(conn, id, reason)?))?;
        tracing::info!(assertion = id, class = %class.slug, "assertion revoked");
        Ok(Outcome::Done {
            assertion_id: id,
            reason: "revoked".into(),
        })
    }

    /// Awards the class to the job's learner, once.
    fn issue(&self, class: BadgeClass) -> Result<Outcome, AwardError> {
        let job = self.job;
        if let Some(done) = self.already_awarded(class.id)? {
            return Ok(done);
        }
        let claim = self
            .with_conn(|conn| Ok(claims::claim_award(conn, job.id, job.learner_id, class.id)?))?;
        let (sent_at, sent_to) = match claim {
            Claim::Held { sent_at, sent_to } => (sent_at, sent_to),
            Claim::Taken { by_job } => {
                return Ok(Outcome::Skipped {
                    reason: format!("Award job #{by_job} is awarding this badge already."),
                });
            }
        };
        let class = self.ensure_created(class)?;
        let learner = self.with_conn(|conn| Ok(learners::get(conn, job.learner_id)?))?;
        if let Some(sent) = sent_at {
            self.settled(sent)?;
            // Where the unanswered request went: the learner's address may have changed.
            let to = if sent_to.is_empty() {
                &learner.email
            } else {
                &sent_to
            };
            if let Some(found) = self.backend.find_award(&class, to)? {
                return self.record(&class, &learner, found, "found on the backend");
            }
        }
        let (email, held_by) = (learner.email.to_lowercase(), (job.id, self.worker));
        let marked = self.with_conn(|conn| {
            Ok(claims::mark_sent(
                conn, held_by, learner.id, class.id, &email,
            )?)
        })?;
        if !marked {
            return Err(lease_lost());
        }
        let evidence = (!job.evidence_url.is_empty()).then_some(job.evidence_url.as_str());
        match self.backend.award(&class, &learner, evidence) {
            Ok(issued) => self.record(&class, &learner, issued, "awarded"),
            Err(unknown @ AwardError::Unanswered(_)) => Err(unknown),
            Err(nothing_made) => {
                self.with_conn(|conn| Ok(claims::clear_sent(conn, job.id, learner.id, class.id)?))?;
                Err(nothing_made)
            }
        }
    }

    /// `Done` when the learner holds the badge already.
    fn already_awarded(&self, class: i64) -> Result<Option<Outcome>, AwardError> {
        let learner = self.job.learner_id;
        let existing =
            self.with_conn(|conn| Ok(assertions::for_learner_and_class(conn, learner, class)?))?;
        Ok(existing.map(|existing| {
            tracing::info!(
                job = self.job.id,
                class,
                "the learner already holds this badge"
            );
            Outcome::Done {
                assertion_id: existing.id,
                reason: "already awarded".into(),
            }
        }))
    }

    /// Waits (uncounted) until a request sent at `sent` without an answer can no longer
    /// take effect unseen.
    fn settled(&self, sent: chrono::NaiveDateTime) -> Result<(), AwardError> {
        let settle = chrono::Duration::from_std(self.backend.settle_time()).unwrap_or_default();
        let left = (sent + settle - now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return Ok(());
        }
        Err(AwardError::Wait {
            wait: left,
            reason: format!(
                "An earlier request (sent {} UTC) got no answer; the backend is searched for its result once it has settled.",
                sent.format("%Y-%m-%d %H:%M:%S")
            ),
        })
    }

    /// Records the assertion and settles the claim, in one transaction.
    fn record(
        &self,
        class: &BadgeClass,
        learner: &Learner,
        issued: IssuedAssertion,
        how: &str,
    ) -> Result<Outcome, AwardError> {
        let job = self.job;
        let recorded = self.with_conn(|conn| {
            Ok(crate::db::write_transaction(conn, |conn| {
                let id = assertions::record(
                    conn,
                    &issued,
                    self.backend.name(),
                    learner.id,
                    class.id,
                    &job.evidence_url,
                    Some(job.id),
                )?;
                claims::release(conn, learner.id, class.id)?;
                Ok::<_, diesel::result::Error>(id)
            }))
        })?;
        let id = match recorded {
            Ok(id) => id,
            Err(e) if crate::db::is_unique_violation(&e) => {
                // Recorded by another meanwhile (reconciliation adopting it, say): the
                // backend may hold one more, which reconciliation finds.
                tracing::warn!(job = job.id, public_id = %issued.public_id, "the award was recorded by another meanwhile");
                return self
                    .already_awarded(class.id)?
                    .ok_or_else(|| AwardError::Retryable("the concurrent award vanished".into()));
            }
            Err(e) => return Err(e.into()),
        };
        log_created(class, learner, id, &issued);
        Ok(Outcome::Done {
            assertion_id: id,
            reason: format!("{how}: {}", issued.assertion_url),
        })
    }

    /// Creates the class on the backend the first time, which freezes its image. One job
    /// at a time creates a class; a creation that got no answer is looked up by its tag.
    fn ensure_created(&self, class: BadgeClass) -> Result<BadgeClass, AwardError> {
        if class.is_frozen() && !class.backend_id.is_empty() {
            return Ok(class);
        }
        let job = self.job;
        let creation =
            self.with_conn(|conn| Ok(claims::claim_creation(conn, job.id, class.id)?))?;
        let (tag, sent_at) = match creation {
            Creation::Held { tag, sent_at } => (tag, sent_at),
            Creation::Taken { by_job } => {
                return Err(AwardError::Wait {
                    wait: CREATION_POLL,
                    reason: format!(
                        "Award job #{by_job} is creating this badge class on the backend."
                    ),
                });
            }
        };
        if let Some(sent) = sent_at {
            self.settled(sent)?;
            if let Some(found) = self.backend.find_badge_class(&tag)? {
                return self.freeze(class, found);
            }
        }
        let marked = self.with_conn(|conn| {
            Ok(claims::mark_creation_sent(
                conn,
                job.id,
                self.worker,
                class.id,
            )?)
        })?;
        if !marked {
            return Err(lease_lost());
        }
        match self.backend.create_badge_class(&class, &tag) {
            Ok(backend_id) => self.freeze(class, backend_id),
            Err(unknown @ AwardError::Unanswered(_)) => Err(unknown),
            Err(nothing_made) => {
                self.with_conn(|conn| Ok(claims::clear_creation_sent(conn, job.id, class.id)?))?;
                Err(nothing_made)
            }
        }
    }

    /// Keeps the backend's identifier of the class, which freezes it.
    fn freeze(&self, class: BadgeClass, backend_id: String) -> Result<BadgeClass, AwardError> {
        if backend_id.is_empty() {
            // An empty identifier is "not created" (upstream cached it and never created again).
            return Err(AwardError::Retryable(
                "the backend returned no identifier for the new badge class".into(),
            ));
        }
        let overtaken = self.with_conn(|conn| {
            if classes::mark_frozen(conn, class.id, &backend_id)? == 1 {
                return Ok(None);
            }
            Ok(Some(classes::by_id(conn, class.id)?))
        })?;
        let Some(kept) = overtaken else {
            return Ok(BadgeClass {
                frozen_at: Some(now()),
                backend_id,
                ..class
            });
        };
        // Frozen by another meanwhile: its identifier is the one kept, so every award of the
        // class goes to the same class on the backend.
        tracing::warn!(class = class.id, ours = %backend_id, kept = %kept.backend_id, "the badge class was frozen by another meanwhile; the first is kept");
        if kept.backend_id.is_empty() {
            return Err(AwardError::Retryable(
                "the badge class is frozen without a backend identifier".into(),
            ));
        }
        Ok(kept)
    }
}

/// Upstream's `edx.badge.assertion.created` event, as one JSON log line.
fn log_created(
    class: &BadgeClass,
    learner: &learners::Learner,
    assertion_id: i64,
    issued: &IssuedAssertion,
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
