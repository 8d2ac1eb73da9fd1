//! CSRF protection for every unsafe request, in one middleware.
//!
//! An unsafe request (POST, PUT, PATCH, DELETE) must carry a same-origin `Origin` (or
//! `Referer`) when it carries one at all, and the session's token: in the `X-CSRFToken`
//! header, or as the form field `csrf_token`. For multipart uploads the token must be the
//! first part (every form renders it first), so it is checked before the upload streams
//! in, and only that first part is ever buffered. The JSON API under `/api/` is exempt: its
//! unsafe requests are authenticated by bearer tokens only, which a browser never sends on
//! its own.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage};
use futures_util::StreamExt;

type BoxedPayloadStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
>;

use super::body::read_limited;
use crate::auth::tokens::constant_time_eq;
use crate::error::AppError;
use crate::web::session::TypedSession;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrftoken";
/// Largest urlencoded body buffered to find the token (forms without files are small).
const MAX_FORM_BODY: usize = super::body::MAX_FORM_BYTES;
/// Largest multipart prefix read while looking for the first part.
const MAX_MULTIPART_PREFIX: usize = 16 * 1024;

/// The origins a browser may post from (the site URL's).
#[derive(Clone, Debug)]
pub struct CsrfPolicy {
    pub trusted_origins: Vec<String>,
}

/// Refusals are rendered here (not returned as errors) so that they pass through the
/// outer middleware like any response, with the request id and security headers.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !is_safe(req.method())
        && !is_token_authenticated(&req)
        && let Err(refusal) = verify(&mut req).await
    {
        tracing::warn!(path = %req.path(), reason = %refusal, "request refused");
        return Ok(req.error_response(refusal));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The JSON API authenticates unsafe requests by bearer token only, never by the session
/// cookie, so cross-site forgery has nothing to ride on there.
fn is_token_authenticated(req: &ServiceRequest) -> bool {
    req.path().starts_with("/api/")
}

async fn verify(req: &mut ServiceRequest) -> Result<(), AppError> {
    check_origin(req)?;
    let expected = TypedSession::from_session(req.get_session())
        .stored_csrf_token()
        .ok_or_else(|| {
            AppError::Csrf(
                "CSRF token missing: the session has none (are cookies blocked?).".into(),
            )
        })?;
    let submitted = match header_token(req) {
        Some(token) => Some(token),
        None => body_token(req).await?,
    };
    match submitted {
        None => Err(AppError::Csrf("CSRF token missing.".into())),
        Some(token) if constant_time_eq(&token, &expected) => Ok(()),
        Some(_) => Err(AppError::Csrf("CSRF token incorrect.".into())),
    }
}

/// A present `Origin` (or, without one, `Referer`) must be this site: the origin of
/// `ACCOLADE_SITE_URL`, never whatever `Host` the request names.
fn check_origin(req: &ServiceRequest) -> Result<(), AppError> {
    let trusted = |origin: &str| {
        req.app_data::<actix_web::web::Data<CsrfPolicy>>()
            .is_some_and(|p| p.trusted_origins.iter().any(|t| t == origin))
    };
    let header_text = |name| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)").to_string())
    };
    if let Some(origin) = header_text(header::ORIGIN) {
        if !trusted(&origin) {
            return Err(AppError::Csrf(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )));
        }
    } else if let Some(referer) = header_text(header::REFERER)
        && !trusted(origin_of(&referer))
    {
        return Err(AppError::Csrf(format!(
            "Referer checking failed - {referer} does not match any trusted origins."
        )));
    }
    Ok(())
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

fn header_token(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Finds the token in the body and puts the body back for the handler.
async fn body_token(req: &mut ServiceRequest) -> Result<Option<String>, AppError> {
    let content_type = super::body::content_type(req.headers());
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = read_limited(req.take_payload(), MAX_FORM_BODY).await?;
        let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v));
        req.set_payload(Payload::from(body));
        Ok(token)
    } else if content_type.starts_with("multipart/form-data") {
        let Some(boundary) = boundary_of(&content_type, req) else {
            return Ok(None);
        };
        multipart_token(req, &boundary).await
    } else {
        Ok(None)
    }
}

/// The boundary parameter, taken from the original header (boundaries are case-sensitive).
fn boundary_of(lowered: &str, req: &ServiceRequest) -> Option<String> {
    let original = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let start = lowered.find("boundary=")? + "boundary=".len();
    let value = original
        .get(start..)?
        .split(';')
        .next()?
        .trim()
        .trim_matches('"');
    (!value.is_empty()).then(|| value.to_string())
}

async fn multipart_token(
    req: &mut ServiceRequest,
    boundary: &str,
) -> Result<Option<String>, AppError> {
    let mut payload = req.take_payload();
    let mut prefix = BytesMut::new();
    let token = loop {
        match first_part(&prefix, boundary) {
            FirstPart::Complete(part) => {
                break part.filter(|(name, _)| name == FIELD).map(|(_, v)| v);
            }
            FirstPart::Incomplete if prefix.len() > MAX_MULTIPART_PREFIX => break None,
            FirstPart::Incomplete => match payload.next().await {
                Some(Ok(chunk)) => prefix.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(AppError::BadRequest(format!("unreadable body: {e}"))),
                None => break None,
            },
        }
    };
    let head = futures_util::stream::once(std::future::ready(Ok(prefix.freeze())));
    let stream: BoxedPayloadStream = Box::pin(head.chain(payload));
    req.set_payload(Payload::from(stream));
    Ok(token)
}

enum FirstPart {
    Incomplete,
    /// The first part's field name and text value, or `None` when it is not a plain field.
    Complete(Option<(String, String)>),
}

fn first_part(buf: &[u8], boundary: &str) -> FirstPart {
    let delimiter = format!("--{boundary}");
    let Some(start) = find(buf, delimiter.as_bytes()) else {
        return FirstPart::Incomplete;
    };
    let after = &buf[start + delimiter.len()..];
    let Some(headers_end) = find(after, b"\r\n\r\n") else {
        return FirstPart::Incomplete;
    };
    let closing = format!("\r\n--{boundary}");
    let body = &after[headers_end + 4..];
    let Some(value_end) = find(body, closing.as_bytes()) else {
        return FirstPart::Incomplete;
    };
    let headers = String::from_utf8_lossy(&after[..headers_end]).to_ascii_lowercase();
    let name = headers
        .lines()
        .find(|l| l.starts_with("content-disposition:") && !l.contains("filename="))
        .and_then(|l| l.split("name=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string);
    let value = String::from_utf8_lossy(&body[..value_end]).into_owned();
    FirstPart::Complete(name.map(|n| (n, value)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_multipart_field() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"icon\"; filename=\"a.png\"\r\n\r\n...";
        match first_part(body, "XyZ") {
            FirstPart::Complete(Some((name, value))) => {
                assert_eq!(name, "csrf_token");
                assert_eq!(value, "abc123");
            }
            _ => panic!("expected the csrf field"),
        }
        assert!(matches!(
            first_part(&body[..30], "XyZ"),
            FirstPart::Incomplete
        ));
    }

    #[test]
    fn a_file_first_is_no_token() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"icon\"; filename=\"x\"\r\n\r\nzz\r\n--b--";
        assert!(matches!(first_part(body, "b"), FirstPart::Complete(None)));
    }

    #[test]
    fn origins_drop_paths() {
        assert_eq!(
            origin_of("https://a.example:8443/x/y?z"),
            "https://a.example:8443"
        );
        assert_eq!(origin_of("http://h"), "http://h");
    }
}
