//! Request ids and logging, and the security headers every response carries.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, HttpRequest, ResponseError};

use crate::error::{JSON_ERROR_KEY, REQUEST_ID};

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

/// HEAD is answered wherever GET is, with the headers only (as Django and most servers
/// do): the route runs as a GET, and the HTTP layer, which read a HEAD, sends no body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Where the innermost layer leaves the request once it is routed, so that the request-id
/// layer can still answer when a layer between them fails after the handler answered (the
/// session layer, when it cannot write its cookie). The request cannot be kept before it is
/// routed: routing needs it unshared.
#[derive(Clone, Default)]
struct RoutedRequest(Rc<RefCell<Option<HttpRequest>>>);

/// The innermost layer: hands the routed request to [`RoutedRequest`].
pub async fn keep_routed_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let response = next.call(req).await?;
    let request = response.request();
    if let Some(slot) = request.extensions().get::<RoutedRequest>() {
        slot.0.replace(Some(request.clone()));
    }
    Ok(response.map_into_boxed_body())
}

/// The inner layers' response. An error they return instead (see [`RoutedRequest`])
/// becomes the error page like any handler's — a 500 is logged with the request id — so
/// that it still passes through the header and logging layers instead of leaving the
/// server as a bare, unlogged 500.
async fn answered(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let slot = RoutedRequest::default();
    req.extensions_mut().insert(slot.clone());
    let result = next.call(req).await;
    // Taken in every case: the request holds the slot, which must not hold it in turn.
    let routed = slot.0.borrow_mut().take();
    let error = match result {
        Ok(response) => return Ok(response.map_into_boxed_body()),
        Err(error) => error,
    };
    let page = if error.as_response_error().status_code().is_server_error() {
        crate::error::AppError::internal(format!("response: {error}")).error_response()
    } else {
        error.error_response()
    };
    match routed {
        Some(request) => Ok(ServiceResponse::new(request, page)),
        // Failed before routing: nothing to answer with but the error (logged above).
        None => Err(error),
    }
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
    let json = json_error_key(&req);
    let mut response = REQUEST_ID
        .scope(id.clone(), JSON_ERROR_KEY.scope(json, answered(req, next)))
        .await?;
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

/// Whether a request's client reads JSON rather than HTML (the API's clients, and any
/// client whose `Accept` names JSON and not HTML: browsers name HTML), and the key it
/// reads an error under: `detail` on the learners' API, as upstream's, else `error`.
fn json_error_key(req: &ServiceRequest) -> Option<&'static str> {
    if req.path().starts_with("/api/badges/") {
        return Some("detail");
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let wants_json = accept.contains("json") && !accept.contains("text/html");
    (req.path().starts_with("/api/") || wants_json).then_some("error")
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    /// A layer that fails after the handler answered, as the session layer does when it
    /// cannot write its cookie.
    async fn failing_layer(
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        next.call(req).await?;
        Err(actix_web::error::ErrorInternalServerError(
            "the session key is too large",
        ))
    }

    #[actix_web::test]
    async fn an_error_of_an_inner_layer_is_the_ordinary_500_page() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(keep_routed_request))
                .wrap(from_fn(failing_layer))
                .wrap(from_fn(request_context))
                .wrap(security_headers(false))
                .route("/", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
        assert_eq!(response.status(), 500);
        let headers = response.headers().clone();
        assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
        assert!(headers.contains_key("x-request-id"));
        let body = test::read_body(response).await;
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("Server Error (500)"), "{body}");
    }
}
