//! Courses, their "Issue Open Badges" setting, and course teams.

pub mod keys;
pub mod roles;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

pub use keys::CourseKey;
pub use roles::{
    NewRole, Role, TeamRole, TeamRoles, courses_of, has_any_role, role_on, team_roles,
};

use crate::db::schema::courses;
use crate::db::{DbConnection, now};
use crate::validation::{FieldErrors, max_chars};

pub const ISSUE_BADGES_LABEL: &str = "Issue Open Badges";
pub const ISSUE_BADGES_HELP: &str =
    "Issue Open Badges badges for this course. Badges are generated when certificates are created.";
const DUPLICATE_KEY: &str = "Course with this Course key already exists.";
/// The unique constraint on course keys, by the name [`crate::db::violated_constraint`]
/// gives it.
const KEY_INDEX: &str = "courses_course_id_key";

crate::db::row_id::row_id! {
    /// A course's row id: not its key ([`CourseKey`], which Open edX calls `course_id`).
    pub struct CourseId;
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = courses)]
pub struct Course {
    pub id: CourseId,
    pub course_id: String,
    pub display_name: String,
    pub org: String,
    pub start_date: Option<chrono::NaiveDate>,
    pub end_date: Option<chrono::NaiveDate>,
    pub issue_badges: bool,
    pub modes: String,
    pub about_url: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl Course {
    /// The badge criteria: the course's about page.
    pub fn about_url(&self, lms_url: &str) -> String {
        if self.about_url.is_empty() {
            format!(
                "{}/courses/{}/about",
                lms_url.trim_end_matches('/'),
                self.course_id
            )
        } else {
            self.about_url.clone()
        }
    }

    pub fn mode_list(&self) -> Vec<&str> {
        split_modes(&self.modes)
    }
}

/// A course mode is a lowercase slug such as `verified` or `no-id-professional`.
pub fn validate_mode(mode: &str) -> Option<String> {
    if mode.is_empty() {
        Some(FieldErrors::REQUIRED.into())
    } else if let Err(too_long) = max_chars(mode, 125) {
        Some(too_long)
    } else if !mode
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || !mode.chars().any(|c| c.is_ascii_lowercase())
    {
        Some(format!(
            "“{mode}” is not a valid mode: use lowercase letters, digits, hyphens and underscores, such as “verified” or “no-id-professional”."
        ))
    } else {
        None
    }
}

/// `honor, verified, honor` → `["honor", "verified"]`: each mode once, in the order first
/// given.
pub fn split_modes(modes: &str) -> Vec<&str> {
    let mut split: Vec<&str> = Vec::new();
    for mode in modes.split([',', ' ', '\n']).map(str::trim) {
        if !mode.is_empty() && !split.contains(&mode) {
            split.push(mode);
        }
    }
    split
}

pub fn find_by_key(conn: &mut DbConnection, course_id: &str) -> QueryResult<Option<Course>> {
    courses::table
        .filter(courses::course_id.eq(course_id))
        .select(Course::as_select())
        .first(conn)
        .optional()
}

/// A course with the defaults (badges on), for keys first seen in an event.
pub fn create(conn: &mut DbConnection, key: &CourseKey, display_name: &str) -> QueryResult<Course> {
    diesel::insert_into(courses::table)
        .values((
            courses::course_id.eq(key.to_string()),
            courses::display_name.eq(display_name),
            courses::org.eq(&key.org),
            courses::created_at.eq(now()),
            courses::updated_at.eq(now()),
        ))
        .execute(conn)?;
    courses::table
        .filter(courses::course_id.eq(key.to_string()))
        .select(Course::as_select())
        .first(conn)
}

pub fn set_issue_badges(conn: &mut DbConnection, id: CourseId, on: bool) -> QueryResult<usize> {
    diesel::update(courses::table.find(id))
        .set((courses::issue_badges.eq(on), courses::updated_at.eq(now())))
        .execute(conn)
}

/// Sets "Issue Open Badges" on the courses of these ids where it differs; returns the
/// (id, course key) of those it changed, by id.
pub fn set_issue_badges_of(
    conn: &mut DbConnection,
    ids: &[CourseId],
    on: bool,
) -> QueryResult<Vec<(CourseId, String)>> {
    let changed: Vec<(CourseId, String)> = courses::table
        .filter(courses::id.eq_any(ids))
        .filter(courses::issue_badges.ne(on))
        .order(courses::id)
        .select((courses::id, courses::course_id))
        .load(conn)?;
    for (id, _) in &changed {
        set_issue_badges(conn, *id, on)?;
    }
    Ok(changed)
}

pub fn by_id(conn: &mut DbConnection, id: CourseId) -> QueryResult<Option<Course>> {
    courses::table
        .find(id)
        .select(Course::as_select())
        .first(conn)
        .optional()
}

/// The courses of these ids that exist, by course key.
pub fn by_ids(conn: &mut DbConnection, ids: &[CourseId]) -> QueryResult<Vec<Course>> {
    courses::table
        .filter(courses::id.eq_any(ids))
        .order(courses::course_id)
        .select(Course::as_select())
        .load(conn)
}

/// Every course as a choice: (id, course key), by course key.
pub fn choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    Ok(courses::table
        .order(courses::course_id)
        .select((courses::id, courses::course_id))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, key)| (id.to_string(), key))
        .collect())
}

/// The organizations that have courses, in order.
/// What the courses list filters by.
#[derive(Clone, Debug, Default)]
pub struct CourseFilter {
    pub org: Option<String>,
    pub issue_badges: Option<bool>,
}

