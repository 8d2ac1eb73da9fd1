//! The admin pages of courses: the course key, dates, modes, "Issue Open Badges" and which
//! modes already have a frozen badge image.

use diesel::prelude::*;

use super::{CourseKey, ISSUE_BADGES_HELP, ISSUE_BADGES_LABEL, keys, split_modes, validate_mode};
use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, Actor, Cell, Column, DeletedObject, FieldErrors, FieldSpec,
    FilterSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row, SaveError, Saved,
    Widget, ids_as_i64,
};
use crate::db::schema::{badge_classes, course_roles, courses, users};
use crate::db::{DbConnection, now};

static INFO: ModelInfo = ModelInfo {
    app_label: "courses",
    app_name: "Courses",
    model: "course",
    verbose_name: "course",
    verbose_name_plural: "courses",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "course_id",
        label: "Course key",
        sortable: true,
    },
    Column {
        key: "display_name",
        label: "Display name",
        sortable: true,
    },
    Column {
        key: "org",
        label: "Org",
        sortable: true,
    },
    Column {
        key: "issue_badges",
        label: "Issue Open Badges",
        sortable: true,
    },
    Column {
        key: "frozen",
        label: "Frozen badge images",
        sortable: false,
    },
    Column {
        key: "start",
        label: "Start",
        sortable: true,
    },
];

const ENABLE: &str = "enable_badges";
const DISABLE: &str = "disable_badges";
const BACKFILL: &str = "backfill";

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new(ENABLE, "Enable badges"),
    ActionSpec::new(DISABLE, "Disable badges"),
    ActionSpec::new(BACKFILL, "Issue badges for existing passing certificates"),
];

pub struct CourseAdmin {
    /// `ENABLE_OPENBADGES`: when off, the per-course setting is hidden.
    pub badges_enabled: bool,
    /// `ACCOLADE_LMS_URL`, for the default about page.
    pub lms_url: String,
}

fn parse_date(data: &FormData, field: &str, errors: &mut FieldErrors) -> Option<chrono::NaiveDate> {
    let text = data.text(field);
    if text.is_empty() {
        return None;
    }
    match chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            errors.add(field, "Enter a valid date (YYYY-MM-DD).");
            None
        }
    }
}

fn frozen_by_course(
    conn: &mut DbConnection,
    keys: &[String],
) -> QueryResult<Vec<(String, String)>> {
    badge_classes::table
        .filter(badge_classes::course_id.eq_any(keys))
        .filter(badge_classes::frozen_at.is_not_null())
        .order((badge_classes::course_id, badge_classes::mode))
        .select((badge_classes::course_id, badge_classes::mode))
        .load(conn)
}

impl CourseAdmin {
    fn validate(
        &self,
        conn: &mut DbConnection,
        own_id: Option<i64>,
        data: &FormData,
    ) -> QueryResult<(FieldErrors, Option<CourseKey>)> {
        let mut errors = FieldErrors::default();
        let key = match own_id {
            // The key is the course's identity: fixed once created.
            Some(_) => None,
            None => match CourseKey::parse(&data.text("course_id")) {
                Ok(key) => {
                    if super::find_by_key(conn, &key.to_string())?.is_some() {
                        errors.add("course_id", "Course with this Course key already exists.");
                    }
                    Some(key)
                }
                Err(_) if data.text("course_id").is_empty() => {
                    errors.add("course_id", "This field is required.");
                    None
                }
                Err(_) => {
                    errors.add("course_id", keys::INVALID);
                    None
                }
            },
        };
        if data.text("display_name").chars().count() > 255 {
            errors.add(
                "display_name",
                "Ensure this value has at most 255 characters.",
            );
        }
        let start = parse_date(data, "start_date", &mut errors);
        let end = parse_date(data, "end_date", &mut errors);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            errors.add(
                "end_date",
                "The end date must not be before the start date.",
            );
        }
        for mode in split_modes(&data.text("modes")) {
            if let Some(problem) = validate_mode(mode) {
                errors.add("modes", problem);
            }
        }
        let about = data.text("about_url");
        let about_ok =
            about.is_empty() || (crate::validation::is_web_url(&about) && about.len() <= 500);
        if !about_ok {
            errors.add("about_url", "Enter a valid URL (http:// or https://).");
        }
        Ok((errors, key))
    }
}

