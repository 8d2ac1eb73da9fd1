//! Reconciliation: each badge class's assertions on the backend compared with Accolade's.
//!
//! Whatever slipped past the claims — an answer lost and the work done later than anyone
//! waited, an operator's hand on Badgr — shows here. For each live assertion on the backend:
//! one Accolade does not record, for a learner it knows who holds none, is adopted (recorded
//! as Accolade's); one for a learner who holds another is a duplicate and is revoked on the
//! backend with a stated reason; one Accolade revoked is revoked there too; one for a
//! recipient Accolade does not know is reported. Accolade's live assertions missing on the
//! backend, and classes on the issuer that no Accolade class points to, are reported. Pairs
//! with an award in flight are left to their job. Without `fix`, everything is reported
//! and nothing changed. Each run and its findings are kept for the admin page.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::assertions::{self, BadgeAssertion};
use super::backend::{AwardError, BadgeBackend, RemoteAward};
use super::claims;
use super::jobs::{JobKind, JobStatus};
use crate::badges::classes::BadgeClass;
use crate::db::schema::{
    award_claims, award_jobs, badge_assertions, badge_classes, learners, reconciliation_findings,
    reconciliation_runs,
};
use crate::db::{Database, DbConnection, lower, now, settings};

/// The lease row that keeps periodic runs to one instance at a time.
pub const LEASE: &str = "lease:reconciliation";

/// What a finding is about.
pub mod kind {
    pub const ADOPTED: &str = "adopted";
    pub const DUPLICATE: &str = "duplicate";
    pub const REVOCATION_MISSING: &str = "revocation_missing";
    pub const UNKNOWN_RECIPIENT: &str = "unknown_recipient";
    pub const AMBIGUOUS_RECIPIENT: &str = "ambiguous_recipient";
    pub const UNEXPECTED_AWARD: &str = "unexpected_award";
    pub const MISSING_ON_BACKEND: &str = "missing_on_backend";
    pub const REVOKED_ON_BACKEND: &str = "revoked_on_backend";
    pub const ORPHAN_CLASS: &str = "orphan_class";
    pub const IN_FLIGHT: &str = "in_flight";
    pub const ERROR: &str = "error";
}

/// One thing a run found, and what it did about it ("" when it only reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub class: Option<i64>,
    pub learner: Option<i64>,
    pub backend_id: String,
    pub detail: String,
    pub action: String,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Run {
    pub id: i64,
    pub summary: String,
    pub findings: Vec<Finding>,
}

impl Run {
    pub fn count(&self, kind: &str) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
}

/// Reconciles every class the backend holds; `None` when the backend is Accolade itself.
pub fn run(db: &Database, backend: &dyn BadgeBackend, fix: bool) -> Result<Option<Run>, String> {
    let started = now();
    let Some(remote_classes) = backend.list_classes().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let mut pass = Pass {
        db,
        backend,
        fix,
        findings: Vec::new(),
        remote_assertions: 0,
    };
    let classes = pass.with_conn(|conn| {
        badge_classes::table
            .filter(badge_classes::backend_id.ne(""))
            .order(badge_classes::id)
            .select(BadgeClass::as_select())
            .load(conn)
    })?;
    for class in &classes {
        if let Err(e) = pass.class(class) {
            pass.report(kind::ERROR, Some(class), None, "", e.to_string(), "");
        }
    }
    pass.orphans(&classes, remote_classes);
    let summary = pass.summary(classes.len());
    let id = pass.save(started, &summary).map_err(|e| e.to_string())?;
    Ok(Some(Run {
        id,
        summary,
        findings: pass.findings,
    }))
}

struct Pass<'a> {
    db: &'a Database,
    backend: &'a dyn BadgeBackend,
    fix: bool,
    findings: Vec<Finding>,
    remote_assertions: usize,
}

/// Accolade's side of one class.
struct Records {
    by_public_id: HashMap<String, BadgeAssertion>,
    /// Learners with a record of the class, live or revoked: a second one is a duplicate.
    /// The record's URL, and whether a copy on the backend is revoked rightly: Accolade
    /// revoked it, or Accolade's own copy is live there (else the other copy may be the
    /// learner's only live badge, and is left to an operator).
    holders: HashMap<i64, (String, bool)>,
    /// Learners whose award of the class a job holds right now.
    in_flight: HashSet<i64>,
}

