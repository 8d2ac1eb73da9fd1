//! The logged-in user behind every guarded page: the session's server record is checked,
//! the user loaded with their permissions, and an area's rules applied (staff only, the
//! forced password change). The admin's `Staff` and Studio's `StudioUser` are this, with
//! their own rules and extras.

use actix_web::{FromRequest, HttpRequest, web};
use diesel::QueryResult;

use super::AppState;
use crate::auth::permissions::{self, PermissionSet};
use crate::auth::sessions;
use crate::auth::users::{self, User};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::web::session::{Level, TypedSession};

/// What an area of the site asks of the users who open its pages.
pub struct Area {
    /// Only staff users may enter (others are asked to log in as one).
    pub staff_only: bool,
    /// Pages a user who must change their password may still open.
    pub before_password_change: &'static [&'static str],
    /// Where such a user is sent first.
    pub password_change: &'static str,
}

/// An active user whose session is still valid, and what the area loaded with them.
pub struct SessionUser<T> {
    pub user: User,
    pub permissions: PermissionSet,
    pub session: TypedSession,
    pub extra: T,
}

impl<T: Send + 'static> SessionUser<T> {
    /// The request's user, held to the area's rules; `extra` is loaded in the same trip to
    /// the database. Anyone else is sent to the login page (even for URLs that do not
    /// exist, so pages cannot be enumerated).
    pub async fn extract<F, G>(req: &HttpRequest, area: &Area, extra: F) -> Result<Self, AppError>
    where
        F: FnOnce(&AppState) -> G,
        G: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| AppError::internal("application state missing"))?
            .clone();
        let session = TypedSession::extract(req)
            .await
            .map_err(|e| AppError::internal(format!("session: {e}")))?;
        let next = match req.uri().query() {
            Some(q) => format!("{}?{q}", req.path()),
            None => req.path().to_string(),
        };
        let found = session_user_and(&state, &session, extra(&state)).await?;
        let Some((user, permissions, extra)) = found else {
            return Err(AppError::LoginRequired { next });
        };
        if area.staff_only && !user.is_staff {
            return Err(AppError::LoginRequired { next });
        }
        if user.must_change_password && !area.before_password_change.contains(&req.path()) {
            session.add_message(
                Level::Warning,
                "Please choose a new password before you continue.",
            );
            return Err(AppError::Redirect(area.password_change.into()));
        }
        Ok(SessionUser {
            user,
            permissions,
            session,
            extra,
        })
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

/// Makes `$user` the extractor of an area's handlers: the request's user held to `$area`'s
/// rules, with what `$extra` loads in the same trip to the database, made into `$user` by
/// `$into`.
macro_rules! area_user {
    ($user:ty, $area:expr, $extra:expr, $into:expr $(,)?) => {
        impl actix_web::FromRequest for $user {
            type Error = $crate::error::AppError;
            type Future =
                std::pin::Pin<Box<dyn std::future::Future<Output = Result<$user, Self::Error>>>>;

            fn from_request(
                req: &actix_web::HttpRequest,
                _: &mut actix_web::dev::Payload,
            ) -> Self::Future {
                let req = req.clone();
                Box::pin(async move {
                    let found =
                        $crate::web::session_user::SessionUser::extract(&req, $area, $extra)
                            .await?;
                    Ok($into(found))
                })
            }
        }
    };
}

pub(crate) use area_user;
