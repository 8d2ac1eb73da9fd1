//! Settings from the environment and an optional `accolade.toml`, validated once at start.
//!
//! Every setting has a name, a default and a description (the README's table is written from
//! [`SETTINGS`]). The environment wins over the file. A malformed value, or an unknown
//! `ACCOLADE_*` variable or file key, is refused with a message that names it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// One documented setting.
pub struct Setting {
    pub name: &'static str,
    pub default: &'static str,
    pub description: &'static str,
}

/// Every setting Accolade reads, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "DATABASE_URL",
        default: "sqlite://accolade.db",
        description: "`sqlite://PATH` (created on first start) or `postgres://USER:PASSWORD@HOST/DB`.",
    },
    Setting {
        name: "ACCOLADE_BIND",
        default: "127.0.0.1:8000",
        description: "Address and port to listen on.",
    },
    Setting {
        name: "ACCOLADE_ENV",
        default: "development",
        description: "`development` or `production`; production requires `ACCOLADE_SECRET_KEY`.",
    },
    Setting {
        name: "ACCOLADE_SECRET_KEY",
        default: "(generated)",
        description: "At least 32 characters (in production, at least 10 different ones); session, CSRF and token keys derive from it. In development a random key is generated once and kept in the database.",
    },
    Setting {
        name: "ACCOLADE_SITE_URL",
        default: "http://ACCOLADE_BIND",
        description: "Public base URL, used for absolute links and the same-origin check.",
    },
    Setting {
        name: "ACCOLADE_SECURE_COOKIES",
        default: "false (true in production)",
        description: "Mark the session cookie `Secure` (HTTPS only).",
    },
    Setting {
        name: "ACCOLADE_LOG_FORMAT",
        default: "text",
        description: "`text` or `json` (one JSON object a line).",
    },
    Setting {
        name: "ACCOLADE_LOG",
        default: "info",
        description: "Log filter, e.g. `info` or `accolade=debug,actix_web=info`.",
    },
    Setting {
        name: "ACCOLADE_TRUSTED_PROXIES",
        default: "0",
        description: "How many proxies in front of Accolade append to the forwarding header: the client address is the N-th hop from the right (0: the peer address; see “Behind a proxy”).",
    },
    Setting {
        name: "ACCOLADE_PROXY_HEADER",
        default: "X-Forwarded-For",
        description: "The header those proxies write: `X-Forwarded-For`, or `Forwarded` (RFC 7239). The other is ignored.",
    },
    Setting {
        name: "ACCOLADE_SESSION_MAX_AGE",
        default: "1209600",
        description: "Seconds a login lasts however it is used (14 days, as Django's); the server ends the session then.",
    },
    Setting {
        name: "ACCOLADE_SESSION_IDLE_TIMEOUT",
        default: "7200",
        description: "Seconds a session lasts without a request (2 hours; kept to within a minute).",
    },
    Setting {
        name: "ACCOLADE_LOGIN_MAX_FAILURES",
        default: "5",
        description: "Failed logins allowed for one username within the window before it is throttled.",
    },
    Setting {
        name: "ACCOLADE_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default: "50",
        description: "Failed logins allowed from one client address within the window.",
    },
    Setting {
        name: "ACCOLADE_LOGIN_THROTTLE_SECONDS",
        default: "900",
        description: "Length of the login throttling window, in seconds.",
    },
    Setting {
        name: "ACCOLADE_HTTP_WORKERS",
        default: "number of CPU cores",
        description: "HTTP worker threads.",
    },
    Setting {
        name: "ACCOLADE_WORKERS",
        default: "4",
        description: "Award worker threads inside `accolade serve` (0: none; run `accolade worker` instead).",
    },
    Setting {
        name: "ACCOLADE_AWARD_MAX_ATTEMPTS",
        default: "8",
        description: "Attempts at an award before its job is marked failed (retries back off exponentially, with jitter).",
    },
    Setting {
        name: "ACCOLADE_RECONCILE_INTERVAL_SECONDS",
        default: "3600",
        description: "How often the award workers reconcile with Badgr (adopt what Accolade lacks, revoke duplicates, report the rest); 0 turns it off. One instance runs it at a time.",
    },
    Setting {
        name: "ACCOLADE_AWARD_LEASE_SECONDS",
        default: "30",
        description: "How long a claimed job stays its worker's without a renewal; workers renew it every third of this while the job runs, so a killed worker's jobs are taken up again within it.",
    },
    Setting {
        name: "ACCOLADE_ISSUER_NAME",
        default: "Accolade",
        description: "The local issuer's name in its Open Badges profile.",
    },
    Setting {
        name: "ACCOLADE_ISSUER_URL",
        default: "ACCOLADE_SITE_URL",
        description: "The local issuer's home page in its Open Badges profile.",
    },
    Setting {
        name: "ACCOLADE_ISSUER_EMAIL",
        default: "badges@example.org",
        description: "The local issuer's contact address in its Open Badges profile (set it: verifiers show it).",
    },
    Setting {
        name: "ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES",
        default: "false",
        description: "Allow freezing the badge images shipped with Accolade into badge classes (for trials only).",
    },
    Setting {
        name: "ENABLE_OPENBADGES",
        default: "true",
        description: "The site-wide badging switch (Open edX's `FEATURES['ENABLE_OPENBADGES']`). When false no badge is issued, the courses' “Issue Open Badges” setting is hidden and the admin says badging is off.",
    },
    Setting {
        name: "ACCOLADE_LMS_URL",
        default: "http://localhost:18000",
        description: "The Open edX LMS's public URL: course about pages (badge criteria) are `{ACCOLADE_LMS_URL}/courses/{course_id}/about` unless a course sets its own.",
    },
    Setting {
        name: "BADGR_BASE_URL",
        default: "(none: the local issuer)",
        description: "Issue through this Badgr server (no trailing slash) instead of as Accolade's own issuer.",
    },
    Setting {
        name: "BADGR_API_VERSION",
        default: "v2",
        description: "`v2` (OAuth2 with BADGR_USERNAME and BADGR_PASSWORD) or `v1` (legacy BADGR_API_TOKEN).",
    },
    Setting {
        name: "BADGR_API_TOKEN",
        default: "(required with v1)",
        description: "The legacy API key for Badgr API v1 (`Authorization: Token …`). Never logged.",
    },
    Setting {
        name: "BADGR_ISSUER_SLUG",
        default: "(required with Badgr)",
        description: "The `entityId` of the Badgr issuer that awards the badges.",
    },
    Setting {
        name: "BADGR_USERNAME",
        default: "(required with v2)",
        description: "The Badgr account (e-mail) that owns the issuer, for the OAuth2 password grant.",
    },
    Setting {
        name: "BADGR_PASSWORD",
        default: "(required with v2)",
        description: "Its password. Never logged.",
    },
    Setting {
        name: "BADGR_CLIENT_ID",
        default: "public",
        description: "The OAuth2 client id for the token endpoint.",
    },
    Setting {
        name: "BADGR_TIMEOUT",
        default: "10",
        description: "Seconds to wait for Badgr on every call.",
    },
    Setting {
        name: "BADGR_ENABLE_NOTIFICATIONS",
        default: "false",
        description: "Ask Badgr to e-mail learners their new badges.",
    },
    Setting {
        name: "ACCOLADE_MAX_UPLOAD_BYTES",
        default: "2097152",
        description: "Largest image upload read, in bytes (2 MiB); a larger file is refused while it streams in.",
    },
    Setting {
        name: "ACCOLADE_BADGE_IMAGE_SIZE",
        default: "400",
        description: "Side in pixels of issued badge images (64–4096); larger uploads are scaled down to it.",
    },
    Setting {
        name: "ACCOLADE_DB_POOL_SIZE",
        default: "8",
        description: "Database connections per instance.",
    },
];

