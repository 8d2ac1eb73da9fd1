//! A typed view of the cookie session: who is logged in, the CSRF token, one-time messages.
//!
//! The session lives in an encrypted cookie, so no instance keeps session state. A session
//! also carries a digest of the user's password hash: when the password changes, every other
//! session's digest stops matching and that session ends.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use super::tokens;

const USER_ID: &str = "uid";
const AUTH_HASH: &str = "auth";
const CSRF: &str = "csrf";
const MESSAGES: &str = "msgs";

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Success,
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn css_class(self) -> &'static str {
        match self {
            Level::Success => "success",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// A one-time message shown on the next page rendered.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

pub struct TypedSession(Session);

impl TypedSession {
    pub fn from_session(session: Session) -> TypedSession {
        TypedSession(session)
    }

    pub fn user_id(&self) -> Option<i64> {
        self.0.get(USER_ID).ok().flatten()
    }

    pub fn auth_hash(&self) -> Option<String> {
        self.0.get(AUTH_HASH).ok().flatten()
    }

    /// Starts a logged-in session under a new key with a new CSRF token (no fixation).
    pub fn log_in(&self, user_id: i64, auth_hash: &str) {
        self.0.renew();
        self.insert(USER_ID, user_id);
        self.set_auth_hash(auth_hash);
        self.insert(CSRF, tokens::random_token());
    }

    /// After a password change, keeps this session while others end.
    pub fn set_auth_hash(&self, auth_hash: &str) {
        self.insert(AUTH_HASH, auth_hash);
    }

    pub fn log_out(&self) {
        self.0.purge();
    }

    /// The session's CSRF token, made on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(token) = self.stored_csrf_token() {
            return token;
        }
        let token = tokens::random_token();
        self.insert(CSRF, &token);
        token
    }

    pub fn stored_csrf_token(&self) -> Option<String> {
        self.0.get(CSRF).ok().flatten()
    }

    pub fn add_message(&self, level: Level, text: impl Into<String>) {
        let mut messages = self.peek_messages();
        messages.push(Message {
            level,
            text: text.into(),
        });
        self.insert(MESSAGES, messages);
    }

    /// The pending messages, removed from the session (they are shown once).
    pub fn take_messages(&self) -> Vec<Message> {
        let messages = self.peek_messages();
        if !messages.is_empty() {
            self.0.remove(MESSAGES);
        }
        messages
    }

    fn peek_messages(&self) -> Vec<Message> {
        self.0.get(MESSAGES).ok().flatten().unwrap_or_default()
    }

    fn insert(&self, key: &str, value: impl Serialize) {
        // Serialising plain strings, numbers and message lists cannot fail.
        let _ = self.0.insert(key, value);
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<TypedSession, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

/// The digest of a password hash that a session carries (see the module docs).
pub fn auth_hash(key: &[u8], password_hash: &str) -> String {
    tokens::keyed_digest(key, password_hash.as_bytes())
}
