//! Course-event ("meta") badge configuration, as upstream's `CourseEventBadgesConfiguration`:
//! thresholds of completed and enrolled courses, and groups of courses, each naming a
//! badge class with the issuing component `openedx__course`. Versioned: every save is a new
//! row, and the newest row applies (only while it is enabled, unlike upstream).

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::courses::{self, CourseKey};
use crate::db::schema::course_event_badge_configurations as configs;
use crate::db::{DbConnection, now};
use crate::validation::FieldErrors;

/// The issuing component of every course-event badge class.
pub const EVENT_COMPONENT: &str = "openedx__course";
pub const SYNTAX: &str = "Please check the syntax of your entry.";

/// A field that does not follow its line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{SYNTAX}")]
pub struct SyntaxError;

#[derive(Queryable, Selectable, Clone, Debug, Default)]
#[diesel(table_name = configs)]
pub struct EventBadgesConfig {
    pub id: i64,
    pub change_date: chrono::NaiveDateTime,
    pub changed_by_id: Option<i64>,
    pub enabled: bool,
    pub courses_completed: String,
    pub courses_enrolled: String,
    pub course_groups: String,
}

impl EventBadgesConfig {
    /// Upstream's display string.
    pub fn repr(&self) -> String {
        let state = if self.enabled { "Enabled" } else { "Disabled" };
        format!("<CourseEventBadgesConfiguration ({state})>")
    }

    /// The parsed rules; text that no longer parses (it was checked when saved) counts as
    /// empty rather than stopping every award.
    /// How many badges of each kind the version awards, for lists.
    pub fn summary(&self) -> String {
        let rules = self.rules();
        format!(
            "{} completion, {} enrollment, {} group badges",
            rules.completed.len(),
            rules.enrolled.len(),
            rules.groups.len()
        )
    }

    pub fn rules(&self) -> EventBadgeRules {
        EventBadgeRules {
            completed: parse_counts(&self.courses_completed).unwrap_or_default(),
            enrolled: parse_counts(&self.courses_enrolled).unwrap_or_default(),
            groups: parse_groups(&self.course_groups).unwrap_or_default(),
        }
    }
}

/// What the configuration says, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventBadgeRules {
    /// Number of passing certificates → badge class slug.
    pub completed: BTreeMap<u32, String>,
    /// Number of active enrollments → badge class slug.
    pub enrolled: BTreeMap<u32, String>,
    /// Badge class slug → the course keys that all need a passing certificate.
    pub groups: Vec<(String, Vec<String>)>,
}

impl EventBadgeRules {
    /// The slugs of every threshold the count has reached: a badge is not lost when a
    /// count jumps past its checkpoint (several certificates generated in one batch).
    pub fn reached(thresholds: &BTreeMap<u32, String>, count: i64) -> Vec<String> {
        thresholds
            .iter()
            .filter(|&(&threshold, _)| i64::from(threshold) <= count)
            .map(|(_, slug)| slug.clone())
            .collect()
    }

    /// Every course key the rules mention.
    pub fn course_keys(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|(_, keys)| keys.iter().map(String::as_str))
    }
}

/// Splits on every newline convention, `\r` alone included (upstream's tests use it).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r'])
}

fn slug_of(text: &str) -> Option<String> {
    let slug = text.trim().to_lowercase();
    (!slug.is_empty()).then_some(slug)
}

/// `count,slug` a line; blank lines are skipped and a later line with the same count wins.
/// A count must be a positive whole number.
pub fn parse_counts(text: &str) -> Result<BTreeMap<u32, String>, SyntaxError> {
    let mut map = BTreeMap::new();
    for line in lines(text).filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split(',').collect();
        let [count, slug] = parts.as_slice() else {
            return Err(SyntaxError);
        };
        let count: u32 = count.trim().parse().map_err(|_| SyntaxError)?;
        if count == 0 {
            return Err(SyntaxError);
        }
        map.insert(count, slug_of(slug).ok_or(SyntaxError)?);
    }
    Ok(map)
}

/// `slug,course_key,course_key…` a line. As upstream, a line without a comma (an empty line
/// between groups included) is an error; a key listed twice counts once, so the group can
/// still be completed (upstream defect D18).
pub fn parse_groups(text: &str) -> Result<Vec<(String, Vec<String>)>, SyntaxError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.split("\r\n").flat_map(lines) {
        let (slug, keys) = line.split_once(',').ok_or(SyntaxError)?;
        let slug = slug_of(slug).ok_or(SyntaxError)?;
        let mut parsed: Vec<String> = Vec::new();
        for key in keys.split(',') {
            let key = CourseKey::parse(key.trim())
                .map_err(|_| SyntaxError)?
                .to_string();
            if !parsed.contains(&key) {
                parsed.push(key);
            }
        }
        groups.retain(|(existing, _)| *existing != slug);
        groups.push((slug, parsed));
    }
    Ok(groups)
}

/// The three text fields as submitted.
#[derive(Clone, Debug, Default)]
pub struct EventBadgesInput {
    pub enabled: bool,
    pub courses_completed: String,
    pub courses_enrolled: String,
    pub course_groups: String,
}

