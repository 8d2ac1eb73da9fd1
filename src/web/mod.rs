//! Routes and thin handlers: parse the request, call the domain, render.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod health;
pub mod media;
pub mod middleware;
pub mod page;
pub mod public;
pub mod query;
pub mod staff;
pub mod studio;

use std::sync::Arc;

use actix_web::web;

use crate::admin::AdminSite;
use crate::config::Config;
use crate::db::Database;

/// What every handler may reach; shared by all workers of one process.
pub struct AppState {
    pub db: Database,
    pub config: Arc<Config>,
    pub admin: AdminSite,
    /// Keys the session's password digest (see `auth::session`).
    pub auth_hash_key: [u8; 64],
}

/// A resource that answers 405 to methods it does not route (instead of falling through
/// to the scope's 404).
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        actix_web::HttpResponse::MethodNotAllowed()
            .content_type("text/plain; charset=utf-8")
            .body("405 Method Not Allowed")
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::serve)
        .service(health::healthz)
        .configure(media::routes)
        .configure(studio::routes)
        .configure(public::routes)
        .configure(api::routes)
        .configure(api::event_routes)
        .route("/", web::get().to(account::root))
        .service(
            web::scope("/admin")
                .wrap(middleware::no_store())
                .configure(account::routes)
                .configure(admin::routes),
        );
}
