//! Figures for the admin index: badges issued per day, and award jobs by state.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::job_types::JobStatus;
use crate::db::DbConnection;
use crate::db::schema::{award_jobs, badges_issued_daily};

/// A day as `badges_issued_daily` keys it (and the chart labels it): `YYYY-MM-DD`.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Counts one more badge issued at `time`; part of the caller's transaction.
pub fn count_issued(conn: &mut DbConnection, time: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO badges_issued_daily (day, issued) VALUES ($1, 1) \
         ON CONFLICT (day) DO UPDATE SET issued = badges_issued_daily.issued + 1",
    )
    .bind::<Text, _>(day_key(time.date()))
    .execute(conn)?;
    Ok(())
}

/// Rebuilds the daily counts from the assertions (after rows were written in bulk, by
/// hand or by a seeding script).
pub fn recount_issued(conn: &mut DbConnection) -> QueryResult<()> {
    let day_of = match conn {
        DbConnection::Postgresql(_) => "to_char(created, 'YYYY-MM-DD')",
        DbConnection::Sqlite(_) => "substr(created, 1, 10)",
    };
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(badges_issued_daily::table).execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO badges_issued_daily (day, issued) \
             SELECT {day_of}, COUNT(*) FROM badge_assertions GROUP BY {day_of}"
        ))
        .execute(conn)?;
        Ok(())
    })
}

/// Badges issued on each of the `days` days up to and including `today` (UTC), oldest
/// first, days without any included.
pub fn issued_per_day(
    conn: &mut DbConnection,
    today: NaiveDate,
    days: u32,
) -> QueryResult<Vec<(NaiveDate, i64)>> {
    let first = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
    let counted: HashMap<String, i64> = badges_issued_daily::table
        .filter(badges_issued_daily::day.ge(day_key(first)))
        .select((badges_issued_daily::day, badges_issued_daily::issued))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| (day, counted.get(&day_key(day)).copied().unwrap_or(0)))
        .collect())
}

/// Jobs by where they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub done: i64,
    pub failed: i64,
    /// Pending or running.
    pub waiting: i64,
}

impl StateCounts {
    /// Folds `(status, count)` rows, as a `GROUP BY status` gives them.
    pub fn tally(rows: Vec<(JobStatus, i64)>) -> StateCounts {
        let mut counts = StateCounts::default();
        for (state, count) in rows {
            match state {
                JobStatus::Done => counts.done += count,
                JobStatus::Failed => counts.failed += count,
                JobStatus::Pending | JobStatus::Running => counts.waiting += count,
            }
        }
        counts
    }
}

/// Award jobs waiting (pending or running) and failed; done ones are not counted (there
/// are many, and the index does not show them).
pub fn job_counts(conn: &mut DbConnection) -> QueryResult<StateCounts> {
    let by_state: Vec<(JobStatus, i64)> = award_jobs::table
        .filter(award_jobs::status.ne(JobStatus::Done))
        .group_by(award_jobs::status)
        .select((award_jobs::status, count_star()))
        .load(conn)?;
    Ok(StateCounts::tally(by_state))
}
