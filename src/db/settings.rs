//! Site-wide values kept in the database so that every instance shares them.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::DbConnection;
use super::schema::site_settings;

pub const SECRET_KEY: &str = "secret_key";
/// The row the readiness check writes.
const READINESS_PROBE: &str = "readiness_probe";

pub fn get(conn: &mut DbConnection, key: &str) -> QueryResult<Option<String>> {
    site_settings::table
        .find(key)
        .select(site_settings::value)
        .first(conn)
        .optional()
}

/// Returns the stored value, storing `make()` first when there is none. Safe when several
/// instances start at once: the first insert wins and everyone reads it back.
pub fn get_or_insert(
    conn: &mut DbConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> QueryResult<String> {
    if let Some(value) = get(conn, key)? {
        return Ok(value);
    }
    // Losing the race to an identical insert is fine: that row stands.
    super::insert_unless_duplicate(conn, |conn| {
        diesel::insert_into(site_settings::table)
            .values((site_settings::key.eq(key), site_settings::value.eq(make())))
            .execute(conn)
    })?;
    site_settings::table
        .find(key)
        .select(site_settings::value)
        .first(conn)
}

/// Stores a value, replacing any earlier one.
pub fn set(conn: &mut DbConnection, key: &str, value: &str) -> QueryResult<()> {
    let updated = diesel::update(site_settings::table.find(key))
        .set(site_settings::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(site_settings::table)
            .values((site_settings::key.eq(key), site_settings::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// Writes the time into the readiness check's own row, in a statement of its own (called
/// outside a transaction, it is committed when it returns): the proof that the database
/// takes writes now, which a disk too full to take them, a read-only database or a lost
/// primary fail. Two checks at once both succeed.
pub fn record_readiness_probe(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO site_settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind::<Text, _>(READINESS_PROBE)
    .bind::<Text, _>(super::now().to_string())
    .execute(conn)?;
    Ok(())
}

/// Holds the named lock row (created by a migration) until the transaction ends, so that
/// transactions that take it run one after another on both backends.
pub fn lock(conn: &mut DbConnection, name: &str) -> QueryResult<()> {
    diesel::update(site_settings::table.find(name))
        .set(site_settings::value.eq(site_settings::value))
        .execute(conn)?;
    Ok(())
}

/// Takes the lease held in row `key` until `until` (Unix seconds) if no one holds a live
/// one: one statement, so two takers never both win. The value is zero-padded so that
/// text order is time order.
pub fn take_lease(conn: &mut DbConnection, key: &str, until: i64) -> QueryResult<bool> {
    get_or_insert(conn, key, String::new)?;
    let now = chrono::Utc::now().timestamp();
    let taken = diesel::update(
        site_settings::table
            .find(key)
            .filter(site_settings::value.lt(format!("{now:012}"))),
    )
    .set(site_settings::value.eq(format!("{until:012}")))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease in row `key` back before it runs out.
pub fn give_back_lease(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    set(conn, key, "")
}
