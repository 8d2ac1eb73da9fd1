//! Which courses already have frozen badge images, and whether each still matches what the
//! image configuration would give today. A class is frozen when the backend creates it,
//! that is when its first badge is issued.

use std::collections::HashMap;

use diesel::dsl;
use diesel::prelude::*;

use crate::courses::{Course, CourseKey};
use crate::db::DbConnection;
use crate::db::schema::{badge_classes, badge_image_configurations as configs, courses};

/// One course and mode with a frozen badge class.
#[derive(Clone, Debug)]
pub struct FrozenRow {
    /// The frozen badge class.
    pub class_id: i64,
    pub course_id: String,
    pub course_name: String,
    pub org: String,
    pub mode: String,
    pub frozen_hash: String,
    /// What the configuration would give this mode today (its own image, else the default).
    pub current_hash: Option<String>,
    pub frozen_at: chrono::NaiveDateTime,
    pub backend_id: String,
}

impl FrozenRow {
    pub fn differs(&self) -> bool {
        self.current_hash.as_deref() != Some(self.frozen_hash.as_str())
    }
}

/// The report's filters; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    pub terms: Vec<String>,
    pub mode: Option<String>,
    pub org: Option<String>,
    pub differs: Option<bool>,
}

impl ReportFilter {
    pub fn keeps(&self, row: &FrozenRow) -> bool {
        let haystack = format!("{} {} {}", row.course_id, row.course_name, row.mode).to_lowercase();
        self.terms
            .iter()
            .all(|t| haystack.contains(&t.to_lowercase()))
            && self.mode.as_ref().is_none_or(|m| *m == row.mode)
            && self.org.as_ref().is_none_or(|o| *o == row.org)
            && self.differs.is_none_or(|d| d == row.differs())
    }
}

/// The image each mode gets today: mode → hash, and the default's hash.
fn current_images(
    conn: &mut DbConnection,
) -> QueryResult<(HashMap<String, String>, Option<String>)> {
    let rows: Vec<(String, String, bool)> = configs::table
        .select((configs::mode, configs::image_hash, configs::is_default))
        .load(conn)?;
    let default = rows.iter().find(|(_, _, d)| *d).map(|(_, h, _)| h.clone());
    let by_mode = rows.into_iter().map(|(m, h, _)| (m, h)).collect();
    Ok((by_mode, default))
}

/// The keys of the courses with a frozen badge image, as a subquery (to filter courses by).
pub fn frozen_course_keys() -> FrozenCourseKeys {
    badge_classes::table
        .filter(badge_classes::frozen_at.is_not_null())
        .select(badge_classes::course_id)
}

pub type FrozenCourseKeys = dsl::Select<
    dsl::Filter<badge_classes::table, dsl::IsNotNull<badge_classes::frozen_at>>,
    badge_classes::course_id,
>;

