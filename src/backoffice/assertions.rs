//! Badges › Badge assertions: every badge awarded, with links to the hosted assertion and
//! its image, and the action "Revoke", which asks for a reason on its own page
//! (`web::admin::pages::revoke`) and queues the revocation. Assertions are made by awards
//! only, and never deleted: revoke instead.

use diesel::prelude::*;

use crate::admin::list::list_page;
use crate::admin::{
    ActionSpec, AdminMeta, Cell, Choices, Column, FieldSpec, Filter, ListPage, ListQuery, Loaded,
    ModelAdmin, ModelInfo, Request, Row, Widget,
};
use crate::auth::permissions::Action;
use crate::badging::assertions::{self, AssertionFilter};
use crate::badging::backend;
use crate::db::DbConnection;
use crate::db::schema::{badge_assertions, badge_classes, learners};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(
        super::BADGES,
        "badgeassertion",
        "badge assertion",
        "badge assertions",
    ),
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
.filters(&[
    // The names in the code, not a DISTINCT over every assertion.
    Filter::values("backend__exact", "backend", &backend::NAMES),
    Filter::from_data("badge_class__id__exact", "badge class"),
    Filter::dates("created", "date"),
    Filter::boolean("revoked__exact", "revoked"),
])
.actions(&[ActionSpec::new("revoke", "Revoke selected badge assertions").on_page("revoke")])
.object_actions(&["revoke"])
.offers(&[Action::View, Action::Change])
.view_fields(&[
    ("learner", "Learner"),
    ("badge_class", "Badge class"),
    ("backend", "Backend"),
    ("evidence", "Evidence"),
    ("created", "Created"),
    ("state", "State"),
]);

pub struct BadgeAssertionAdmin;

impl ModelAdmin for BadgeAssertionAdmin {
    type Id = i64;
    type Form = assertions::Description;

    const META: &'static AdminMeta = &META;

    /// The badge classes there are.
    fn filter_choices(&self, conn: &mut DbConnection, _: &str) -> QueryResult<Option<Choices>> {
        Ok(Some(assertions::class_choices(conn)?))
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filter = AssertionFilter {
            ids: (!q.terms.is_empty())
                .then(|| assertions::search(conn, &q.terms))
                .transpose()?,
            backend: q.filter("backend__exact").map(str::to_string),
            badge_class: q
                .filter("badge_class__id__exact")
                .map(|c| c.parse().unwrap_or(-1)),
            since: q.since("created", crate::db::now()),
            revoked: q.bool_filter("revoked__exact"),
        };
        // Unfiltered, the count is the table's (without the join); filtered, only the
        // matching rows are counted, and the table's total is left out: on PostgreSQL an
        // exact count of every assertion costs more than the search itself.
        list_page!(conn, q, &META,
            total_unfiltered: badge_assertions::table,
            filtered: || assertions::matching(filter.clone()),
            pk: badge_assertions::id,
            default: badge_assertions::created.desc(),
            order: {
                "learner" => learners::username,
                "badge" => badge_classes::display_name,
                "course" => badge_classes::course_id,
                "backend" => badge_assertions::backend,
                "created" => badge_assertions::created,
                "revoked" => badge_assertions::revoked,
            },
            select: assertions::Summary::as_select(),
            row: |a: assertions::Summary| Row::new(a.id, vec![
                Cell::Text(a.learner),
                Cell::Text(a.badge),
                Cell::Text(a.course_id),
                Cell::Text(a.backend),
                Cell::Time(Some(a.created)),
                Cell::Bool(Some(a.revoked)),
            ]),
        )
    }

    fn fields(&self, req: &mut Request, id: Option<&i64>) -> QueryResult<Vec<FieldSpec>> {
        let found = match id {
            Some(id) => assertions::by_id(req.conn, *id)?,
            None => None,
        };
        let (assertion_url, image_url) = found
            .map(|a| (a.assertion_url, a.image_url))
            .unwrap_or_default();
        let mut fields = FieldSpec::read_only_list(META.view_fields);
        let assertion = FieldSpec::new("assertion_url", "Assertion", Widget::ReadOnly);
        fields.push(assertion.link(assertion_url, "Open the hosted assertion"));
        let image = FieldSpec::new("image_url", "Image", Widget::ReadOnly);
        fields.push(image.link(image_url, "Open the image"));
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<Self::Form>> {
        assertions::describe(conn, *id)
    }
}
