//! The back office: the admin's model admins, one short declaration per model, and the
//! site that registers them. Each file says what its model shows and offers and calls
//! the domain for every rule; the generic pages in `web::admin` do the rest.

mod assertions;
mod auth;
mod award_jobs;
mod badge_classes;
mod badge_images;
mod certificates;
mod course_roles;
mod courses;
mod event_badges;
pub mod frozen_images;
mod groups;
mod learners;
mod service_tokens;
mod users;

use crate::admin::AdminSite;
use crate::admin::site::ExtraPage;
use crate::config::Config;

/// The apps models are grouped in on the index, as (URL segment, heading).
type App = (&'static str, &'static str);
const AUTH: App = ("auth", "Authentication and Authorization");
const BADGES: App = ("badges", "Badges");
const CERTIFICATES: App = ("certificates", "Certificates");
const COURSES: App = ("courses", "Courses");
const LEARNERS: App = ("learners", "Learners");

/// Every model the admin shows.
pub fn site(config: &Config) -> AdminSite {
    let mut site = AdminSite::default();
    site.register(users::UserAdmin);
    site.register(groups::GroupAdmin);
    site.register(service_tokens::ServiceTokenAdmin);
    site.register(badge_images::BadgeImageConfigurationAdmin {
        limits: config.images.clone(),
    });
    site.register(courses::CourseAdmin {
        badges_enabled: config.badges_enabled,
        lms_url: config.lms_url.clone(),
    });
    site.register(course_roles::CourseRoleAdmin);
    site.register(badge_classes::BadgeClassAdmin {
        limits: config.images.clone(),
    });
    site.register(event_badges::EventBadgesConfigAdmin);
    site.register(assertions::BadgeAssertionAdmin);
    site.register(award_jobs::AwardJobAdmin);
    site.register(learners::LearnerAdmin);
    site.register(certificates::CertificateAdmin {
        lms_url: config.lms_url.clone(),
    });
    // Reports of the Badges app, each shown to whoever may view its model.
    let (app_label, app_name) = BADGES;
    for (label, url, model) in [
        (
            frozen_images::TITLE,
            crate::urls::FROZEN_IMAGES,
            "badgeclass",
        ),
        (
            "Reconciliation with Badgr",
            crate::urls::RECONCILIATION,
            "badgeassertion",
        ),
    ] {
        let page = ExtraPage {
            app_name,
            label,
            url,
            app_label,
            model,
        };
        site.add_page(page);
    }
    site
}
