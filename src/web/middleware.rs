//! Request ids and logging, and the security headers every response carries.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};

use crate::error::{REQUEST_ID, WANTS_JSON};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers for every response (a handler may set its own, which then win). In
/// production the site is served over HTTPS only, and browsers are told to keep to it.
pub fn security_headers(production: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY));
    if production {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}

/// Admin pages hold private data: never cached.
pub fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"))
}

/// No route has a use for NUL in its path, and PostgreSQL refuses it in text: 404 before
/// any handler sees it.
pub async fn refuse_nul_in_path(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.path().contains("%00") {
        return Ok(req.error_response(crate::error::AppError::NotFound));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Gives each request an id (in the `X-Request-Id` response header, in error pages and in
/// the log), notes whether its client reads JSON (for the errors any route may meet), and
/// logs one line per request. The query string is not logged.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let json = wants_json(&req);
    let mut response = REQUEST_ID
        .scope(id.clone(), WANTS_JSON.scope(json, next.call(req)))
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(request_id = %id, %method, %path, status, elapsed_ms = format!("{elapsed_ms:.1}"), "request");
    Ok(response)
}

/// Whether a request's client reads JSON rather than HTML: the API's clients, and any
/// client whose `Accept` names JSON and not HTML (browsers name HTML).
fn wants_json(req: &ServiceRequest) -> bool {
    if req.path().starts_with("/api/") {
        return true;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("json") && !accept.contains("text/html")
}
