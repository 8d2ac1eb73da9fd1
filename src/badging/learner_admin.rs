//! The operators' page for learners ("Learners › Learners"): who Accolade knows from the
//! LMS's events, with their badges, certificates, enrollments and award jobs. Learners are
//! made by events and awards and are the record awards point at, so they are read-only
//! here and never added or deleted by hand.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::admin::list::{page_of, search_terms};
use crate::admin::{
    Actor, Cell, Column, FieldSpec, FormData, LegacyModelAdmin, ListPage, ListQuery, ModelInfo, Row,
};
use crate::auth::permissions::Action;
use crate::db::DbConnection;
use crate::db::schema::{
    award_jobs, badge_assertions, badge_classes, certificates, enrollments, learners,
};
use crate::display::format_time;

static INFO: ModelInfo = ModelInfo {
    app_label: "learners",
    app_name: "Learners",
    model: "learner",
    verbose_name: "learner",
    verbose_name_plural: "learners",
};

static COLUMNS: &[Column] = &[
    Column {
        key: "username",
        label: "Username",
        sortable: true,
    },
    Column {
        key: "email",
        label: "E-mail",
        sortable: true,
    },
    Column {
        key: "badges",
        label: "Badges",
        sortable: false,
    },
    Column {
        key: "certificates",
        label: "Certificates",
        sortable: false,
    },
    Column {
        key: "jobs",
        label: "Award jobs",
        sortable: false,
    },
    Column {
        key: "created",
        label: "First seen",
        sortable: true,
    },
];

pub struct LearnerAdmin;

impl LegacyModelAdmin for LearnerAdmin {
    fn info(&self) -> &'static ModelInfo {
        &INFO
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn search_help(&self) -> Option<&'static str> {
        Some("Searches username and e-mail.")
    }

    fn allows(&self, action: Action) -> bool {
        action == Action::View
    }

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        let filtered = || {
            let query = learners::table.into_boxed();
            search_terms!(query, &q.terms, learners::username, learners::email)
        };
        let total = learners::table.count().get_result(conn)?;
        let count = filtered().count().get_result(conn)?;
        let page: Vec<(i64, String, String, chrono::NaiveDateTime)> =
            page_of!(filtered(), q, COLUMNS, learners::id, {
                "username" => learners::username,
                "email" => learners::email,
                "created" => learners::created_at,
            })
            .select((
                learners::id,
                learners::username,
                learners::email,
                learners::created_at,
            ))
            .load(conn)?;
        let ids: Vec<i64> = page.iter().map(|row| row.0).collect();
        let counts = RowCounts::load(conn, &ids)?;
        let rows = page
            .into_iter()
            .map(|(id, username, email, created)| Row {
                id: id.to_string(),
                cells: vec![
                    Cell::Text(username),
                    Cell::Text(email),
                    Cell::Text(counts.badges.get(&id).unwrap_or(&0).to_string()),
                    Cell::Text(counts.certificates.get(&id).unwrap_or(&0).to_string()),
                    Cell::Text(counts.jobs.get(&id).unwrap_or(&0).to_string()),
                    Cell::Time(Some(created)),
                ],
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
        _id: Option<&str>,
    ) -> QueryResult<Vec<FieldSpec>> {
        Ok(FieldSpec::read_only_list(&[
            ("username", "Username"),
            ("email", "E-mail"),
            ("badges", "Badges"),
            ("certificates", "Certificates"),
            ("enrollments", "Enrollments"),
            ("jobs", "Award jobs"),
        ]))
    }

    fn load(&self, conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, FormData)>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(learner) = super::learners::get(conn, id).optional()? else {
            return Ok(None);
        };
        let mut data = FormData::default();
        data.set("username", &learner.username);
        data.set("email", &learner.email);
        data.set("badges", listing(badges_of(conn, id)?));
        data.set("certificates", listing(certificates_of(conn, id)?));
        data.set("enrollments", listing(enrollments_of(conn, id)?));
        data.set("jobs", listing(jobs_of(conn, id)?));
        Ok(Some((learner.username, data)))
    }
}

/// Each page row's numbers, three grouped queries for the whole page.
struct RowCounts {
    badges: HashMap<i64, i64>,
    certificates: HashMap<i64, i64>,
    jobs: HashMap<i64, i64>,
}

impl RowCounts {
    fn load(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<RowCounts> {
        let badges = badge_assertions::table
            .filter(badge_assertions::learner_id.eq_any(ids))
            .filter(badge_assertions::revoked.eq(false))
            .group_by(badge_assertions::learner_id)
            .select((badge_assertions::learner_id, count_star()))
            .load::<(i64, i64)>(conn)?;
        let certificates = certificates::table
            .filter(certificates::learner_id.eq_any(ids))
            .group_by(certificates::learner_id)
            .select((certificates::learner_id, count_star()))
            .load::<(i64, i64)>(conn)?;
        let jobs = award_jobs::table
            .filter(award_jobs::learner_id.eq_any(ids))
            .group_by(award_jobs::learner_id)
            .select((award_jobs::learner_id, count_star()))
            .load::<(i64, i64)>(conn)?;
        Ok(RowCounts {
            badges: badges.into_iter().collect(),
            certificates: certificates.into_iter().collect(),
            jobs: jobs.into_iter().collect(),
        })
    }
}

fn listing(lines: Vec<String>) -> String {
    if lines.is_empty() {
        "-".into()
    } else {
        lines.join(" · ")
    }
}

fn badges_of(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<String>> {
    let found: Vec<(String, String, String, bool)> = badge_assertions::table
        .inner_join(badge_classes::table)
        .filter(badge_assertions::learner_id.eq(learner))
        .order(badge_assertions::id)
        .select((
            badge_classes::slug,
            badge_classes::course_id,
            badge_assertions::assertion_url,
            badge_assertions::revoked,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(slug, course, url, revoked)| {
            let state = if revoked { " (revoked)" } else { "" };
            format!("{slug} [{course}] {url}{state}")
        })
        .collect())
}

fn certificates_of(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<String>> {
    let found: Vec<(String, String, String)> = certificates::table
        .filter(certificates::learner_id.eq(learner))
        .order(certificates::id)
        .select((
            certificates::course_id,
            certificates::mode,
            certificates::status,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(course, mode, status)| format!("{course} ({mode}, {status})"))
        .collect())
}

fn enrollments_of(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<String>> {
    let found: Vec<(String, String, bool)> = enrollments::table
        .filter(enrollments::learner_id.eq(learner))
        .order(enrollments::id)
        .select((
            enrollments::course_id,
            enrollments::mode,
            enrollments::is_active,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(course, mode, active)| {
            format!(
                "{course} ({mode}{})",
                if active { "" } else { ", inactive" }
            )
        })
        .collect())
}

fn jobs_of(conn: &mut DbConnection, learner: i64) -> QueryResult<Vec<String>> {
    let found: Vec<(i64, String, String, chrono::NaiveDateTime)> = award_jobs::table
        .filter(award_jobs::learner_id.eq(learner))
        .order(award_jobs::id)
        .select((
            award_jobs::id,
            award_jobs::course_id,
            award_jobs::status,
            award_jobs::updated_at,
        ))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|(id, course, status, at)| format!("#{id} {course} {status} {}", format_time(&at)))
        .collect())
}
