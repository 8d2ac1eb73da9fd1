//! Badges › Course event badges configurations, as a Django "configuration model" admin:
//! the list is the history of versions, newest first; saving (from the add form or any
//! version's form) adds a new version; versions are never deleted.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::list_page;
use crate::admin::{
    AdminMeta, Cell, Column, FieldSpec, ListPage, ListQuery, Loaded, ModelAdmin, ModelInfo,
    Request, Row, SaveResult, Saved, Widget,
};
use crate::auth::permissions::Action;
use crate::badges::event_config::{self, EVENT_COMPONENT, EventBadgesConfig, EventBadgesInput};
use crate::db::DbConnection;
use crate::db::schema::{course_event_badge_configurations as configs, users};
use crate::display::format_time;

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(
        super::BADGES,
        "courseeventbadgesconfiguration",
        "course event badges configuration",
        "course event badges configurations",
    ),
    &[
        Column::sorted("change_date", "Change date"),
        Column::new("changed_by", "Changed by"),
        Column::sorted("enabled", "Enabled"),
        Column::new("in_force", "In force"),
        Column::new("rules", "Rules"),
    ],
)
// Versions are history: kept, never deleted.
.offers(&[Action::View, Action::Add, Action::Change]);

fn help_counts(what: &str) -> String {
    format!(
        "On each line, put the number of {what} to award a badge for, a comma, and the slug of a badge class you have created that has the issuing component '{EVENT_COMPONENT}'. For example: 3,enrolled_3_courses"
    )
}

const HELP_GROUPS: &str = "Each line is a comma-separated list. The first item in each line is the slug of a badge class you have created that has an issuing component of 'openedx__course'. The remaining items in each line are the course keys the learner needs to complete to be awarded the badge. For example: slug_for_compsci_courses_group_badge,course-v1:CompSci+Course+First,course-v1:CompsSci+Course+Second";

pub struct EventBadgesConfigAdmin;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub struct EventBadgesForm {
    #[serde(deserialize_with = "crate::admin::checkbox")]
    enabled: bool,
    courses_completed: String,
    courses_enrolled: String,
    course_groups: String,
    version: String,
}

impl From<EventBadgesConfig> for EventBadgesForm {
    fn from(config: EventBadgesConfig) -> EventBadgesForm {
        EventBadgesForm {
            enabled: config.enabled,
            courses_completed: config.courses_completed,
            courses_enrolled: config.courses_enrolled,
            course_groups: config.course_groups,
            version: String::new(),
        }
    }
}

impl ModelAdmin for EventBadgesConfigAdmin {
    type Id = i64;
    type Form = EventBadgesForm;

    const META: &'static AdminMeta = &META;

    /// A new version starts from the one in force.
    fn initial(&self, conn: &mut DbConnection) -> QueryResult<EventBadgesForm> {
        Ok(event_config::current(conn)?
            .map(Into::into)
            .unwrap_or_default())
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let newest = event_config::current(conn)?.map(|c| c.id);
        list_page!(conn, q, &META,
            total: configs::table,
            filtered: || configs::table.left_join(users::table).into_boxed(),
            pk: configs::id,
            default: (configs::change_date.desc(), configs::id.desc()),
            order: { "change_date" => configs::change_date, "enabled" => configs::enabled },
            select: (EventBadgesConfig::as_select(), users::username.nullable()),
            row: |(config, by): (EventBadgesConfig, Option<String>)| Row::new(config.id, vec![
                Cell::Time(Some(config.change_date)),
                Cell::Text(by.unwrap_or_else(|| "-".into())),
                Cell::Bool(Some(config.enabled)),
                Cell::Bool(Some(Some(config.id) == newest)),
                Cell::Text(config.summary()),
            ]),
        )
    }

    fn fields(&self, _req: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let version = FieldSpec::new("version", "Version", Widget::ReadOnly).help(
            "Saving this form adds a new version with these values; this one stays in the history.",
        );
        let fields = [
            FieldSpec::new("enabled", "Enabled", Widget::Checkbox).help(
                "Course-event badges are awarded only while the configuration in force is enabled.",
            ),
            FieldSpec::new("courses_completed", "Courses completed", Widget::Textarea)
                .help(help_counts("completed courses")),
            FieldSpec::new("courses_enrolled", "Courses enrolled", Widget::Textarea)
                .help(help_counts("enrolled courses")),
            FieldSpec::new("course_groups", "Course groups", Widget::Textarea).help(HELP_GROUPS),
        ];
        Ok(id.map(|_| version).into_iter().chain(fields).collect())
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<EventBadgesForm>> {
        let Some(config) = event_config::by_id(conn, *id)? else {
            return Ok(None);
        };
        let by = match config.changed_by_id {
            Some(user) => crate::auth::users::find(conn, user)?.map(|u| u.username),
            None => None,
        };
        let (repr, saved) = (config.repr(), format_time(&config.change_date));
        let form = EventBadgesForm {
            version: format!("Saved {saved} by {}", by.as_deref().unwrap_or("-")),
            ..config.into()
        };
        Ok(Some((repr, form)))
    }

    fn save(&self, req: &mut Request, _: Option<&i64>, form: EventBadgesForm) -> SaveResult {
        let input = EventBadgesInput {
            enabled: form.enabled,
            courses_completed: form.courses_completed,
            courses_enrolled: form.courses_enrolled,
            course_groups: form.course_groups,
        };
        let saved = event_config::save(req.conn, &input, Some(req.actor.user_id))??;
        Ok(Saved::new(saved.id, saved.repr()))
    }
}
