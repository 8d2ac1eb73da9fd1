//! Badges › Badge assertions: every badge awarded, with links to the hosted assertion and
//! its image, and the action "Revoke", which asks for a reason on its own page
//! (`web::admin::pages::revoke`) and queues the revocation. Assertions are made by awards
//! only, and never deleted: revoke instead.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::page_of;
use crate::admin::{
    ActionSpec, Actor, AdminMeta, Cell, Column, FieldSpec, FilterSpec, ListPage, ListQuery,
    ModelAdmin, ModelInfo, Row, Widget,
};
use crate::auth::permissions::Action;
use crate::badges::classes;
use crate::badging::{assertions, backend};
use crate::db::DbConnection;
use crate::db::schema::{badge_assertions, badge_classes, learners};
use crate::display::{format_time, or_dash};

static META: AdminMeta = AdminMeta::new(
    ModelInfo {
        app_label: "badges",
        app_name: "Badges",
        model: "badgeassertion",
        verbose_name: "badge assertion",
        verbose_name_plural: "badge assertions",
    },
    &[
        Column::sorted("learner", "Learner"),
        Column::sorted("badge", "Badge"),
        Column::sorted("course", "Course"),
        Column::sorted("backend", "Backend"),
        Column::sorted("created", "Created"),
        Column::sorted("revoked", "Revoked"),
    ],
)
.search("Finds a learner's assertions by exact username or e-mail, or a course's by its exact course key (at most 10,000).")
.actions(&[ActionSpec::new("revoke", "Revoke selected badge assertions").on_page("revoke")])
.offers(&[Action::View, Action::Change]);

pub struct BadgeAssertionAdmin;

/// What the assertion's page shows; nothing on it is edited.
#[derive(Serialize, Deserialize, Default)]
pub struct AssertionView {
    learner: String,
    badge_class: String,
    backend: String,
    evidence: String,
    created: String,
    state: String,
    assertion_url: String,
    image_url: String,
}

impl ModelAdmin for BadgeAssertionAdmin {
    type Id = i64;
    type Form = AssertionView;

    fn meta(&self) -> &'static AdminMeta {
        &META
    }

    fn filters(&self, conn: &mut DbConnection) -> QueryResult<Vec<FilterSpec>> {
        let classes: Vec<(i64, String, String)> = badge_classes::table
            .order((badge_classes::display_name, badge_classes::id))
            .select((
                badge_classes::id,
                badge_classes::display_name,
                badge_classes::mode,
            ))
            .load(conn)?;
        let class_label = |(id, name, mode): (i64, String, String)| match mode.as_str() {
            "" => (id.to_string(), name),
            mode => (id.to_string(), format!("{name} ({mode})")),
        };
        Ok(vec![
            // The names in the code, not a DISTINCT over every assertion.
            FilterSpec::values("backend__exact", "backend", &backend::NAMES),
            FilterSpec {
                param: "badge_class__id__exact",
                title: "badge class",
                choices: classes.into_iter().map(class_label).collect(),
            },
            FilterSpec::dates("created", "date"),
            FilterSpec::boolean("revoked__exact", "revoked"),
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let found = (!q.terms.is_empty())
            .then(|| assertions::search(conn, &q.terms))
            .transpose()?;
        let since = q.since("created", crate::db::now());
        let filtered = || {
            let mut query = badge_assertions::table
                .inner_join(learners::table)
                .inner_join(badge_classes::table)
                .into_boxed();
            if let Some(ids) = &found {
                query = query.filter(badge_assertions::id.eq_any(ids.clone()));
            }
            if let Some(backend) = q.filter("backend__exact") {
                query = query.filter(badge_assertions::backend.eq(backend.to_string()));
            }
            if let Some(class) = q.filter("badge_class__id__exact") {
                let class = class.parse::<i64>().unwrap_or(-1);
                query = query.filter(badge_assertions::badge_class_id.eq(class));
            }
            if let Some(from) = since {
                query = query.filter(badge_assertions::created.ge(from));
            }
            if let Some(revoked) = q.bool_filter("revoked__exact") {
                query = query.filter(badge_assertions::revoked.eq(revoked));
            }
            query
        };
        // Unfiltered, the count is the table's (without the join); filtered, only the
        // matching rows are counted, and the table's total is left out: on PostgreSQL an
        // exact count of every assertion costs more than the search itself.
        let (count, total) = if q.terms.is_empty() && q.filters.is_empty() {
            let total = badge_assertions::table.count().get_result(conn)?;
            (total, Some(total))
        } else {
            (filtered().count().get_result(conn)?, None)
        };
        let page: Vec<assertions::Summary> = page_of!(filtered(), q, META.columns, badge_assertions::id, default: badge_assertions::created.desc(), {
            "learner" => learners::username,
            "badge" => badge_classes::display_name,
            "course" => badge_classes::course_id,
            "backend" => badge_assertions::backend,
            "created" => badge_assertions::created,
            "revoked" => badge_assertions::revoked,
        })
        .select(assertions::Summary::as_select())
        .load(conn)?;
        let rows = page.into_iter().map(|a| Row {
            id: a.id.to_string(),
            cells: vec![
                Cell::Text(a.learner),
                Cell::Text(a.badge),
                Cell::Text(a.course_id),
                Cell::Text(a.backend),
                Cell::Time(Some(a.created)),
                Cell::Bool(Some(a.revoked)),
            ],
        });
        Ok(ListPage::new(rows.collect(), count, total))
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&i64>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let found = match id {
            Some(id) => assertions::by_id(conn, *id)?,
            None => None,
        };
        let (assertion_url, image_url) = found
            .map(|a| (a.assertion_url, a.image_url))
            .unwrap_or_default();
        let mut fields = FieldSpec::read_only_list(&[
            ("learner", "Learner"),
            ("badge_class", "Badge class"),
            ("backend", "Backend"),
            ("evidence", "Evidence"),
            ("created", "Created"),
            ("state", "State"),
        ]);
        let assertion = FieldSpec::new("assertion_url", "Assertion", Widget::ReadOnly);
        fields.push(assertion.link(assertion_url, "Open the hosted assertion"));
        let image = FieldSpec::new("image_url", "Image", Widget::ReadOnly);
        fields.push(image.link(image_url, "Open the image"));
        Ok(fields)
    }

    fn load(
        &self,
        conn: &mut DbConnection,
        id: &i64,
    ) -> QueryResult<Option<(String, AssertionView)>> {
        let Some(assertion) = assertions::by_id(conn, *id)? else {
            return Ok(None);
        };
        let learner = crate::learners::get(conn, assertion.learner_id)?;
        let class = classes::by_id(conn, assertion.badge_class_id)?;
        let view = AssertionView {
            learner: format!("{} <{}>", learner.username, learner.email),
            badge_class: format!("{} {}", class.display_name, class.repr()),
            backend: assertion.backend.clone(),
            evidence: or_dash(&assertion.evidence_url),
            created: format_time(&assertion.created),
            state: assertion.state(),
            assertion_url: assertion.assertion_url,
            image_url: assertion.image_url,
        };
        Ok(Some((assertions::repr(&learner.username, &class), view)))
    }
}
