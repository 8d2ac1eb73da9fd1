//! The one bounded body reader: every handler and middleware that reads a request body
//! whole (the CSRF check, forms, the event API) reads it here, held to a limit while it
//! streams in, so a body larger than the limit is never held in memory.

use actix_web::error::PayloadError;
use actix_web::web::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::AppError;

/// The largest body of a form without files (and of a text field in one with files): what
/// the CSRF check buffers, what forms and the framework's extractors read.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit: reading stopped at the chunk that passed it.
    TooLarge,
    Unreadable(PayloadError),
}

impl From<BodyError> for AppError {
    fn from(error: BodyError) -> AppError {
        match error {
            BodyError::TooLarge => AppError::PayloadTooLarge,
            BodyError::Unreadable(e) => AppError::BadRequest(format!("unreadable body: {e}")),
        }
    }
}

/// The request's content type, lower-cased (empty when absent or not text), for
/// choosing how to read the body.
pub fn content_type(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The whole body, if it is at most `limit` bytes.
pub async fn read_limited<S>(mut payload: S, limit: usize) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(BodyError::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
