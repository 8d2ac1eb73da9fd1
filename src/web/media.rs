//! `GET /media/badge-images/<hash>.png` (and `thumbnails/<hash>.png`): processed badge
//! images from the database. Public, as badge images are; immutable, as they are named by
//! their content.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::AppState;
use super::router::{Router, endpoint};
use crate::error::AppError;
use crate::images;
use crate::urls::{BADGE_IMAGES, BADGE_THUMBNAILS};

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint(&format!("{BADGE_IMAGES}{{name}}")).get(full))
        .add(endpoint(&format!("{BADGE_THUMBNAILS}{{name}}")).get(thumbnail));
}

async fn full(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    serve(&state, &name, false).await
}

async fn thumbnail(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    serve(&state, &name, true).await
}

async fn serve(state: &AppState, name: &str, thumbnail: bool) -> Result<HttpResponse, AppError> {
    let hash = name
        .strip_suffix(".png")
        .filter(|h| images::is_hash(h))
        .ok_or(AppError::NotFound)?
        .to_string();
    let png = state
        .db
        .run(move |conn| images::store::png(conn, &hash, thumbnail))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(png))
}
