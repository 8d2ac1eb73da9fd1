//! Users, groups, permissions, password hashing, sessions, service tokens and login
//! throttling.

/// Replaces the links of one owner (a user's groups or permissions, a group's permissions)
/// with `ids`, which name existing rows.
macro_rules! replace_links {
    ($conn:expr, $table:ident, $owner_col:ident, $owner:expr, $target_col:ident, $ids:expr) => {{
        diesel::delete($table::table.filter($table::$owner_col.eq($owner))).execute($conn)?;
        // One row at a time: batch inserts are not portable across both backends.
        for &id in &$ids {
            diesel::insert_into($table::table)
                .values(($table::$owner_col.eq($owner), $table::$target_col.eq(id)))
                .execute($conn)?;
        }
    }};
}

pub mod account;
pub mod course_roles;
pub mod groups;
pub mod password;
pub mod permissions;
pub mod service_tokens;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod user_deletion;
pub mod users;

pub const LOGIN_PATH: &str = crate::urls::LOGIN;

/// The login page that returns to `next` afterwards.
pub fn login_url(next: &str) -> String {
    if next.is_empty() || next == crate::urls::ADMIN {
        return LOGIN_PATH.to_string();
    }
    let encoded = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
    format!("{LOGIN_PATH}?next={encoded}")
}

pub use crate::validation::MAX_CARRIED_URL;

/// `next` when it is a path on this site (and not overlong), otherwise the admin index (no
/// open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    let default = crate::urls::ADMIN.to_string();
    let Some(next) = next.map(str::trim) else {
        return default;
    };
    if crate::validation::is_local_path(next) {
        next.to_string()
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/admin/auth/user/?p=2")),
            "/admin/auth/user/?p=2"
        );
        for hostile in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/admin/\r\nSet-Cookie: x",
            &format!("/admin/?q={}", "a".repeat(MAX_CARRIED_URL)),
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/admin/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/admin/");
    }

    #[test]
    fn login_url_encodes_next() {
        assert_eq!(login_url("/admin/"), "/admin/login/");
        assert_eq!(
            login_url("/admin/auth/user/?q=a b"),
            "/admin/login/?next=%2Fadmin%2Fauth%2Fuser%2F%3Fq%3Da%20b"
        );
    }
}
