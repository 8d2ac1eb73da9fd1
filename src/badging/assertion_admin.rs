//! The operators' page for badge assertions ("Badges › Badge assertions"): every badge
//! awarded, with links to the hosted assertion and its image, and the action "Revoke",
//! which asks for a reason on its own page (`web::admin::revoke`) and queues the
//! revocation. Assertions are made by awards only, and never deleted: revoke instead.

use diesel::prelude::*;

use crate::admin::list::lower;
use crate::admin::list::page_of;
use crate::admin::{
    ActionSpec, Actor, Cell, Column, FieldSpec, FilterSpec, FormData, LegacyModelAdmin, ListPage,
    ListQuery, ModelInfo, Row,
};
use crate::auth::permissions::Action;
use crate::courses::CourseKey;
use crate::db::DbConnection;
use crate::db::schema::{badge_assertions, badge_classes, learners};
use crate::display::format_time;

static INFO: ModelInfo = ModelInfo {
    app_label: "badges",
    app_name: "Badges",
    model: "badgeassertion",
    verbose_name: "badge assertion",
    verbose_name_plural: "badge assertions",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "learner",
        label: "Learner",
        sortable: true,
    },
    Column {
        key: "badge",
        label: "Badge",
        sortable: true,
    },
    Column {
        key: "course",
        label: "Course",
        sortable: true,
    },
    Column {
        key: "backend",
        label: "Backend",
        sortable: true,
    },
    Column {
        key: "created",
        label: "Created",
        sortable: true,
    },
    Column {
        key: "revoked",
        label: "Revoked",
        sortable: true,
    },
];

pub const REVOKE: &str = "revoke";
/// The page that asks for the reason, under the changelist.
pub const REVOKE_PAGE: &str = "revoke";

static ACTIONS: &[ActionSpec] = &[ActionSpec::new(REVOKE, "Revoke selected badge assertions")];

/// The date filter's choices, as Django's: how far back each reaches.
const DATE_CHOICES: [(&str, &str); 4] = [
    ("today", "Today"),
    ("week", "Past 7 days"),
    ("month", "This month"),
    ("year", "This year"),
];

fn since(choice: &str, now: chrono::NaiveDateTime) -> Option<chrono::NaiveDateTime> {
    use chrono::Datelike;
    let today = now.date();
    let day = match choice {
        "today" => today,
        "week" => today - chrono::Duration::days(6),
        "month" => today.with_day(1)?,
        "year" => today.with_ordinal(1)?,
        _ => return None,
    };
    day.and_hms_opt(0, 0, 0)
}

pub struct BadgeAssertionAdmin;

/// The most assertions one search shows (a course with more shows its first ones).
const MAX_MATCHES: i64 = 10_000;

type AssertionRow = (
    i64,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    bool,
);

