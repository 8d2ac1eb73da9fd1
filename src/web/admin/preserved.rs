//! The changelist query (search, filters, order, page) carried through the object pages, so
//! that saving or deleting returns to the list as the admin left it (Django's
//! `_changelist_filters`).

use actix_web::HttpRequest;

use super::changelist_url;
use crate::admin::DynModelAdmin;
use crate::auth::MAX_CARRIED_URL;
use crate::web::query::{QueryString, pairs};

pub const PARAM: &str = "_changelist_filters";

/// The changelist query the page was opened with; an overlong one is dropped rather than
/// carried into every link and redirect of the page.
pub fn from_request(req: &HttpRequest) -> String {
    QueryString::new(pairs(req.query_string()))
        .get(PARAM)
        .filter(|query| query.len() <= MAX_CARRIED_URL)
        .unwrap_or_default()
        .to_string()
}

/// `url` carrying the changelist query along.
pub fn carry(url: String, preserved: &str) -> String {
    if preserved.is_empty() {
        url
    } else {
        format!(
            "{url}{}",
            QueryString::default().with(PARAM, preserved).href()
        )
    }
}

/// The changelist as it was left.
pub fn changelist(model: &dyn DynModelAdmin, preserved: &str) -> String {
    format!(
        "{}{}",
        changelist_url(model),
        QueryString::new(pairs(preserved)).href()
    )
}
