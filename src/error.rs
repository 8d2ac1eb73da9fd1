//! One application error type, mapped to status pages once.
//!
//! Domain code returns typed errors or `diesel` results; they become an [`AppError`] at the
//! edge. A 500 never shows internals: the page shows the request id, and the log line with
//! the same id holds the cause. A database that cannot be reached is a 503 with
//! `Retry-After`, in JSON for clients that read JSON.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::{DbError, RunError};

/// Seconds a client is asked to wait before trying again after a 503: about what the pool
/// needs to notice the database is back.
pub const RETRY_AFTER_SECONDS: u32 = 5;

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
    /// The key a JSON client reads an error under (`error`; `detail` on the learners' API,
    /// as upstream's answers it), or `None` for a client that reads HTML; set by the same
    /// middleware, so that an error any route may meet answers in kind.
    pub static JSON_ERROR_KEY: Option<&'static str>;
}

/// The current request's id, or "-" outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".into())
}

fn json_error_key() -> Option<&'static str> {
    JSON_ERROR_KEY.try_with(|key| *key).ok().flatten()
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
    /// The database cannot be reached, or no connection came free: try again shortly.
    #[error("service unavailable: {0}")]
    Unavailable(String),
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
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound,
            // The server went away under the query: an outage, not a fault of this request.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                AppError::Unavailable(format!("database: {e}"))
            }
            // Nothing can be written until an operator frees space: not this request's fault.
            ref full if crate::db::is_storage_full(full) => {
                AppError::Unavailable(format!("database cannot write: {e}"))
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e {
            DbError::Unreachable(_) | DbError::Busy(_) => AppError::Unavailable(e.to_string()),
            DbError::Query(e) => e.into(),
            DbError::Task(_) => AppError::Internal(e.to_string()),
        }
    }
}

impl<E: Into<AppError>> From<RunError<E>> for AppError {
    fn from(e: RunError<E>) -> AppError {
        match e {
            RunError::Db(e) => e.into(),
            RunError::Work(e) => e.into(),
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired { next } => return redirect(&crate::auth::login_url(next)),
            AppError::Redirect(to) => return redirect(to),
            _ => {}
        }
        self.log();
        let (title, message) = self.explanation();
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, AppError::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        }
        // An API client (or one that asks for JSON) reads the error, not a page.
        if let Some(key) = json_error_key() {
            let mut body = serde_json::Map::new();
            body.insert(key.into(), message.into());
            return response.json(body);
        }
        let page = ErrorPage {
            title,
            message: &message,
            request_id: matches!(self, AppError::Internal(_)).then(current_request_id),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", self.status_code().as_u16(), title));
        response
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(body)
    }
}

impl AppError {
    /// The cause of a 5xx goes to the log (with the request id), never to the client.
    fn log(&self) {
        match self {
            AppError::Internal(cause) => {
                tracing::error!(request_id = %current_request_id(), cause = %cause, "internal error")
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(request_id = %current_request_id(), cause = %cause, "service unavailable")
            }
            _ => {}
        }
    }

    /// The title and the sentence shown to the client.
    fn explanation(&self) -> (&'static str, String) {
        match self {
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
            AppError::Unavailable(_) => (
                "Service Unavailable (503)",
                "The service is temporarily unavailable: its database cannot be used at the moment. Please try again in a few seconds.".into(),
            ),
            AppError::Internal(_) => (
                "Server Error (500)",
                "There has been an error. It has been logged; quote the request id below to the site's operators.".into(),
            ),
            AppError::LoginRequired { .. } | AppError::Redirect(_) => ("Found", String::new()),
        }
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

    fn body_of(response: HttpResponse) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(actix_web::body::to_bytes(response.into_body()))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_full_disk_is_a_503_not_a_fault_of_the_request() {
        use diesel::result::{DatabaseErrorKind, Error};
        let full = |message: &str| {
            AppError::from(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(message.to_string()),
            ))
            .status_code()
        };
        assert_eq!(
            full("database or disk is full"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            full("could not extend file: No space left on device"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(full("syntax error"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn an_unreachable_database_is_a_503_to_retry_in_the_clients_format() {
        let error = AppError::from(DbError::Unreachable("secret cause".into()));
        let page = error.error_response();
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.headers().get(header::RETRY_AFTER).unwrap(), "5");
        assert!(
            page.headers()
                .get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = body_of(page);
        assert!(
            html.contains("Service Unavailable (503)") && !html.contains("secret"),
            "{html}"
        );

        let json = JSON_ERROR_KEY.sync_scope(Some("error"), || error.error_response());
        assert_eq!(json.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json.headers().get(header::RETRY_AFTER).unwrap(), "5");
        assert_eq!(
            json.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body: serde_json::Value = serde_json::from_str(&body_of(json)).unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("try again"),
            "{body}"
        );
        // Every other failure of the database layer keeps its meaning.
        let busy = AppError::from(DbError::Busy(std::time::Duration::from_secs(10)));
        assert_eq!(busy.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let missing = AppError::from(RunError::<AppError>::Db(DbError::Query(
            diesel::result::Error::NotFound,
        )));
        assert_eq!(missing.status_code(), StatusCode::NOT_FOUND);
    }

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
