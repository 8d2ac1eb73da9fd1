//! The Studio-like pages where course teams change their courses' advanced settings
//! ("Issue Open Badges"): `/studio/` lists a user's courses, and
//! `/studio/course/<course key>/settings/advanced` shows and saves the settings.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::AppState;
use super::account::{self, PasswordChangeForm, PasswordChangePage};
use super::page::{Crumb, Page, STUDIO_PASSWORD_CHANGE};
use super::router::{Router, endpoint};
use super::session_user::{Area, SessionUser, area_user};
use crate::admin::history::{self, ChangeMessage};
use crate::auth::permissions::{Action, PermissionSet};
use crate::auth::users::User;
use crate::badges::frozen;
use crate::courses::{self, Course, ISSUE_BADGES_HELP, ISSUE_BADGES_LABEL};
use crate::error::{AppError, redirect};
use crate::web::session::{Level, TypedSession};

use crate::urls::STUDIO_PASSWORD_DONE;
/// Pages a user who must change their password may still open in Studio.
const STUDIO_PASSWORD_PAGES: &[&str] = &[STUDIO_PASSWORD_CHANGE, STUDIO_PASSWORD_DONE];

pub fn routes(routes: &mut Router) {
    routes
        .add(endpoint(crate::urls::STUDIO).get(index))
        .add(
            endpoint(STUDIO_PASSWORD_CHANGE)
                .get(password_change_form)
                .post(password_change),
        )
        .add(endpoint(STUDIO_PASSWORD_DONE).get(password_change_done))
        .add(endpoint("/studio").get(|| async { redirect(crate::urls::STUDIO) }))
        .add(
            endpoint("/studio/course/{course_id:.+}/settings/advanced")
                .get(advanced_settings)
                .post(save_advanced_settings),
        );
}

/// A logged-in, active user (admin staff or not); anyone else is sent to the login page.
pub struct StudioUser {
    pub user: User,
    pub permissions: PermissionSet,
    pub session: TypedSession,
}

/// Studio: any active user; nothing but Studio's password change before a forced one.
const STUDIO_AREA: Area = Area {
    staff_only: false,
    before_password_change: STUDIO_PASSWORD_PAGES,
    password_change: STUDIO_PASSWORD_CHANGE,
};

area_user!(
    StudioUser,
    &STUDIO_AREA,
    |_: &AppState| |_: &mut crate::db::DbConnection| Ok(()),
    |found: SessionUser<()>| StudioUser {
        user: found.user,
        permissions: found.permissions,
        session: found.session,
    },
);

impl StudioUser {
    fn page(&self, title: impl Into<String>, crumbs: Vec<Crumb>) -> Page {
        let mut page = Page::new(&self.session, title, Some(self.user.username.clone()));
        page.site_header = super::page::STUDIO_HEADER;
        page.home_url = crate::urls::STUDIO;
        page.password_change_url = STUDIO_PASSWORD_CHANGE;
        page.breadcrumbs = std::iter::once(Crumb::link("My courses", crate::urls::STUDIO))
            .chain(crumbs)
            .collect();
        page
    }

    fn can_change_any_course(&self) -> bool {
        self.user.is_staff && self.permissions.has("courses", Action::Change, "course")
    }
}

pub fn settings_url(course_id: &str) -> String {
    crate::urls::studio_settings(course_id)
}

pub struct CourseRow {
    pub course_id: String,
    pub display_name: String,
    pub role: String,
    pub issue_badges: bool,
    pub settings_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "studio/index.html")]
pub struct IndexPage {
    page: Page,
    courses: Vec<CourseRow>,
    can_change_all: bool,
}

async fn index(state: web::Data<AppState>, user: StudioUser) -> Result<IndexPage, AppError> {
    let user_id = user.user.id;
    let mine = state
        .db
        .run(move |conn| courses::courses_of(conn, user_id))
        .await?;
    Ok(IndexPage {
        page: user.page("My courses", vec![]),
        courses: mine
            .into_iter()
            .map(|(c, role)| CourseRow {
                settings_url: settings_url(&c.course_id),
                course_id: c.course_id,
                display_name: c.display_name,
                role,
                issue_badges: c.issue_badges,
            })
            .collect(),
        can_change_all: user.can_change_any_course(),
    })
}

pub struct SettingRow {
    pub key: &'static str,
    pub display_name: &'static str,
    pub help: &'static str,
    pub value: String,
    pub editable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "studio/advanced_settings.html")]
pub struct SettingsPage {
    page: Page,
    course_id: String,
    display_name: String,
    settings: Vec<SettingRow>,
    badges_enabled: bool,
    error: Option<String>,
}

/// The course (404 if unknown), when the user is on its team or may change any course (403
/// otherwise).
async fn permitted_course(
    state: &AppState,
    user: &StudioUser,
    course_id: String,
) -> Result<Course, AppError> {
    let user_id = user.user.id;
    let (course, role) = state
        .db
        .run(move |conn| {
            let course = courses::find_by_key(conn, &course_id)?.ok_or(AppError::NotFound)?;
            let role = courses::role_on(conn, user_id, course.id)?;
            Ok::<_, AppError>((course, role))
        })
        .await?;
    if role.is_some() || user.can_change_any_course() {
        Ok(course)
    } else {
        Err(AppError::Forbidden(
            "You are not on this course's team.".into(),
        ))
    }
}