/// The courses that meet `filter`, as a query to search, order and page further.
pub fn matching(filter: CourseFilter) -> courses::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut query = courses::table.into_boxed();
    if let Some(org) = filter.org {
        query = query.filter(courses::org.eq(org));
    }
    if let Some(on) = filter.issue_badges {
        query = query.filter(courses::issue_badges.eq(on));
    }
    query
}

pub fn orgs(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    courses::table
        .select(courses::org)
        .distinct()
        .order(courses::org)
        .load(conn)
}

/// A course's fields as entered by hand (a form): text as typed (trimmed here), dates as
/// `YYYY-MM-DD`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CourseInput {
    /// The course key; read only when the course is added (it is its identity).
    pub course_id: String,
    pub display_name: String,
    pub start_date: String,
    pub end_date: String,
    /// Separated by commas or spaces.
    pub modes: String,
    /// Empty for the LMS's about page.
    pub about_url: String,
}

impl CourseInput {
    /// A course's values as they are entered.
    pub fn of(course: &Course) -> CourseInput {
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        CourseInput {
            course_id: course.course_id.clone(),
            display_name: course.display_name.clone(),
            start_date: date(course.start_date),
            end_date: date(course.end_date),
            modes: course.modes.clone(),
            about_url: course.about_url.clone(),
        }
    }
}

/// Adds a course (`id` `None`) or changes one, after validation; returns it.
/// `issue_badges` `None` leaves "Issue Open Badges" as it is (on, for a new course).
pub fn save(
    conn: &mut DbConnection,
    id: Option<CourseId>,
    input: &CourseInput,
    issue_badges: Option<bool>,
) -> QueryResult<Result<Course, FieldErrors>> {
    let (errors, key, start, end) = validate(conn, id, input)?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let modes = split_modes(&input.modes).join(", ");
    let values = (
        courses::display_name.eq(input.display_name.trim()),
        courses::start_date.eq(start),
        courses::end_date.eq(end),
        courses::modes.eq(&modes),
        courses::about_url.eq(input.about_url.trim()),
        courses::updated_at.eq(now()),
    );
    let id = match (id, key) {
        (Some(id), _) => {
            diesel::update(courses::table.find(id))
                .set(values)
                .execute(conn)?;
            id
        }
        (None, Some(key)) => {
            let inserted = diesel::insert_into(courses::table)
                .values((
                    values,
                    courses::course_id.eq(key.to_string()),
                    courses::org.eq(&key.org),
                    courses::created_at.eq(now()),
                ))
                .returning(courses::id)
                .get_result(conn);
            match inserted {
                Ok(id) => id,
                // Added meanwhile by another save (or an LMS event).
                Err(e)
                    if crate::db::violated_constraint(conn, &e)?.as_deref() == Some(KEY_INDEX) =>
                {
                    let mut errors = FieldErrors::default();
                    errors.add("course_id", DUPLICATE_KEY);
                    return Ok(Err(errors));
                }
                Err(e) => return Err(e),
            }
        }
        (None, None) => return Err(diesel::result::Error::NotFound),
    };
    if let Some(on) = issue_badges {
        diesel::update(courses::table.find(id))
            .set(courses::issue_badges.eq(on))
            .execute(conn)?;
    }
    Ok(Ok(by_id(conn, id)?.ok_or(diesel::result::Error::NotFound)?))
}

type Validated = (
    FieldErrors,
    Option<CourseKey>,
    Option<chrono::NaiveDate>,
    Option<chrono::NaiveDate>,
);

/// The field errors of a course to save as `own_id`, with the key of a new course and the
/// dates, parsed.
fn validate(
    conn: &mut DbConnection,
    own_id: Option<CourseId>,
    input: &CourseInput,
) -> QueryResult<Validated> {
    let mut errors = FieldErrors::default();
    let key_text = input.course_id.trim();
    let key = match own_id {
        // The key is the course's identity: fixed once created.
        Some(_) => None,
        None => match CourseKey::parse(key_text) {
            Ok(key) => {
                if find_by_key(conn, &key.to_string())?.is_some() {
                    errors.add("course_id", DUPLICATE_KEY);
                }
                Some(key)
            }
            Err(_) if key_text.is_empty() => {
                errors.add("course_id", FieldErrors::REQUIRED);
                None
            }
            Err(_) => {
                errors.add("course_id", keys::INVALID);
                None
            }
        },
    };
    if let Err(too_long) = max_chars(input.display_name.trim(), 255) {
        errors.add("display_name", too_long);
    }
    // The whole list, as the form's field takes it.
    if let Err(too_long) = max_chars(input.modes.trim(), 500) {
        errors.add("modes", too_long);
    }
    let start = parse_date(&input.start_date, "start_date", &mut errors);
    let end = parse_date(&input.end_date, "end_date", &mut errors);
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        errors.add(
            "end_date",
            "The end date must not be before the start date.",
        );
    }
    for mode in split_modes(&input.modes) {
        if let Some(problem) = validate_mode(mode) {
            errors.add("modes", problem);
        }
    }
    let about = input.about_url.trim();
    let about_ok = about.is_empty() || (crate::validation::is_web_url(about) && about.len() <= 500);
    if !about_ok {
        errors.add("about_url", "Enter a valid URL (http:// or https://).");
    }
    Ok((errors, key, start, end))
}

/// A `YYYY-MM-DD` date; empty is none, anything else is the field's error.
fn parse_date(text: &str, field: &str, errors: &mut FieldErrors) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            errors.add(field, "Enter a valid date (YYYY-MM-DD).");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_are_split_each_once_in_the_order_given() {
        let modes = super::split_modes("verified, audit\nverified  honor,,audit");
        assert_eq!(modes, ["verified", "audit", "honor"]);
    }
}
