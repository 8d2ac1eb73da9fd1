//! `GET /healthz`: whether this instance can reach its database.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::router::{Router, endpoint};

pub fn routes(routes: &mut Router) {
    routes.add(endpoint("/healthz").get(healthz));
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let reachable = web::block(move || db.ping())
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let body = json!({
        "status": if reachable { "ok" } else { "error" },
        "database": if reachable { "ok" } else { "unreachable" },
        "backend": state.db.kind().name(),
    });
    if reachable {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
