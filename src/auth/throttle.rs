//! Login throttling, kept in the database so every instance sees the same failures.

use std::time::Duration;

use diesel::prelude::*;

use crate::config::ThrottleConfig;
use crate::db::schema::login_failures;
use crate::db::{DbConnection, now};

/// Failures are keyed by the lower-cased, length-capped username so that case variants
/// cannot dodge the limit.
fn key(username: &str) -> String {
    username.to_lowercase().chars().take(150).collect()
}

/// How long the caller must wait, or `None` when a login attempt may go ahead.
pub fn wait_time(
    conn: &mut DbConnection,
    limits: &ThrottleConfig,
    username: &str,
    address: &str,
) -> QueryResult<Option<Duration>> {
    let window = chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::MAX);
    let since = now() - window;
    let by_user = oldest_if_over(
        conn,
        Subject::Username(key(username)),
        since,
        limits.max_failures_per_username,
    )?;
    let by_address = oldest_if_over(
        conn,
        Subject::Address(address.to_string()),
        since,
        limits.max_failures_per_address,
    )?;
    let blocking = [by_user, by_address].into_iter().flatten().max();
    Ok(blocking.map(|oldest| {
        let until = oldest + window;
        (until - now()).to_std().unwrap_or(Duration::ZERO)
    }))
}

/// Whose failures are counted.
enum Subject {
    Username(String),
    Address(String),
}

/// The time of the failure that keeps the limit exceeded (the `max`-th newest), if any.
fn oldest_if_over(
    conn: &mut DbConnection,
    subject: Subject,
    since: chrono::NaiveDateTime,
    max: u32,
) -> QueryResult<Option<chrono::NaiveDateTime>> {
    let query = login_failures::table.into_boxed();
    let query = match subject {
        Subject::Username(name) => query.filter(login_failures::username.eq(name)),
        Subject::Address(address) => query.filter(login_failures::client_address.eq(address)),
    };
    query
        .filter(login_failures::failed_at.gt(since))
        .order(login_failures::failed_at.desc())
        .offset(i64::from(max) - 1)
        .select(login_failures::failed_at)
        .first(conn)
        .optional()
}

pub fn record_failure(conn: &mut DbConnection, username: &str, address: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(key(username)),
            login_failures::client_address.eq(address),
            login_failures::failed_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets a username's failures after it logs in, and prunes failures older than the window.
pub fn record_success(
    conn: &mut DbConnection,
    limits: &ThrottleConfig,
    username: &str,
) -> QueryResult<()> {
    let window = chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::MAX);
    diesel::delete(
        login_failures::table.filter(
            login_failures::username
                .eq(key(username))
                .or(login_failures::failed_at.lt(now() - window)),
        ),
    )
    .execute(conn)?;
    Ok(())
}
