//! The Badgr backend, API v2 (the default) or v1. v2: OAuth2 tokens (kept encrypted in the
//! database, shared by every instance, refreshed one at a time), badge classes created by
//! multipart upload of the frozen image, assertions awarded by JSON. v1: the legacy
//! `Authorization: Token` key and upstream's URLs and form fields.
//!
//! One client serves both: it sends, pages, reads failures and checks links the same way,
//! and asks its dialect (`v1.rs`, `v2.rs`, behind `dialect::Dialect`) for what the versions
//! disagree on — the authorisation header, the paths, and where things are in requests and
//! answers. The dialect is picked once, from `BadgrSettings::version`.
//!
//! Every call is bounded by `BADGR_TIMEOUT`. A 401 refreshes the token once and retries; a
//! 429 waits as Badgr asks; 5xx, timeouts and connection errors are retried by the job;
//! other 4xx fail the job with Badgr's message. Failures are logged with the method, URL,
//! status and Badgr's body, never with the Authorization header or a password.

mod dialect;
mod http;
mod tokens;
mod v1;
mod v2;

use std::time::Duration;

use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit};
use reqwest::StatusCode;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use super::assertions::IssuedAssertion;
use super::backend::{AwardError, Awarded, BadgeBackend, RemoteAward, RemoteClass};
use crate::badges::classes::BadgeClass;
use crate::db::Database;
use crate::learners::Learner;
use dialect::Dialect;
use http::{Answer, transport_failure};
pub use tokens::TOKEN_LEASE;
pub use v1::v1_slug;

/// The most pages of a list read (500 items a page).
const MAX_PAGES: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

impl ApiVersion {
    /// The dialect of this version: the one place the version is looked at.
    fn dialect(self) -> &'static dyn Dialect {
        match self {
            ApiVersion::V2 => &v2::V2,
            ApiVersion::V1 => &v1::V1,
        }
    }
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
    /// What this API version says its own way.
    dialect: &'static dyn Dialect,
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
            dialect: settings.version.dialect(),
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
                .dialect
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
            let list = self.dialect.items(&page.json).as_array().cloned();
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
}

/// Where things are: the dialect's paths on the configured Badgr and issuer.
impl Badgr {
    fn issuer_url(&self) -> String {
        self.url(&self.dialect.issuer_path(&self.settings.issuer))
    }

    fn classes_url(&self) -> String {
        self.url(&self.dialect.classes_path(&self.settings.issuer))
    }

    fn assertions_url(&self, class: &BadgeClass) -> String {
        let path = self
            .dialect
            .assertions_path(&self.settings.issuer, &class.backend_id);
        self.url(&path)
    }

    fn assertion_url(&self, class: &BadgeClass, public_id: &str) -> String {
        let issuer = &self.settings.issuer;
        let path = self
            .dialect
            .assertion_path(issuer, &class.backend_id, public_id);
        self.url(&path)
    }
}

/// Badgr's answers, read through the dialect.
impl Badgr {
    /// The assertion fields Accolade keeps from an assertion Badgr made or listed.
    fn issued_from(&self, assertion: &Value) -> Result<IssuedAssertion, AwardError> {
        let entity = text(self.dialect.entity_id(assertion));
        if !is_usable_id(&entity) {
            return Err(AwardError::Permanent(format!(
                "Badgr's assertion has no usable identifier: {}",
                http::excerpt(&assertion.to_string(), 200)
            )));
        }
        // Links from Badgr's answer are kept only when they are web URLs on Badgr's own
        // host; otherwise the public URLs badgr-server serves are used.
        let public = crate::urls::assertion_path(&entity);
        let assertion_url = self.own_link(text(self.dialect.assertion_url(assertion)), &public);
        let image_url = self.own_link(text(&assertion["image"]), &format!("{public}/image"));
        let recipient = self.dialect.recipient(assertion);
        Ok(IssuedAssertion {
            public_id: entity,
            image_url,
            assertion_url,
            recipient_salt: text(&recipient["salt"]),
            recipient_identity: text(&recipient["identity"]),
            baked_png: None,
            data: assertion.clone(),
        })
    }

    /// An assertion of a list as reconciliation sees it.
    fn remote_award(&self, item: &Value) -> Result<RemoteAward, AwardError> {
        let email = self.dialect.recipient_email(item).as_str();
        Ok(RemoteAward {
            issued: self.issued_from(item)?,
            email: email.map(str::to_lowercase),
            revoked: item["revoked"] == json!(true),
        })
    }

    /// A class of a list.
    fn remote_class(&self, item: &Value) -> RemoteClass {
        RemoteClass {
            backend_id: text(self.dialect.entity_id(item)),
            name: text(&item["name"]),
            tags: item["tags"]
                .as_array()
                .map(|tags| tags.iter().map(text).collect())
                .unwrap_or_default(),
        }
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
        let mut fields = vec![
            ("name", class.display_name.clone()),
            ("description", class.description.clone()),
        ];
        fields.extend(self.dialect.criteria_fields(class));
        fields.push(("tags", tag.to_string()));
        fields
    }
}

/// A string field, empty when absent.
fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// An identifier safe to put in a URL path: Badgr's are letters, digits, `-` and `_`.
fn is_usable_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The multipart form of a new class: its fields, then its image.
fn class_form(fields: &[(&'static str, String)], image: &[u8]) -> Form {
    let part = Part::bytes(image.to_vec())
        .file_name("badge.png")
        .mime_str("image/png")
        .expect("a valid MIME type");
    fields
        .iter()
        .fold(Form::new(), |form, (name, value)| {
            form.text(*name, value.clone())
        })
        .part("image", part)
}

impl BadgeBackend for Badgr {
    fn name(&self) -> &'static str {
        self.dialect.name()
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
            http.post(&url).multipart(class_form(&fields, &image))
        })?;
        let entity = text(self.dialect.entity_id(self.dialect.created(&answer.json)));
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
        Ok(entity)
    }

    fn find_badge_class(&self, tag: &str) -> Result<Option<String>, AwardError> {
        Ok(self
            .list_classes()?
            .unwrap_or_default()
            .into_iter()
            .find(|class| class.tags.iter().any(|t| t == tag))
            .map(|class| class.backend_id))
    }

    fn award(&self, class: &BadgeClass, learner: &Learner, evidence_url: Option<&str>) -> Awarded {
        let email = learner.email.to_lowercase();
        let url = self.assertions_url(class);
        let award = dialect::Award {
            email: &email,
            evidence: evidence_url.filter(|u| !u.is_empty()),
            notify: self.settings.notify,
        };
        let answer = self.send("POST", &url, |http| {
            self.dialect.award_request(http.post(&url), &award)
        })?;
        // Badgr said yes but its answer cannot be read: the assertion may well exist, so
        // the next attempt looks for it rather than post again.
        self.issued_from(self.dialect.created(&answer.json))
            .map_err(|e| {
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
        let url = self.assertion_url(class, public_id);
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
        let items = self.list(&self.classes_url(), &[])?;
        Ok(Some(
            items.iter().map(|item| self.remote_class(item)).collect(),
        ))
    }

    fn health(&self) -> Result<String, String> {
        let url = self.issuer_url();
        self.send("GET", &url, |http| http.get(&url))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Badgr API {} at {}, issuer {}",
            self.dialect.label(),
            self.settings.base_url,
            self.settings.issuer
        ))
    }
}
