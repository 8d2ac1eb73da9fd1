//! Logging in and out, and changing passwords.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::AppState;
use super::client::client_address;
use super::page::{ADMIN_PASSWORD_CHANGE, Crumb, Page, STUDIO_PASSWORD_CHANGE};
use super::router::{Router, endpoint};
use super::session_user::session_user;
use super::staff::Staff;
use crate::auth::permissions::Action;
use crate::auth::throttle::Admission;
use crate::auth::{password, safe_next, sessions, throttle, users};
use crate::error::{AppError, redirect};
use crate::web::session::{Level, TypedSession};

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
    redirect(crate::urls::ADMIN)
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
    /// The user, and the key of the session started for them.
    LoggedIn(users::User, String),
}

async fn login(
    state: web::Data<AppState>,
    session: TypedSession,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let address = client_address(&req, state.config.proxies);
    // PostgreSQL refuses NUL in text; no username holds U+FFFD, so this still fails.
    let username = users::normalize_username(&form.username).replace('\0', "\u{FFFD}");
    let outcome = authenticate(&state, &username, form.password, address).await?;
    let (error, status) = match outcome {
        LoginOutcome::LoggedIn(user, key) => {
            session.log_in(&key);
            tracing::info!(user = %user.username, "login");
            if user.must_change_password {
                return Ok(force_password_change(&session, &user));
            }
            if !user.is_staff && !next.starts_with(crate::urls::STUDIO) {
                return Ok(redirect(crate::urls::STUDIO));
            }
            return Ok(redirect(&next));
        }
        LoginOutcome::Throttled(wait) => (
            too_many_attempts(wait),
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        ),
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

/// One login attempt: counted before it is verified (see `auth::throttle`), verified in the
/// CPU pool without holding a database connection, and on success a session started.
/// Admin staff, and course team members (for Studio), may log in.
async fn authenticate(
    state: &AppState,
    username: &str,
    password: String,
    address: String,
) -> Result<LoginOutcome, AppError> {
    let (limits, policy) = (state.config.throttle.clone(), state.config.sessions);
    let attempt = username.to_string();
    let (admission, user) = state
        .db
        .run(move |conn| {
            let admission = throttle::admit(conn, &limits, &attempt, &address)?;
            Ok::<_, AppError>((admission, users::find_by_username(conn, &attempt)?))
        })
        .await?;
    if let Admission::Wait(wait) = admission {
        return Ok(LoginOutcome::Throttled(wait));
    }
    let stored = user.as_ref().map(|u| u.password.clone());
    if !verify_password(state, password, stored).await? {
        return Ok(LoginOutcome::Refused);
    }
    let Some(user) = user.filter(|u| u.is_active) else {
        return Ok(LoginOutcome::Refused);
    };
    let limits = state.config.throttle.clone();
    state
        .db
        .run(move |conn| {
            if !(user.is_staff || crate::courses::has_any_role(conn, user.id)?) {
                return Ok::<_, AppError>(LoginOutcome::Refused);
            }
            throttle::forget(conn, &limits, &user.username)?;
            users::record_login(conn, user.id)?;
            let key = sessions::start(conn, &policy, user.id)?;
            Ok(LoginOutcome::LoggedIn(user, key))
        })
        .await
        .map_err(AppError::from)
}

/// Whether `password` matches the stored hash; an unknown user (`None`) costs the same time
/// and never matches.
async fn verify_password(
    state: &AppState,
    password: String,
    stored: Option<String>,
) -> Result<bool, AppError> {
    state
        .cpu
        .run(move || match stored {
            Some(hash) => password::verify(&password, &hash),
            None => {
                password::verify_dummy(&password);
                false
            }
        })
        .await
}

fn too_many_attempts(wait: std::time::Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    format!(
        "Too many failed login attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// Where a user who must choose a new password is sent, whatever they asked for: the
/// admin's page for staff, Studio's for course team members.
pub fn force_password_change(session: &TypedSession, user: &users::User) -> HttpResponse {
    session.add_message(
        Level::Warning,
        "Please choose a new password before you continue.",
    );
    redirect(if user.is_staff {
        ADMIN_PASSWORD_CHANGE
    } else {
        STUDIO_PASSWORD_CHANGE
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/logged_out.html")]
struct LoggedOutPage {
    page: Page,
}

/// Ends the session on the server, so that every copy of the cookie stops working.
async fn logout(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<LoggedOutPage, AppError> {
    if let Some(key) = session.key() {
        state.db.run(move |conn| sessions::end(conn, &key)).await?;
    }
    session.log_out();
    Ok(LoggedOutPage {
        page: Page::new(&session, "Logged out", None).crumbs(vec![]),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/password_change.html")]
pub struct PasswordChangePage {
    page: Page,
    /// The user whose password is set; `None` for one's own.
    target: Option<String>,
    errors: crate::admin::FieldErrors,
}

#[derive(Deserialize)]
pub struct PasswordChangeForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

fn own_password_page(staff: &Staff, errors: crate::admin::FieldErrors) -> PasswordChangePage {
    password_page(
        staff.page("Password change", vec![Crumb::here("Password change")]),
        errors,
    )
}

/// The page where users change their own password, in the admin's or Studio's frame.
pub fn password_page(page: Page, errors: crate::admin::FieldErrors) -> PasswordChangePage {
    PasswordChangePage {
        page,
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
        errors.add("new_password1", crate::validation::FieldErrors::REQUIRED);
    }
    if form.new_password2.is_empty() {
        errors.add("new_password2", crate::validation::FieldErrors::REQUIRED);
    } else if form.new_password1 != form.new_password2 {
        errors.add("new_password2", "The two password fields didn’t match.");
    } else if user.must_change_password && form.new_password1 == form.old_password {
        // A pending change replaces a password someone else chose or saw.
        errors.add(
            "new_password2",
            "Choose a new password: not the one you were given.",
        );
    } else {
        for problem in password::validate(&form.new_password1, &user.username, &user.email) {
            errors.add("new_password2", problem);
        }
    }
    errors
}

/// Changes the user's own password, or says what is wrong. The old password is a guess
/// like a login's, so it is counted and throttled the same way; the new one is hashed in
/// the CPU pool. Every other session of the user ends; this one stays.
pub async fn change_own_password(
    state: &AppState,
    req: &HttpRequest,
    user: &users::User,
    session: &TypedSession,
    form: PasswordChangeForm,
) -> Result<crate::admin::FieldErrors, AppError> {
    let mut errors = check_new_password(&form, user);
    let limits = state.config.throttle.clone();
    let (name, address) = (
        user.username.clone(),
        client_address(req, state.config.proxies),
    );
    let admission = state
        .db
        .run(move |conn| throttle::admit(conn, &limits, &name, &address))
        .await?;
    if let Admission::Wait(wait) = admission {
        errors.add("old_password", too_many_attempts(wait));
        return Ok(errors);
    }
    let stored = user.password.clone();
    let new_password = errors.is_empty().then(|| form.new_password1.clone());
    let (verified, hash) = state
        .cpu
        .run(move || {
            let verified = password::verify(&form.old_password, &stored);
            (
                verified,
                new_password
                    .filter(|_| verified)
                    .map(|p| password::hash(&p)),
            )
        })
        .await?;
    if !verified {
        errors.add(
            "old_password",
            "Your old password was entered incorrectly. Please enter it again.",
        );
        return Ok(errors);
    }
    let (limits, id, name, keep) = (
        state.config.throttle.clone(),
        user.id,
        user.username.clone(),
        session.key(),
    );
    state
        .db
        .run(move |conn| {
            throttle::forget(conn, &limits, &name)?;
            if let Some(hash) = hash {
                users::set_password(conn, id, &hash, false, keep.as_deref())?;
            }
            Ok::<_, AppError>(())
        })
        .await?;
    if errors.is_empty() {
        tracing::info!(user = %user.username, "password changed");
        crate::config::forget_initial_password(&state.config, user);
    }
    Ok(errors)
}

async fn password_change(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    form: web::Form<PasswordChangeForm>,
) -> Result<HttpResponse, AppError> {
    let errors =
        change_own_password(&state, &req, &staff.user, &staff.session, form.into_inner()).await?;
    if errors.is_empty() {
        return Ok(redirect(crate::urls::ADMIN_PASSWORD_DONE));
    }
    Ok(respond(
        own_password_page(&staff, errors),
        actix_web::http::StatusCode::OK,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/password_change_done.html")]
pub struct PasswordChangeDonePage {
    pub page: Page,
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
    let actor = staff.user.clone();
    let (target, refusal) = state
        .db
        .run(move |conn| {
            let Some(target) = users::find(conn, id)? else {
                return Err(AppError::NotFound);
            };
            let refusal = users::management_refusal(conn, &actor, &target)?;
            Ok((target, refusal))
        })
        .await?;
    match refusal {
        Some(reason) => Err(AppError::Forbidden(reason.message().into())),
        None => Ok(target),
    }
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
                Crumb::link("Authentication and Authorization", crate::urls::ADMIN),
                Crumb::link("Users", crate::urls::changelist("auth", "user")),
                Crumb::link(
                    target.username.clone(),
                    crate::urls::object("auth", "user", &target.id.to_string(), "change"),
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
    let (actor_id, target_id, target_name) = (staff.user.id, target.id, target.username.clone());
    let info = state
        .admin
        .get("auth", "user")
        .ok_or(AppError::NotFound)?
        .info();
    let hash = state
        .cpu
        .run(move || password::hash(&form.new_password1))
        .await?;
    state
        .db
        .run(move |conn| {
            users::set_password_for(conn, actor_id, target_id, &hash)?;
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
    let message = if actor_id == target_id {
        "Password changed successfully."
    } else {
        "Password changed successfully. The user must choose a new password of their own at their next login."
    };
    staff.session.add_message(Level::Success, message);
    Ok(redirect(&crate::urls::object(
        "auth",
        "user",
        &target_id.to_string(),
        "change",
    )))
}
