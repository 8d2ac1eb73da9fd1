//! One application error type, mapped to status pages once.
//!
//! Domain code returns typed errors or `diesel` results; they become an [`AppError`] at the
//! edge. A 500 never shows internals: the page shows the request id, and the log line with
//! the same id holds the cause.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, or "-" outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".into())
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("CSRF verification failed: {0}")]
    Csrf(String),
    #[error("not found")]
    NotFound,
    #[error("request body too large")]
    PayloadTooLarge,
    /// Not an error for the user: the page needs a login first.
    #[error("login required")]
    LoginRequired { next: String },
    /// Not an error for the user: the page is elsewhere (e.g. a forced password change).
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl Into<String>) -> AppError {
        AppError::Internal(cause.into())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> AppError {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> AppError {
        AppError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    request_id: Option<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) | AppError::Csrf(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LoginRequired { .. } | AppError::Redirect(_) => StatusCode::FOUND,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message): (&str, String) = match self {
            AppError::LoginRequired { next } => {
                return redirect(&crate::auth::login_url(next));
            }
            AppError::Redirect(to) => return redirect(to),
            AppError::BadRequest(m) => ("Bad Request (400)", m.clone()),
            AppError::Forbidden(m) => ("403 Forbidden", m.clone()),
            AppError::Csrf(reason) => (
                "403 Forbidden",
                format!("CSRF verification failed. Request aborted. {reason}"),
            ),
            AppError::NotFound => (
                "Not Found",
                "The requested resource was not found on this server.".into(),
            ),
            AppError::PayloadTooLarge => (
                "Request Entity Too Large (413)",
                "The request body is larger than this server accepts.".into(),
            ),
            AppError::Internal(cause) => {
                tracing::error!(request_id = %current_request_id(), cause = %cause, "internal error");
                (
                    "Server Error (500)",
                    "There has been an error. It has been logged; quote the request id below to the site's operators.".into(),
                )
            }
        };
        let page = ErrorPage {
            title,
            message: &message,
            request_id: matches!(self, AppError::Internal(_)).then(current_request_id),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(body)
    }
}

/// A 302 to a same-site location. Whatever the location holds (a path segment or a value
/// from the request, decoded), the header is built: controls, spaces, quotes and non-ASCII
/// are percent-encoded, and `%` is left alone (callers encode what they embed).
pub fn redirect(location: &str) -> HttpResponse {
    let encoded = percent_encoding::utf8_percent_encode(location, UNSAFE_IN_LOCATION).to_string();
    // Only visible ASCII is left, which a header value always accepts.
    let value = header::HeaderValue::from_str(&encoded)
        .unwrap_or_else(|_| header::HeaderValue::from_static("/"));
    HttpResponse::Found()
        .insert_header((header::LOCATION, value))
        .finish()
}

/// What may not stand raw in a URL (RFC 3986) besides the reserved characters it keeps.
const UNSAFE_IN_LOCATION: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_encode_what_a_header_cannot_hold() {
        for (to, want) in [
            ("/admin/auth/user/?q=a%20b", "/admin/auth/user/?q=a%20b"),
            (
                "/admin/auth/user/\n\r\0/change/",
                "/admin/auth/user/%0A%0D%00/change/",
            ),
            ("/studio/ü <x>", "/studio/%C3%BC%20%3Cx%3E"),
        ] {
            let response = redirect(to);
            assert_eq!(response.status(), StatusCode::FOUND);
            assert_eq!(
                response.headers().get(header::LOCATION).unwrap(),
                want,
                "{to:?}"
            );
        }
    }
}
