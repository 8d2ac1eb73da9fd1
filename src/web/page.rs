//! What every admin page shows around its content: title, user, messages, breadcrumbs.

use crate::web::session::{Message, TypedSession};

pub const SITE_HEADER: &str = "Accolade administration";
pub const STUDIO_HEADER: &str = "Accolade Studio";
pub use crate::urls::{ADMIN_PASSWORD_CHANGE, STUDIO_PASSWORD_CHANGE};

#[derive(Clone, Debug)]
pub struct Crumb {
    pub label: String,
    pub url: Option<String>,
}

impl Crumb {
    pub fn link(label: impl Into<String>, url: impl Into<String>) -> Crumb {
        Crumb {
            label: label.into(),
            url: Some(url.into()),
        }
    }

    pub fn here(label: impl Into<String>) -> Crumb {
        Crumb {
            label: label.into(),
            url: None,
        }
    }
}

pub struct Page {
    pub title: String,
    pub site_header: &'static str,
    /// Where the site header links to.
    pub home_url: &'static str,
    /// Where the header's "Change password" leads (the admin's page, or Studio's).
    pub password_change_url: &'static str,
    /// The logged-in user's name, when the header should show the user links.
    pub username: Option<String>,
    pub csrf_token: String,
    pub messages: Vec<Message>,
    /// Home first; empty on pages without breadcrumbs (login).
    pub breadcrumbs: Vec<Crumb>,
    /// Site-wide warnings that hold until someone acts (not one-time messages).
    pub notices: Vec<String>,
}

impl Page {
    /// A page for `session`, taking its pending messages.
    pub fn new(session: &TypedSession, title: impl Into<String>, username: Option<String>) -> Page {
        Page {
            title: title.into(),
            site_header: SITE_HEADER,
            home_url: crate::urls::ADMIN,
            password_change_url: ADMIN_PASSWORD_CHANGE,
            username,
            csrf_token: session.csrf_token(),
            messages: session.take_messages(),
            breadcrumbs: Vec::new(),
            notices: Vec::new(),
        }
    }

    pub fn crumbs(mut self, crumbs: Vec<Crumb>) -> Page {
        self.breadcrumbs = std::iter::once(Crumb::link("Home", crate::urls::ADMIN))
            .chain(crumbs)
            .collect();
        self
    }
}
