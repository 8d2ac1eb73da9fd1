//! What differs between Badgr's API versions, and nothing else: how a request is
//! authorised, where things are, and where the fields are in Badgr's answers. The client in
//! `mod.rs` does the rest (sending, paging, failures, links) the same way for both.
//!
//! Paths are without the base URL. Fields are read as `&Value`, `null` when absent, so
//! the client applies one rule to both versions.

use reqwest::blocking::RequestBuilder;
use serde_json::Value;

use crate::badges::classes::BadgeClass;

/// An assertion to ask Badgr for.
pub(super) struct Award<'a> {
    /// Lowercased.
    pub email: &'a str,
    /// Never empty.
    pub evidence: Option<&'a str>,
    /// Whether Badgr e-mails the recipient.
    pub notify: bool,
}

/// One version of Badgr's API. `Sync`: the client is shared between worker threads.
pub(super) trait Dialect: Sync {
    /// The backend name recorded on assertions.
    fn name(&self) -> &'static str;
    /// The version as the health line names it.
    fn label(&self) -> &'static str;
    /// `request` carrying `credential` in the `Authorization` header.
    fn authorize(&self, request: RequestBuilder, credential: &str) -> RequestBuilder;

    /// The issuer itself (what the health check reads).
    fn issuer_path(&self, issuer: &str) -> String;
    /// The issuer's badge classes: listed by GET, created by POST.
    fn classes_path(&self, issuer: &str) -> String;
    /// The assertions of one class: listed by GET, made by POST.
    fn assertions_path(&self, issuer: &str, class: &str) -> String;
    /// One assertion (revoked by DELETE).
    fn assertion_path(&self, issuer: &str, class: &str, assertion: &str) -> String;

    /// The array of items in a page of a list.
    fn items<'a>(&self, page: &'a Value) -> &'a Value;
    /// The class or assertion a POST made, in Badgr's answer.
    fn created<'a>(&self, answer: &'a Value) -> &'a Value;
    /// The identifier of a class or an assertion.
    fn entity_id<'a>(&self, item: &'a Value) -> &'a Value;

    /// The fields of a new class that say how it is earned.
    fn criteria_fields(&self, class: &BadgeClass) -> Vec<(&'static str, String)>;
    /// `post` (to `assertions_path`) carrying the award.
    fn award_request(&self, post: RequestBuilder, award: &Award<'_>) -> RequestBuilder;

    /// The URL of an assertion's Open Badges JSON.
    fn assertion_url<'a>(&self, assertion: &'a Value) -> &'a Value;
    /// An assertion's hashed recipient (`identity` and `salt`).
    fn recipient<'a>(&self, assertion: &'a Value) -> &'a Value;
    /// The recipient's e-mail address in a listed assertion, when Badgr discloses it.
    fn recipient_email<'a>(&self, assertion: &'a Value) -> &'a Value;
}
