//! Learners › Learners: who Accolade knows from the LMS's events, with their badges,
//! certificates, enrollments and award jobs. Learners are made by events and awards and
//! are the record awards point at, so they are read-only here and never added or deleted
//! by hand.

use std::collections::HashMap;
use std::fmt::Display;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admin::list::{list_page, search_terms};
use crate::admin::{
    AdminMeta, Cell, Column, ListPage, ListQuery, Loaded, ModelAdmin, ModelInfo, Row,
};
use crate::auth::permissions::Action;
use crate::badging::{assertions, jobs};
use crate::db::DbConnection;
use crate::db::schema::learners as learner_rows;
use crate::learners::{self, Learner, certificates, enrollments};

static META: AdminMeta = AdminMeta::new(
    ModelInfo::new(super::LEARNERS, "learner", "learner", "learners"),
    &[
        Column::sorted("username", "Username"),
        Column::sorted("email", "E-mail"),
        Column::new("badges", "Badges"),
        Column::new("certificates", "Certificates"),
        Column::new("jobs", "Award jobs"),
        Column::sorted("created", "First seen"),
    ],
)
.search("Searches username and e-mail.")
.offers(&[Action::View])
.view_fields(&[
    ("username", "Username"),
    ("email", "E-mail"),
    ("badges", "Badges"),
    ("certificates", "Certificates"),
    ("enrollments", "Enrollments"),
    ("jobs", "Award jobs"),
]);

pub struct LearnerAdmin;

/// What the learner's page shows; nothing on it is edited.
#[derive(Serialize, Deserialize, Default)]
pub struct LearnerView {
    username: String,
    email: String,
    badges: String,
    certificates: String,
    enrollments: String,
    jobs: String,
}

/// The items one per line, as the page shows them: "-" when there are none.
fn listing<T: Display>(items: Vec<T>) -> String {
    let lines: Vec<String> = items.iter().map(ToString::to_string).collect();
    match lines.is_empty() {
        true => "-".into(),
        false => lines.join(" · "),
    }
}

fn count(counts: &HashMap<i64, i64>, id: i64) -> Cell {
    Cell::Text(counts.get(&id).copied().unwrap_or(0).to_string())
}

impl ModelAdmin for LearnerAdmin {
    type Id = i64;
    type Form = LearnerView;

    const META: &'static AdminMeta = &META;

    fn list(&self, conn: &mut DbConnection, q: &ListQuery) -> QueryResult<ListPage> {
        list_page!(conn, q, &META,
            total: learner_rows::table,
            filtered: || {
                let query = learner_rows::table.into_boxed();
                search_terms!(query, &q.terms, learner_rows::username, learner_rows::email)
            },
            pk: learner_rows::id,
            order: {
                "username" => learner_rows::username,
                "email" => learner_rows::email,
                "created" => learner_rows::created_at,
            },
            select: Learner::as_select(),
            rows: |conn: &mut DbConnection, page: Vec<Learner>| {
                let ids: Vec<i64> = page.iter().map(|learner| learner.id).collect();
                // Each row's numbers: three grouped queries for the whole page.
                let badges = assertions::count_held_by(conn, &ids)?;
                let certificates = certificates::count_by_learner(conn, &ids)?;
                let jobs = jobs::count_by_learner(conn, &ids)?;
                let rows = page.into_iter().map(|learner| Row::new(learner.id, vec![
                    Cell::Text(learner.username),
                    Cell::Text(learner.email),
                    count(&badges, learner.id),
                    count(&certificates, learner.id),
                    count(&jobs, learner.id),
                    Cell::Time(Some(learner.created_at)),
                ]));
                Ok::<_, diesel::result::Error>(rows.collect())
            },
        )
    }

    fn load(&self, conn: &mut DbConnection, id: &i64) -> QueryResult<Loaded<LearnerView>> {
        let Some(learner) = learners::get(conn, *id).optional()? else {
            return Ok(None);
        };
        let view = LearnerView {
            badges: listing(assertions::held_by(conn, *id)?),
            certificates: listing(certificates::of_learner(conn, *id)?),
            enrollments: listing(enrollments::of_learner(conn, *id)?),
            jobs: listing(jobs::of_learner(conn, *id)?),
            email: learner.email,
            username: learner.username.clone(),
        };
        Ok(Some((learner.username, view)))
    }
}