impl Pass<'_> {
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> Result<T, String> {
        let mut conn = self.db.get().map_err(|e| e.to_string())?;
        work(&mut conn).map_err(|e| e.to_string())
    }

    fn report(
        &mut self,
        kind: &'static str,
        class: Option<&BadgeClass>,
        learner: Option<i64>,
        backend_id: &str,
        detail: String,
        action: &str,
    ) {
        tracing::info!(kind, class = class.map(|c| c.id), learner, %detail, %action, "reconciliation finding");
        self.findings.push(Finding {
            kind,
            class: class.map(|c| c.id),
            learner,
            backend_id: backend_id.to_string(),
            detail,
            action: action.to_string(),
        });
    }

    /// A finding reported, nothing done.
    fn note(
        &mut self,
        kind: &'static str,
        class: &BadgeClass,
        learner: Option<i64>,
        public_id: &str,
        detail: &str,
    ) {
        self.report(
            kind,
            Some(class),
            learner,
            public_id,
            detail.to_string(),
            "",
        );
    }

    fn class(&mut self, class: &BadgeClass) -> Result<(), String> {
        let remote = self
            .backend
            .list_awards(class)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        self.remote_assertions += remote.len();
        let live: HashSet<&str> = remote
            .iter()
            .filter(|a| !a.revoked)
            .map(|a| a.issued.public_id.as_str())
            .collect();
        let mut records = self.records(class, &live)?;
        for award in remote.iter().filter(|a| !a.revoked) {
            match records.by_public_id.get(&award.issued.public_id) {
                Some(record) if record.revoked => self.finish_revocation(class, record)?,
                Some(_) => {}
                None => self.unknown(class, award, &mut records)?,
            }
        }
        self.missing_on_backend(class, &records, &remote);
        Ok(())
    }

    fn records(&self, class: &BadgeClass, live: &HashSet<&str>) -> Result<Records, String> {
        let (recorded, in_flight) = self.with_conn(|conn| {
            let recorded: Vec<BadgeAssertion> = badge_assertions::table
                .filter(badge_assertions::badge_class_id.eq(class.id))
                .select(BadgeAssertion::as_select())
                .load(conn)?;
            let in_flight: Vec<i64> = award_claims::table
                .inner_join(award_jobs::table.on(award_jobs::id.eq(award_claims::job_id)))
                .filter(award_claims::badge_class_id.eq(class.id))
                .filter(award_jobs::status.eq_any(JobStatus::OPEN))
                .select(award_claims::learner_id)
                .load(conn)?;
            Ok((recorded, in_flight))
        })?;
        Ok(Records {
            holders: recorded
                .iter()
                .map(|r| {
                    let settled = r.revoked || live.contains(r.public_id.as_str());
                    (r.learner_id, (r.assertion_url.clone(), settled))
                })
                .collect(),
            by_public_id: recorded
                .into_iter()
                .map(|r| (r.public_id.clone(), r))
                .collect(),
            in_flight: in_flight.into_iter().collect(),
        })
    }

    /// Accolade revoked it; the backend still shows it live.
    fn finish_revocation(
        &mut self,
        class: &BadgeClass,
        record: &BadgeAssertion,
    ) -> Result<(), String> {
        let action = self.revoke(class, &record.public_id, &record.revocation_reason)?;
        self.report(
            kind::REVOCATION_MISSING,
            Some(class),
            Some(record.learner_id),
            &record.public_id,
            "Revoked in Accolade, live on the backend.".into(),
            action,
        );
        Ok(())
    }

    /// A live assertion on the backend that Accolade does not record.
    fn unknown(
        &mut self,
        class: &BadgeClass,
        award: &RemoteAward,
        records: &mut Records,
    ) -> Result<(), String> {
        let public_id = &award.issued.public_id;
        let learners = self.learners_by_email(award.email.as_deref())?;
        let learner = match learners.as_slice() {
            [] => {
                let detail = "A live assertion for a recipient Accolade does not know.";
                self.note(kind::UNKNOWN_RECIPIENT, class, None, public_id, detail);
                return Ok(());
            }
            [one] => *one,
            _ => {
                let detail = "A live assertion for an e-mail address several learners share.";
                self.note(kind::AMBIGUOUS_RECIPIENT, class, None, public_id, detail);
                return Ok(());
            }
        };
        if records.in_flight.contains(&learner) {
            let detail = "An award of this badge to the learner is in flight; left to its job.";
            self.note(kind::IN_FLIGHT, class, Some(learner), public_id, detail);
            return Ok(());
        }
        if let Some((kept, settled)) = records.holders.get(&learner).cloned() {
            if !settled {
                let detail = format!(
                    "A second live assertion for a learner whose recorded {kept} is not live on the backend: left to an operator."
                );
                self.note(kind::DUPLICATE, class, Some(learner), public_id, &detail);
                return Ok(());
            }
            let reason = format!("Duplicate of {kept}; revoked by Accolade's reconciliation.");
            let action = self.revoke(class, public_id, &reason)?;
            let detail = format!("A second live assertion for a learner who holds {kept}.");
            self.report(
                kind::DUPLICATE,
                Some(class),
                Some(learner),
                public_id,
                detail,
                action,
            );
            return Ok(());
        }
        if !self.was_asked_for(class, learner)? {
            let detail = "A live assertion Accolade never asked for (no award job of this badge for the learner).";
            self.note(
                kind::UNEXPECTED_AWARD,
                class,
                Some(learner),
                public_id,
                detail,
            );
            return Ok(());
        }
        let action = if self.fix {
            self.adopt(class, learner, award)?;
            "adopted"
        } else {
            ""
        };
        records
            .holders
            .insert(learner, (award.issued.assertion_url.clone(), true));
        let detail = "A live assertion Accolade had no record of, for a learner it knows.";
        self.report(
            kind::ADOPTED,
            Some(class),
            Some(learner),
            public_id,
            detail.into(),
            action,
        );
        Ok(())
    }

    /// Whether Accolade ever queued an award of `class` to `learner`: only then is a live
    /// assertion it has no record of its own to adopt.
    fn was_asked_for(&self, class: &BadgeClass, learner: i64) -> Result<bool, String> {
        let (course, mode, slug) = (
            class.course_id.clone(),
            class.mode.clone(),
            class.slug.clone(),
        );
        let is_event = class.issuing_component == crate::badges::event_config::EVENT_COMPONENT;
        self.with_conn(|conn| {
            let jobs = award_jobs::table
                .filter(award_jobs::learner_id.eq(learner))
                .select(award_jobs::id)
                .into_boxed();
            let jobs = if is_event {
                jobs.filter(award_jobs::kind.eq(JobKind::EventBadge))
                    .filter(award_jobs::badge_slug.eq(slug))
            } else {
                jobs.filter(award_jobs::kind.eq(JobKind::CourseCompletion))
                    .filter(award_jobs::course_id.eq(course))
                    .filter(award_jobs::mode.eq(mode))
            };
            Ok(jobs.first::<i64>(conn).optional()?.is_some())
        })
    }

    /// The learners with this e-mail address (at most two: more than one is ambiguous).
    fn learners_by_email(&self, email: Option<&str>) -> Result<Vec<i64>, String> {
        let Some(email) = email.filter(|e| !e.is_empty()) else {
            return Ok(Vec::new());
        };
        let email = email.to_lowercase();
        self.with_conn(|conn| {
            learners::table
                .filter(lower(learners::email).eq(email))
                .order(learners::id)
                .limit(2)
                .select(learners::id)
                .load(conn)
        })
    }

    /// Revokes on the backend when fixing; returns what was done.
    fn revoke(
        &self,
        class: &BadgeClass,
        public_id: &str,
        reason: &str,
    ) -> Result<&'static str, String> {
        if !self.fix {
            return Ok("");
        }
        self.backend
            .revoke(class, public_id, reason)
            .map_err(|e: AwardError| e.to_string())?;
        Ok("revoked on the backend")
    }

    /// Records the backend's assertion as Accolade's.
    fn adopt(&self, class: &BadgeClass, learner: i64, award: &RemoteAward) -> Result<(), String> {
        let backend = self.backend.name();
        self.with_conn(|conn| {
            crate::db::write_transaction(conn, |conn| {
                assertions::record(conn, &award.issued, backend, learner, class.id, "", None)?;
                claims::release(conn, learner, class.id)
            })
        })
    }

    /// Accolade's live assertions the backend does not show live.
    fn missing_on_backend(
        &mut self,
        class: &BadgeClass,
        records: &Records,
        remote: &[RemoteAward],
    ) {
        let on_backend: HashMap<&str, bool> = remote
            .iter()
            .map(|a| (a.issued.public_id.as_str(), a.revoked))
            .collect();
        // Records another backend made (before the site moved) are not this one's to hold.
        let mut live: Vec<&BadgeAssertion> = records
            .by_public_id
            .values()
            .filter(|r| !r.revoked && r.backend == self.backend.name())
            .collect();
        live.sort_by_key(|r| r.id);
        for record in live {
            let (found, detail) = match on_backend.get(record.public_id.as_str()) {
                Some(false) => continue,
                Some(true) => (
                    kind::REVOKED_ON_BACKEND,
                    "Live in Accolade, revoked on the backend.",
                ),
                None => (
                    kind::MISSING_ON_BACKEND,
                    "Live in Accolade, not on the backend.",
                ),
            };
            let (learner, public_id) = (record.learner_id, record.public_id.clone());
            self.report(
                found,
                Some(class),
                Some(learner),
                &public_id,
                detail.into(),
                "",
            );
        }
    }

    /// Classes on the issuer that no Accolade class points to.
    fn orphans(&mut self, classes: &[BadgeClass], remote: Vec<super::backend::RemoteClass>) {
        let ours: HashSet<&str> = classes.iter().map(|c| c.backend_id.as_str()).collect();
        for orphan in remote
            .iter()
            .filter(|c| !ours.contains(c.backend_id.as_str()))
        {
            let detail = format!(
                "A class on the issuer that no Accolade class points to: {:?} (tags: {:?}).",
                orphan.name, orphan.tags
            );
            self.report(
                kind::ORPHAN_CLASS,
                None,
                None,
                &orphan.backend_id,
                detail,
                "",
            );
        }
    }

    fn summary(&self, classes: usize) -> String {
        let count = |kind: &str| self.findings.iter().filter(|f| f.kind == kind).count();
        format!(
            "{classes} badge classes, {} assertions on the backend{}: {} adopted, {} duplicates, \
             {} revocations missing on the backend, {} unknown recipients, {} ambiguous \
             recipients, {} never asked for, {} missing on the backend, {} revoked only on the \
             backend, {} orphan classes, {} in flight, {} errors.",
            self.remote_assertions,
            if self.fix { "" } else { " (report only)" },
            count(kind::ADOPTED),
            count(kind::DUPLICATE),
            count(kind::REVOCATION_MISSING),
            count(kind::UNKNOWN_RECIPIENT),
            count(kind::AMBIGUOUS_RECIPIENT),
            count(kind::UNEXPECTED_AWARD),
            count(kind::MISSING_ON_BACKEND),
            count(kind::REVOKED_ON_BACKEND),
            count(kind::ORPHAN_CLASS),
            count(kind::IN_FLIGHT),
            count(kind::ERROR),
        )
    }

    fn save(&self, started: chrono::NaiveDateTime, summary: &str) -> Result<i64, String> {
        self.with_conn(|conn| {
            crate::db::write_transaction(conn, |conn| {
                let id: i64 = diesel::insert_into(reconciliation_runs::table)
                    .values((
                        reconciliation_runs::started_at.eq(started),
                        reconciliation_runs::finished_at.eq(Some(now())),
                        reconciliation_runs::fix.eq(self.fix),
                        reconciliation_runs::summary.eq(summary),
                    ))
                    .returning(reconciliation_runs::id)
                    .get_result(conn)?;
                for f in &self.findings {
                    diesel::insert_into(reconciliation_findings::table)
                        .values((
                            reconciliation_findings::run_id.eq(id),
                            reconciliation_findings::kind.eq(f.kind),
                            reconciliation_findings::badge_class_id.eq(f.class),
                            reconciliation_findings::learner_id.eq(f.learner),
                            reconciliation_findings::backend_id.eq(&f.backend_id),
                            reconciliation_findings::detail.eq(&f.detail),
                            reconciliation_findings::action.eq(&f.action),
                        ))
                        .execute(conn)?;
                }
                Ok(id)
            })
        })
    }
}

