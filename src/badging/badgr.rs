//! The Badgr API v2 backend: OAuth2 tokens (kept encrypted in the database, shared by every
//! instance, refreshed one at a time), badge classes created by multipart upload of the
//! frozen image, assertions awarded by JSON.
//!
//! Every call is bounded by `BADGR_TIMEOUT`. A 401 refreshes the token once and retries; a
//! 429 waits as Badgr asks; 5xx, timeouts and connection errors are retried by the job;
//! other 4xx fail the job with Badgr's message. Failures are logged with the method, URL,
//! status and Badgr's body, never with the Authorization header or a password.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::backend::{AwardError, BadgeBackend, IssuedAssertion};
use super::learners::Learner;
use crate::badges::classes::BadgeClass;
use crate::db::{Database, DbConnection, settings};

const TOKENS: &str = "badgr_tokens";
pub const TOKEN_LOCK: &str = "lock:badgr-tokens";
/// A token this close to expiry is refreshed before use.
const EXPIRY_MARGIN_SECONDS: i64 = 300;

#[derive(Clone)]
pub struct BadgrSettings {
    /// Without a trailing slash.
    pub base_url: String,
    /// The issuer's `entityId`.
    pub issuer: String,
    pub username: String,
    pub password: String,
    pub client_id: String,
    pub timeout: Duration,
    pub notify: bool,
}

/// Never prints the password.
impl std::fmt::Debug for BadgrSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadgrSettings")
            .field("base_url", &self.base_url)
            .field("issuer", &self.issuer)
            .field("username", &self.username)
            .field("password", &"(hidden)")
            .finish_non_exhaustive()
    }
}

pub struct BadgrV2 {
    settings: BadgrSettings,
    http: Client,
    db: Database,
    cipher: ChaCha20Poly1305,
}

#[derive(Serialize, Deserialize, Clone)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds.
    expires_at: i64,
}

impl BadgrV2 {
    pub fn new(settings: BadgrSettings, db: Database, secret_key: &str) -> Result<BadgrV2, String> {
        let http = Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let key = crate::auth::tokens::derive_key(secret_key, "badgr-tokens");
        Ok(BadgrV2 {
            settings,
            http,
            db,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key[..32])),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    fn seal(&self, tokens: &Tokens) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let plain = serde_json::to_vec(tokens).expect("tokens serialise");
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .expect("encrypting in memory cannot fail");
        STANDARD.encode([nonce.as_slice(), sealed.as_slice()].concat())
    }

    fn open(&self, stored: &str) -> Option<Tokens> {
        let bytes = STANDARD.decode(stored).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    fn cached(&self, conn: &mut DbConnection) -> Result<Option<Tokens>, AwardError> {
        Ok(settings::get(conn, TOKENS)?.and_then(|stored| self.open(&stored)))
    }

    /// A usable access token. `rejected` is a token Badgr just refused (401): a different
    /// cached one (another worker refreshed meanwhile) is used, or a new one obtained.
    fn access_token(&self, rejected: Option<&str>) -> Result<String, AwardError> {
        let mut conn = self
            .db
            .get()
            .map_err(|e| AwardError::Retryable(e.to_string()))?;
        let usable = |t: &Tokens| {
            t.expires_at > chrono::Utc::now().timestamp() + EXPIRY_MARGIN_SECONDS
                && Some(t.access_token.as_str()) != rejected
        };
        if let Some(tokens) = self.cached(&mut conn)?.filter(|t| usable(t)) {
            return Ok(tokens.access_token);
        }
        // One refresh at a time, across every instance: refresh tokens rotate.
        crate::db::write_transaction(&mut conn, |conn| {
            settings::lock(conn, TOKEN_LOCK)?;
            let cached = self.cached(conn)?;
            if let Some(tokens) = cached.as_ref().filter(|t| usable(t)) {
                return Ok(tokens.access_token.clone());
            }
            let refreshed = match cached.and_then(|t| t.refresh_token) {
                Some(refresh) => match self
                    .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                {
                    Ok(tokens) => Some(tokens),
                    Err(e) => {
                        tracing::warn!(error = %e, "Badgr refused the token refresh; using the password grant");
                        None
                    }
                },
                None => None,
            };
            let tokens = match refreshed {
                Some(tokens) => tokens,
                None => self.token_request(&[
                    ("grant_type", "password"),
                    ("username", &self.settings.username),
                    ("password", &self.settings.password),
                ])?,
            };
            settings::set(conn, TOKENS, &self.seal(&tokens))?;
            Ok(tokens.access_token)
        })
    }

    fn token_request(&self, grant: &[(&str, &str)]) -> Result<Tokens, AwardError> {
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        form.push(("client_id", &self.settings.client_id));
        form.push(("scope", "rw:issuer"));
        let url = self.url("/o/token");
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .map_err(|e| transport("POST", &url, e))?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let body: Value = response.json().unwrap_or(Value::Null);
        if status.is_success() {
            let access = body["access_token"].as_str().unwrap_or_default();
            if access.is_empty() {
                return Err(AwardError::Retryable(
                    "Badgr's token response has no access_token".into(),
                ));
            }
            let lifetime = body["expires_in"].as_i64().unwrap_or(86_400);
            return Ok(Tokens {
                access_token: access.to_string(),
                refresh_token: body["refresh_token"].as_str().map(str::to_string),
                expires_at: chrono::Utc::now().timestamp() + lifetime,
            });
        }
        // The token endpoint's error never echoes the password; log it as it is.
        tracing::warn!(method = "POST", %url, status = status.as_u16(), body = %body, "Badgr token request failed");
        let wait = retry_after.or_else(|| body["expires"].as_u64().map(Duration::from_secs));
        Err(classify(
            status,
            wait,
            format!("Badgr token endpoint answered {status}: {body}"),
        ))
    }

    /// Sends a request with the bearer token; on 401 refreshes once and sends it again.
    fn send(
        &self,
        method: &str,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Value, AwardError> {
        let mut token = self.access_token(None)?;
        for attempt in 0..2 {
            let response = build(&self.http)
                .bearer_auth(&token)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .map_err(|e| transport(method, url, e))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.access_token(Some(&token))?;
                continue;
            }
            let wait = retry_after(&response);
            let body: Value = response.json().unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(body);
            }
            tracing::warn!(%method, %url, status = status.as_u16(), body = %body, "Badgr request failed");
            return Err(classify(
                status,
                wait,
                format!("Badgr answered {status} to {method} {url}: {body}"),
            ));
        }
        Err(AwardError::Retryable(format!(
            "Badgr refused a fresh token for {method} {url}"
        )))
    }
}

