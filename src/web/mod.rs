//! Routes and thin handlers: parse the request, call the domain, render.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod body;
pub mod client;
pub mod csrf;
pub mod health;
pub mod media;
pub mod middleware;
pub mod page;
pub mod public;
pub mod query;
pub mod router;
pub mod session;
pub mod session_user;
pub mod staff;
pub mod studio;

use std::sync::Arc;

use actix_web::web;
use router::{Router, endpoint};

use crate::admin::AdminSite;
use crate::config::Config;
use crate::db::Database;

/// What every handler may reach; shared by all workers of one process.
pub struct AppState {
    pub db: Database,
    pub config: Arc<Config>,
    pub admin: AdminSite,
    /// Image decoding and password hashing take their turn here (see `cpu`).
    pub cpu: crate::cpu::CpuPool,
    /// The badge backend's reachability, for the readiness check.
    pub badge_backend: health::BackendHealth,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    Router::build(cfg, |routes| {
        assets::routes(routes);
        health::routes(routes);
        media::routes(routes);
        studio::routes(routes);
        public::routes(routes);
        api::routes(routes);
        routes.add(endpoint("/").get(account::root));
        routes.scope("/admin", middleware::no_store(), |admin| {
            account::routes(admin);
            admin::routes(admin);
        });
    });
}