/// Checks the syntax of every field (reporting all of them together), then that the
/// groups name only courses Accolade knows.
pub fn validate(conn: &mut DbConnection, input: &EventBadgesInput) -> QueryResult<FieldErrors> {
    let mut errors = FieldErrors::default();
    if parse_counts(&input.courses_completed).is_err() {
        errors.add("courses_completed", SYNTAX);
    }
    if parse_counts(&input.courses_enrolled).is_err() {
        errors.add("courses_enrolled", SYNTAX);
    }
    match parse_groups(&input.course_groups) {
        Err(SyntaxError) => errors.add("course_groups", SYNTAX),
        Ok(groups) => {
            let rules = EventBadgeRules {
                groups,
                ..EventBadgeRules::default()
            };
            for key in rules.course_keys() {
                if courses::find_by_key(conn, key)?.is_none() {
                    errors.add("course_groups", format!("The course {key} does not exist."));
                }
            }
        }
    }
    Ok(errors)
}

/// The configuration in force: the newest row, if any.
pub fn current(conn: &mut DbConnection) -> QueryResult<Option<EventBadgesConfig>> {
    configs::table
        .order((configs::change_date.desc(), configs::id.desc()))
        .select(EventBadgesConfig::as_select())
        .first(conn)
        .optional()
}

/// The rules to apply now: none while there is no configuration or it is disabled.
pub fn rules_in_force(conn: &mut DbConnection) -> QueryResult<Option<EventBadgeRules>> {
    Ok(current(conn)?
        .filter(|config| config.enabled)
        .map(|config| config.rules()))
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<EventBadgesConfig>> {
    configs::table
        .find(id)
        .select(EventBadgesConfig::as_select())
        .first(conn)
        .optional()
}

/// Saves a new version (never changes an old one), after validation.
pub fn save(
    conn: &mut DbConnection,
    input: &EventBadgesInput,
    changed_by: Option<i64>,
) -> QueryResult<Result<EventBadgesConfig, FieldErrors>> {
    let errors = validate(conn, input)?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let id: i64 = diesel::insert_into(configs::table)
        .values((
            configs::change_date.eq(now()),
            configs::changed_by_id.eq(changed_by),
            configs::enabled.eq(input.enabled),
            configs::courses_completed.eq(input.courses_completed.trim()),
            configs::courses_enrolled.eq(input.courses_enrolled.trim()),
            configs::course_groups.eq(input.course_groups.trim()),
        ))
        .returning(configs::id)
        .get_result(conn)?;
    Ok(Ok(by_id(conn, id)?.ok_or(diesel::result::Error::NotFound)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_every_newline_and_lowercase_the_slug() {
        let map = parse_counts("3,Slug_A\r5, slug_b \n\r\n8,slug_c\r\n  \n").unwrap();
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            vec![
                (3, "slug_a".to_string()),
                (5, "slug_b".to_string()),
                (8, "slug_c".to_string())
            ]
        );
        assert_eq!(parse_counts("").unwrap().len(), 0);
        assert_eq!(parse_counts("2,a\n2,b").unwrap()[&2], "b");
        assert_eq!(parse_counts(" 4 ,x").unwrap()[&4], "x");
    }

    #[test]
    fn malformed_count_lines_are_refused() {
        for bad in [
            "3", "3,a,b", "x,a", "3,", "0,a", "-1,a", "1.5,a", "3,a\nfoo",
        ] {
            assert!(parse_counts(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn groups_parse_and_deduplicate() {
        let groups =
            parse_groups("Group_A,course-v1:A+B+C, course-v1:A+B+D\rgroup_b,a/b/c,a/b/c\n")
                .unwrap();
        assert_eq!(
            groups,
            vec![
                (
                    "group_a".to_string(),
                    vec!["course-v1:A+B+C".to_string(), "course-v1:A+B+D".to_string()]
                ),
                ("group_b".to_string(), vec!["a/b/c".to_string()]),
            ]
        );
        assert!(parse_groups("  ").unwrap().is_empty());
    }

    #[test]
    fn malformed_groups_are_refused() {
        for bad in [
            "slug_only",
            "a,course-v1:A+B+C\n\nb,course-v1:A+B+D",
            "a,course-v1:A+B+C,",
            "a,not a key",
            ",course-v1:A+B+C",
        ] {
            assert!(parse_groups(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn every_threshold_reached_counts() {
        let map = parse_counts("1,one\n3,three\n5,five").unwrap();
        assert_eq!(EventBadgeRules::reached(&map, 0), Vec::<String>::new());
        assert_eq!(EventBadgeRules::reached(&map, 1), vec!["one"]);
        assert_eq!(EventBadgeRules::reached(&map, 4), vec!["one", "three"]);
    }

    #[test]
    fn display_string_as_upstream() {
        let config = EventBadgesConfig {
            enabled: true,
            ..EventBadgesConfig::default()
        };
        assert_eq!(config.repr(), "<CourseEventBadgesConfiguration (Enabled)>");
    }
}
