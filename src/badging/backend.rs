//! The backend contract: where badge classes are created and assertions made.

use std::time::Duration;

use super::assertions::IssuedAssertion;
use crate::badges::classes::BadgeClass;
use crate::learners::Learner;

/// Why an award did not happen, and whether trying again can help.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AwardError {
    /// Worth another attempt later; the request made nothing on the backend (refused
    /// connections, 401 after refresh, a database error before sending).
    #[error("{0}")]
    Retryable(String),
    /// Worth another attempt; the request may have been carried out without an answer
    /// reaching Accolade (a timeout, a reset connection, a 5xx): the next attempt looks on
    /// the backend first.
    #[error("{0}")]
    Unanswered(String),
    /// Worth another attempt, not before `wait` (a 429 with `Retry-After`).
    #[error("{reason}")]
    RetryAfter { wait: Duration, reason: String },
    /// Not yet: another job holds what this one needs, or an unanswered request may still
    /// take effect. The wait is not counted as an attempt.
    #[error("{reason}")]
    Wait { wait: Duration, reason: String },
    /// Will fail the same way every time (other 4xx, missing image configuration, …).
    #[error("{0}")]
    Permanent(String),
}

impl From<diesel::result::Error> for AwardError {
    fn from(e: diesel::result::Error) -> AwardError {
        AwardError::Retryable(format!("database: {e}"))
    }
}

/// The names backends record on their assertions (`BadgeBackend::name`).
pub const LOCAL: &str = "local";
pub const BADGR_V2: &str = "badgr-v2";
pub const BADGR_V1: &str = "badgr-v1";
pub const NAMES: [&str; 3] = [LOCAL, BADGR_V2, BADGR_V1];

/// An assertion found on the backend, as reconciliation compares it with Accolade's.
#[derive(Debug, Clone)]
pub struct RemoteAward {
    pub issued: IssuedAssertion,
    /// The recipient's e-mail address, when the backend discloses it.
    pub email: Option<String>,
    pub revoked: bool,
}

/// A badge class found on the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteClass {
    pub backend_id: String,
    pub name: String,
    pub tags: Vec<String>,
}

/// What an award made, or why it failed.
pub type Awarded = Result<IssuedAssertion, AwardError>;

/// Where badges are made. No method is called inside a database transaction or while the
/// caller holds a pool connection: a backend that needs the database takes a connection of
/// its own, briefly, and never across a network call.
pub trait BadgeBackend: Send + Sync {
    /// The name recorded on assertions.
    fn name(&self) -> &'static str;

    /// How long after a request left without an answer its effect may still appear on the
    /// backend: a later attempt looks for it only after this (zero for a local backend).
    fn settle_time(&self) -> Duration;

    /// Creates the class on the backend (with its image), labelled with `tag`, and returns
    /// the backend's identifier for it. The class is frozen afterwards.
    fn create_badge_class(&self, class: &BadgeClass, tag: &str) -> Result<String, AwardError>;

    /// The class an earlier, unanswered creation made, found by its tag.
    fn find_badge_class(&self, tag: &str) -> Result<Option<String>, AwardError>;

    /// Makes an assertion of `class` for `learner`.
    fn award(&self, class: &BadgeClass, learner: &Learner, evidence_url: Option<&str>) -> Awarded;

    /// The live assertion of `class` an earlier, unanswered attempt made for the address
    /// `email` (the one it was sent to: a learner's address may change meanwhile).
    fn find_award(
        &self,
        class: &BadgeClass,
        email: &str,
    ) -> Result<Option<IssuedAssertion>, AwardError>;

    /// Revokes an assertion on the backend (Accolade then marks its own record). An
    /// assertion the backend already holds revoked counts as revoked.
    fn revoke(&self, class: &BadgeClass, public_id: &str, reason: &str) -> Result<(), AwardError>;

    /// Every assertion of `class` on the backend, revoked ones included; `None` when the
    /// backend is Accolade itself (there is nothing to reconcile).
    fn list_awards(&self, class: &BadgeClass) -> Result<Option<Vec<RemoteAward>>, AwardError>;

    /// Every badge class of the issuer on the backend; `None` for Accolade itself.
    fn list_classes(&self) -> Result<Option<Vec<RemoteClass>>, AwardError>;

    /// A one-line description of the backend and whether it answers.
    fn health(&self) -> Result<String, String>;
}
