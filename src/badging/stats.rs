//! Figures for the admin index: badges issued per day, and award jobs by state.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::DbConnection;
use crate::db::schema::award_jobs;

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    issued: i64,
}

/// Assertions created on each of the `days` days up to and including `today` (UTC), oldest
/// first, days without any included. Grouped in the database, over the `created` index.
pub fn issued_per_day(
    conn: &mut DbConnection,
    today: NaiveDate,
    days: u32,
) -> QueryResult<Vec<(NaiveDate, i64)>> {
    let first = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
    let day_of = match conn {
        DbConnection::Postgresql(_) => "to_char(created, 'YYYY-MM-DD')",
        DbConnection::Sqlite(_) => "substr(created, 1, 10)",
    };
    let sql = format!(
        "SELECT {day_of} AS day, COUNT(*) AS issued FROM badge_assertions \
         WHERE created >= $1 GROUP BY {day_of}"
    );
    let counted: HashMap<String, i64> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .load::<DayCount>(conn)?
        .into_iter()
        .map(|c| (c.day, c.issued))
        .collect();
    Ok(first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| {
            let key = day.format("%Y-%m-%d").to_string();
            (day, counted.get(&key).copied().unwrap_or(0))
        })
        .collect())
}

/// Award jobs waiting (pending or running) and failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobCounts {
    pub waiting: i64,
    pub failed: i64,
}

pub fn job_counts(conn: &mut DbConnection) -> QueryResult<JobCounts> {
    let by_state: Vec<(String, i64)> = award_jobs::table
        .filter(award_jobs::status.ne("done"))
        .group_by(award_jobs::status)
        .select((award_jobs::status, count_star()))
        .load(conn)?;
    let mut counts = JobCounts::default();
    for (state, count) in by_state {
        match state.as_str() {
            "pending" | "running" => counts.waiting += count,
            "failed" => counts.failed += count,
            _ => {}
        }
    }
    Ok(counts)
}
