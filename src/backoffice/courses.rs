//! Courses › Courses: key, dates, modes, "Issue Open Badges", the modes with a frozen badge
//! image, and the backfill. The rules are `courses`, `badges::frozen` and `badging`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    ActionOutcome, ActionSpec, AdminMeta, Cell, Choices, Column, DeletedObject, FieldSpec, Filter,
    ListPage, ListQuery, Loaded, ModelAdmin, ModelInfo, Request, Row, SaveResult, Saved, Widget,
};
use crate::badges::frozen;
use crate::badging::{assertions, backfill, course_deletion};
use crate::courses::{
    self, Course, CourseFilter, CourseId, CourseInput, ISSUE_BADGES_HELP, ISSUE_BADGES_LABEL, roles,
};
use crate::db::DbConnection;
use crate::display::{count_of, joined_or};

const BADGING_OFF: &str = "Badging is off for this site (ENABLE_OPENBADGES=false): no badge is issued, and the courses' “Issue Open Badges” setting is hidden.";
const KEY_HELP: &str = "An Open edX course key: course-v1:ORG+NUMBER+RUN, or the old ORG/NUMBER/RUN. Case-sensitive; it cannot change later.";
const DATE_HELP: &str = "Shown in badge descriptions.";
const MODES_HELP: &str =
    "The enrollment modes the course offers, separated by commas: for example “audit, verified”.";
const FROZEN_HELP: &str = "Modes whose badge image was frozen when the course's first badge of that mode was issued; later image changes do not reach them.";
const BACKFILL_LABEL: &str = "Badges for existing certificates";
const BACKFILL_HELP: &str = "“Issue badges for existing passing certificates” (above) queues the course-completion badge of every learner with a passing certificate who has not got it yet: for a course that turned badges on late.";

const ENABLE: &str = "enable_badges";
const DISABLE: &str = "disable_badges";
const BACKFILL: &str = "backfill";

const INFO: ModelInfo = ModelInfo::new(super::COURSES, "course", "course", "courses");
const COLUMNS: &[Column] = &[
    Column::sorted("course_id", "Course key"),
    Column::sorted("display_name", "Display name"),
    Column::sorted("org", "Org"),
    Column::sorted("issue_badges", "Issue Open Badges"),
    Column::new("frozen", "Frozen badge images"),
    Column::sorted("start", "Start"),
];
const SEARCH: &str = "Searches course key and display name.";
const ORG: Filter = Filter::from_data("org__exact", "org");
const FROZEN: Filter = Filter::boolean("frozen__exact", "has frozen badge images");
const ISSUE: Filter = Filter::boolean("issue_badges__exact", ISSUE_BADGES_LABEL);
static WITH_BADGES: AdminMeta = AdminMeta::new(INFO, COLUMNS)
    .search(SEARCH)
    .filters(&[ORG, ISSUE, FROZEN])
    .actions(&[
        ActionSpec::new(ENABLE, "Enable badges"),
        ActionSpec::new(DISABLE, "Disable badges"),
        ActionSpec::new(BACKFILL, "Issue badges for existing passing certificates"),
    ])
    .object_actions(&[BACKFILL]);
/// While badging is off for the site: no badge actions.
static WITHOUT_BADGES: AdminMeta = AdminMeta::new(INFO, COLUMNS)
    .search(SEARCH)
    .filters(&[ORG, FROZEN]);

/// With `ENABLE_OPENBADGES` (off: the per-course setting is hidden) and `ACCOLADE_LMS_URL`.
pub struct CourseAdmin {
    pub badges_enabled: bool,
    pub lms_url: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CourseForm {
    #[serde(flatten)]
    course: CourseInput,
    #[serde(deserialize_with = "crate::admin::checkbox")]
    issue_badges: bool,
    org: String,
    frozen: String,
    team: String,
    backfill: String,
}

impl ModelAdmin for CourseAdmin {
    type Id = CourseId;
    type Form = CourseForm;

    const META: &'static AdminMeta = &WITH_BADGES;

    fn meta(&self) -> &'static AdminMeta {
        match self.badges_enabled {
            true => &WITH_BADGES,
            false => &WITHOUT_BADGES,
        }
    }

    fn initial(&self, _conn: &mut DbConnection) -> QueryResult<CourseForm> {
        let issue_badges = true;
        Ok(CourseForm {
            issue_badges,
            ..Default::default()
        })
    }

    fn site_notices(&self, _conn: &mut DbConnection) -> QueryResult<Vec<String>> {
        Ok(Vec::from_iter(
            (!self.badges_enabled).then(|| BADGING_OFF.to_string()),
        ))
    }

