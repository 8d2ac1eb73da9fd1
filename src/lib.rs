//! Accolade: the Open Badges service of an Open edX site.
//!
//! This crate builds the application; `main.rs` is only its command line. Tests build the
//! same application on port 0 against a fresh database.

pub mod admin;
pub mod auth;
pub mod backoffice;
pub mod badges;
pub mod badging;
pub mod config;
pub mod courses;
pub mod cpu;
pub mod db;
pub mod digest;
pub mod display;
pub mod error;
pub mod images;
pub mod learners;
pub mod urls;
pub mod validation;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web as aweb};

use crate::admin::AdminSite;
use crate::auth::{password, permissions, tokens, users};
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::csrf::{self, CsrfPolicy};

pub const SESSION_COOKIE: &str = "accolade_session";

/// The backend awards go through: Badgr when `BADGR_BASE_URL` is set, else Accolade's own
/// Open Badges issuer.
pub fn badge_backend(
    prepared: &Prepared,
) -> Result<Arc<dyn badging::backend::BadgeBackend>, String> {
    let config = &prepared.config;
    Ok(match &config.badgr {
        Some(badgr) => Arc::new(badging::badgr::Badgr::new(
            badgr.clone(),
            prepared.db.clone(),
            &prepared.secret_key,
        )?),
        None => Arc::new(badging::local::LocalIssuer {
            urls: badging::openbadges::Urls {
                site: config.site_url.clone(),
            },
            profile: config.issuer.clone(),
            db: prepared.db.clone(),
        }),
    })
}

/// [`badge_backend`], built on a thread of its own: Badgr's blocking HTTP client cannot be
/// built on an async runtime's thread (reqwest panics there), and servers are built on one.
fn badge_backend_off_runtime(
    prepared: &Prepared,
) -> std::io::Result<Arc<dyn badging::backend::BadgeBackend>> {
    std::thread::scope(|scope| scope.spawn(|| badge_backend(prepared)).join())
        .map_err(|_| std::io::Error::other("building the badge backend panicked"))?
        .map_err(std::io::Error::other)
}

/// How award workers run, from the configuration.
pub fn worker_settings(config: &Config) -> badging::worker::WorkerSettings {
    badging::worker::WorkerSettings {
        award: badging::award::AwardSettings {
            badges_enabled: config.badges_enabled,
            allow_shipped_images: config.allow_shipped_images,
            lms_url: config.lms_url.clone(),
        },
        lease: config.award_lease,
        max_attempts: config.award_max_attempts as i32,
        poll: std::time::Duration::from_millis(500),
        reconcile_every: config.reconcile_every,
    }
}

/// A configuration whose database is migrated and whose secret key is known.
pub struct Prepared {
    pub config: Config,
    pub secret_key: String,
    pub db: Database,
    pub admin: AdminSite,
}

/// What start-up does before serving: connect, migrate, settle the secret key, and create
/// the permissions of every registered model.
pub fn prepare(config: Config) -> Result<Prepared, String> {
    let db = Database::connect(&config.database_url, config.db_pool_size)?;
    for version in db.migrate()? {
        tracing::info!(%version, "applied migration");
    }
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let secret_key = match &config.secret_key {
        Some(key) => key.clone(),
        None => {
            tracing::warn!(
                "ACCOLADE_SECRET_KEY is not set: using a development key generated once and kept in the database; set ACCOLADE_SECRET_KEY in production"
            );
            tokens::development_secret_key(&mut conn).map_err(|e| e.to_string())?
        }
    };
    let admin = backoffice::site(&config);
    permissions::sync(&mut conn, &admin.permission_models()).map_err(|e| e.to_string())?;
    badges::images::seed_shipped(&mut conn, &config.images).map_err(|e| e.to_string())?;
    drop(conn);
    Ok(Prepared {
        config,
        secret_key,
        db,
        admin,
    })
}

/// On a site without any superuser, creates [`users::INITIAL_SUPERUSER`] with a random password that must be
/// changed at first login, and returns that password (to be shown once).
pub fn ensure_initial_superuser(db: &Database) -> Result<Option<String>, AppError> {
    let mut conn = db.get()?;
    if users::any_superuser(&mut conn)?
        || users::find_by_username(&mut conn, users::INITIAL_SUPERUSER)?.is_some()
    {
        return Ok(None);
    }
    let secret = tokens::random_token()[..20].to_string();
    let hash = password::hash(&secret);
    let new = users::NewUser {
        must_change_password: true,
        ..users::NewUser::superuser(users::INITIAL_SUPERUSER, "", &hash)
    };
    match users::create(&mut conn, &new) {
        Ok(_) => Ok(Some(secret)),
        // Another instance created it first.
        Err(e) if db::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(prepared: Prepared) -> std::io::Result<Application> {
        cpu::tune_allocator();
        // For the readiness check only (workers have their own).
        let backend = badge_backend_off_runtime(&prepared)?;
        let listener = TcpListener::bind(&prepared.config.bind)?;
        let port = listener.local_addr()?.port();
        let mut config = prepared.config;
        if config.site_url == format!("http://{}", config.bind) {
            // The site URL was derived from the bind address: make it the address bound
            // (which differs when the port was 0).
            config.site_url = format!("http://{}", listener.local_addr()?);
        }
        let config = Arc::new(config);
        let session_key = Key::from(&tokens::derive_key(&prepared.secret_key, "session"));
        let state = aweb::Data::new(AppState {
            db: prepared.db,
            config: config.clone(),
            admin: prepared.admin,
            cpu: cpu::CpuPool::per_core(),
            badge_backend: web::health::BackendHealth::new(backend),
        });
        let csrf_policy = aweb::Data::new(CsrfPolicy {
            trusted_origins: vec![config.site_origin().to_string()],
        });
        let secure_cookies = config.secure_cookies;
        let production = config.environment == config::Environment::Production;
        // The browser may keep the cookie as long as the server keeps the session.
        let cookie_lifetime = actix_web::cookie::time::Duration::seconds(
            config
                .sessions
                .max_age
                .as_secs()
                .try_into()
                .unwrap_or(i64::MAX),
        );
        let mut server = HttpServer::new(move || {
            let sessions =
                SessionMiddleware::builder(CookieSessionStore::default(), session_key.clone())
                    .cookie_name(SESSION_COOKIE.into())
                    .cookie_secure(secure_cookies)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(PersistentSession::default().session_ttl(cookie_lifetime))
                    .build();
            App::new()
                .app_data(state.clone())
                .app_data(csrf_policy.clone())
                .app_data(
                    aweb::FormConfig::default()
                        .limit(web::body::MAX_FORM_BYTES)
                        // A site page (or JSON), not the framework's plain text.
                        .error_handler(|error, _| {
                            let problem = format!("The form could not be read ({error}).");
                            AppError::BadRequest(problem).into()
                        }),
                )
                .app_data(aweb::PayloadConfig::new(web::body::MAX_FORM_BYTES))
                .wrap(from_fn(web::middleware::keep_routed_request))
                .wrap(from_fn(web::middleware::refuse_nul_in_path))
                .wrap(from_fn(web::middleware::head_as_get))
                .wrap(from_fn(csrf::protect))
                .wrap(sessions)
                .wrap(from_fn(web::middleware::request_context))
                .wrap(web::middleware::security_headers(production))
                .configure(web::routes)
                .default_service(aweb::to(|| async {
                    Err::<actix_web::HttpResponse, _>(AppError::NotFound)
                }))
        });
        if config.workers > 0 {
            server = server.workers(config.workers as usize);
        }
        Ok(Application {
            port,
            server: server.listen(listener)?.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
