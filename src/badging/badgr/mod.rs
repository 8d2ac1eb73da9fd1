//! The Badgr backend, API v2 (the default) or v1. v2: OAuth2 tokens (kept encrypted in the
//! database, shared by every instance, refreshed one at a time), badge classes created by
//! multipart upload of the frozen image, assertions awarded by JSON. v1: the legacy
//! `Authorization: Token` key and upstream's URLs and form fields.
//!
//! Every call is bounded by `BADGR_TIMEOUT`. A 401 refreshes the token once and retries; a
//! 429 waits as Badgr asks; 5xx, timeouts and connection errors are retried by the job;
//! other 4xx fail the job with Badgr's message. Failures are logged with the method, URL,
//! status and Badgr's body, never with the Authorization header or a password.

mod http;
mod tokens;

use std::time::Duration;

use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use super::assertions::IssuedAssertion;
use super::backend::{AwardError, BadgeBackend, RemoteAward, RemoteClass};
use crate::badges::classes::BadgeClass;
use crate::db::Database;
use crate::learners::Learner;
use http::{Answer, transport_failure};
pub use tokens::TOKEN_LEASE;

/// The most pages of a list read (500 items a page).
const MAX_PAGES: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// How Accolade proves itself to Badgr.
#[derive(Clone)]
pub enum Credentials {
    /// API v2: the OAuth2 password grant (then refresh tokens).
    OAuth {
        username: String,
        password: String,
        client_id: String,
    },
    /// API v1: a legacy API token.
    Token(String),
}

#[derive(Clone)]
pub struct BadgrSettings {
    /// Without a trailing slash.
    pub base_url: String,
    /// The issuer's `entityId` (slug in v1).
    pub issuer: String,
    pub version: ApiVersion,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub notify: bool,
}

/// Never prints the password.
impl std::fmt::Debug for BadgrSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadgrSettings")
            .field("base_url", &self.base_url)
            .field("issuer", &self.issuer)
            .field("version", &self.version)
            .field("credentials", &"(hidden)")
            .finish_non_exhaustive()
    }
}

pub struct Badgr {
    settings: BadgrSettings,
    http: Client,
    db: Database,
    cipher: ChaCha20Poly1305,
}

impl Badgr {
    pub fn new(settings: BadgrSettings, db: Database, secret_key: &str) -> Result<Badgr, String> {
        let http = Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let key = crate::auth::tokens::derive_key(secret_key, "badgr-tokens");
        Ok(Badgr {
            settings,
            http,
            db,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key[..32])),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    /// The credential to send. `rejected` is one Badgr just refused (401): an OAuth token is
    /// replaced (by one another worker already refreshed, or a new one); an API key cannot be.
    fn credential(&self, rejected: Option<&str>) -> Result<String, AwardError> {
        match &self.settings.credentials {
            Credentials::Token(_) if rejected.is_some() => Err(AwardError::Permanent(
                "Badgr refused BADGR_API_TOKEN (401)".into(),
            )),
            Credentials::Token(token) => Ok(token.clone()),
            Credentials::OAuth { .. } => self.access_token(rejected),
        }
    }

    fn authorize(&self, request: RequestBuilder, credential: &str) -> RequestBuilder {
        match self.settings.version {
            ApiVersion::V2 => request.bearer_auth(credential),
            ApiVersion::V1 => request.header(
                reqwest::header::AUTHORIZATION,
                format!("Token {credential}"),
            ),
        }
    }

    /// Sends a request with the credential; on 401 replaces an OAuth token once and sends
    /// it again. A failed answer becomes the failure it means for the job.
    fn send(
        &self,
        method: &str,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, AwardError> {
        let mut credential = self.credential(None)?;
        for attempt in 0..2 {
            let response = self
                .authorize(build(&self.http), &credential)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .map_err(|e| transport_failure(method, url, &e))?;
            if response.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                credential = self.credential(Some(&credential))?;
                continue;
            }
            let answer = Answer::read(response);
            if answer.status.is_success() {
                return Ok(answer);
            }
            tracing::warn!(%method, %url, status = answer.status.as_u16(), body = %answer.excerpt(), "Badgr request failed");
            return Err(answer.failure(method, url));
        }
        Err(AwardError::Retryable(format!(
            "Badgr refused a fresh token for {method} {url}"
        )))
    }

    /// Every item of a list, page after page (`num=500`, following `Link: rel="next"` on
    /// Badgr's own host).
    fn list(&self, url: &str, query: &[(&str, &str)]) -> Result<Vec<Value>, AwardError> {
        let mut items = Vec::new();
        let mut page = self.send("GET", url, |http| {
            http.get(url).query(query).query(&[("num", "500")])
        })?;
        for _ in 0..MAX_PAGES {
            let list = match self.settings.version {
                ApiVersion::V2 => page.json["result"].as_array().cloned(),
                ApiVersion::V1 => page.json.as_array().cloned(),
            };
            items.extend(list.unwrap_or_default());
            match page.next.take().filter(|next| self.is_own(next)) {
                Some(next) => page = self.send("GET", &next, |http| http.get(&next))?,
                None => return Ok(items),
            }
        }
        Err(AwardError::Permanent(format!(
            "Badgr's list at {url} goes on past {MAX_PAGES} pages"
        )))
    }

    /// Whether `url` is a web URL on Badgr's own host.
    fn is_own(&self, url: &str) -> bool {
        let badgr_host = crate::validation::web_url_host(&self.settings.base_url);
        badgr_host.is_some() && crate::validation::web_url_host(url) == badgr_host
    }
}

impl Badgr {
    /// v1's URL root for the issuer.
    fn v1_issuer(&self) -> String {
        self.url(&format!("/v1/issuer/issuers/{}", self.settings.issuer))
    }

