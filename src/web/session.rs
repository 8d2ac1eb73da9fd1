//! A typed view of the cookie session: the key of the server's session record (see
//! `auth::sessions`), the CSRF token, one-time messages. The cookie is encrypted; who is
//! logged in, and until when, is decided by the record the key names.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};

use crate::auth::tokens;

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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// The most one-time messages kept waiting for a page.
pub const MAX_MESSAGES: usize = 10;
/// The most the waiting messages may take in the cookie, as stored (JSON within JSON):
/// with the session key and the CSRF token, encrypted and base64-encoded, the cookie stays
/// well under the 4,096 bytes browsers keep.
pub const MAX_MESSAGE_BYTES: usize = 2000;

/// Adds `message` to those waiting: an identical one already waiting is moved to the end
/// rather than repeated, and the oldest go first when there are more than
/// [`MAX_MESSAGES`] or they take more than [`MAX_MESSAGE_BYTES`]; a single message that
/// alone is too large keeps its beginning.
pub fn queue_message(messages: &mut Vec<Message>, message: Message) {
    messages.retain(|m| *m != message);
    messages.push(message);
    if messages.len() > MAX_MESSAGES {
        messages.drain(..messages.len() - MAX_MESSAGES);
    }
    while stored_bytes(messages) > MAX_MESSAGE_BYTES {
        if messages.len() > 1 {
            messages.remove(0);
            continue;
        }
        let text = &mut messages[0].text;
        let keep = text.chars().count() / 2;
        *text = text.chars().take(keep).chain(['…']).collect();
    }
}

/// What the messages take in the session state: a JSON list, kept as a JSON string.
fn stored_bytes(messages: &[Message]) -> usize {
    let list = serde_json::to_string(messages).unwrap_or_default();
    serde_json::to_string(&list).map_or(0, |stored| stored.len())
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

    /// Queues a one-time message for the next page. Messages travel in the cookie, so a
    /// repeated one is kept once and only the last few are kept, within a byte budget (see
    /// [`queue_message`]): however many requests add one before a page is shown, the cookie
    /// stays within what browsers keep.
    pub fn add_message(&self, level: Level, text: impl Into<String>) {
        let mut messages = self.peek_messages();
        queue_message(
            &mut messages,
            Message {
                level,
                text: text.into(),
            },
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        Message {
            level: Level::Warning,
            text: text.into(),
        }
    }

    #[test]
    fn a_repeated_message_is_kept_once() {
        let mut waiting = Vec::new();
        for _ in 0..62 {
            queue_message(&mut waiting, message("Unknown filters were ignored."));
        }
        assert_eq!(waiting.len(), 1);
        queue_message(&mut waiting, message("Saved."));
        queue_message(&mut waiting, message("Unknown filters were ignored."));
        let texts: Vec<&str> = waiting.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["Saved.", "Unknown filters were ignored."]);
    }

    #[test]
    fn waiting_messages_are_bounded_in_number_and_size() {
        let mut waiting = Vec::new();
        for n in 0..100 {
            queue_message(&mut waiting, message(&format!("Message {n}")));
        }
        assert_eq!(waiting.len(), MAX_MESSAGES);
        assert_eq!(
            waiting.last().unwrap().text,
            "Message 99",
            "the newest are kept"
        );
        // Quotes and control characters grow the most when stored.
        for n in 0..5 {
            let long = format!("{n}{}", "\"\u{1}é".repeat(400));
            queue_message(&mut waiting, message(&long));
            assert!(stored_bytes(&waiting) <= MAX_MESSAGE_BYTES);
        }
        let last = &waiting.last().unwrap().text;
        assert!(last.starts_with('4') && last.ends_with('…'), "{last}");
    }
}
