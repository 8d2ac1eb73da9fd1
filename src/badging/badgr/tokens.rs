//! Badgr's OAuth2 tokens: kept encrypted in the database, shared by every instance, and
//! refreshed by one worker at a time. Refresh tokens rotate, so two refreshes at once
//! would leave one instance with a dead token; the refresher holds a lease — a row whose
//! value is the lease's end — taken and given back in short statements, never a lock held
//! across the HTTP call, so a hanging token endpoint holds up no one else's writes.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::Nonce;
use chacha20poly1305::aead::Aead;
use diesel::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::http::{Answer, transport_failure};
use super::{Badgr, Credentials};
use crate::badging::backend::AwardError;
use crate::db::{DbConnection, settings};

const TOKENS: &str = "badgr_tokens";
/// The refresh lease's row (see `settings::take_lease`).
pub const TOKEN_LEASE: &str = "lock:badgr-tokens";
/// A token this close to expiry is refreshed before use.
const EXPIRY_MARGIN_SECONDS: i64 = 300;
/// How often a worker waiting for another's refresh looks again.
const POLL: Duration = Duration::from_millis(100);

#[derive(Serialize, Deserialize, Clone)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds.
    expires_at: i64,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Badgr {
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

    /// Database work on a connection taken for it alone and given back at once.
    fn with_db<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> Result<T, AwardError> {
        let mut conn = self
            .db
            .get()
            .map_err(|e| AwardError::Retryable(e.to_string()))?;
        Ok(work(&mut conn)?)
    }

    fn cached(&self) -> Result<Option<Tokens>, AwardError> {
        Ok(self
            .with_db(|conn| settings::get(conn, TOKENS))?
            .and_then(|stored| self.open(&stored)))
    }

    /// Takes the refresh lease if no one holds a live one.
    fn take_lease(&self) -> Result<bool, AwardError> {
        let until = unix_now() + 2 * self.settings.timeout.as_secs() as i64 + 5;
        self.with_db(|conn| settings::take_lease(conn, TOKEN_LEASE, until))
    }

    fn give_back_lease(&self) {
        let given = self.with_db(|conn| settings::give_back_lease(conn, TOKEN_LEASE));
        if let Err(e) = given {
            // It runs out by itself.
            tracing::warn!(error = %e, "could not give back the Badgr token lease");
        }
    }

    /// A usable OAuth access token: the shared one, or a new one fetched under the lease.
    /// `rejected` is one Badgr just refused (401).
    pub(super) fn access_token(&self, rejected: Option<&str>) -> Result<String, AwardError> {
        let usable = |t: &Tokens| {
            t.expires_at > unix_now() + EXPIRY_MARGIN_SECONDS
                && Some(t.access_token.as_str()) != rejected
        };
        let deadline = Instant::now() + 2 * self.settings.timeout + Duration::from_secs(1);
        loop {
            let cached = self.cached()?;
            if let Some(tokens) = cached.as_ref().filter(|t| usable(t)) {
                return Ok(tokens.access_token.clone());
            }
            if self.take_lease()? {
                let fetched = self.fetch_tokens(cached.and_then(|t| t.refresh_token));
                let stored = fetched.and_then(|tokens| {
                    self.with_db(|conn| settings::set(conn, TOKENS, &self.seal(&tokens)))?;
                    Ok(tokens.access_token)
                });
                self.give_back_lease();
                return stored;
            }
            if Instant::now() > deadline {
                return Err(AwardError::Retryable(
                    "another worker is fetching a Badgr token and has not finished".into(),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// New tokens: by the refresh token when there is one Badgr still takes, else by the
    /// password grant.
    fn fetch_tokens(&self, refresh: Option<String>) -> Result<Tokens, AwardError> {
        let Credentials::OAuth {
            username, password, ..
        } = &self.settings.credentials
        else {
            return Err(AwardError::Permanent(
                "no OAuth credentials configured".into(),
            ));
        };
        if let Some(refresh) = refresh {
            match self
                .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            {
                Ok(tokens) => return Ok(tokens),
                Err(e) => {
                    tracing::warn!(error = %e, "Badgr refused the token refresh; using the password grant")
                }
            }
        }
        self.token_request(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
    }

    fn token_request(&self, grant: &[(&str, &str)]) -> Result<Tokens, AwardError> {
        let client_id = match &self.settings.credentials {
            Credentials::OAuth { client_id, .. } => client_id.as_str(),
            Credentials::Token(_) => "public",
        };
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        form.push(("client_id", client_id));
        form.push(("scope", "rw:issuer"));
        let url = self.url("/o/token");
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .map_err(|e| transport_failure("POST", &url, &e))?;
        let answer = Answer::read(response);
        if answer.status.is_success() {
            let access = answer.json["access_token"].as_str().unwrap_or_default();
            if access.is_empty() {
                return Err(AwardError::Retryable(
                    "Badgr's token response has no access_token".into(),
                ));
            }
            let lifetime = answer.json["expires_in"].as_i64().unwrap_or(86_400);
            return Ok(Tokens {
                access_token: access.to_string(),
                refresh_token: answer.json["refresh_token"].as_str().map(str::to_string),
                expires_at: unix_now() + lifetime,
            });
        }
        // The token endpoint's error never echoes the password; log it as it is.
        tracing::warn!(method = "POST", %url, status = answer.status.as_u16(), body = %answer.excerpt(), "Badgr token request failed");
        match answer.failure("POST", &url) {
            // A token request makes nothing that a repeat would double.
            AwardError::Unanswered(reason) => Err(AwardError::Retryable(reason)),
            AwardError::RetryAfter { wait, reason } => Err(AwardError::RetryAfter {
                wait: answer
                    .retry_after
                    .or_else(|| answer.json["expires"].as_u64().map(Duration::from_secs))
                    .unwrap_or(wait),
                reason,
            }),
            other => Err(other),
        }
    }
}