    /// The orgs there are.
    fn filter_choices(&self, conn: &mut DbConnection, _: &str) -> QueryResult<Option<Choices>> {
        let orgs = courses::orgs(conn)?.into_iter();
        Ok(Some(orgs.map(|org| (org.clone(), org)).collect()))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        use crate::db::schema::courses::dsl as c;
        let filter = CourseFilter {
            org: q.filter(ORG.param).map(str::to_string),
            issue_badges: q.bool_filter(ISSUE.param),
        };
        let filtered = || {
            let query = courses::matching(filter.clone());
            let query = search_terms!(query, &q.terms, c::course_id, c::display_name);
            match q.bool_filter(FROZEN.param) {
                Some(true) => query.filter(c::course_id.eq_any(frozen::frozen_course_keys())),
                Some(false) => query.filter(c::course_id.ne_all(frozen::frozen_course_keys())),
                None => query,
            }
        };
        list_page!(conn, q, self.meta(),
            total: c::courses,
            filtered: filtered,
            pk: c::id,
            order: {
                "course_id" => c::course_id,
                "display_name" => c::display_name,
                "org" => c::org,
                "issue_badges" => c::issue_badges,
                "start" => c::start_date,
            },
            select: Course::as_select(),
            rows: |conn: &mut DbConnection, page: Vec<Course>| {
                let frozen = frozen::modes_by_course(conn, &page)?;
                Ok(page.into_iter().map(|course| Row::new(course.id, vec![
                    Cell::Text(course.course_id.clone()),
                    Cell::Text(course.display_name),
                    Cell::Text(course.org),
                    Cell::Bool(Some(course.issue_badges)),
                    Cell::Text(frozen.get(&course.course_id).cloned().unwrap_or_default()),
                    Cell::Text(course.start_date.map(|d| d.to_string()).unwrap_or_default()),
                ])).collect())
            },
        )
    }

    fn fields(&self, _: &mut Request, id: Option<&CourseId>) -> QueryResult<Vec<FieldSpec>> {
        let text = |name, label, n| FieldSpec::new(name, label, Widget::Text { max_length: n });
        let shown = |name, label| FieldSpec::new(name, label, Widget::ReadOnly);
        let date = |name, label| FieldSpec::new(name, label, Widget::Date).help(DATE_HELP);
        let (change, badges) = (id.is_some(), self.badges_enabled);
        let key = text("course_id", "Course key", 255)
            .required()
            .help(KEY_HELP);
        let issue = FieldSpec::new("issue_badges", ISSUE_BADGES_LABEL, Widget::Checkbox);
        let lms = self.lms_url.trim_end_matches('/');
        let about =
            format!("The badge criteria. Leave empty for {lms}/courses/<course key>/about.");
        let frozen = shown("frozen", "Frozen badge images").help(FROZEN_HELP);
        let teams = crate::urls::changelist("courses", "courserole");
        let fields = [
            Some(if change { key.read_only() } else { key }),
            Some(text("display_name", "Display name", 255)),
            Some(date("start_date", "Start date")),
            Some(date("end_date", "End date")),
            badges.then(|| issue.help(ISSUE_BADGES_HELP)),
            Some(text("modes", "Modes", 500).help(MODES_HELP)),
            Some(text("about_url", "About page URL", 500).help(about)),
            change.then(|| shown("org", "Org")),
            change.then(|| frozen.link(crate::urls::FROZEN_IMAGES, "See the frozen images report")),
            change.then(|| shown("team", "Course team").link(teams, "Manage course teams")),
            (change && badges).then(|| shown("backfill", BACKFILL_LABEL).help(BACKFILL_HELP)),
        ];
        Ok(fields.into_iter().flatten().collect())
    }

    fn load(&self, conn: &mut DbConnection, id: &CourseId) -> QueryResult<Loaded<CourseForm>> {
        let Some(course) = courses::by_id(conn, *id)? else {
            return Ok(None);
        };
        let form = CourseForm {
            course: CourseInput::of(&course),
            issue_badges: course.issue_badges,
            frozen: joined_or(&frozen::frozen_modes(conn, &course.course_id)?, "None yet"),
            team: joined_or(&roles::team_of(conn, course.id)?, "Nobody yet"),
            backfill: backfill::summary(conn, &course.course_id)?,
            org: course.org,
        };
        Ok(Some((course.course_id, form)))
    }

    fn save(&self, req: &mut Request, id: Option<&CourseId>, form: CourseForm) -> SaveResult {
        let issue_badges = self.badges_enabled.then_some(form.issue_badges);
        let course = courses::save(req.conn, id.copied(), &form.course, issue_badges)??;
        Ok(Saved::new(course.id, course.course_id))
    }

    fn delete_preview(
        &self,
        conn: &mut DbConnection,
        ids: &[CourseId],
    ) -> QueryResult<Vec<(CourseId, DeletedObject)>> {
        let found = course_deletion::protections(conn, ids)?.into_iter();
        let preview = found.map(|(course, protection)| {
            let object = DeletedObject::new(course.course_id, Vec::new())
                .protected_by(protection.team, roles::REMOVED_ONE_BY_ONE)
                .protected_by(protection.issued, assertions::NEVER_DELETED);
            (course.id, object)
        });
        Ok(preview.collect())
    }

    fn delete(&self, conn: &mut DbConnection, ids: &[CourseId]) -> QueryResult<usize> {
        course_deletion::delete_unprotected(conn, ids)
    }

    fn run_action(
        &self,
        req: &mut Request,
        name: &str,
        ids: &[CourseId],
    ) -> QueryResult<ActionOutcome> {
        let conn = &mut *req.conn;
        let (changed, message) = match name {
            ENABLE | DISABLE => {
                let on = name == ENABLE;
                let changed = courses::set_issue_badges_of(conn, ids, on)?;
                let verb = if on { "enabled" } else { "disabled" };
                let courses = count_of(changed.len(), "course");
                (changed, format!("Badges {verb} for {courses}."))
            }
            BACKFILL => {
                let by = crate::auth::users::find(conn, req.actor.user_id)?;
                let by = by.ok_or(diesel::result::Error::NotFound)?.username;
                let run = backfill::start_courses(conn, ids, &by, &self.lms_url)?;
                (run.started.clone(), run.describe())
            }
            _ => return Ok(ActionOutcome::default()),
        };
        Ok(ActionOutcome::new(message, changed))
    }
}
