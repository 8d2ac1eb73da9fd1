//! The class an award job awards: for a course completion, the class of the course and
//! the learner's mode, created the first time from the course and the mode's image; for a
//! course-event badge, the `openedx__course` class the configuration names.

use diesel::prelude::*;

use super::backend::AwardError;
use crate::badges::classes::{self, BadgeClass, BadgeClassError, BadgeClassSpec, ImageSource};
use crate::badges::event_config::EVENT_COMPONENT;
use crate::badges::images::{BadgeImageError, image_for_mode};
use crate::courses;
use crate::db::DbConnection;
use crate::db::schema::badge_image_configurations as configs;

/// What an award may do, from the configuration.
#[derive(Clone, Debug)]
pub struct AwardSettings {
    /// `ENABLE_OPENBADGES`.
    pub badges_enabled: bool,
    /// `ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES`.
    pub allow_shipped_images: bool,
    pub lms_url: String,
}

/// Upstream's words when a course has "Issue Open Badges" off.
const COURSE_BADGES_OFF: &str = "Course is not configured to issue badges.";

/// The class a job awards, or why there is nothing to award.
pub enum ClassLookup {
    Found(Box<BadgeClass>),
    Skip(String),
}

/// The class of a course-event badge: made by an admin, looked up only.
pub fn event_badge_class(conn: &mut DbConnection, slug: &str) -> Result<ClassLookup, AwardError> {
    Ok(match classes::find(conn, slug, EVENT_COMPONENT, "")? {
        Some(class) => ClassLookup::Found(Box::new(class)),
        None => ClassLookup::Skip(format!(
            "There is no badge class with the slug {slug:?} and the issuing component {EVENT_COMPONENT:?}."
        )),
    })
}

/// The class of a course completion, created the first time from the course and the
/// mode's image.
pub fn course_completion_class(
    conn: &mut DbConnection,
    settings: &AwardSettings,
    course_key: &str,
    mode: &str,
) -> Result<ClassLookup, AwardError> {
    let course = courses::find_by_key(conn, course_key)?
        .ok_or_else(|| AwardError::Permanent(format!("unknown course {course_key:?}")))?;
    if !course.issue_badges {
        return Ok(ClassLookup::Skip(COURSE_BADGES_OFF.into()));
    }
    let slug = classes::course_slug(&course.course_id, mode);
    if classes::find(conn, &slug, "", &course.course_id)?.is_none() {
        refuse_shipped_image(conn, settings, mode)?;
    }
    let name = if course.display_name.is_empty() {
        course.course_id.clone()
    } else {
        course.display_name.clone()
    };
    let spec = BadgeClassSpec {
        slug,
        issuing_component: String::new(),
        description: classes::badge_description(&name, mode, course.start_date, course.end_date),
        display_name: name,
        criteria: course.about_url(&settings.lms_url),
        mode: mode.to_string(),
        course_id: Some(course.course_id.clone()),
        image: ImageSource::ForMode(mode.to_string()),
    };
    match classes::get_badge_class(conn, &spec, true) {
        Ok(Some(class)) => Ok(ClassLookup::Found(Box::new(class))),
        Ok(None) => Err(AwardError::Permanent(
            "the badge class could not be created".into(),
        )),
        Err(BadgeClassError::CourseBadgesDisabled) => {
            Ok(ClassLookup::Skip(COURSE_BADGES_OFF.into()))
        }
        Err(BadgeClassError::Image(BadgeImageError::NotConfigured(mode))) => Err(no_image(&mode)),
        Err(BadgeClassError::Database(e)) => Err(e.into()),
        Err(other) => Err(AwardError::Permanent(other.to_string())),
    }
}

fn no_image(mode: &str) -> AwardError {
    AwardError::Permanent(format!(
        "no badge image configured for mode {mode:?} and no default image"
    ))
}

/// A shipped default image is not frozen into a badge class unless the site allows it.
fn refuse_shipped_image(
    conn: &mut DbConnection,
    settings: &AwardSettings,
    mode: &str,
) -> Result<(), AwardError> {
    let image = match image_for_mode(conn, mode) {
        Ok(image) => image,
        Err(BadgeImageError::NotConfigured(mode)) => return Err(no_image(&mode)),
        Err(BadgeImageError::Database(e)) => return Err(e.into()),
    };
    let shipped: bool = diesel::select(diesel::dsl::exists(
        configs::table
            .filter(configs::image_hash.eq(&image.image_hash))
            .filter(configs::is_shipped.eq(true)),
    ))
    .get_result(conn)?;
    if shipped && !settings.allow_shipped_images {
        return Err(AwardError::Permanent(format!(
            "the badge image for mode {mode:?} is still the one shipped with Accolade: replace it in the admin (or set ACCOLADE_ALLOW_SHIPPED_BADGE_IMAGES=true)"
        )));
    }
    Ok(())
}