fn settings_page(
    state: &AppState,
    user: &StudioUser,
    course: &Course,
    error: Option<String>,
) -> SettingsPage {
    let date = |d: Option<chrono::NaiveDate>| d.map_or("not set".to_string(), |d| d.to_string());
    let mut settings = vec![
        SettingRow {
            key: "display_name",
            display_name: "Course Display Name",
            help: "The course's name, as the LMS shows it.",
            value: course.display_name.clone(),
            editable: false,
        },
        SettingRow {
            key: "start",
            display_name: "Course Start Date",
            help: "Shown in badge descriptions.",
            value: date(course.start_date),
            editable: false,
        },
        SettingRow {
            key: "end",
            display_name: "Course End Date",
            help: "Shown in badge descriptions.",
            value: date(course.end_date),
            editable: false,
        },
    ];
    if state.config.badges_enabled {
        settings.push(SettingRow {
            key: "issue_badges",
            display_name: ISSUE_BADGES_LABEL,
            help: ISSUE_BADGES_HELP,
            value: course.issue_badges.to_string(),
            editable: true,
        });
    }
    SettingsPage {
        page: user.page(
            format!("Advanced settings: {}", course.course_id),
            vec![
                Crumb::here(course.course_id.clone()),
                Crumb::here("Advanced settings"),
            ],
        ),
        course_id: course.course_id.clone(),
        display_name: course.display_name.clone(),
        settings,
        badges_enabled: state.config.badges_enabled,
        error,
    }
}

async fn advanced_settings(
    state: web::Data<AppState>,
    user: StudioUser,
    course_id: web::Path<String>,
) -> Result<SettingsPage, AppError> {
    let course = permitted_course(&state, &user, course_id.into_inner()).await?;
    Ok(settings_page(&state, &user, &course, None))
}

#[derive(Deserialize)]
struct SettingsForm {
    issue_badges: Option<String>,
}

async fn save_advanced_settings(
    state: web::Data<AppState>,
    user: StudioUser,
    course_id: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    let course = permitted_course(&state, &user, course_id.into_inner()).await?;
    let url = settings_url(&course.course_id);
    let wanted = match (state.config.badges_enabled, form.issue_badges.as_deref()) {
        // The setting is hidden while badging is off for the site: nothing to save.
        (false, _) => None,
        (true, Some("true")) => Some(true),
        (true, Some("false")) => Some(false),
        // Left out or anything else: not saved, and not said to be.
        (true, _) => {
            let page = settings_page(
                &state,
                &user,
                &course,
                Some("“Issue Open Badges” must be true or false.".into()),
            );
            return Ok(HttpResponse::BadRequest()
                .content_type("text/html; charset=utf-8")
                .body(page.render()?));
        }
    };
    if let Some(on) = wanted.filter(|on| *on != course.issue_badges) {
        let info = state
            .admin
            .get("courses", "course")
            .ok_or(AppError::NotFound)?
            .info();
        let author = history::Author {
            user_id: user.user.id,
            username: user.user.username.clone(),
        };
        let changed = course.clone();
        let frozen = state
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let frozen = frozen::set_issue_badges(conn, &changed, on)?;
                    let message = ChangeMessage::Changed {
                        fields: vec![ISSUE_BADGES_LABEL.into()],
                    };
                    let (id, key) = (changed.id.to_string(), &changed.course_id);
                    history::log(conn, &author, info, &id, key, &message)?;
                    Ok::<_, diesel::result::Error>(frozen)
                })
            })
            .await?;
        if !on && !frozen.is_empty() {
            user.session.add_message(
                Level::Warning,
                "Badges are now off for this course: no new badges will be issued for it. Badges already issued stay valid and stay with their learners.",
            );
        }
    }
    user.session
        .add_message(Level::Success, "Your changes have been saved.");
    Ok(redirect(&url))
}

fn studio_password_page(
    user: &StudioUser,
    errors: crate::admin::FieldErrors,
) -> PasswordChangePage {
    account::password_page(
        user.page("Password change", vec![Crumb::here("Password change")]),
        errors,
    )
}

async fn password_change_form(user: StudioUser) -> PasswordChangePage {
    studio_password_page(&user, Default::default())
}

async fn password_change(
    state: web::Data<AppState>,
    user: StudioUser,
    req: HttpRequest,
    form: web::Form<PasswordChangeForm>,
) -> Result<HttpResponse, AppError> {
    let errors =
        account::change_own_password(&state, &req, &user.user, &user.session, form.into_inner())
            .await?;
    if errors.is_empty() {
        return Ok(redirect(STUDIO_PASSWORD_DONE));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(studio_password_page(&user, errors).render()?))
}

async fn password_change_done(user: StudioUser) -> account::PasswordChangeDonePage {
    account::PasswordChangeDonePage {
        page: user.page(
            "Password change successful",
            vec![Crumb::here("Password change")],
        ),
    }
}