/// Variables that are read elsewhere (CLI, tests) and so are not unknown.
const OTHER_KNOWN_VARIABLES: &[&str] = &[
    "ACCOLADE_CONFIG",
    "ACCOLADE_SUPERUSER_PASSWORD",
    "ACCOLADE_TEST_DATABASE_URL",
];

/// Settings that were replaced, with what to set instead.
const RETIRED: &[(&str, &str)] = &[(
    "ACCOLADE_TRUST_X_FORWARDED_FOR",
    "it let clients choose their address; set ACCOLADE_TRUSTED_PROXIES to the number of proxies in front of Accolade instead (see the README's “Behind a proxy”)",
)];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

fn invalid(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        message: message.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which header the trusted proxies write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl ProxyHeader {
    pub fn parse(name: &str) -> Option<ProxyHeader> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ProxyHeader::XForwardedFor),
            "forwarded" => Some(ProxyHeader::Forwarded),
            _ => None,
        }
    }
}

/// How many proxies stand in front of Accolade, and which header they write
/// (`web::client` finds the client's address with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxies {
    pub count: usize,
    pub header: ProxyHeader,
}

impl Default for TrustedProxies {
    fn default() -> TrustedProxies {
        TrustedProxies {
            count: 0,
            header: ProxyHeader::XForwardedFor,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub bind: String,
    pub environment: Environment,
    /// `None` in development until the database supplies the persisted key.
    pub secret_key: Option<String>,
    pub site_url: String,
    pub secure_cookies: bool,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Who may tell Accolade the client's address.
    pub proxies: TrustedProxies,
    pub throttle: crate::auth::throttle::Limits,
    pub sessions: crate::auth::sessions::SessionPolicy,
    pub db_pool_size: u32,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: u32,
    /// Award worker threads inside `serve`.
    pub award_workers: u32,
    pub award_max_attempts: u32,
    pub award_lease: Duration,
    pub reconcile_every: Duration,
    pub allow_shipped_images: bool,
    /// The local issuer's Open Badges profile.
    pub issuer: crate::badging::openbadges::IssuerProfile,
    /// Set when awards go through Badgr.
    pub badgr: Option<crate::badging::badgr::BadgrSettings>,
    /// The bounds of the badge image pipeline.
    pub images: crate::images::Limits,
    /// `ENABLE_OPENBADGES`.
    pub badges_enabled: bool,
    pub lms_url: String,
}

impl Config {
    /// Reads `accolade.toml` (or the file named by `ACCOLADE_CONFIG`) and the environment.
    pub fn load() -> Result<Config, ConfigError> {
        let explicit = std::env::var("ACCOLADE_CONFIG").ok();
        let path = explicit.clone().unwrap_or_else(|| "accolade.toml".into());
        let mut values = if explicit.is_some() || Path::new(&path).exists() {
            read_file(&path)?
        } else {
            BTreeMap::new()
        };
        for (name, value) in std::env::vars() {
            if is_known(&name) {
                values.insert(name, value);
            } else if let Some((_, instead)) = RETIRED.iter().find(|(old, _)| *old == name) {
                return Err(invalid(&name, format!("no longer read: {instead}")));
            } else if name.starts_with("ACCOLADE_") && !OTHER_KNOWN_VARIABLES.contains(&&*name) {
                return Err(invalid(
                    &name,
                    "unknown setting (see the README for the list)",
                ));
            }
        }
        Config::from_values(&values)
    }

    /// Builds a configuration from name → value pairs; absent names take their defaults.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let environment = match get("ACCOLADE_ENV").unwrap_or("development") {
            "development" => Environment::Development,
            "production" => Environment::Production,
            other => {
                return Err(invalid(
                    "ACCOLADE_ENV",
                    format!("expected `development` or `production`, got `{other}`"),
                ));
            }
        };
        let database_url = get("DATABASE_URL")
            .unwrap_or("sqlite://accolade.db")
            .to_string();
        crate::db::DatabaseKind::from_url(&database_url)
            .map_err(|message| invalid("DATABASE_URL", message))?;
        let bind = get("ACCOLADE_BIND").unwrap_or("127.0.0.1:8000").to_string();
        if bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "ACCOLADE_BIND",
                format!("expected an address and port such as 127.0.0.1:8000, got `{bind}`"),
            ));
        }
        let secret_key = get("ACCOLADE_SECRET_KEY").map(str::to_string);
        match (&secret_key, environment) {
            (Some(key), _) if key.chars().count() < SECRET_KEY_LENGTH => {
                return Err(invalid(
                    "ACCOLADE_SECRET_KEY",
                    format!("must be at least {SECRET_KEY_LENGTH} characters long"),
                ));
            }
            (Some(key), Environment::Production)
                if distinct_characters(key) < SECRET_KEY_VARIETY =>
            {
                return Err(invalid(
                    "ACCOLADE_SECRET_KEY",
                    format!(
                        "has too little variety for production (fewer than {SECRET_KEY_VARIETY} different characters): generate one, e.g. `openssl rand -base64 48`"
                    ),
                ));
            }
            (None, Environment::Production) => {
                return Err(invalid(
                    "ACCOLADE_SECRET_KEY",
                    "is required when ACCOLADE_ENV=production",
                ));
            }
            _ => {}
        }
        let site_url = match get("ACCOLADE_SITE_URL") {
            Some(url) => parse_site_url(url)?,
            None => format!("http://{bind}"),
        };
        let secure_default = environment == Environment::Production;
        let log_format = match get("ACCOLADE_LOG_FORMAT").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "ACCOLADE_LOG_FORMAT",
                    format!("expected `text` or `json`, got `{other}`"),
                ));
            }
        };
        Ok(Config {
            database_url,
            bind,
            environment,
            secret_key,
            secure_cookies: parse_bool(get, "ACCOLADE_SECURE_COOKIES", secure_default)?,
            log_format,
            log_filter: get("ACCOLADE_LOG").unwrap_or("info").to_string(),
            proxies: trusted_proxies(get)?,
            throttle: crate::auth::throttle::Limits {
                max_failures_per_username: parse_number(get, "ACCOLADE_LOGIN_MAX_FAILURES", 5)?,
                max_failures_per_address: parse_number(
                    get,
                    "ACCOLADE_LOGIN_MAX_FAILURES_PER_ADDRESS",
                    50,
                )?,
                window: Duration::from_secs(
                    parse_number(get, "ACCOLADE_LOGIN_THROTTLE_SECONDS", 900)?.into(),
                ),
            },
            sessions: crate::auth::sessions::SessionPolicy {
                max_age: Duration::from_secs(
                    parse_number(get, "ACCOLADE_SESSION_MAX_AGE", 14 * 24 * 3600)?.into(),
                ),
                idle_timeout: Duration::from_secs(
                    parse_number(get, "ACCOLADE_SESSION_IDLE_TIMEOUT", 2 * 3600)?.into(),
                ),
            },
            db_pool_size: parse_number(get, "ACCOLADE_DB_POOL_SIZE", 8)?,
            images: image_limits(get)?,
            badges_enabled: parse_bool(get, "ENABLE_OPENBADGES", true)?,
            lms_url: match get("ACCOLADE_LMS_URL") {
                Some(url) => parse_url("ACCOLADE_LMS_URL", url)?,
                None => "http://localhost:18000".into(),
            },
            workers: match get("ACCOLADE_HTTP_WORKERS") {
                None => 0,
                Some(_) => parse_number(get, "ACCOLADE_HTTP_WORKERS", 1)?,
            },
            award_workers: match get("ACCOLADE_WORKERS") {
                Some("0") => 0,
                _ => parse_number(get, "ACCOLADE_WORKERS", 4)?,
            },
            award_max_attempts: parse_number(get, "ACCOLADE_AWARD_MAX_ATTEMPTS", 8)?,
            award_lease: Duration::from_secs(
                parse_number(get, "ACCOLADE_AWARD_LEASE_SECONDS", 30)?.into(),
            ),
            reconcile_every: Duration::from_secs(
                parse_number(get, "ACCOLADE_RECONCILE_INTERVAL_SECONDS", 3600)?.into(),
            ),
            allow_shipped_images: parse_bool(get, "ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES", false)?,
            issuer: crate::badging::openbadges::IssuerProfile {
                name: get("ACCOLADE_ISSUER_NAME")
                    .unwrap_or("Accolade")
                    .to_string(),
                url: match get("ACCOLADE_ISSUER_URL") {
                    Some(url) => parse_url("ACCOLADE_ISSUER_URL", url)?,
                    None => site_url.clone(),
                },
                email: match get("ACCOLADE_ISSUER_EMAIL") {
                    Some(email) if crate::validation::email_address(email).is_ok() => {
                        email.to_string()
                    }
                    Some(other) => {
                        return Err(invalid(
                            "ACCOLADE_ISSUER_EMAIL",
                            format!("expected an e-mail address, got `{other}`"),
                        ));
                    }
                    None => "badges@example.org".to_string(),
                },
            },
            badgr: badgr_settings(get)?,
            site_url,
        })
    }

    /// Where the generated first superuser password is written when there is no terminal
    /// to show it on: beside the SQLite database, or in the working directory.
    pub fn initial_password_file(&self) -> std::path::PathBuf {
        match crate::db::DatabaseKind::from_url(&self.database_url) {
            Ok(crate::db::DatabaseKind::Sqlite { path }) => {
                format!("{path}.initial-password").into()
            }
            _ => "accolade-initial-password".into(),
        }
    }

    /// The scheme and host that same-origin requests carry in `Origin`.
    pub fn site_origin(&self) -> &str {
        let after_scheme = self.site_url.find("://").map_or(0, |i| i + 3);
        let end = self.site_url[after_scheme..]
            .find('/')
            .map_or(self.site_url.len(), |i| after_scheme + i);
        &self.site_url[..end]
    }
}

