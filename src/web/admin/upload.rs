//! Reading a submitted admin form: urlencoded, or multipart with files.
//!
//! Files are held to the upload limit while they stream in: a larger file is discarded
//! chunk by chunk and reported as [`Upload::TooLarge`] (so the form comes back with the
//! other fields intact), and a request that goes on past the limit by more than a
//! margin is refused with 413 rather than read to its end.

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::web;
use futures_util::StreamExt;

use crate::admin::{FormData, Upload};
use crate::error::AppError;
use crate::web::body::read_limited;

/// Largest text field, and the largest urlencoded body.
const MAX_TEXT: usize = crate::web::body::MAX_FORM_BYTES;
/// How far past the upload limit a request may go (other fields, multipart framing) before
/// it is cut off with 413.
const MARGIN: usize = 1024 * 1024;
/// Most fields a form may have (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`): no admin form
/// comes near it, and each field costs the server a little whatever its size.
const MAX_FIELDS: usize = 1000;

fn too_many_fields() -> AppError {
    AppError::BadRequest(format!("The number of fields exceeded {MAX_FIELDS}."))
}

pub async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    upload_limit: usize,
) -> Result<FormData, AppError> {
    let content_type = crate::web::body::content_type(req.headers());
    if content_type.starts_with("multipart/form-data") {
        read_multipart(req, payload, upload_limit).await
    } else {
        urlencoded_form(&read_limited(payload, MAX_TEXT).await?)
    }
}

/// An urlencoded form body, held to the field limit; a malformed body reads as empty.
pub fn urlencoded_form(body: &[u8]) -> Result<FormData, AppError> {
    if body.split(|b| *b == b'&').count() > MAX_FIELDS {
        return Err(too_many_fields());
    }
    Ok(FormData::new(
        serde_urlencoded::from_bytes(body).unwrap_or_default(),
    ))
}

async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    upload_limit: usize,
) -> Result<FormData, AppError> {
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut pairs = Vec::new();
    let mut files = Vec::new();
    let mut total = 0usize;
    let request_limit = upload_limit + MARGIN;
    while let Some(field) = multipart.next().await {
        if pairs.len() + files.len() >= MAX_FIELDS {
            return Err(too_many_fields());
        }
        let mut field =
            field.map_err(|e| AppError::BadRequest(format!("malformed multipart body: {e}")))?;
        let (name, filename) = match field.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_string(),
                cd.get_filename().map(|f| f.to_string()),
            ),
            None => continue,
        };
        let limit = if filename.is_some() {
            upload_limit
        } else {
            MAX_TEXT
        };
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("malformed multipart body: {e}")))?;
            total += chunk.len();
            if total > request_limit {
                return Err(AppError::PayloadTooLarge);
            }
            if bytes.len() + chunk.len() > limit {
                too_large = true;
                bytes = Vec::new();
            }
            if !too_large {
                bytes.extend_from_slice(&chunk);
            }
        }
        match filename {
            // A text field past its limit is not a form anyone filled in.
            None if too_large => return Err(AppError::PayloadTooLarge),
            None => pairs.push((name, String::from_utf8_lossy(&bytes).into_owned())),
            Some(filename) if too_large => files.push((
                name,
                Upload::TooLarge {
                    filename,
                    limit: upload_limit,
                },
            )),
            // An empty file input arrives as a nameless, empty file: no upload.
            Some(filename) if bytes.is_empty() && filename.is_empty() => {}
            Some(filename) => files.push((name, Upload::File { filename, bytes })),
        }
    }
    let mut form = FormData::new(pairs);
    for (name, upload) in files {
        form.add_file(&name, upload);
    }
    Ok(form)
}
