//! The logged-in staff user, as an extractor that guards every admin page.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use diesel::QueryResult;

use super::AppState;
use super::page::{Crumb, Page};
use crate::admin::history::Author;
use crate::admin::{Actor, DynModelAdmin};
use crate::auth::permissions::{self, Action, PermissionSet};
use crate::auth::session::TypedSession;
use crate::auth::sessions;
use crate::auth::users::{self, User};
use crate::db::DbConnection;
use crate::error::AppError;

/// Pages a user who must change their password may still open.
const ALLOWED_BEFORE_PASSWORD_CHANGE: &[&str] = &[
    "/admin/password_change/",
    "/admin/password_change/done/",
    "/admin/logout/",
];

/// An active staff user whose session is still valid. Anyone else is sent to the login
/// page (even for URLs that do not exist, so models cannot be enumerated).
pub struct Staff {
    pub user: User,
    pub permissions: PermissionSet,
    pub session: TypedSession,
    /// Site-wide warnings for every admin page.
    pub notices: Vec<String>,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.id,
            is_superuser: self.user.is_superuser,
        }
    }

    pub fn author(&self) -> Author {
        Author {
            user_id: self.user.id,
            username: self.user.username.clone(),
        }
    }

    pub fn can(&self, model: &dyn DynModelAdmin, action: Action) -> bool {
        let info = model.info();
        model.allows(action) && self.permissions.has(info.app_label, action, info.model)
    }

    /// `Forbidden` unless the user holds the permission.
    pub fn require(&self, model: &dyn DynModelAdmin, action: Action) -> Result<(), AppError> {
        if self.can(model, action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "You do not have permission to do that.".into(),
            ))
        }
    }

    pub fn page(&self, title: impl Into<String>, crumbs: Vec<Crumb>) -> Page {
        let mut page =
            Page::new(&self.session, title, Some(self.user.username.clone())).crumbs(crumbs);
        page.notices = self.notices.clone();
        page
    }
}

/// Loads the session's user when the session is still valid (its server record exists and
/// has not expired, and the user is active); ends the session otherwise.
pub async fn session_user(
    state: &AppState,
    session: &TypedSession,
) -> Result<Option<(User, PermissionSet)>, AppError> {
    Ok(session_user_and(state, session, |_| Ok(()))
        .await?
        .map(|(user, perms, ())| (user, perms)))
}

/// [`session_user`], and `also` run in the same trip to the database (for what every page
/// of an area needs).
async fn session_user_and<T: Send + 'static>(
    state: &AppState,
    session: &TypedSession,
    also: impl FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
) -> Result<Option<(User, PermissionSet, T)>, AppError> {
    let Some(key) = session.key() else {
        return Ok(None);
    };
    let policy = state.config.sessions;
    let found = state
        .db
        .run(move |conn| {
            let user = match sessions::resume(conn, &policy, &key)? {
                Some(user_id) => users::find(conn, user_id)?.filter(|u| u.is_active),
                None => None,
            };
            let Some(user) = user else {
                return Ok::<_, AppError>(None);
            };
            let perms = permissions::load(conn, &user)?;
            Ok(Some((user, perms, also(conn)?)))
        })
        .await?;
    if found.is_none() {
        session.log_out();
    }
    Ok(found)
}

impl FromRequest for Staff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Staff, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("application state missing"))?
                .clone();
            let session = TypedSession::extract(&req)
                .await
                .map_err(|e| AppError::internal(format!("session: {e}")))?;
            let next = match req.uri().query() {
                Some(q) => format!("{}?{q}", req.path()),
                None => req.path().to_string(),
            };
            let admin = state.admin.clone();
            let found = session_user_and(&state, &session, move |conn| admin.notices(conn)).await?;
            let Some((user, permissions, notices)) = found else {
                return Err(AppError::LoginRequired { next });
            };
            if !user.is_staff {
                return Err(AppError::LoginRequired { next });
            }
            if user.must_change_password && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&req.path()) {
                session.add_message(
                    crate::auth::session::Level::Warning,
                    "Please choose a new password before you continue.",
                );
                return Err(AppError::Redirect(
                    super::page::ADMIN_PASSWORD_CHANGE.into(),
                ));
            }
            Ok(Staff {
                user,
                permissions,
                session,
                notices,
            })
        })
    }
}