/// A periodic run, by whichever instance takes the lease first: `None` when another
/// instance holds it.
pub fn run_if_due(
    db: &Database,
    backend: &dyn BadgeBackend,
    every: std::time::Duration,
) -> Result<Option<Run>, String> {
    let until = chrono::Utc::now().timestamp() + every.as_secs() as i64;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    if !settings::take_lease(&mut conn, LEASE, until).map_err(|e| e.to_string())? {
        return Ok(None);
    }
    drop(conn);
    // The lease is kept to its end: the next run is due one interval from now.
    run(db, backend, true)
}

/// A run as kept.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = reconciliation_runs)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: chrono::NaiveDateTime,
    pub finished_at: Option<chrono::NaiveDateTime>,
    pub fix: bool,
    pub summary: String,
}

/// A finding as kept.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = reconciliation_findings)]
pub struct FindingRecord {
    pub id: i64,
    pub kind: String,
    pub badge_class_id: Option<i64>,
    pub learner_id: Option<i64>,
    pub backend_id: String,
    pub detail: String,
    pub action: String,
}

/// The latest runs, newest first.
pub fn recent_runs(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<RunRecord>> {
    reconciliation_runs::table
        .order(reconciliation_runs::id.desc())
        .limit(limit)
        .select(RunRecord::as_select())
        .load(conn)
}

/// A run's findings, at most `limit`, in the order found.
pub fn findings_of(
    conn: &mut DbConnection,
    run: i64,
    limit: i64,
) -> QueryResult<Vec<FindingRecord>> {
    reconciliation_findings::table
        .filter(reconciliation_findings::run_id.eq(run))
        .order(reconciliation_findings::id)
        .limit(limit)
        .select(FindingRecord::as_select())
        .load(conn)
}
