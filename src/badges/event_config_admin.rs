//! The admin page of the course-event badge configuration, as a Django "configuration
//! model" admin: the list is the history of versions, newest first; saving (from the add
//! form or any version's form) adds a new version; versions are never deleted.

use diesel::prelude::*;

use super::event_config::{self, EVENT_COMPONENT, EventBadgesConfig, EventBadgesInput};
use crate::admin::list::page_of;
use crate::admin::{
    Actor, Cell, Column, FieldSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo,
    Row, SaveError, Saved, Widget,
};
use crate::auth::permissions::Action;
use crate::db::DbConnection;
use crate::db::schema::{course_event_badge_configurations as configs, users};
use crate::display::format_time;

static INFO: ModelInfo = ModelInfo {
    app_label: "badges",
    app_name: "Badges",
    model: "courseeventbadgesconfiguration",
    verbose_name: "course event badges configuration",
    verbose_name_plural: "course event badges configurations",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "change_date",
        label: "Change date",
        sortable: true,
    },
    Column {
        key: "changed_by",
        label: "Changed by",
        sortable: false,
    },
    Column {
        key: "enabled",
        label: "Enabled",
        sortable: true,
    },
    Column {
        key: "in_force",
        label: "In force",
        sortable: false,
    },
    Column {
        key: "rules",
        label: "Rules",
        sortable: false,
    },
];

fn help_counts(what: &str) -> String {
    format!(
        "On each line, put the number of {what} to award a badge for, a comma, and the slug of a badge class you have created that has the issuing component '{EVENT_COMPONENT}'. For example: 3,enrolled_3_courses"
    )
}

const HELP_GROUPS: &str = "Each line is a comma-separated list. The first item in each line is the slug of a badge class you have created that has an issuing component of 'openedx__course'. The remaining items in each line are the course keys the learner needs to complete to be awarded the badge. For example: slug_for_compsci_courses_group_badge,course-v1:CompSci+Course+First,course-v1:CompsSci+Course+Second";

pub struct EventBadgesConfigAdmin;

fn summary(config: &EventBadgesConfig) -> String {
    let rules = config.rules();
    format!(
        "{} completion, {} enrollment, {} group badges",
        rules.completed.len(),
        rules.enrolled.len(),
        rules.groups.len()
    )
}

fn form_of(config: &EventBadgesConfig) -> FormData {
    let mut data = FormData::default();
    data.set_flag("enabled", config.enabled);
    data.set("courses_completed", &config.courses_completed);
    data.set("courses_enrolled", &config.courses_enrolled);
    data.set("course_groups", &config.course_groups);
    data
}

impl LegacyModelAdmin for EventBadgesConfigAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    /// Versions are history: kept, never deleted.
    fn allows(&self, action: Action) -> bool {
        action != Action::Delete
    }

    /// A new version starts from the one in force.
    fn initial(&self, conn: &mut DbConnection) -> QueryResult<FormData> {
        Ok(event_config::current(conn)?
            .map(|config| form_of(&config))
            .unwrap_or_default())
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let total = configs::table.count().get_result(conn)?;
        let newest = event_config::current(conn)?.map(|c| c.id);
        let query = configs::table.left_join(users::table).into_boxed();
        let page: Vec<(EventBadgesConfig, Option<String>)> =
            page_of!(query, q, COLUMNS, configs::id, default: (configs::change_date.desc(), configs::id.desc()), {
                "change_date" => configs::change_date,
                "enabled" => configs::enabled,
            })
            .select((EventBadgesConfig::as_select(), users::username.nullable()))
            .load(conn)?;
        let rows = page
            .into_iter()
            .map(|(config, by)| Row {
                id: config.id.to_string(),
                cells: vec![
                    Cell::Time(Some(config.change_date)),
                    Cell::Text(by.unwrap_or_else(|| "-".into())),
                    Cell::Bool(Some(config.enabled)),
                    Cell::Bool(Some(Some(config.id) == newest)),
                    Cell::Text(summary(&config)),
                ],
            })
            .collect();
        Ok(ListPage {
            rows,
            count: total,
            total: Some(total),
        })
    }

    fn fields(
        &self,
        _conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let mut fields = vec![
            FieldSpec::new("enabled", "Enabled", Widget::Checkbox).help(
                "Course-event badges are awarded only while the configuration in force is enabled.",
            ),
            FieldSpec::new("courses_completed", "Courses completed", Widget::Textarea)
                .help(help_counts("completed courses")),
            FieldSpec::new("courses_enrolled", "Courses enrolled", Widget::Textarea)
                .help(help_counts("enrolled courses")),
            FieldSpec::new("course_groups", "Course groups", Widget::Textarea).help(HELP_GROUPS),
        ];
        if id.is_some() {
            fields.insert(
                0,
                FieldSpec::new("version", "Version", Widget::ReadOnly).help(
                    "Saving this form adds a new version with these values; this one stays in the history.",
                ),
            );
        }
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(config) = event_config::by_id(conn, id)? else {
            return Ok(None);
        };
        let by: Option<String> = match config.changed_by_id {
            Some(user) => users::table
                .find(user)
                .select(users::username)
                .first(conn)
                .optional()?,
            None => None,
        };
        let mut data = form_of(&config);
        data.set(
            "version",
            format!(
                "Saved {} by {}",
                format_time(&config.change_date),
                by.as_deref().unwrap_or("-")
            ),
        );
        Ok(Some((config.repr(), data)))
    }

    fn save(
        &self,
        conn: &mut DbConnection,
        actor: Actor,
        _id: Option<&str>,
        data: &FormData,
    ) -> Result<Saved, SaveError> {
        let input = EventBadgesInput {
            enabled: data.flag("enabled"),
            courses_completed: data.raw("courses_completed").to_string(),
            courses_enrolled: data.raw("courses_enrolled").to_string(),
            course_groups: data.raw("course_groups").to_string(),
        };
        let saved =
            event_config::save(conn, &input, Some(actor.user_id))?.map_err(SaveError::Invalid)?;
        Ok(Saved::new(saved.id, saved.repr()))
    }
}
