//! The backend contract: where badge classes are created and assertions made.

use crate::badges::classes::BadgeClass;
use crate::db::DbConnection;

use super::learners::Learner;

/// Why an award did not happen, and whether trying again can help.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AwardError {
    /// Worth another attempt later (5xx, timeouts, connection errors, 429, 401 after refresh).
    #[error("{0}")]
    Retryable(String),
    /// Worth another attempt, not before `wait` (a 429 with `Retry-After`).
    #[error("{reason}")]
    RetryAfter {
        wait: std::time::Duration,
        reason: String,
    },
    /// Will fail the same way every time (other 4xx, missing image configuration, …).
    #[error("{0}")]
    Permanent(String),
}

impl From<diesel::result::Error> for AwardError {
    fn from(e: diesel::result::Error) -> AwardError {
        AwardError::Retryable(format!("database: {e}"))
    }
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

/// The names backends record on their assertions (`BadgeBackend::name`).
pub const LOCAL: &str = "local";
pub const BADGR_V2: &str = "badgr-v2";
pub const BADGR_V1: &str = "badgr-v1";
pub const NAMES: [&str; 3] = [LOCAL, BADGR_V2, BADGR_V1];

pub trait BadgeBackend: Send + Sync {
    /// The name recorded on assertions.
    fn name(&self) -> &'static str;

    /// Creates the class on the backend (with its image) and returns the backend's
    /// identifier for it. Called once per class: the class is frozen afterwards.
    fn create_badge_class(
        &self,
        conn: &mut DbConnection,
        class: &BadgeClass,
    ) -> Result<String, AwardError>;

    /// Makes an assertion of `class` for `learner`. With `retry`, an earlier attempt may
    /// have reached the backend: the backend looks for that assertion before making one.
    fn award(
        &self,
        conn: &mut DbConnection,
        class: &BadgeClass,
        learner: &Learner,
        evidence_url: Option<&str>,
        retry: bool,
    ) -> Result<IssuedAssertion, AwardError>;

    /// Revokes an assertion on the backend (Accolade then marks its own record).
    fn revoke(
        &self,
        class: &BadgeClass,
        assertion: &super::assertions::BadgeAssertion,
        reason: &str,
    ) -> Result<(), AwardError>;

    /// A one-line description of the backend and whether it answers.
    fn health(&self) -> Result<String, String>;
}
