//! Random tokens and keys derived from the secret key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Sha256, Sha512};

/// 32 random bytes from the OS, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The development secret key: generated once, then shared through the database.
pub fn development_secret_key(conn: &mut crate::db::DbConnection) -> diesel::QueryResult<String> {
    crate::db::settings::get_or_insert(conn, crate::db::settings::SECRET_KEY, random_token)
}

/// A 64-byte key for one purpose, derived from the secret key (HMAC-SHA512 keyed by the
/// secret over the purpose), so that no two uses ever share key material.
pub fn derive_key(secret: &str, purpose: &str) -> [u8; 64] {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(b"accolade.");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A short keyed digest of `message`, URL-safe base64.
pub fn keyed_digest(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Constant-time equality of two strings.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_secret() {
        let a = derive_key("secret-one", "session");
        assert_eq!(a, derive_key("secret-one", "session"));
        assert_ne!(a, derive_key("secret-one", "csrf"));
        assert_ne!(a, derive_key("secret-two", "session"));
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