    fn classes_url(&self) -> String {
        match self.settings.version {
            ApiVersion::V2 => self.url(&format!(
                "/v2/issuers/{}/badgeclasses",
                self.settings.issuer
            )),
            ApiVersion::V1 => format!("{}/badges", self.v1_issuer()),
        }
    }

    fn assertions_url(&self, class: &BadgeClass) -> String {
        match self.settings.version {
            ApiVersion::V2 => {
                self.url(&format!("/v2/badgeclasses/{}/assertions", class.backend_id))
            }
            ApiVersion::V1 => format!(
                "{}/badges/{}/assertions",
                self.v1_issuer(),
                class.backend_id
            ),
        }
    }

    /// `url` when it is a web URL on Badgr's host, else Badgr's `fallback` path.
    fn own_link(&self, url: String, fallback: &str) -> String {
        if self.is_own(&url) {
            url
        } else {
            if !url.is_empty() {
                tracing::warn!(
                    "Badgr answered a link that is not on its own host; using its public URL"
                );
            }
            self.url(fallback)
        }
    }

    /// The assertion fields Accolade keeps from Badgr's answer (v2 `result[0]`, v1 the object).
    fn issued_from(&self, result: &Value) -> Result<IssuedAssertion, AwardError> {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let (entity, assertion_url, salt, identity) = match self.settings.version {
            ApiVersion::V2 => (
                text(&result["entityId"]),
                text(&result["openBadgeId"]),
                text(&result["recipient"]["salt"]),
                text(&result["recipient"]["identity"]),
            ),
            ApiVersion::V1 => (
                text(&result["slug"]),
                text(&result["json"]["id"]),
                text(&result["json"]["recipient"]["salt"]),
                text(&result["json"]["recipient"]["identity"]),
            ),
        };
        if entity.is_empty()
            || !entity
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AwardError::Permanent(format!(
                "Badgr's assertion has no usable identifier: {}",
                http::excerpt(&result.to_string(), 200)
            )));
        }
        // Links from Badgr's answer are kept only when they are web URLs on Badgr's own
        // host; otherwise the public URLs badgr-server serves are used.
        let public = crate::urls::assertion_path(&entity);
        let assertion_url = self.own_link(assertion_url, &public);
        let image_url = self.own_link(text(&result["image"]), &format!("{public}/image"));
        Ok(IssuedAssertion {
            public_id: entity,
            image_url,
            assertion_url,
            recipient_salt: salt,
            recipient_identity: identity,
            baked_png: None,
            data: result.clone(),
        })
    }

    /// An assertion of a list as reconciliation sees it.
    fn remote_award(&self, item: &Value) -> Result<RemoteAward, AwardError> {
        let email = match self.settings.version {
            ApiVersion::V2 => item["recipient"]["plaintextIdentity"].as_str(),
            ApiVersion::V1 => item["recipient_identifier"].as_str(),
        };
        Ok(RemoteAward {
            issued: self.issued_from(item)?,
            email: email.map(str::to_lowercase),
            revoked: item["revoked"] == json!(true),
        })
    }

    /// The assertions of `class` on Badgr, for one recipient or all, revoked ones included.
    fn awards(
        &self,
        class: &BadgeClass,
        email: Option<&str>,
    ) -> Result<Vec<RemoteAward>, AwardError> {
        let mut query = vec![("include_revoked", "true"), ("include_expired", "true")];
        if let Some(email) = email {
            query.push(("recipient", email));
        }
        self.list(&self.assertions_url(class), &query)?
            .iter()
            .map(|item| self.remote_award(item))
            .collect()
    }

    /// The form fields of a new class.
    fn class_fields(&self, class: &BadgeClass, tag: &str) -> Vec<(&'static str, String)> {
        let is_url = crate::validation::is_web_url(&class.criteria);
        let mut fields = vec![
            ("name", class.display_name.clone()),
            ("description", class.description.clone()),
        ];
        match self.settings.version {
            ApiVersion::V2 => fields.push((
                if is_url {
                    "criteriaUrl"
                } else {
                    "criteriaNarrative"
                },
                class.criteria.clone(),
            )),
            ApiVersion::V1 => {
                fields.push(("criteria", class.criteria.clone()));
                fields.push(("slug", v1_slug(class)));
            }
        }
        fields.push(("tags", tag.to_string()));
        fields
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

impl BadgeBackend for Badgr {
    fn name(&self) -> &'static str {
        match self.settings.version {
            ApiVersion::V2 => super::backend::BADGR_V2,
            ApiVersion::V1 => super::backend::BADGR_V1,
        }
    }

    /// A request cut off at the timeout may still be carried out by Badgr afterwards; two
    /// more timeouts' grace before looking for its effect.
    fn settle_time(&self) -> Duration {
        3 * self.settings.timeout
    }

    fn create_badge_class(&self, class: &BadgeClass, tag: &str) -> Result<String, AwardError> {
        let image = super::local::class_image(&self.db, class)?;
        let url = self.classes_url();
        let fields = self.class_fields(class, tag);
        let answer = self.send("POST", &url, |http| {
            let part = reqwest::blocking::multipart::Part::bytes(image.clone())
                .file_name("badge.png")
                .mime_str("image/png")
                .expect("a valid MIME type");
            let form = fields
                .iter()
                .fold(
                    reqwest::blocking::multipart::Form::new(),
                    |form, (name, value)| form.text(*name, value.clone()),
                )
                .part("image", part);
            http.post(&url).multipart(form)
        })?;
        // v1: modern Badgr ignores the slug sent and answers with its own.
        let entity = match self.settings.version {
            ApiVersion::V2 => answer.json["result"][0]["entityId"].as_str(),
            ApiVersion::V1 => answer.json["slug"].as_str(),
        }
        .unwrap_or_default();
        if entity.is_empty() {
            // Never cache an empty identifier (upstream defect D4); a class without one is a
            // failed award, not a created class (D9). Badgr made something: a look-up by
            // the tag finds it next time.
            tracing::error!(%url, body = %answer.excerpt(), "Badgr created a badge class without an identifier");
            return Err(AwardError::Unanswered(format!(
                "Badgr's new badge class has no entityId: {}",
                answer.excerpt()
            )));
        }
        Ok(entity.to_string())
    }

    fn find_badge_class(&self, tag: &str) -> Result<Option<String>, AwardError> {
        Ok(self
            .list_classes()?
            .unwrap_or_default()
            .into_iter()
            .find(|class| class.tags.iter().any(|t| t == tag))
            .map(|class| class.backend_id))
    }

    fn award(
        &self,
        class: &BadgeClass,
        learner: &Learner,
        evidence_url: Option<&str>,
    ) -> Result<IssuedAssertion, AwardError> {
        let email = learner.email.to_lowercase();
        let url = self.assertions_url(class);
        let evidence = evidence_url.filter(|u| !u.is_empty());
        let made = match self.settings.version {
            ApiVersion::V2 => {
                let mut body = json!({
                    "recipient": { "identity": email, "type": "email", "hashed": true },
                    "notify": self.settings.notify,
                });
                if let Some(evidence) = evidence {
                    body["evidence"] = json!([{ "url": evidence }]);
                }
                self.send("POST", &url, |http| http.post(&url).json(&body))?
                    .json["result"][0]
                    .clone()
            }
            ApiVersion::V1 => {
                let mut form = vec![("email", email.clone())];
                if let Some(evidence) = evidence {
                    form.push(("evidence", evidence.to_string()));
                }
                // Old v1 servers notify on the field's mere presence: send it only to notify.
                if self.settings.notify {
                    form.push(("create_notification", "true".into()));
                }
                self.send("POST", &url, |http| http.post(&url).form(&form))?
                    .json
            }
        };
        // Badgr said yes but its answer cannot be read: the assertion may well exist, so
        // the next attempt looks for it rather than post again.
        self.issued_from(&made).map_err(|e| {
            AwardError::Unanswered(format!("Badgr accepted the award; its answer: {e}"))
        })
    }

    fn find_award(
        &self,
        class: &BadgeClass,
        email: &str,
    ) -> Result<Option<IssuedAssertion>, AwardError> {
        let email = email.to_lowercase();
        let found = self
            .awards(class, Some(&email))?
            .into_iter()
            .find(|award| !award.revoked);
        if found.is_some() {
            tracing::info!(class = %class.backend_id, "found the assertion of an unanswered attempt on Badgr");
        }
        Ok(found.map(|award| award.issued))
    }

    fn revoke(&self, class: &BadgeClass, public_id: &str, reason: &str) -> Result<(), AwardError> {
        let url = match self.settings.version {
            ApiVersion::V2 => self.url(&format!("/v2/assertions/{public_id}")),
            ApiVersion::V1 => format!("{}/{public_id}", self.assertions_url(class)),
        };
        let body = json!({ "revocation_reason": reason });
        match self.send("DELETE", &url, |http| http.delete(&url).json(&body)) {
            Ok(_) => Ok(()),
            // An earlier attempt whose answer was lost revoked it already.
            Err(AwardError::Permanent(why)) if why.contains("already revoked") => Ok(()),
            Err(other) => Err(other),
        }
    }

    fn list_awards(&self, class: &BadgeClass) -> Result<Option<Vec<RemoteAward>>, AwardError> {
        self.awards(class, None).map(Some)
    }

    fn list_classes(&self) -> Result<Option<Vec<RemoteClass>>, AwardError> {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let classes = self
            .list(&self.classes_url(), &[])?
            .iter()
            .map(|item| RemoteClass {
                backend_id: match self.settings.version {
                    ApiVersion::V2 => text(&item["entityId"]),
                    ApiVersion::V1 => text(&item["slug"]),
                },
                name: text(&item["name"]),
                tags: item["tags"]
                    .as_array()
                    .map(|tags| tags.iter().map(text).collect())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Some(classes))
    }

    fn health(&self) -> Result<String, String> {
        let (url, label) = match self.settings.version {
            ApiVersion::V2 => (
                self.url(&format!("/v2/issuers/{}", self.settings.issuer)),
                "v2",
            ),
            ApiVersion::V1 => (self.v1_issuer(), "v1"),
        };
        self.send("GET", &url, |http| http.get(&url))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Badgr API {label} at {}, issuer {}",
            self.settings.base_url, self.settings.issuer
        ))
    }
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