impl LegacyModelAdmin for BadgeAssertionAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some(
            "Finds a learner's assertions by exact username or e-mail, or a course's by its exact course key (at most 10,000).",
        )
    }

    fn allows(&self, action: Action) -> bool {
        matches!(action, Action::View | Action::Change)
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn action_page(&self, action: &str) -> Option<&'static str> {
        (action == REVOKE).then_some(REVOKE_PAGE)
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
        Ok(vec![
            FilterSpec {
                param: "backend__exact",
                title: "backend",
                // The names in the code, not a DISTINCT over every assertion.
                choices: super::backend::NAMES
                    .iter()
                    .map(|&name| (name.to_string(), name.to_string()))
                    .collect(),
            },
            FilterSpec {
                param: "badge_class__id__exact",
                title: "badge class",
                choices: classes
                    .into_iter()
                    .map(|(id, name, mode)| {
                        let label = if mode.is_empty() {
                            name
                        } else {
                            format!("{name} ({mode})")
                        };
                        (id.to_string(), label)
                    })
                    .collect(),
            },
            FilterSpec {
                param: "created",
                title: "date",
                choices: DATE_CHOICES
                    .iter()
                    .map(|&(v, l)| (v.to_string(), l.to_string()))
                    .collect(),
            },
            FilterSpec::boolean("revoked__exact", "revoked"),
        ])
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let now = crate::db::now();
        let matched = matching_assertions(conn, &q.terms)?;
        let filtered = || {
            let mut query = badge_assertions::table
                .inner_join(learners::table)
                .inner_join(badge_classes::table)
                .into_boxed();
            if let Some(ids) = &matched {
                query = query.filter(badge_assertions::id.eq_any(ids.clone()));
            }
            if let Some(backend) = q.filter("backend__exact") {
                query = query.filter(badge_assertions::backend.eq(backend.to_string()));
            }
            if let Some(class) = q.filter("badge_class__id__exact") {
                let class = class.parse::<i64>().unwrap_or(-1);
                query = query.filter(badge_assertions::badge_class_id.eq(class));
            }
            if let Some(from) = q.filter("created").and_then(|c| since(c, now)) {
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
        let page: Vec<AssertionRow> = page_of!(filtered(), q, COLUMNS, badge_assertions::id, default: badge_assertions::created.desc(), {
            "learner" => learners::username,
            "badge" => badge_classes::display_name,
            "course" => badge_classes::course_id,
            "backend" => badge_assertions::backend,
            "created" => badge_assertions::created,
            "revoked" => badge_assertions::revoked,
        })
        .select((
            badge_assertions::id,
            learners::username,
            badge_classes::display_name,
            badge_classes::course_id,
            badge_assertions::backend,
            badge_assertions::created,
            badge_assertions::revoked,
        ))
        .load(conn)?;
        let rows = page
            .into_iter()
            .map(
                |(id, learner, badge, course, backend, created, revoked)| Row {
                    id: id.to_string(),
                    cells: vec![
                        Cell::Text(learner),
                        Cell::Text(badge),
                        Cell::Text(course),
                        Cell::Text(backend),
                        Cell::Time(Some(created)),
                        Cell::Bool(Some(revoked)),
                    ],
                },
            )
            .collect();
        Ok(ListPage { rows, count, total })
    }

    fn fields(
        &self,
        conn: &mut DbConnection,
        _actor: Actor,
        id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        let urls = match id.and_then(|id| id.parse::<i64>().ok()) {
            Some(id) => badge_assertions::table
                .find(id)
                .select((badge_assertions::assertion_url, badge_assertions::image_url))
                .first::<(String, String)>(conn)
                .optional()?,
            None => None,
        };
        let (assertion_url, image_url) = urls.unwrap_or_default();
        let linked = |name, label, url: String, text| {
            let field = FieldSpec::new(name, label, crate::admin::Widget::ReadOnly);
            if url.is_empty() {
                field
            } else {
                field.link(url, text)
            }
        };
        let mut fields = FieldSpec::read_only_list(&[
            ("learner", "Learner"),
            ("badge_class", "Badge class"),
            ("backend", "Backend"),
            ("evidence", "Evidence"),
            ("created", "Created"),
            ("state", "State"),
        ]);
        fields.push(linked(
            "assertion_url",
            "Assertion",
            assertion_url,
            "Open the hosted assertion",
        ));
        fields.push(linked("image_url", "Image", image_url, "Open the image"));
        Ok(fields)
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(assertion) = super::assertions::by_id(conn, id)? else {
            return Ok(None);
        };
        let learner = super::learners::get(conn, assertion.learner_id)?;
        let class = crate::badges::classes::by_id(conn, assertion.badge_class_id)?;
        let mut data = FormData::default();
        data.set(
            "learner",
            format!("{} <{}>", learner.username, learner.email),
        );
        data.set(
            "badge_class",
            format!("{} {}", class.display_name, class.repr()),
        );
        data.set("backend", &assertion.backend);
        data.set(
            "evidence",
            if assertion.evidence_url.is_empty() {
                "-"
            } else {
                assertion.evidence_url.as_str()
            },
        );
        data.set("created", format_time(&assertion.created));
        data.set("state", state_of(&assertion));
        data.set("assertion_url", &assertion.assertion_url);
        data.set("image_url", &assertion.image_url);
        Ok(Some((repr(&learner.username, &class), data)))
    }
}

/// The assertions a search finds, when there is a search: each word must be a learner's
/// username or e-mail (in any case), or a course key, exactly. Looked up in the indexes and handed to the
/// page as ids, so the database never walks every assertion to find a few (a substring
/// search, or a filter on the joined tables under `ORDER BY created`, would).
fn matching_assertions(conn: &mut DbConnection, terms: &[String]) -> QueryResult<Option<Vec<i64>>> {
    let mut found: Option<Vec<i64>> = None;
    for term in terms {
        // A course key (it has a ':' or '/') is never a username or an e-mail address, so
        // each term is one query: the assertions of its course's classes, or of its learner.
        let mut ids: Vec<i64> = if CourseKey::parse(term).is_ok() {
            let class_ids = badge_classes::table
                .filter(badge_classes::course_id.eq(term))
                .select(badge_classes::id);
            badge_assertions::table
                .filter(badge_assertions::badge_class_id.eq_any(class_ids))
                .select(badge_assertions::id)
                .limit(MAX_MATCHES)
                .load(conn)?
        } else {
            // Two indexes, username and lower(email), each used for its side of the OR.
            let learner_ids = learners::table
                .filter(
                    learners::username
                        .eq(term)
                        .or(lower(learners::email).eq(term.to_ascii_lowercase())),
                )
                .select(learners::id);
            badge_assertions::table
                .filter(badge_assertions::learner_id.eq_any(learner_ids))
                .select(badge_assertions::id)
                .limit(MAX_MATCHES)
                .load(conn)?
        };
        if let Some(earlier) = &found {
            let earlier: std::collections::HashSet<&i64> = earlier.iter().collect();
            ids.retain(|id| earlier.contains(id));
        }
        found = Some(ids);
    }
    Ok(found)
}

fn state_of(assertion: &super::assertions::BadgeAssertion) -> String {
    if assertion.revoked {
        format!(
            "Revoked on {}: {}",
            format_time(&assertion.modified),
            assertion.revocation_reason
        )
    } else {
        "Valid".into()
    }
}

/// Upstream's display string, closed (upstream defect D19).
pub fn repr(username: &str, class: &crate::badges::classes::BadgeClass) -> String {
    format!(
        "<{username} Badge Assertion for {} for {}>",
        class.slug, class.issuing_component
    )
}

/// An assertion picked for revocation, as the confirmation page lists it.
pub struct Selected {
    pub id: i64,
    pub repr: String,
    pub badge: String,
    pub revoked: bool,
}

/// The picked assertions that exist, in id order.
pub fn selected(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Selected>> {
    let found: Vec<(i64, String, crate::badges::classes::BadgeClass, bool)> =
        badge_assertions::table
            .inner_join(learners::table)
            .inner_join(badge_classes::table)
            .filter(badge_assertions::id.eq_any(ids))
            .order(badge_assertions::id)
            .select((
                badge_assertions::id,
                learners::username,
                crate::badges::classes::BadgeClass::as_select(),
                badge_assertions::revoked,
            ))
            .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, username, class, revoked)| Selected {
            id,
            repr: repr(&username, &class),
            badge: class.display_name,
            revoked,
        })
        .collect())
}

/// Queues the revocation of each picked assertion not revoked yet (nor being revoked);
/// returns the ones queued.
pub fn queue_revocations(
    conn: &mut DbConnection,
    picked: &[Selected],
    reason: &str,
) -> QueryResult<Vec<(i64, String)>> {
    let mut queued = Vec::new();
    for one in picked.iter().filter(|s| !s.revoked) {
        let Some(assertion) = super::assertions::by_id(conn, one.id)? else {
            continue;
        };
        let class = crate::badges::classes::by_id(conn, assertion.badge_class_id)?;
        if super::jobs::enqueue_revocation(conn, &assertion, &class.course_id, reason)?.is_some() {
            queued.push((one.id, one.repr.clone()));
        }
    }
    Ok(queued)
}
