//! The logged-in staff user, as an extractor that guards every admin page.

use super::page::{Crumb, Page};
use super::session_user::{Area, SessionUser, area_user};
use crate::admin::history::Author;
use crate::admin::{Actor, DynModelAdmin};
use crate::auth::permissions::{Action, PermissionSet};
use crate::auth::users::User;
use crate::error::AppError;
use crate::web::session::TypedSession;

/// Pages a user who must change their password may still open.
const ALLOWED_BEFORE_PASSWORD_CHANGE: &[&str] = &[
    crate::urls::ADMIN_PASSWORD_CHANGE,
    crate::urls::ADMIN_PASSWORD_DONE,
    crate::urls::LOGOUT,
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

/// The admin: staff only, and nothing but the password change before a forced one.
const ADMIN_AREA: Area = Area {
    staff_only: true,
    before_password_change: ALLOWED_BEFORE_PASSWORD_CHANGE,
    password_change: crate::urls::ADMIN_PASSWORD_CHANGE,
};

area_user!(
    Staff,
    &ADMIN_AREA,
    |state: &crate::web::AppState| {
        let admin = state.admin.clone();
        move |conn: &mut crate::db::DbConnection| admin.notices(conn)
    },
    |found: SessionUser<Vec<String>>| Staff {
        user: found.user,
        permissions: found.permissions,
        session: found.session,
        notices: found.extra,
    },
);
