//! One object of every kind, and every route's URL filled in from them: what the route
//! matrix and the hostile-input sweep send their requests to.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::{TestApp, spawn_app};

/// The data every route's parameters are filled from.
pub struct Fixture {
    pub app: TestApp,
    pub root: i64,
    pub lms: i64,
    /// A user without any right, whom anyone allowed to change users may manage.
    pub plain: i64,
    pub token: String,
    /// The first object of each admin model, by "app/model".
    pub ids: BTreeMap<String, String>,
    pub image_name: String,
    pub badge_class_id: String,
    pub assertion_id: String,
}

pub const COURSE: &str = "course-v1:edX+Matrix+2026";
/// A course whose team the non-staff caller is on.
pub const OTHER_COURSE: &str = "course-v1:edX+Other+2026";

pub async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let root = app.login_superuser().await;
    let lms = app.create_user("lms", false, false);
    let token = app.create_token(lms).await;
    let plain = app.create_user("plain", false, false);
    let accepted = app.send_certificate(&token, "ev-1", COURSE, "Matrix").await;
    assert_eq!(accepted.status(), 202);
    app.issue_waiting_awards();
    // A course role, an event-badge configuration version and a group, so every model has
    // an object.
    app.give_course_role(root, app.course_id(COURSE), "staff");
    accolade::courses::create(
        &mut app.conn(),
        &accolade::courses::CourseKey::parse(OTHER_COURSE).unwrap(),
        "Other",
    )
    .unwrap();
    assert_eq!(
        app.post_form("/admin/auth/group/add/", &[("name", "editors")])
            .await
            .status(),
        302
    );
    assert_eq!(
        app.post_form(
            "/admin/badges/courseeventbadgesconfiguration/add/",
            &[("enabled", "on"), ("courses_completed", "")],
        )
        .await
        .status(),
        302
    );

    let site = app.admin_site();
    let mut ids = BTreeMap::new();
    for (_, models) in site.apps() {
        for model in models {
            let info = model.info();
            let list = format!("/admin/{}/{}/", info.app_label, info.model);
            let html = app.get_html(&list).await;
            let id = first_id(&html, &list)
                .unwrap_or_else(|| panic!("the fixture has no {} to point routes at", info.model));
            ids.insert(format!("{}/{}", info.app_label, info.model), id);
        }
    }
    let (badge_class_id, assertion_id, image_name) = {
        use accolade::db::schema::{badge_assertions, badge_image_configurations as configs};
        let (class, assertion): (i64, String) = badge_assertions::table
            .select((
                badge_assertions::badge_class_id,
                badge_assertions::public_id,
            ))
            .first(&mut *app.conn())
            .unwrap();
        let hash: String = configs::table
            .select(configs::image_hash)
            .first(&mut *app.conn())
            .unwrap();
        (class.to_string(), assertion, format!("{hash}.png"))
    };
    Fixture {
        app,
        root,
        lms,
        plain,
        token,
        ids,
        image_name,
        badge_class_id,
        assertion_id,
    }
}

/// The id in the first change link of a changelist.
fn first_id(html: &str, list: &str) -> Option<String> {
    let prefix = format!("href=\"{list}");
    html.match_indices(&prefix).find_map(|(at, _)| {
        let rest = &html[at + prefix.len()..];
        let id = rest.split('/').next()?;
        rest[id.len()..]
            .starts_with("/change/")
            .then(|| id.to_string())
    })
}

/// What an object id should be for a request: a real one to read, one that does not exist
/// to write (so the sweep never changes or deletes what later requests read).
fn id_for(method: &str, real: &str) -> String {
    if method == "GET" {
        real.to_string()
    } else {
        "999999".to_string()
    }
}

impl Fixture {
    /// The URL of a generic admin route (`/admin/{app}/{model}/…`) for the model `key`
    /// ("app/model").
    pub fn model_url(&self, path: &str, method: &str, key: &str) -> String {
        path.replace("{app}/{model}", key)
            .replace("{id}", &id_for(method, &self.ids[key]))
    }

    /// The URL of any other route, its parameters filled in (a parameter already replaced
    /// by the caller keeps its value).
    pub fn url(&self, path: &str, method: &str) -> String {
        path.replace("{path:.*}", "admin/admin.css")
            .replace("{name}", &self.image_name)
            .replace(
                "/public/badges/{id}",
                &format!("/public/badges/{}", self.badge_class_id),
            )
            .replace(
                "/public/assertions/{id}",
                &format!("/public/assertions/{}", self.assertion_id),
            )
            .replace("{username}", "alice")
            .replace("{course_id:.+}", COURSE)
            // Only superusers set the password of a user with rights (a superuser, the
            // LMS's service user): the target holds none.
            .replace(
                "/user/{id}/",
                &format!("/user/{}/", id_for(method, &self.plain.to_string())),
            )
            .replace(
                "/revoke/",
                &format!("/revoke/?ids={}", self.ids["badges/badgeassertion"]),
            )
            .replace("{anything}", "nope/")
    }
}
