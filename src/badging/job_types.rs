//! What an award job does and where it stands, as types: the state machine's states, the
//! three kinds of work, and each kind's payload, checked where a job is built and
//! matched where it is carried out.

use crate::db::text_enum::text_enum;

text_enum! {
    /// Where a job stands. `Pending` and `Running` are open: the database holds at most
    /// one open job per award.
    pub enum JobStatus {
        Pending = "pending",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

impl JobStatus {
    /// The states of a job still to be carried out.
    pub const OPEN: [JobStatus; 2] = [JobStatus::Pending, JobStatus::Running];
}

text_enum! {
    pub enum JobKind {
        CourseCompletion = "course_completion",
        /// A course-event badge: a class with the issuing component `openedx__course`.
        EventBadge = "event_badge",
        /// The revocation of an assertion, on its backend and then in Accolade.
        Revocation = "revocation",
    }
}

text_enum! {
    /// How one attempt ended, as its record keeps it.
    pub enum AttemptOutcome {
        Done = "done",
        /// Nothing to award, by design.
        Skipped = "skipped",
        Retry = "retry",
        Failed = "failed",
    }
}

/// A job's payload: what its kind needs, and nothing another kind uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobWork<'a> {
    /// The course's badge for the certificate's mode, with the certificate as evidence;
    /// `backfill` names the backfill that queued it, if one did.
    CourseCompletion {
        mode: &'a str,
        evidence_url: &'a str,
        backfill: Option<i64>,
    },
    EventBadge {
        slug: &'a str,
    },
    Revocation {
        assertion_id: i64,
        reason: &'a str,
    },
}

impl JobWork<'_> {
    pub fn kind(&self) -> JobKind {
        match self {
            JobWork::CourseCompletion { .. } => JobKind::CourseCompletion,
            JobWork::EventBadge { .. } => JobKind::EventBadge,
            JobWork::Revocation { .. } => JobKind::Revocation,
        }
    }
}

/// What a job awards, for people: "course completion (verified)", "event badge three_courses".
impl std::fmt::Display for JobWork<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobWork::CourseCompletion { mode, .. } => write!(f, "course completion ({mode})"),
            JobWork::EventBadge { slug } => write!(f, "event badge {slug}"),
            JobWork::Revocation { .. } => f.write_str("revocation"),
        }
    }
}

/// A revocation job whose row names no assertion (`assertion_id` NULL): a corrupt row, which
/// no one may carry out (there is no assertion to revoke, and no default one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("revocation job #{job} names no assertion (its assertion_id is NULL); nothing was revoked")]
pub struct MissingAssertion {
    pub job: i64,
}

/// A job's payload as its row holds it: its work, or why a corrupt row has none. Carried
/// out only through [`JobPayload::checked`], which makes the defect the caller's error;
/// shown either way, so that the lists of jobs still show (and name) a corrupt one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPayload<'a>(Result<JobWork<'a>, MissingAssertion>);

impl<'a> JobPayload<'a> {
    pub fn new(read: Result<JobWork<'a>, MissingAssertion>) -> JobPayload<'a> {
        JobPayload(read)
    }

    /// The work to carry out, or the defect that forbids it.
    pub fn checked(self) -> Result<JobWork<'a>, MissingAssertion> {
        self.0
    }
}

/// The work as [`JobWork`] shows it; a revocation naming no assertion says so.
impl std::fmt::Display for JobPayload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(work) => work.fmt(f),
            Err(MissingAssertion { .. }) => f.write_str("revocation (no assertion)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_kinds_read_back_as_written() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(*status));
        }
        for kind in JobKind::ALL {
            assert_eq!(kind.to_string().parse::<JobKind>(), Ok(*kind));
        }
        assert!("Pending".parse::<JobStatus>().is_err());
    }
}
