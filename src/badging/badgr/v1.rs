//! Badgr API v1, as upstream spoke it: the legacy `Authorization: Token` key, URLs under
//! the issuer's slug, slugs for identifiers, bare answers and pages, awards as form fields
//! with the Open Badges JSON nested under `json`.

use reqwest::blocking::RequestBuilder;
use serde_json::Value;

use super::dialect::{Award, Dialect};
use crate::badges::classes::BadgeClass;
use crate::badging::backend::BADGR_V1;

pub(super) struct V1;

impl Dialect for V1 {
    fn name(&self) -> &'static str {
        BADGR_V1
    }

    fn label(&self) -> &'static str {
        "v1"
    }

    fn authorize(&self, request: RequestBuilder, credential: &str) -> RequestBuilder {
        request.header(
            reqwest::header::AUTHORIZATION,
            format!("Token {credential}"),
        )
    }

    fn issuer_path(&self, issuer: &str) -> String {
        format!("/v1/issuer/issuers/{issuer}")
    }

    fn classes_path(&self, issuer: &str) -> String {
        format!("{}/badges", self.issuer_path(issuer))
    }

    fn assertions_path(&self, issuer: &str, class: &str) -> String {
        format!("{}/{class}/assertions", self.classes_path(issuer))
    }

    fn assertion_path(&self, issuer: &str, class: &str, assertion: &str) -> String {
        format!("{}/{assertion}", self.assertions_path(issuer, class))
    }

    fn items<'a>(&self, page: &'a Value) -> &'a Value {
        page
    }

    fn created<'a>(&self, answer: &'a Value) -> &'a Value {
        answer
    }

    /// For a new class, modern Badgr ignores the slug sent and answers with its own: the
    /// one answered is the one kept.
    fn entity_id<'a>(&self, item: &'a Value) -> &'a Value {
        &item["slug"]
    }

    fn criteria_fields(&self, class: &BadgeClass) -> Vec<(&'static str, String)> {
        vec![
            ("criteria", class.criteria.clone()),
            ("slug", v1_slug(class)),
        ]
    }

    fn award_request(&self, post: RequestBuilder, award: &Award<'_>) -> RequestBuilder {
        let mut form = vec![("email", award.email.to_string())];
        if let Some(evidence) = award.evidence {
            form.push(("evidence", evidence.to_string()));
        }
        // Old v1 servers notify on the field's mere presence: send it only to notify.
        if award.notify {
            form.push(("create_notification", "true".into()));
        }
        post.form(&form)
    }

    fn assertion_url<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["json"]["id"]
    }

    fn recipient<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["json"]["recipient"]
    }

    fn recipient_email<'a>(&self, assertion: &'a Value) -> &'a Value {
        &assertion["recipient_identifier"]
    }
}

/// Upstream's v1 class slug (`_slugify`): component + slug, hashed with the course when both
/// are set, and hashed again when over 255 characters (on the UTF-8 bytes, unlike upstream).
pub fn v1_slug(class: &BadgeClass) -> String {
    let hex = |text: &str| crate::digest::sha256_hex(text.as_bytes());
    let mut slug = format!("{}{}", class.issuing_component, class.slug);
    if !class.issuing_component.is_empty() && !class.course_id.is_empty() {
        slug = hex(&format!("{slug}{}", class.course_id));
    }
    if slug.chars().count() > 255 {
        slug = hex(&slug);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(slug: &str, component: &str, course: &str) -> BadgeClass {
        BadgeClass {
            id: 1,
            slug: slug.into(),
            issuing_component: component.into(),
            display_name: String::new(),
            course_id: course.into(),
            description: String::new(),
            criteria: String::new(),
            mode: String::new(),
            image_hash: String::new(),
            backend_id: String::new(),
            frozen_at: None,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn v1_slugs_match_upstream_vectors() {
        assert_eq!(
            v1_slug(&class(
                "test_slug",
                "test_component",
                "edX/course_test/test_run"
            )),
            "15bb687e0c59ef2f0a49f6838f511bf4ca6c566dd45da6293cabbd9369390e1a"
        );
        assert_eq!(
            v1_slug(&class(
                "test_slug",
                "test_component",
                "course-v1:edX+course_test+test_run"
            )),
            "9e915d55bb304a73d20c453531d3c27f81574218413c23903823d20d11b587ae"
        );
        assert_eq!(
            v1_slug(&class(
                "test_slug",
                "",
                "course-v1:edX+course_test+test_run"
            )),
            "test_slug"
        );
        assert_eq!(
            v1_slug(&class("test_slug", "test_component", "")),
            "test_componenttest_slug"
        );
        assert_eq!(v1_slug(&class(&"x".repeat(300), "", "")).len(), 64);
    }
}
