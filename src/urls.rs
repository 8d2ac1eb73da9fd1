//! Every path Accolade serves and links to, written once: routes, links, breadcrumbs,
//! documents and reports build their URLs here, so a path changes in one place.

/// The admin's home, and the root every admin path starts from.
pub const ADMIN: &str = "/admin/";
pub const LOGIN: &str = "/admin/login/";
pub const ADMIN_PASSWORD_CHANGE: &str = "/admin/password_change/";
pub const ADMIN_PASSWORD_DONE: &str = "/admin/password_change/done/";
pub const LOGOUT: &str = "/admin/logout/";
pub const FROZEN_IMAGES: &str = "/admin/badges/frozen-images/";
pub const RECONCILIATION: &str = "/admin/badges/reconciliation/";
pub const STUDIO: &str = "/studio/";
pub const STUDIO_PASSWORD_CHANGE: &str = "/studio/password_change/";
pub const STUDIO_PASSWORD_DONE: &str = "/studio/password_change/done/";

/// Where processed badge images are served, by content hash.
pub const BADGE_IMAGES: &str = "/media/badge-images/";
/// Where their thumbnails are served, by the same hash.
pub const BADGE_THUMBNAILS: &str = "/media/badge-images/thumbnails/";

/// The changelist of a model.
pub fn changelist(app_label: &str, model: &str) -> String {
    format!("{ADMIN}{app_label}/{model}/")
}

/// A page of one object (`change`, `delete`, `history`); `id` must already be one path
/// segment (percent-encoded).
pub fn object(app_label: &str, model: &str, id: &str, page: &str) -> String {
    format!("{}{id}/{page}/", changelist(app_label, model))
}

/// Where an admin sets a user's password.
pub fn set_password(user_id: i64) -> String {
    object("auth", "user", &user_id.to_string(), "password")
}

/// The processed badge image stored under `hash`.
pub fn badge_image(hash: &str) -> String {
    format!("{BADGE_IMAGES}{hash}.png")
}

/// The thumbnail of the badge image stored under `hash`.
pub fn badge_thumbnail(hash: &str) -> String {
    format!("{BADGE_THUMBNAILS}{hash}.png")
}

/// A course's advanced settings in Studio.
pub fn studio_settings(course_key: &str) -> String {
    format!("{STUDIO}course/{course_key}/settings/advanced")
}

/// The public documents of the Open Badges issuer and its badges, under the site's URL.
#[derive(Clone, Debug)]
pub struct PublicUrls {
    pub site: String,
}

impl PublicUrls {
    pub fn issuer(&self) -> String {
        format!("{}/public/issuers/accolade", self.site)
    }
    pub fn badge_class(&self, class_id: i64) -> String {
        format!("{}/public/badges/{class_id}", self.site)
    }
    pub fn badge_class_image(&self, class_id: i64) -> String {
        format!("{}/image", self.badge_class(class_id))
    }
    pub fn assertion(&self, public_id: &str) -> String {
        format!("{}{}", self.site, assertion_path(public_id))
    }
    pub fn assertion_image(&self, public_id: &str) -> String {
        format!("{}/image", self.assertion(public_id))
    }
    /// A processed badge image, by content hash.
    pub fn badge_image(&self, hash: &str) -> String {
        format!("{}{}", self.site, badge_image(hash))
    }
}

/// An assertion's path: Accolade's own, and the same on badgr-server.
pub fn assertion_path(public_id: &str) -> String {
    format!("/public/assertions/{public_id}")
}
