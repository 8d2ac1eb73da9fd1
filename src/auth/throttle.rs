//! Login throttling, kept in the database so every instance sees the same attempts.
//!
//! An attempt is counted *before* its password is verified: [`admit`] records it, then
//! counts the recent attempts for the username and for the client address. Each count
//! includes every attempt recorded before it, so of any number of concurrent attempts
//! only the first `limit` to be recorded can find themselves within the limit: at most
//! `limit` guesses are ever verified within a window, whatever the concurrency and the
//! number of instances. An attempt refused that way is taken back (it was not verified),
//! a failed one stays counted, and a successful login forgets the username's attempts.

use std::time::Duration;

use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{DbConnection, now};

/// How many failed logins are allowed, and within how long (`ACCOLADE_LOGIN_MAX_FAILURES`,
/// `ACCOLADE_LOGIN_MAX_FAILURES_PER_ADDRESS`, `ACCOLADE_LOGIN_THROTTLE_SECONDS`; `config`
/// reads them).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_failures_per_username: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
}

/// Attempts are keyed by the lower-cased, length-capped username so that case variants
/// cannot dodge the limit.
fn key(username: &str) -> String {
    super::users::username_key(username)
        .chars()
        .take(150)
        .collect()
}

/// Whether an attempt may be verified.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Verify it; it stays counted unless it succeeds.
    Go,
    /// Too many attempts: try again after this long.
    Wait(Duration),
}

/// Counts an attempt for the username from the address, and says whether it may be
/// verified (see the module docs).
pub fn admit(
    conn: &mut DbConnection,
    limits: &Limits,
    username: &str,
    address: &str,
) -> QueryResult<Admission> {
    let attempt: i64 = diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(key(username)),
            login_failures::client_address.eq(address),
            login_failures::failed_at.eq(now()),
        ))
        .returning(login_failures::id)
        .get_result(conn)?;
    let since = now() - window(limits);
    let by_user = count(conn, Subject::Username(key(username)), since)?;
    let by_address = count(conn, Subject::Address(address.to_string()), since)?;
    if by_user <= i64::from(limits.max_failures_per_username)
        && by_address <= i64::from(limits.max_failures_per_address)
    {
        return Ok(Admission::Go);
    }
    diesel::delete(login_failures::table.find(attempt)).execute(conn)?;
    Ok(Admission::Wait(wait_time(conn, limits, username, address)?))
}

fn window(limits: &Limits) -> chrono::Duration {
    chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::MAX)
}

/// How long until the oldest attempt that keeps a limit exceeded leaves the window.
fn wait_time(
    conn: &mut DbConnection,
    limits: &Limits,
    username: &str,
    address: &str,
) -> QueryResult<Duration> {
    let since = now() - window(limits);
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
    Ok(blocking.map_or(Duration::ZERO, |oldest| {
        (oldest + window(limits) - now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }))
}

/// Whose attempts are counted.
enum Subject {
    Username(String),
    Address(String),
}

fn of(subject: Subject) -> login_failures::BoxedQuery<'static, crate::db::MultiBackend> {
    let query = login_failures::table.into_boxed();
    match subject {
        Subject::Username(name) => query.filter(login_failures::username.eq(name)),
        Subject::Address(address) => query.filter(login_failures::client_address.eq(address)),
    }
}

fn count(
    conn: &mut DbConnection,
    subject: Subject,
    since: chrono::NaiveDateTime,
) -> QueryResult<i64> {
    of(subject)
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
}

/// The time of the attempt that keeps the limit exceeded (the `max`-th newest), if any.
fn oldest_if_over(
    conn: &mut DbConnection,
    subject: Subject,
    since: chrono::NaiveDateTime,
    max: u32,
) -> QueryResult<Option<chrono::NaiveDateTime>> {
    of(subject)
        .filter(login_failures::failed_at.gt(since))
        .order(login_failures::failed_at.desc())
        .offset(i64::from(max) - 1)
        .select(login_failures::failed_at)
        .first(conn)
        .optional()
}

/// Forgets a username's attempts after it logs in, and prunes attempts older than the
/// window.
pub fn forget(conn: &mut DbConnection, limits: &Limits, username: &str) -> QueryResult<()> {
    diesel::delete(
        login_failures::table.filter(
            login_failures::username
                .eq(key(username))
                .or(login_failures::failed_at.lt(now() - window(limits))),
        ),
    )
    .execute(conn)?;
    Ok(())
}
