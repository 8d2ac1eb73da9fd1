//! The local issuer's public Open Badges documents: issuer profile, badge classes and
//! assertions (JSON-LD), the class images and the baked assertion images. Public by design.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use super::AppState;
use super::router::{Router, endpoint};
use crate::badges::classes::BadgeClass;
use crate::badging::assertions;
use crate::badging::backend::LOCAL;
use crate::badging::openbadges::{self, JSON_LD, Urls};
use crate::db::schema::badge_classes;
use crate::error::AppError;

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint("/public/issuers/accolade").get(issuer))
        .add(endpoint("/public/badges/{id}").get(badge_class))
        .add(endpoint("/public/badges/{id}/image").get(badge_class_image))
        .add(endpoint("/public/assertions/{id}").get(assertion))
        .add(endpoint("/public/assertions/{id}/image").get(assertion_image));
}

fn urls(state: &AppState) -> Urls {
    Urls {
        site: state.config.site_url.clone(),
    }
}

fn json_ld(status: StatusCode, body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, JSON_LD))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(body)
}

fn png(bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(bytes)
}

async fn issuer(state: web::Data<AppState>) -> HttpResponse {
    json_ld(
        StatusCode::OK,
        openbadges::issuer_document(&urls(&state), &state.config.issuer),
    )
}

/// A class is public once it is frozen (created on this issuer).
async fn frozen_class(state: &AppState, id: &str) -> Result<BadgeClass, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let class = state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            badge_classes::table
                .find(id)
                .select(BadgeClass::as_select())
                .first(conn)
                .optional()
        })
        .await?
        .ok_or(AppError::NotFound)?;
    if class.is_frozen() {
        Ok(class)
    } else {
        Err(AppError::NotFound)
    }
}

async fn badge_class(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let class = frozen_class(&state, &id).await?;
    Ok(json_ld(
        StatusCode::OK,
        openbadges::badge_class_document(&urls(&state), &class),
    ))
}

async fn badge_class_image(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let class = frozen_class(&state, &id).await?;
    let bytes = state
        .db
        .run(move |conn| crate::images::store::png(conn, &class.image_hash, false))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(png(bytes))
}

async fn assertion(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let public_id = id.into_inner();
    let lookup = public_id.clone();
    let found = state
        .db
        .run(move |conn| assertions::by_public_id(conn, &lookup))
        .await?
        // Only what this issuer hosts: a Badgr assertion's record holds Badgr's private answer.
        .filter(|a| a.backend == LOCAL)
        .ok_or(AppError::NotFound)?;
    if found.revoked {
        let body =
            openbadges::revoked_document(&urls(&state), &public_id, &found.revocation_reason);
        return Ok(json_ld(StatusCode::GONE, body));
    }
    let body: serde_json::Value = serde_json::from_str(&found.data)
        .map_err(|e| AppError::internal(format!("assertion data: {e}")))?;
    Ok(json_ld(StatusCode::OK, body))
}

async fn assertion_image(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let public_id = id.into_inner();
    let (found, baked) = state
        .db
        .run(move |conn| {
            Ok::<_, AppError>((
                assertions::by_public_id(conn, &public_id)?,
                assertions::baked_png(conn, &public_id)?,
            ))
        })
        .await?;
    match (found, baked) {
        // A revoked assertion's image is no longer served.
        (Some(a), _) if a.revoked || a.backend != LOCAL => Err(AppError::NotFound),
        (Some(_), Some(bytes)) => Ok(png(bytes)),
        _ => Err(AppError::NotFound),
    }
}
