//! Password hashing (argon2id) and the rules a new password must meet.
//!
//! Hashing is deliberately slow: callers run it off the async executor.

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use argon2::password_hash::PasswordVerifier;

pub const MIN_LENGTH: usize = 12;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters and an OS salt cannot fail")
        .to_string()
}

/// Checks a password against a stored hash. An unusable or malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// Spends the time of one verification, so that an unknown username takes as long to
/// refuse as a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("accolade dummy password for timing"));
    let _ = verify(password, dummy);
}

/// A hash that no password matches (for accounts that must not log in with one).
pub const UNUSABLE: &str = "!";

/// What is shown of a stored hash: its algorithm, never the hash.
pub fn summary(stored: &str) -> &'static str {
    if stored.starts_with("$argon2id$") {
        "algorithm: argon2id (hash not shown)"
    } else {
        "No password set."
    }
}

/// The rules of [`validate`] in a sentence, for forms that ask for a new password.
pub fn requirements() -> String {
    format!(
        "At least {MIN_LENGTH} characters; not too similar to the username or email address, not a common password, not entirely numeric."
    )
}

/// The reasons a new password is refused, worded as Django's validators word them.
pub fn validate(password: &str, username: &str, email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < MIN_LENGTH {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_LENGTH} characters."
        ));
    }
    if too_similar(password, username) || too_similar(password, email) {
        problems.push("The password is too similar to the username or email address.".into());
    }
    let lowered = password.trim().to_lowercase();
    if COMMON_PASSWORDS.lines().any(|common| common == lowered) {
        problems.push("This password is too common.".into());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".into());
    }
    problems
}

/// True when the password is close to the attribute or to one of its word-parts
/// (e.g. the local part of an e-mail address), as Django's similarity validator judges.
fn too_similar(password: &str, attribute: &str) -> bool {
    let password = password.to_lowercase();
    let attribute = attribute.to_lowercase();
    if attribute.is_empty() {
        return false;
    }
    let parts =
        std::iter::once(attribute.as_str()).chain(attribute.split(|c: char| !c.is_alphanumeric()));
    parts
        .filter(|part| part.chars().count() >= 3)
        .any(|part| password.contains(part) || similarity(&password, part) >= 0.7)
}

/// 2·LCS / (|a| + |b|): 1.0 for equal strings, 0.0 for strings with nothing in common.
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut previous = vec![0usize; b.len() + 1];
    for x in &a {
        let mut current = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        previous = current;
    }
    2.0 * previous[b.len()] as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("anything", UNUSABLE));
    }

    #[test]
    fn weak_passwords_are_refused_with_reasons() {
        assert!(validate("short", "alice", "")[0].contains("too short"));
        assert!(
            validate("alice-the-admin-2026", "alice", "")
                .iter()
                .any(|p| p.contains("too similar"))
        );
        assert!(
            validate("x7kq9-ignored", "bob", "kq9ignoredx7@example.org")
                .iter()
                .any(|p| p.contains("too similar"))
        );
        assert!(
            validate("1qaz2wsx3edc", "bob", "")
                .iter()
                .any(|p| p.contains("too common"))
        );
        assert!(
            validate("123456789012345", "bob", "")
                .iter()
                .any(|p| p.contains("numeric"))
        );
        assert!(validate("plum-orbit-canvas-41", "bob", "bob@example.org").is_empty());
    }
}
