//! `GET /media/badge-images/<hash>.png` (and `thumbnails/<hash>.png`): processed badge
//! images from the database. Public, as badge images are, once a configuration or a badge
//! class uses them; until then (an upload shown by Preview, or a form that did not save)
//! only staff see them. Immutable, as they are named by their content.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::AppState;
use super::router::{Router, endpoint};
use super::staff::Staff;
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
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    serve(&state, &name, false, &req).await
}

async fn thumbnail(
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    serve(&state, &name, true, &req).await
}

async fn serve(
    state: &AppState,
    name: &str,
    thumbnail: bool,
    req: &HttpRequest,
) -> Result<HttpResponse, AppError> {
    let hash = name
        .strip_suffix(".png")
        .filter(|h| images::is_hash(h))
        .ok_or(AppError::NotFound)?
        .to_string();
    let (png, in_use) = state
        .db
        .run(move |conn| {
            let in_use = crate::badges::images::is_in_use(conn, &hash)?;
            Ok::<_, diesel::result::Error>((images::store::png(conn, &hash, thumbnail)?, in_use))
        })
        .await?;
    let png = png.ok_or(AppError::NotFound)?;
    // Not in use: the staff member's own upload, or nothing anyone else may see.
    let seen_by_staff = !in_use && Staff::extract(req).await.is_ok();
    if !in_use && !seen_by_staff {
        return Err(AppError::NotFound);
    }
    let caching = match in_use {
        true => "public, max-age=31536000, immutable",
        false => "private, no-store",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::CACHE_CONTROL, caching))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(png))
}
