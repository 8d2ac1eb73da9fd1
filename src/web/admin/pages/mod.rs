//! The admin's pages that belong to one model of the badge service rather than to every
//! model: what a generic page cannot ask (a revocation's reason).

pub mod revoke;