/// Deletes the file holding the generated first password (see `main.rs`) when `user`, about
/// to replace their password, is the generated superuser who has not replaced it yet. Other
/// users with a pending change (a password set by an admin) leave it alone.
pub fn forget_initial_password(config: &Config, user: &crate::auth::users::User) {
    if !(user.must_change_password && user.username == crate::auth::users::INITIAL_SUPERUSER) {
        return;
    }
    let path = config.initial_password_file();
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::info!(file = %path.display(), "deleted the initial password file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot delete the initial password file")
        }
    }
}

/// A secret key's least length, in characters.
const SECRET_KEY_LENGTH: usize = 32;
/// The fewest different characters a production key may have (a random key of 32
/// characters has far more; `"a" × 32` has one).
const SECRET_KEY_VARIETY: usize = 10;

fn distinct_characters(text: &str) -> usize {
    text.chars().collect::<std::collections::HashSet<_>>().len()
}

fn image_limits<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<crate::images::Limits, ConfigError> {
    let defaults = crate::images::Limits::default();
    let size = parse_number(get, "ACCOLADE_BADGE_IMAGE_SIZE", defaults.canonical_size)?;
    if !(defaults.min_size..=defaults.max_dimension).contains(&size) {
        return Err(invalid(
            "ACCOLADE_BADGE_IMAGE_SIZE",
            format!(
                "expected a side between {} and {} pixels, got {size}",
                defaults.min_size, defaults.max_dimension
            ),
        ));
    }
    let max_upload = parse_number(
        get,
        "ACCOLADE_MAX_UPLOAD_BYTES",
        defaults.max_upload_bytes as u32,
    )?;
    Ok(crate::images::Limits {
        canonical_size: size,
        max_upload_bytes: max_upload as usize,
        ..defaults
    })
}