fn transport(method: &str, url: &str, error: reqwest::Error) -> AwardError {
    tracing::warn!(%method, %url, error = %error, "Badgr could not be reached");
    AwardError::Retryable(format!(
        "Badgr could not be reached ({method} {url}): {error}"
    ))
}

fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// What a failed response means for the job.
fn classify(status: StatusCode, wait: Option<Duration>, reason: String) -> AwardError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => AwardError::RetryAfter {
            wait: wait.unwrap_or(Duration::from_secs(60)),
            reason,
        },
        s if s.is_server_error()
            || s == StatusCode::UNAUTHORIZED
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            AwardError::Retryable(reason)
        }
        _ => AwardError::Permanent(reason),
    }
}

/// The assertion fields Accolade keeps from Badgr's `result[0]`.
fn issued_from(result: &Value) -> Result<IssuedAssertion, AwardError> {
    let text = |key: &str| result[key].as_str().unwrap_or_default().to_string();
    let entity = text("entityId");
    if entity.is_empty() {
        return Err(AwardError::Permanent(format!(
            "Badgr's assertion has no entityId: {result}"
        )));
    }
    Ok(IssuedAssertion {
        public_id: entity,
        image_url: text("image"),
        assertion_url: text("openBadgeId"),
        recipient_salt: result["recipient"]["salt"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        recipient_identity: result["recipient"]["identity"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        baked_png: None,
        data: result.clone(),
    })
}

impl BadgeBackend for BadgrV2 {
    fn name(&self) -> &'static str {
        "badgr-v2"
    }

    fn create_badge_class(
        &self,
        conn: &mut DbConnection,
        class: &BadgeClass,
    ) -> Result<String, AwardError> {
        let image =
            crate::images::store::png(conn, &class.image_hash, false)?.ok_or_else(|| {
                AwardError::Permanent(format!("the image of badge class {} is missing", class.id))
            })?;
        let url = self.url(&format!(
            "/v2/issuers/{}/badgeclasses",
            self.settings.issuer
        ));
        let criteria_field =
            if class.criteria.starts_with("http://") || class.criteria.starts_with("https://") {
                "criteriaUrl"
            } else {
                "criteriaNarrative"
            };
        let body = self.send("POST", &url, |http| {
            let part = reqwest::blocking::multipart::Part::bytes(image.clone())
                .file_name("badge.png")
                .mime_str("image/png")
                .expect("a valid MIME type");
            let form = reqwest::blocking::multipart::Form::new()
                .text("name", class.display_name.clone())
                .text("description", class.description.clone())
                .text(criteria_field, class.criteria.clone())
                .part("image", part);
            http.post(&url).multipart(form)
        })?;
        let entity = body["result"][0]["entityId"].as_str().unwrap_or_default();
        if entity.is_empty() {
            // Never cache an empty identifier (upstream defect D4); a class without one is a
            // failed award, not a created class (D9).
            tracing::error!(%url, body = %body, "Badgr created a badge class without an entityId");
            return Err(AwardError::Permanent(format!(
                "Badgr's new badge class has no entityId: {body}"
            )));
        }
        Ok(entity.to_string())
    }

    fn award(
        &self,
        _conn: &mut DbConnection,
        class: &BadgeClass,
        learner: &Learner,
        evidence_url: Option<&str>,
        retry: bool,
    ) -> Result<IssuedAssertion, AwardError> {
        let url = self.url(&format!("/v2/badgeclasses/{}/assertions", class.backend_id));
        let email = learner.email.to_lowercase();
        if retry {
            // An earlier attempt may have reached Badgr before its answer was lost.
            let found = self.send("GET", &url, |http| {
                http.get(&url).query(&[("recipient", email.as_str())])
            })?;
            if let Some(existing) = found["result"]
                .as_array()
                .and_then(|r| r.iter().find(|a| a["revoked"] != json!(true)))
            {
                tracing::info!(%url, "found the assertion of an earlier attempt on Badgr");
                return issued_from(existing);
            }
        }
        let mut body = json!({
            "recipient": { "identity": email, "type": "email", "hashed": true },
            "notify": self.settings.notify,
        });
        if let Some(evidence) = evidence_url.filter(|u| !u.is_empty()) {
            body["evidence"] = json!([{ "url": evidence }]);
        }
        let response = self.send("POST", &url, |http| http.post(&url).json(&body))?;
        issued_from(&response["result"][0])
    }

    fn health(&self) -> Result<String, String> {
        let url = self.url(&format!("/v2/issuers/{}", self.settings.issuer));
        self.send("GET", &url, |http| http.get(&url))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "Badgr API v2 at {}, issuer {}",
            self.settings.base_url, self.settings.issuer
        ))
    }
}
