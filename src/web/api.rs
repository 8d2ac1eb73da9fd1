//! The JSON API for the LMS. Authenticated by a service token (`Authorization: Bearer …`),
//! which acts with its service user's permissions, or by the session of a staff user who
//! may view badge assertions in the admin.
//!
//! `GET /api/badges/v1/assertions/user/{username}/`: a learner's badges, exactly as Open
//! edX's learner assertions API answers.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::router::{Router, endpoint};
use super::session_user::session_user;
use crate::auth::service_tokens;
use crate::badging::assertions::{self, HeldFilter};
use crate::badging::{POST_EVENTS, READ_LEARNERS_BADGES, intake};
use crate::courses::CourseKey;
use crate::error::AppError;
use crate::web::query::QueryString;
use crate::web::session::TypedSession;

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint("/api/badges/v1/assertions/user/{username}/").get(user_assertions))
        .add(endpoint("/api/v1/events/certificate").post(certificate_event))
        .add(endpoint("/api/v1/events/enrollment").post(enrollment_event));
}

fn web_url_or_empty(url: String) -> String {
    if crate::validation::is_web_url(&url) {
        url
    } else {
        String::new()
    }
}

/// An error in the shape of the upstream learners' API: `{"detail": …}`.
fn upstream_error(status: actix_web::http::StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status).json(Detail { detail })
}

/// Whether the caller may read every learner's badges: a service token whose user holds
/// [`READ_LEARNERS_BADGES`] (the token acts with its user's rights), or the session of
/// active staff holding it with no password change pending. Admin accounts and LMS
/// learners are different people: an account never reads a learner's badges by having the
/// same username. `None`: a bearer token that is not (or no longer) valid.
async fn may_read_badges(state: &AppState, req: &HttpRequest) -> Result<Option<bool>, AppError> {
    if let Some(secret) = bearer_secret(req) {
        let rights = state
            .db
            .run(move |conn| service_tokens::authenticate(conn, &secret))
            .await?;
        return Ok(rights.map(|rights| rights.grants(READ_LEARNERS_BADGES)));
    }
    let session = TypedSession::extract(req)
        .await
        .map_err(|e| AppError::internal(format!("session: {e}")))?;
    let reader = session_user(state, &session)
        .await?
        .is_some_and(|(user, permissions)| {
            user.is_staff && !user.must_change_password && permissions.grants(READ_LEARNERS_BADGES)
        });
    Ok(Some(reader))
}

/// The filter, or the 400 detail.
fn parse_filter(query: &QueryString) -> Result<HeldFilter, &'static str> {
    // No key, slug or component holds one (and PostgreSQL refuses it in text).
    if query.pairs().iter().any(|(_, value)| value.contains('\0')) {
        return Err("Null characters are not allowed.");
    }
    let course = match query.get("course_id") {
        Some("*") => None,
        Some(text) if !text.is_empty() => match CourseKey::parse(text) {
            Ok(key) => Some(Some(key.to_string())),
            Err(_) => return Err("The course key provided was invalid."),
        },
        // Without a course, a slug means "classes of no course".
        _ if query.get("slug").is_some() => Some(None),
        _ => None,
    };
    let slug = query.get("slug").filter(|s| !s.is_empty()).map(|s| {
        (
            s.to_string(),
            query
                .get("issuing_component")
                .unwrap_or_default()
                .to_string(),
        )
    });
    Ok(HeldFilter {
        course,
        class: slug,
    })
}

