//! The issuing backend: where assertions are made (the local Open Badges 2.0 issuer, or
//! Badgr), the durable award jobs and the workers that carry them out.

pub mod assertions;
pub mod award;
pub mod award_class;
pub mod backend;
pub mod backfill;
pub mod badgr;
pub mod claims;
pub mod course_deletion;
pub mod event_badges;
pub mod intake;
pub mod job_types;
pub mod jobs;
pub mod local;
pub mod openbadges;
pub mod reconcile;
pub mod stats;
pub mod worker;

use crate::auth::permissions::{Action, Permission};

/// Reading any learner's badges through the learners' API, with a session or a service
/// token: the permission the admin's badge assertion pages require, so that no way in
/// shows more than the admin would.
pub const READ_LEARNERS_BADGES: Permission = Permission {
    app_label: "badges",
    action: Action::View,
    model: "badgeassertion",
};

/// Posting the LMS's certificate and enrollment events with a service token. An event adds
/// or updates a learner (which the admin never does: learners come from the LMS), records
/// a certificate or an enrollment, and queues awards — it can have a badge issued to
/// anyone, so a token needs this right, not only validity.
pub const POST_EVENTS: Permission = Permission {
    app_label: "learners",
    action: Action::Add,
    model: "learner",
};

/// What the LMS's service user needs: to post events and to read learners' badges.
pub const LMS_PERMISSIONS: [Permission; 2] = [POST_EVENTS, READ_LEARNERS_BADGES];

/// Grants a service user what the LMS needs (for set-up scripts and harnesses; in the
/// admin, a superuser grants them on the user's page).
pub fn grant_lms_permissions(
    conn: &mut crate::db::DbConnection,
    user_id: i64,
) -> diesel::QueryResult<()> {
    for permission in LMS_PERMISSIONS {
        crate::auth::permissions::grant(conn, user_id, permission)?;
    }
    Ok(())
}