impl LegacyModelAdmin for CourseAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches course key and display name.")
    }

    fn actions(&self) -> &'static [ActionSpec] {
        if self.badges_enabled { ACTIONS } else { &[] }
    }

    fn object_actions(&self) -> &'static [&'static str] {
        &[BACKFILL]
    }

    fn initial(&self, _conn: &mut DbConnection) -> QueryResult<FormData> {
        let mut data = FormData::default();
        data.set_flag("issue_badges", true);
        Ok(data)
    }

    fn site_notices(&self, _conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        Ok(if self.badges_enabled {
            Vec::new()
        } else {
            vec!["Badging is off for this site (ENABLE_OPENBADGES=false): no badge is issued, and the courses' “Issue Open Badges” setting is hidden.".into()]
        })
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let orgs: Vec<String> = courses::table
            .select(courses::org)
            .distinct()
            .order(courses::org)
            .load(conn)?;
        let mut filters = vec![FilterSpec {
            param: "org__exact",
            title: "org",
            choices: orgs.into_iter().map(|o| (o.clone(), o)).collect(),
        }];
        if self.badges_enabled {
            filters.push(FilterSpec::boolean(
                "issue_badges__exact",
                "Issue Open Badges",
            ));
        }
        filters.push(FilterSpec::boolean(
            "frozen__exact",
            "has frozen badge images",
        ));
        Ok(filters)
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let mut query = courses::table.into_boxed();
            query = search_terms!(query, &q.terms, courses::course_id, courses::display_name);
            if let Some(org) = q.filter("org__exact") {
                query = query.filter(courses::org.eq(org.to_string()));
            }
            if let Some(v) = q.bool_filter("issue_badges__exact") {
                query = query.filter(courses::issue_badges.eq(v));
            }
            let frozen = badge_classes::table
                .filter(badge_classes::frozen_at.is_not_null())
                .select(badge_classes::course_id);
            match q.bool_filter("frozen__exact") {
                Some(true) => query = query.filter(courses::course_id.eq_any(frozen)),
                Some(false) => query = query.filter(courses::course_id.ne_all(frozen)),
                None => {}
            }
            query
        };
        let total = courses::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<super::Course> = page_of!(filtered(), q, COLUMNS, courses::id, {
            "course_id" => courses::course_id,
            "display_name" => courses::display_name,
            "org" => courses::org,
            "issue_badges" => courses::issue_badges,
            "start" => courses::start_date,
        })
        .select(super::Course::as_select())
        .load(conn)?;
        let keys: Vec<String> = page.iter().map(|c| c.course_id.clone()).collect();
        let frozen = frozen_by_course(conn, &keys)?;
        let rows = page
            .into_iter()
            .map(|c| {
                let modes: Vec<&str> = frozen
                    .iter()
                    .filter(|(key, _)| *key == c.course_id)
                    .map(|(_, mode)| {
                        if mode.is_empty() {
                            "(no mode)"
                        } else {
                            mode.as_str()
                        }
                    })
                    .collect();
                Row {
                    id: c.id.to_string(),
                    cells: vec![
                        Cell::Text(c.course_id.clone()),
                        Cell::Text(c.display_name.clone()),
                        Cell::Text(c.org.clone()),
                        Cell::Bool(Some(c.issue_badges)),
                        Cell::Text(modes.join(", ")),
                        Cell::Text(c.start_date.map(|d| d.to_string()).unwrap_or_default()),
                    ],
                }
            })
            .collect();
        Ok(ListPage {
            rows,
            count,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let key = FieldSpec::new("course_id", "Course key", Widget::Text { max_length: 255 })
            .required()
            .help("An Open edX course key: course-v1:ORG+NUMBER+RUN, or the old ORG/NUMBER/RUN. Case-sensitive; it cannot change later.");
        let mut fields = vec![if id.is_some() { key.read_only() } else { key }];
        fields.push(FieldSpec::new(
            "display_name",
            "Display name",
            Widget::Text { max_length: 255 },
        ));
        fields.push(
            FieldSpec::new("start_date", "Start date", Widget::Date)
                .help("Shown in badge descriptions."),
        );
        fields.push(
            FieldSpec::new("end_date", "End date", Widget::Date)
                .help("Shown in badge descriptions."),
        );
        if self.badges_enabled {
            fields.push(
                FieldSpec::new("issue_badges", ISSUE_BADGES_LABEL, Widget::Checkbox)
                    .help(ISSUE_BADGES_HELP),
            );
        }
        fields.push(
            FieldSpec::new("modes", "Modes", Widget::Text { max_length: 500 })
                .help("The enrollment modes the course offers, separated by commas: for example “audit, verified”."),
        );
        fields.push(
            FieldSpec::new(
                "about_url",
                "About page URL",
                Widget::Text { max_length: 500 },
            )
            .help(format!(
                "The badge criteria. Leave empty for {}/courses/<course key>/about.",
                self.lms_url.trim_end_matches('/')
            )),
        );
        if id.is_some() {
            fields.push(FieldSpec::new("org", "Org", Widget::ReadOnly));
            fields.push(
                FieldSpec::new("frozen", "Frozen badge images", Widget::ReadOnly)
                    .help("Modes whose badge image was frozen when the course's first badge of that mode was issued; later image changes do not reach them.")
                    .link("/admin/badges/frozen-images/", "See the frozen images report"),
            );
            fields.push(
                FieldSpec::new("team", "Course team", Widget::ReadOnly)
                    .link("/admin/courses/courserole/", "Manage course teams"),
            );
            if self.badges_enabled {
                fields.push(
                    FieldSpec::new("backfill", "Badges for existing certificates", Widget::ReadOnly)
                        .help("“Issue badges for existing passing certificates” (above) queues the course-completion badge of every learner with a passing certificate who has not got it yet: for a course that turned badges on late."),
                );
            }
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(course) = courses::table
            .find(id)
            .select(super::Course::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let frozen = super::frozen_modes(conn, &course.course_id)?;
        let team: Vec<(String, String)> = course_roles::table
            .inner_join(users::table)
            .filter(course_roles::course_id.eq(course.id))
            .order(users::username)
            .select((users::username, course_roles::role))
            .load(conn)?;
        let mut data = FormData::default();
        data.set("course_id", &course.course_id);
        data.set("display_name", &course.display_name);
        data.set(
            "start_date",
            course.start_date.map(|d| d.to_string()).unwrap_or_default(),
        );
        data.set(
            "end_date",
            course.end_date.map(|d| d.to_string()).unwrap_or_default(),
        );
        data.set_flag("issue_badges", course.issue_badges);
        data.set("modes", &course.modes);
        data.set("about_url", &course.about_url);
        data.set("org", &course.org);
        data.set(
            "backfill",
            crate::badging::backfill::summary(conn, &course.course_id)?,
        );
        data.set(
            "frozen",
            if frozen.is_empty() {
                "None yet".to_string()
            } else {
                frozen.join(", ")
            },
        );
        let team: Vec<String> = team
            .into_iter()
            .map(|(u, r)| format!("{u} ({r})"))
            .collect();
        data.set(
            "team",
            if team.is_empty() {
                "Nobody yet".to_string()
            } else {
                team.join(", ")
            },
        );
        Ok(Some((course.course_id, data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let own_id = match id {
            Some(id) => Some(
                id.parse::<i64>()
                    .map_err(|_| diesel::result::Error::NotFound)?,
            ),
            None => None,
        };
        let (errors, key) = self.validate(conn, own_id, data)?;
        // Already checked by `validate`; parsed again for their values.
        let start = parse_date(data, "start_date", &mut FieldErrors::default());
        let end = parse_date(data, "end_date", &mut FieldErrors::default());
        if !errors.is_empty() {
            return Err(SaveError::Invalid(errors));
        }
        let modes = split_modes(&data.text("modes")).join(", ");
        let id = match (own_id, key) {
            (Some(id), _) => {
                diesel::update(courses::table.find(id))
                    .set((
                        courses::display_name.eq(data.text("display_name")),
                        courses::start_date.eq(start),
                        courses::end_date.eq(end),
                        courses::modes.eq(&modes),
                        courses::about_url.eq(data.text("about_url")),
                        courses::updated_at.eq(now()),
                    ))
                    .execute(conn)?;
                id
            }
            (None, Some(key)) => diesel::insert_into(courses::table)
                .values((
                    courses::course_id.eq(key.to_string()),
                    courses::display_name.eq(data.text("display_name")),
                    courses::org.eq(&key.org),
                    courses::start_date.eq(start),
                    courses::end_date.eq(end),
                    courses::modes.eq(&modes),
                    courses::about_url.eq(data.text("about_url")),
                    courses::created_at.eq(now()),
                    courses::updated_at.eq(now()),
                ))
                .returning(courses::id)
                .get_result(conn)?,
            (None, None) => return Err(diesel::result::Error::NotFound.into()),
        };
        if self.badges_enabled {
            diesel::update(courses::table.find(id))
                .set(courses::issue_badges.eq(data.flag("issue_badges")))
                .execute(conn)?;
        }
        let repr: String = courses::table
            .find(id)
            .select(courses::course_id)
            .first(conn)?;
        Ok(Saved::new(id, repr))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[String],
    ) -> QueryResult<Vec<(String, DeletedObject)>> {
        let found: Vec<(i64, String)> = courses::table
            .filter(courses::id.eq_any(ids_as_i64(ids)))
            .order(courses::course_id)
            .select((courses::id, courses::course_id))
            .load(conn)?;
        let mut preview = Vec::new();
        for (id, key) in found {
            let team: Vec<(String, String)> = course_roles::table
                .inner_join(users::table)
                .filter(course_roles::course_id.eq(id))
                .select((users::username, course_roles::role))
                .load(conn)?;
            // A course team's roles are its members' rights: they are removed one by one in
            // the course team admin, which asks whether the actor may manage each member,
            // never swept away with the course.
            let mut protected: Vec<String> = team
                .into_iter()
                .map(|(u, r)| format!("Course team role: {u} ({r})"))
                .collect();
            protected.extend(crate::badging::assertions::issued_of_course(conn, &key)?);
            preview.push((
                id.to_string(),
                DeletedObject::new(key, Vec::new()).protected_by(protected),
            ));
        }
        Ok(preview)
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
        diesel::delete(courses::table.filter(courses::id.eq_any(ids_as_i64(ids)))).execute(conn)
    }

    fn run_action(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        action: &str,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        let on = match action {
            ENABLE if self.badges_enabled => true,
            DISABLE if self.badges_enabled => false,
            BACKFILL if self.badges_enabled => return self.backfill(conn, actor, ids),
            _ => return Ok(ActionOutcome::default()),
        };
        let changed: Vec<(i64, String)> = courses::table
            .filter(courses::id.eq_any(ids_as_i64(ids)))
            .filter(courses::issue_badges.ne(on))
            .select((courses::id, courses::course_id))
            .load(conn)?;
        for (id, _) in &changed {
            super::set_issue_badges(conn, *id, on)?;
        }
        let verb = if on { "enabled" } else { "disabled" };
        let noun = if changed.len() == 1 {
            "course"
        } else {
            "courses"
        };
        Ok(ActionOutcome {
            message: format!("Badges {verb} for {} {noun}.", changed.len()),
            changed: changed
                .into_iter()
                .map(|(id, key)| (id.to_string(), key))
                .collect(),
        })
    }
}

impl CourseAdmin {
    /// Queues the missing badges of each selected course that issues badges.
    fn backfill(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        ids: &[String],
    ) -> QueryResult<ActionOutcome> {
        let chosen: Vec<(i64, String, bool)> = courses::table
            .filter(courses::id.eq_any(ids_as_i64(ids)))
            .order(courses::course_id)
            .select((courses::id, courses::course_id, courses::issue_badges))
            .load(conn)?;
        let by: String = users::table
            .find(actor.user_id)
            .select(users::username)
            .first(conn)?;
        let mut queued = 0;
        let mut changed = Vec::new();
        let mut off = Vec::new();
        for (id, key, issues_badges) in chosen {
            if !issues_badges {
                off.push(key);
                continue;
            }
            let run = crate::badging::backfill::start(conn, &key, &by, &self.lms_url)?;
            queued += run.queued;
            changed.push((id.to_string(), key));
        }
        let mut message = format!(
            "Queued {queued} badge award{} for existing passing certificates in {} course{}; each course's page shows the progress.",
            if queued == 1 { "" } else { "s" },
            changed.len(),
            if changed.len() == 1 { "" } else { "s" }
        );
        if !off.is_empty() {
            message.push_str(&format!(
                " Skipped, because “Issue Open Badges” is off: {}.",
                off.join(", ")
            ));
        }
        Ok(ActionOutcome { message, changed })
    }
}
