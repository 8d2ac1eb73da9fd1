//! CSS, JavaScript and images, embedded in the binary so it runs from any directory.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::router::{Router, endpoint};

/// (path under /static/, content type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "admin/admin.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/admin/admin.css"),
    ),
    (
        "admin/admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/admin/admin.js"),
    ),
    (
        "admin/img/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/admin/img/favicon.svg"),
    ),
    (
        "admin/img/icon-yes.svg",
        "image/svg+xml",
        include_bytes!("../../static/admin/img/icon-yes.svg"),
    ),
    (
        "admin/img/icon-no.svg",
        "image/svg+xml",
        include_bytes!("../../static/admin/img/icon-no.svg"),
    ),
    (
        "admin/img/icon-unknown.svg",
        "image/svg+xml",
        include_bytes!("../../static/admin/img/icon-unknown.svg"),
    ),
];

pub fn routes(routes: &mut Router) {
    routes.add(endpoint("/static/{path:.*}").get(serve));
}

async fn serve(path: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(p, _, _)| *p == path.as_str()) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}
