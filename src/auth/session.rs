//! A typed view of the cookie session: the key of the server's session record (see
//! `auth::sessions`), the CSRF token, one-time messages. The cookie is encrypted; who is
//! logged in, and until when, is decided by the record the key names.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use super::tokens;

const SESSION_KEY: &str = "sid";
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

    /// The key of the server's session record, when logged in.
    pub fn key(&self) -> Option<String> {
        self.0.get(SESSION_KEY).ok().flatten()
    }

    /// Starts a logged-in session under a new cookie with a new CSRF token (no fixation).
    pub fn log_in(&self, key: &str) {
        self.0.renew();
        self.insert(SESSION_KEY, key);
        self.insert(CSRF, tokens::random_token());
    }

    /// Forgets everything the cookie held (the server's record is ended by the caller).
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