/// Every frozen course badge class, by course key and mode, filtered.
pub fn report(conn: &mut DbConnection, filter: &ReportFilter) -> QueryResult<Vec<FrozenRow>> {
    let (by_mode, default) = current_images(conn)?;
    type Found = (
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<chrono::NaiveDateTime>,
        String,
    );
    let found: Vec<Found> = badge_classes::table
        .left_join(courses::table.on(courses::course_id.eq(badge_classes::course_id)))
        .filter(badge_classes::frozen_at.is_not_null())
        .filter(badge_classes::course_id.ne(""))
        .order((
            badge_classes::course_id,
            badge_classes::mode,
            badge_classes::id,
        ))
        .select((
            badge_classes::id,
            badge_classes::course_id,
            courses::display_name.nullable(),
            courses::org.nullable(),
            badge_classes::mode,
            badge_classes::image_hash,
            badge_classes::frozen_at,
            badge_classes::backend_id,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(
            |(class_id, course_id, name, org, mode, frozen_hash, frozen_at, backend_id)| {
                FrozenRow {
                    class_id,
                    org: org
                        .or_else(|| CourseKey::parse(&course_id).ok().map(|k| k.org))
                        .unwrap_or_default(),
                    course_name: name.unwrap_or_default(),
                    current_hash: by_mode.get(&mode).cloned().or_else(|| default.clone()),
                    frozen_at: frozen_at.unwrap_or_default(),
                    course_id,
                    mode,
                    frozen_hash,
                    backend_id,
                }
            },
        )
        .filter(|row| filter.keeps(row))
        .collect())
}

/// The modes of a course whose badge image is frozen (its badge class exists on the backend).
pub fn frozen_modes(conn: &mut DbConnection, course_key: &str) -> QueryResult<Vec<String>> {
    badge_classes::table
        .filter(badge_classes::course_id.eq(course_key))
        .filter(badge_classes::frozen_at.is_not_null())
        .order(badge_classes::mode)
        .select(badge_classes::mode)
        .load(conn)
}

/// The modes with a frozen badge image of each of these courses that has any, as a list to
/// show: "honor, verified" ("(no mode)" for a class without one).
pub fn modes_by_course(
    conn: &mut DbConnection,
    of: &[Course],
) -> QueryResult<HashMap<String, String>> {
    let keys: Vec<&str> = of.iter().map(|c| c.course_id.as_str()).collect();
    let found: Vec<(String, String)> = badge_classes::table
        .filter(badge_classes::course_id.eq_any(keys))
        .filter(badge_classes::frozen_at.is_not_null())
        .order((badge_classes::course_id, badge_classes::mode))
        .select((badge_classes::course_id, badge_classes::mode))
        .load(conn)?;
    let mut modes: HashMap<String, String> = HashMap::new();
    for (key, mode) in found {
        let mode = if mode.is_empty() { "(no mode)" } else { &mode };
        let list = modes.entry(key).or_default();
        if !list.is_empty() {
            list.push_str(", ");
        }
        list.push_str(mode);
    }
    Ok(modes)
}

/// Turns a course's "Issue Open Badges" on or off, and returns the modes whose badge image
/// is already frozen: badges were issued for them, and those stay valid and with their
/// learners whatever the setting.
pub fn set_issue_badges(
    conn: &mut DbConnection,
    course: &Course,
    on: bool,
) -> QueryResult<Vec<String>> {
    crate::courses::set_issue_badges(conn, course.id, on)?;
    frozen_modes(conn, &course.course_id)
}

/// The courses whose image for a configuration is already frozen: classes of its mode,
/// and, for the default configuration, classes of modes that have no image of their own.
pub fn courses_frozen_for(
    conn: &mut DbConnection,
    mode: &str,
    is_default: bool,
) -> QueryResult<Vec<String>> {
    Ok(FrozenClasses::load(conn)?.courses_for(mode, is_default))
}

/// The frozen classes of courses, read once to answer [`courses_frozen_for`] for many
/// configurations (a changelist page).
pub struct FrozenClasses {
    modes_with_images: HashMap<String, String>,
    /// (course key, mode), ordered by course key.
    classes: Vec<(String, String)>,
}

impl FrozenClasses {
    pub fn load(conn: &mut DbConnection) -> QueryResult<FrozenClasses> {
        let (modes_with_images, _) = current_images(conn)?;
        let classes = badge_classes::table
            .filter(badge_classes::frozen_at.is_not_null())
            .filter(badge_classes::course_id.ne(""))
            .order(badge_classes::course_id)
            .select((badge_classes::course_id, badge_classes::mode))
            .load(conn)?;
        Ok(FrozenClasses {
            modes_with_images,
            classes,
        })
    }

    pub fn courses_for(&self, mode: &str, is_default: bool) -> Vec<String> {
        let mut keys: Vec<String> = self
            .classes
            .iter()
            .filter(|(_, m)| m == mode || (is_default && !self.modes_with_images.contains_key(m)))
            .map(|(key, _)| key.clone())
            .collect();
        keys.dedup();
        keys
    }
}