async fn user_assertions(
    state: web::Data<AppState>,
    req: HttpRequest,
    username: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let not_found = || upstream_error(actix_web::http::StatusCode::NOT_FOUND, "Not found.");
    let username = username.into_inner();
    if !state.config.badges_enabled || !crate::learners::valid_username(&username) {
        return Ok(not_found());
    }
    match may_read_badges(&state, &req).await? {
        None => {
            return Ok(upstream_error(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "Invalid token.",
            ));
        }
        Some(false) => return Ok(not_found()),
        Some(true) => {}
    }
    // As sent: NUL is refused, not dropped (which would turn a filter into none).
    let sent = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let query = QueryString::new(sent);
    let filter = match parse_filter(&query) {
        Ok(filter) => filter,
        Err(detail) => {
            return Ok(upstream_error(
                actix_web::http::StatusCode::BAD_REQUEST,
                detail,
            ));
        }
    };
    let page_size = query
        .get("page_size")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    // The first row of the page; a page whose first row is past any count is not one.
    let page_and_start = match query.get("page").map(str::parse::<i64>) {
        None => Some((1, 0)),
        Some(Ok(p)) if p >= 1 => (p - 1).checked_mul(page_size).map(|start| (p, start)),
        Some(_) => None,
    };
    let invalid_page = || upstream_error(actix_web::http::StatusCode::NOT_FOUND, "Invalid page.");
    let Some((page, start)) = page_and_start else {
        return Ok(invalid_page());
    };
    let (count, rows) = state
        .db
        .run(move |conn| assertions::live_badges_of(conn, &username, &filter, start, page_size))
        .await?;
    let num_pages = ((count + page_size - 1) / page_size).max(1);
    if page > num_pages {
        return Ok(invalid_page());
    }
    let site = &state.config.site_url;
    let link = |p: i64| {
        format!(
            "{site}{}{}",
            req.path(),
            query.with("page", &p.to_string()).href()
        )
    };
    let site = crate::urls::PublicUrls { site: site.clone() };
    Ok(HttpResponse::Ok().json(AssertionPage {
        count,
        num_pages,
        current_page: page,
        start,
        next: (page < num_pages).then(|| link(page + 1)),
        previous: (page > 1).then(|| link(page - 1)),
        results: rows
            .iter()
            .map(|row| AssertionAnswer::of(row, &site))
            .collect(),
    }))
}

/// A page of a learner's badges, in upstream's paginated shape.
#[derive(Serialize)]
struct AssertionPage {
    count: i64,
    num_pages: i64,
    current_page: i64,
    start: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<AssertionAnswer>,
}

/// One badge of a learner, as upstream's `BadgeAssertionSerializer` writes it.
#[derive(Serialize)]
struct AssertionAnswer {
    badge_class: BadgeClassAnswer,
    image_url: String,
    assertion_url: String,
    created: String,
}

/// Upstream's `BadgeClassSerializer`.
#[derive(Serialize)]
struct BadgeClassAnswer {
    slug: String,
    issuing_component: String,
    display_name: String,
    course_id: Option<String>,
    description: String,
    criteria: String,
    image_url: String,
}

impl AssertionAnswer {
    fn of(badge: &assertions::LiveBadge, site: &crate::urls::PublicUrls) -> AssertionAnswer {
        let class = &badge.class;
        AssertionAnswer {
            badge_class: BadgeClassAnswer {
                slug: class.slug.clone(),
                issuing_component: class.issuing_component.clone(),
                display_name: class.display_name.clone(),
                course_id: (!class.course_id.is_empty()).then(|| class.course_id.clone()),
                description: class.description.clone(),
                // Only an http(s) URL is passed on as one (the LMS may link it).
                criteria: crate::validation::criteria_passed_on(&class.criteria).to_string(),
                image_url: site.badge_image(&class.image_hash),
            },
            // Stored before links from Badgr were checked: never pass a non-web URL on.
            image_url: web_url_or_empty(badge.image_url.clone()),
            assertion_url: web_url_or_empty(badge.assertion_url.clone()),
            created: crate::badging::openbadges::timestamp(&badge.created),
        }
    }
}

/// Upstream's error answer (Django REST framework's `{"detail": …}`).
#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

/// An event refused, naming the field at fault when there is one.
#[derive(Serialize)]
struct IntakeRefusal<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

/// An event recorded: its id, the award jobs it queued or joined, and whether it was a
/// repeat of one recorded before.
#[derive(Serialize)]
struct IntakeAnswer<'a> {
    event_id: &'a str,
    jobs: &'a [i64],
    repeat: bool,
}

/// Largest event body accepted.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// An event refused: `{"error": …, "field": …}`, naming the field when one is at fault.
fn intake_error(
    status: actix_web::http::StatusCode,
    error: &str,
    field: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status).json(IntakeRefusal { error, field })
}

