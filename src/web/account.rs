//! Logging in and out, and changing passwords.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::AppState;
use super::page::{Crumb, Page};
use super::router::{Router, endpoint};
use super::staff::{Staff, session_user};
use crate::auth::permissions::Action;
use crate::auth::session::{self, Level, TypedSession};
use crate::auth::{password, safe_next, throttle, users};
use crate::error::{AppError, redirect};

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint("/login/").get(login_form).post(login))
        .add(endpoint("/logout/").post(logout))
        .add(
            endpoint("/password_change/")
                .get(password_change_form)
                .post(password_change),
        )
        .add(endpoint("/password_change/done/").get(password_change_done))
        .add(
            endpoint("/auth/user/{id}/password/")
                .get(set_password_form)
                .post(set_password),
        );
}

pub async fn root() -> HttpResponse {
    redirect("/admin/")
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
struct LoginPage {
    page: Page,
    username: String,
    next: String,
    error: Option<String>,
    /// Set when a logged-in user without admin access reaches the login page.
    authenticated_as: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    let current = session_user(&state, &session).await?;
    if let Some((user, _)) = &current
        && user.is_staff
    {
        return Ok(redirect(&next));
    }
    let page = LoginPage {
        page: Page::new(&session, "Log in", None),
        username: String::new(),
        next,
        error: None,
        authenticated_as: current.map(|(user, _)| user.username),
    };
    Ok(respond(page, actix_web::http::StatusCode::OK))
}

fn respond(template: impl Template, status: actix_web::http::StatusCode) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => actix_web::ResponseError::error_response(&AppError::from(e)),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

const LOGIN_FAILED: &str = "Please enter the correct username and password for a staff account. Note that both fields may be case-sensitive.";

enum LoginOutcome {
    Throttled(std::time::Duration),
    Refused,
    LoggedIn(users::User),
}

async fn login(
    state: web::Data<AppState>,
    session: TypedSession,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let address = client_address(&req, &state);
    let limits = state.config.throttle.clone();
    // PostgreSQL refuses NUL in text; no username holds U+FFFD, so this still fails.
    let username = form.username.trim().replace('\0', "\u{FFFD}");
    let attempt = username.clone();
    let outcome = state
        .db
        .run(move |conn| {
            if let Some(wait) = throttle::wait_time(conn, &limits, &attempt, &address)? {
                return Ok::<_, AppError>(LoginOutcome::Throttled(wait));
            }
            let user = users::find_by_username(conn, &attempt)?;
            let verified = match &user {
                Some(u) => password::verify(&form.password, &u.password),
                None => {
                    password::verify_dummy(&form.password);
                    false
                }
            };
            // Admin staff, and course team members (for Studio), may log in.
            let may_enter = match &user {
                Some(u) if verified && u.is_active => {
                    u.is_staff || crate::courses::has_any_role(conn, u.id)?
                }
                _ => false,
            };
            match user {
                Some(u) if may_enter => {
                    throttle::record_success(conn, &limits, &attempt)?;
                    users::record_login(conn, u.id)?;
                    Ok(LoginOutcome::LoggedIn(u))
                }
                _ => {
                    throttle::record_failure(conn, &attempt, &address)?;
                    Ok(LoginOutcome::Refused)
                }
            }
        })
        .await?;
    let (error, status) = match outcome {
        LoginOutcome::LoggedIn(user) => {
            session.log_in(
                user.id,
                &session::auth_hash(&state.auth_hash_key, &user.password),
            );
            tracing::info!(user = %user.username, "login");
            if user.must_change_password {
                session.add_message(
                    Level::Warning,
                    "Please choose a new password before you continue.",
                );
                return Ok(redirect("/admin/password_change/"));
            }
            if !user.is_staff && !next.starts_with("/studio/") {
                return Ok(redirect("/studio/"));
            }
            return Ok(redirect(&next));
        }
        LoginOutcome::Throttled(wait) => {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            (
                format!(
                    "Too many failed login attempts. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            )
        }
        LoginOutcome::Refused => (LOGIN_FAILED.to_string(), actix_web::http::StatusCode::OK),
    };
    let page = LoginPage {
        page: Page::new(&session, "Log in", None),
        username,
        next,
        error: Some(error),
        authenticated_as: None,
    };
    Ok(respond(page, status))
}

/// The client's address: the peer, or the first `X-Forwarded-For` hop when configured.
fn client_address(req: &HttpRequest, state: &AppState) -> String {
    if state.config.trust_x_forwarded_for
        && let Some(forwarded) = req.connection_info().realip_remote_addr()
    {
        return forwarded.chars().take(64).collect();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/logged_out.html")]
struct LoggedOutPage {
    page: Page,
}

async fn logout(session: TypedSession) -> LoggedOutPage {
    session.log_out();
    LoggedOutPage {
        page: Page::new(&session, "Logged out", None).crumbs(vec![]),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/password_change.html")]
struct PasswordChangePage {
    page: Page,
    /// The user whose password is set; `None` for one's own.
    target: Option<String>,
    errors: crate::admin::FieldErrors,
}

#[derive(Deserialize)]
struct PasswordChangeForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

fn own_password_page(staff: &Staff, errors: crate::admin::FieldErrors) -> PasswordChangePage {
    PasswordChangePage {
        page: staff.page("Password change", vec![Crumb::here("Password change")]),
        target: None,
        errors,
    }
}

async fn password_change_form(staff: Staff) -> PasswordChangePage {
    own_password_page(&staff, Default::default())
}

/// The problems with a new password, keyed by form field.
fn check_new_password(form: &PasswordChangeForm, user: &users::User) -> crate::admin::FieldErrors {
    let mut errors = crate::admin::FieldErrors::default();
    if form.new_password1.is_empty() {
        errors.add("new_password1", "This field is required.");
    }
    if form.new_password2.is_empty() {
        errors.add("new_password2", "This field is required.");
    } else if form.new_password1 != form.new_password2 {
        errors.add("new_password2", "The two password fields didn’t match.");
    } else {
        for problem in password::validate(&form.new_password1, &user.username, &user.email) {
            errors.add("new_password2", problem);
        }
    }
    errors
}

async fn password_change(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<PasswordChangeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let user = staff.user.clone();
    let key = state.auth_hash_key;
    let outcome = state
        .db
        .run(move |conn| {
            let mut errors = check_new_password(&form, &user);
            if !password::verify(&form.old_password, &user.password) {
                errors.add(
                    "old_password",
                    "Your old password was entered incorrectly. Please enter it again.",
                );
            }
            if !errors.is_empty() {
                return Ok::<_, AppError>(Err(errors));
            }
            let hash = password::hash(&form.new_password1);
            users::set_password(conn, user.id, &hash, false)?;
            Ok(Ok(session::auth_hash(&key, &hash)))
        })
        .await?;
    match outcome {
        Ok(digest) => {
            // This session stays; every other session of the user ends.
            staff.session.set_auth_hash(&digest);
            tracing::info!(user = %staff.user.username, "password changed");
            Ok(redirect("/admin/password_change/done/"))
        }
        Err(errors) => Ok(respond(
            own_password_page(&staff, errors),
            actix_web::http::StatusCode::OK,
        )),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/password_change_done.html")]
struct PasswordChangeDonePage {
    page: Page,
}

async fn password_change_done(staff: Staff) -> PasswordChangeDonePage {
    PasswordChangeDonePage {
        page: staff.page(
            "Password change successful",
            vec![Crumb::here("Password change")],
        ),
    }
}

/// The admin's "Set a new password" page for another user (needs change permission on users).
async fn load_target(state: &AppState, staff: &Staff, id: &str) -> Result<users::User, AppError> {
    let model = state.admin.get("auth", "user").ok_or(AppError::NotFound)?;
    staff.require(model.as_ref(), Action::Change)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let target = state
        .db
        .run(move |conn| users::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    if target.is_superuser && !staff.user.is_superuser {
        return Err(AppError::Forbidden(
            "Only superusers may set a superuser's password.".into(),
        ));
    }
    Ok(target)
}

fn set_password_page(
    staff: &Staff,
    target: &users::User,
    errors: crate::admin::FieldErrors,
) -> PasswordChangePage {
    PasswordChangePage {
        page: staff.page(
            format!("Change password: {}", target.username),
            vec![
                Crumb::link("Authentication and Authorization", "/admin/"),
                Crumb::link("Users", "/admin/auth/user/"),
                Crumb::link(
                    target.username.clone(),
                    format!("/admin/auth/user/{}/change/", target.id),
                ),
                Crumb::here("Change password"),
            ],
        ),
        target: Some(target.username.clone()),
        errors,
    }
}

async fn set_password_form(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<PasswordChangePage, AppError> {
    let target = load_target(&state, &staff, &id).await?;
    Ok(set_password_page(&staff, &target, Default::default()))
}

async fn set_password(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    form: web::Form<PasswordChangeForm>,
) -> Result<HttpResponse, AppError> {
    let target = load_target(&state, &staff, &id).await?;
    let form = form.into_inner();
    let errors = check_new_password(&form, &target);
    if !errors.is_empty() {
        return Ok(respond(
            set_password_page(&staff, &target, errors),
            actix_web::http::StatusCode::OK,
        ));
    }
    let author = staff.author();
    let (target_id, target_name) = (target.id, target.username.clone());
    let info = state
        .admin
        .get("auth", "user")
        .ok_or(AppError::NotFound)?
        .info();
    state
        .db
        .run(move |conn| {
            let hash = password::hash(&form.new_password1);
            users::set_password(conn, target_id, &hash, false)?;
            crate::admin::history::log(
                conn,
                &author,
                info,
                &target_id.to_string(),
                &target_name,
                &crate::admin::history::ChangeMessage::Changed {
                    fields: vec!["Password".into()],
                },
            )
        })
        .await?;
    staff
        .session
        .add_message(Level::Success, "Password changed successfully.");
    Ok(redirect(&format!("/admin/auth/user/{target_id}/change/")))
}