fn trusted_proxies<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<TrustedProxies, ConfigError> {
    let count = match get("ACCOLADE_TRUSTED_PROXIES") {
        None | Some("0") => 0,
        Some(_) => parse_number(get, "ACCOLADE_TRUSTED_PROXIES", 0)? as usize,
    };
    let header = match get("ACCOLADE_PROXY_HEADER") {
        None => ProxyHeader::XForwardedFor,
        Some(name) => ProxyHeader::parse(name).ok_or_else(|| {
            invalid(
                "ACCOLADE_PROXY_HEADER",
                format!("expected X-Forwarded-For or Forwarded, got `{name}`"),
            )
        })?,
    };
    Ok(TrustedProxies { count, header })
}

fn badgr_settings<'a>(
    get: impl Fn(&str) -> Option<&'a str> + Copy,
) -> Result<Option<crate::badging::badgr::BadgrSettings>, ConfigError> {
    let Some(base) = get("BADGR_BASE_URL") else {
        return Ok(None);
    };
    // Empty counts as missing (upstream defect D17).
    let required = |name: &str| {
        get(name)
            .map(str::to_string)
            .ok_or_else(|| invalid(name, "is required when BADGR_BASE_URL is set"))
    };
    use crate::badging::badgr::{ApiVersion, Credentials};
    let (version, credentials) = match get("BADGR_API_VERSION").unwrap_or("v2") {
        "v2" => (
            ApiVersion::V2,
            Credentials::OAuth {
                username: required("BADGR_USERNAME")?,
                password: required("BADGR_PASSWORD")?,
                client_id: get("BADGR_CLIENT_ID").unwrap_or("public").to_string(),
            },
        ),
        "v1" => (
            ApiVersion::V1,
            Credentials::Token(required("BADGR_API_TOKEN")?),
        ),
        other => {
            return Err(invalid(
                "BADGR_API_VERSION",
                format!("expected v2 or v1, got `{other}`"),
            ));
        }
    };
    Ok(Some(crate::badging::badgr::BadgrSettings {
        base_url: parse_url("BADGR_BASE_URL", base)?,
        issuer: required("BADGR_ISSUER_SLUG")?,
        version,
        credentials,
        timeout: Duration::from_secs(parse_number(get, "BADGR_TIMEOUT", 10)?.into()),
        notify: parse_bool(get, "BADGR_ENABLE_NOTIFICATIONS", false)?,
    }))
}

