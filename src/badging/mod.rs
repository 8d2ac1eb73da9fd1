//! The issuing backend: where assertions are made (the local Open Badges 2.0 issuer, or
//! Badgr), the durable award jobs and the workers that carry them out.

pub mod assertion_admin;
pub mod assertions;
pub mod award;
pub mod award_class;
pub mod backend;
pub mod backfill;
pub mod badgr;
pub mod certificate_admin;
pub mod claims;
pub mod event_badges;
pub mod intake;
pub mod job_admin;
pub mod jobs;
pub mod learner_admin;
pub mod learners;
pub mod local;
pub mod openbadges;
pub mod reconcile;
pub mod stats;
pub mod worker;