fn bearer_secret(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

fn unauthorized() -> HttpResponse {
    intake_error(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "a valid service token is required (Authorization: Bearer …)",
        None,
    )
}

fn not_permitted() -> HttpResponse {
    intake_error(
        actix_web::http::StatusCode::FORBIDDEN,
        &format!(
            "the token's service user may not post events: it needs the permission {POST_EVENTS} (“Can add learner”)"
        ),
        None,
    )
}

/// What a presented token may do with events.
enum EventRight {
    /// Not a valid token: 401.
    Unknown,
    /// A valid token whose user lacks [`POST_EVENTS`]: 403.
    Refused,
    Granted,
}

fn event_right(conn: &mut crate::db::DbConnection, secret: &str) -> QueryResult<EventRight> {
    Ok(match service_tokens::authenticate(conn, secret)? {
        None => EventRight::Unknown,
        Some(rights) if !rights.grants(POST_EVENTS) => EventRight::Refused,
        Some(_) => EventRight::Granted,
    })
}

/// The body, read up to the limit; `None` when it is larger.
async fn bounded_body(payload: web::Payload) -> Result<Option<web::Bytes>, AppError> {
    match super::body::read_limited(payload, MAX_EVENT_BYTES).await {
        Ok(body) => Ok(Some(body)),
        Err(super::body::BodyError::TooLarge) => Ok(None),
        Err(unreadable) => Err(unreadable.into()),
    }
}

/// What became of an event, decided off the executor.
enum Intake {
    Unauthorized,
    Refused,
    Malformed(String),
    Invalid(intake::FieldError),
    Recorded(intake::Recorded),
}

fn recorded(recorded: intake::Recorded) -> HttpResponse {
    let status = if recorded.repeat {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::ACCEPTED
    };
    HttpResponse::build(status).json(IntakeAnswer {
        event_id: &recorded.event_id,
        jobs: &recorded.job_ids,
        repeat: recorded.repeat,
    })
}

async fn certificate_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let lms = state.config.lms_url.clone();
    intake_event(
        &state,
        &req,
        payload,
        intake::parse_certificate,
        move |conn, event, body| intake::certificate(conn, event, body, &lms),
    )
    .await
}

async fn enrollment_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    intake_event(
        &state,
        &req,
        payload,
        intake::parse_enrollment,
        intake::enrollment,
    )
    .await
}

/// Reads an event, then in one blocking task checks the service token and its right to
/// post events (first: nothing about the body is told to a caller without them), parses
/// the event and records it with its award jobs.
async fn intake_event<E: Send + 'static>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    parse: fn(&Value) -> Result<E, intake::FieldError>,
    record: impl FnOnce(&mut crate::db::DbConnection, &E, &Value) -> QueryResult<intake::Recorded>
    + Send
    + 'static,
) -> Result<HttpResponse, AppError> {
    let Some(secret) = bearer_secret(req) else {
        return Ok(unauthorized());
    };
    let Some(body) = bounded_body(payload).await? else {
        let right = state.db.run(move |conn| event_right(conn, &secret)).await?;
        return Ok(match right {
            EventRight::Unknown => unauthorized(),
            EventRight::Refused => not_permitted(),
            EventRight::Granted => intake_error(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than 64 KiB",
                None,
            ),
        });
    };
    let outcome = state
        .db
        .run(move |conn| {
            match event_right(conn, &secret)? {
                EventRight::Unknown => return Ok::<_, diesel::result::Error>(Intake::Unauthorized),
                EventRight::Refused => return Ok(Intake::Refused),
                EventRight::Granted => {}
            }
            let value: Value = match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(e) => return Ok(Intake::Malformed(e.to_string())),
            };
            let event = match parse(&value) {
                Ok(event) => event,
                Err(e) => return Ok(Intake::Invalid(e)),
            };
            record(conn, &event, &value).map(Intake::Recorded)
        })
        .await?;
    Ok(match outcome {
        Intake::Unauthorized => unauthorized(),
        Intake::Refused => not_permitted(),
        Intake::Malformed(e) => intake_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            &format!("malformed JSON: {e}"),
            None,
        ),
        Intake::Invalid(e) => intake_error(
            actix_web::http::StatusCode::BAD_REQUEST,
            &e.message,
            Some(&e.field),
        ),
        Intake::Recorded(done) => recorded(done),
    })
}