fn is_known(name: &str) -> bool {
    SETTINGS.iter().any(|s| s.name == name)
}

fn read_file(path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(e.to_string()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !is_known(&key) {
            return Err(invalid(&key, format!("unknown setting in {path}")));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(invalid(&key, "expected a string, number or boolean")),
        };
        values.insert(key, text);
    }
    Ok(values)
}

fn parse_site_url(url: &str) -> Result<String, ConfigError> {
    parse_url("ACCOLADE_SITE_URL", url)
}

fn parse_url(name: &str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/');
    // The same rule as every URL rendered as a link or passed on.
    if crate::validation::is_web_url(url) {
        Ok(url.into())
    } else {
        Err(invalid(
            name,
            format!("expected an http:// or https:// URL, got `{url}`"),
        ))
    }
}

fn parse_bool<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(
            name,
            format!("expected true or false, got `{other}`"),
        )),
    }
}

fn parse_number<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    name: &str,
    default: u32,
) -> Result<u32, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(
                name,
                format!("expected a positive whole number, got `{text}`"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_values(&values)
    }

    #[test]
    fn defaults_are_a_development_site_on_sqlite() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://accolade.db");
        assert_eq!(c.bind, "127.0.0.1:8000");
        assert_eq!(c.site_url, "http://127.0.0.1:8000");
        assert_eq!(c.environment, Environment::Development);
        assert!(!c.secure_cookies);
    }

    #[test]
    fn production_requires_a_secret_key() {
        let err = config(&[("ACCOLADE_ENV", "production")]).unwrap_err();
        assert!(err.to_string().starts_with("ACCOLADE_SECRET_KEY"));
        let key = "k7Qm2xVb9LpZr4Tw8NcYh3Jd6Fs1Ga5E";
        let c = config(&[("ACCOLADE_ENV", "production"), ("ACCOLADE_SECRET_KEY", key)]).unwrap();
        assert!(c.secure_cookies, "production defaults to secure cookies");
    }

    #[test]
    fn secret_keys_are_measured_in_characters_and_variety() {
        // 32 bytes but 16 characters.
        let err = config(&[("ACCOLADE_SECRET_KEY", &"é".repeat(16))]).unwrap_err();
        assert!(err.to_string().contains("at least 32 characters"), "{err}");
        let monotonous = "a".repeat(32);
        assert!(
            config(&[("ACCOLADE_SECRET_KEY", &monotonous)]).is_ok(),
            "development allows it"
        );
        let err = config(&[
            ("ACCOLADE_ENV", "production"),
            ("ACCOLADE_SECRET_KEY", &monotonous),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("too little variety"), "{err}");
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("ACCOLADE_BIND", "localhost"),
            ("ACCOLADE_SECURE_COOKIES", "maybe"),
            ("ACCOLADE_ENV", "staging"),
            ("DATABASE_URL", "mysql://x"),
            ("ACCOLADE_SITE_URL", "example.org"),
            ("ACCOLADE_LOGIN_MAX_FAILURES", "-1"),
            ("ACCOLADE_SECRET_KEY", "short"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}: {err}");
        }
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../README.md");
        for setting in SETTINGS {
            assert!(
                readme.contains(&format!("| `{}` |", setting.name)),
                "{}",
                setting.name
            );
        }
    }

    #[test]
    fn badgr_settings_are_checked_by_api_version() {
        assert!(
            config(&[]).unwrap().badgr.is_none(),
            "no Badgr: the local issuer"
        );
        let base = [
            ("BADGR_BASE_URL", "https://badgr.example"),
            ("BADGR_ISSUER_SLUG", "issuer"),
        ];
        let err = config(&base).unwrap_err();
        assert!(err.to_string().starts_with("BADGR_USERNAME"), "{err}");
        let mut v1 = base.to_vec();
        v1.push(("BADGR_API_VERSION", "v1"));
        assert!(
            config(&v1)
                .unwrap_err()
                .to_string()
                .starts_with("BADGR_API_TOKEN")
        );
        v1.push(("BADGR_API_TOKEN", "12345"));
        assert!(config(&v1).unwrap().badgr.is_some());
        let mut v3 = base.to_vec();
        v3.push(("BADGR_API_VERSION", "v3"));
        assert!(
            config(&v3)
                .unwrap_err()
                .to_string()
                .starts_with("BADGR_API_VERSION")
        );
        let mut v2 = base.to_vec();
        v2.extend([
            ("BADGR_USERNAME", "u@example.org"),
            ("BADGR_PASSWORD", "secret-password"),
        ]);
        let settings = config(&v2).unwrap().badgr.unwrap();
        assert!(
            !format!("{settings:?}").contains("secret-password"),
            "never printed"
        );
    }

    #[test]
    fn site_origin_drops_the_path() {
        let c = config(&[("ACCOLADE_SITE_URL", "https://badges.example.org/sub/")]).unwrap();
        assert_eq!(c.site_url, "https://badges.example.org/sub");
        assert_eq!(c.site_origin(), "https://badges.example.org");
    }
}
