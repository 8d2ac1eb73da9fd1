//! Badgr API v2: OAuth2 bearer tokens, `entityId`s, answers and pages wrapped in
//! `result`, awards as JSON with a hashed recipient.

use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

use super::dialect::{Award, Dialect};
use crate::badges::classes::BadgeClass;
use crate::badging::backend::BADGR_V2;

pub(super) struct V2;

impl Dialect for V2 {
    fn name(&self) -> &'static str {
        BADGR_V2
    }

    fn label(&self) -> &'static str {
        "v2"
    }

    fn authorize(&self, request: RequestBuilder, credential: &str) -> RequestBuilder {
        request.bearer_auth(credential)
    }

    fn issuer_path(&self, issuer: &str) -> String {
        format!("/v2/issuers/{issuer}")
    }

    fn classes_path(&self, issuer: &str) -> String {
        format!("/v2/issuers/{issuer}/badgeclasses")
    }

    fn assertions_path(&self, _issuer: &str, class: &str) -> String {
        format!("/v2/badgeclasses/{class}/assertions")
    }

    fn assertion_path(&self, _issuer: &str, _class: &str, assertion: &str) -> String {
        format!("/v2/assertions/{assertion}")
    }

    fn items<'a>(&self, page: &'a Value) -> &'a Value {
        &page["result"]
    }

    fn created<'a>(&self, answer: &'a Value) -> &'a Value {
        &answer["result"][0]
    }

    fn entity_id<'a>(&self, item: &'a Value) -> &'a Value {
        &item["entityId"]
    }

    /// v2 keeps a criteria URL and a narrative in different fields.
    fn criteria_fields(&self, class: &BadgeClass) -> Vec<(&'static str, String)> {
        let field = if crate::validation::is_web_url(&class.criteria) {
            "criteriaUrl"
        } else {
            "criteriaNarrative"
        };
        vec![(field, class.criteria.clone())]
    }

    fn award_request(&self, post: RequestBuilder, award: &Award<'_>) -> RequestBuilder {
        let mut body = json!({
            "recipient": { "identity": award.email, "type": "email", "hashed": true },
            "notify": award.notify,
        });
        if let Some(evidence) = award.evidence {
            body["evidence"] = json!([{ "url": evidence }]);
        }
        post.json(&body)
    }

    fn assertion_url<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["openBadgeId"]
    }

    fn recipient<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["recipient"]
    }

    fn recipient_email<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["recipient"]["plaintextIdentity"]
    }
}
