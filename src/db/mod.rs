//! The database layer: one connection type over SQLite and PostgreSQL, chosen by URL.
//!
//! `DATABASE_URL` picks the backend by its scheme (never by trial, so a PostgreSQL URL can
//! not silently become a SQLite file). Every query in Accolade is written once against
//! [`DbConnection`]; only migrations exist per backend.
//!
//! This layer speaks no HTTP: it fails with a [`DbError`] (the database cannot be reached,
//! no connection came free, a query failed), and the web layer maps that once.

pub mod row_id;
pub mod schema;
pub mod settings;
pub mod text_enum;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, QueryResult, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applied to every new SQLite connection: the settings SQLite does not remember per file.
const SQLITE_CONNECTION_SETUP: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

/// How long a checkout waits for a connection while the database answers: under load every
/// connection may be busy for a while, and a request waits its turn for one.
pub const CHECKOUT_WAIT: Duration = Duration::from_secs(10);

/// Waits for a connection (or a turn) are cut into steps of this, and between steps they ask
/// whether the database is known to be down: a wait that finds it down ends after one step,
/// which is the chance it gets to be back. An outage is thus answered within about a
/// second, where a wait of [`CHECKOUT_WAIT`] would answer it after ten.
const CHECKOUT_STEP: Duration = Duration::from_millis(500);

/// The pool's own timeout. Checkouts pass their own wait, so all it still sets is the
/// pool's longest pause between attempts to reconnect (half of it): service resumes within
/// a second of the database's return.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the database layer could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached (or could not a moment ago): worth another try in a
    /// few seconds.
    #[error("the database cannot be reached: {0}")]
    Unreachable(String),
    /// The database answers, but no connection came free within the wait.
    #[error("no database connection came free within {0:?}")]
    Busy(Duration),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
    /// The blocking task did not finish (it panicked, or the runtime is stopping).
    #[error("database task: {0}")]
    Task(String),
}

/// What [`Database::run`] fails with: the database itself, or the work's own error.
#[derive(Debug)]
pub enum RunError<E> {
    Db(DbError),
    Work(E),
}

impl<E> From<DbError> for RunError<E> {
    fn from(e: DbError) -> RunError<E> {
        RunError::Db(e)
    }
}

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a `DATABASE_URL` names, with what to hand its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite { path: String },
    Postgres { url: String },
}

impl DatabaseKind {
    pub fn from_url(url: &str) -> Result<DatabaseKind, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("a sqlite:// URL needs a file path, e.g. sqlite://accolade.db".into());
            }
            Ok(DatabaseKind::Sqlite { path: path.into() })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseKind::Postgres { url: url.into() })
        } else {
            Err("expected a URL starting with sqlite:// or postgres://".into())
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DatabaseKind::Sqlite { .. } => "SQLite",
            DatabaseKind::Postgres { .. } => "PostgreSQL",
        }
    }

    fn connect(&self) -> diesel::ConnectionResult<DbConnection> {
        match self {
            DatabaseKind::Postgres { url } => {
                PgConnection::establish(url).map(DbConnection::Postgresql)
            }
            DatabaseKind::Sqlite { path } => {
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_CONNECTION_SETUP)
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// What the pool last learnt of the database: whether it answered. The pool's manager
/// records every connection attempt and every check of a connection before it is handed
/// out; waits for a connection read it, to give up at once during an outage.
#[derive(Default)]
struct Reachability {
    down: AtomicBool,
}

impl Reachability {
    fn record<T, E: std::fmt::Display>(&self, outcome: &Result<T, E>) {
        let down = outcome.is_err();
        // Logged when it changes, not at every failed attempt: the pool retries often.
        if self.down.swap(down, Ordering::Relaxed) != down {
            match outcome {
                Err(e) => {
                    tracing::warn!(error = %e, "the database cannot be reached; requests that need it are answered 503 until it answers again")
                }
                Ok(_) => tracing::info!("the database answers again"),
            }
        }
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}

/// An r2d2 manager that connects to the backend the URL names.
pub struct ConnectionManager {
    kind: DatabaseKind,
    reachability: Arc<Reachability>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let connected = self.kind.connect();
        self.reachability.record(&connected);
        connected.map_err(r2d2::Error::ConnectionError)
    }

    /// Run before every checkout: a connection the server dropped (a restart, an outage)
    /// fails here, and tells the pool the database is down before any reconnection does.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        let answered = select_one(conn);
        self.reachability.record(&answered);
        answered.map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::TransactionManager;
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The shared handle on the database: cheap to clone, one per process.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    kind: DatabaseKind,
    reachability: Arc<Reachability>,
    /// As many blocking tasks at a time as there are connections: more would only wait for
    /// one, each on a thread of its own (and memory with it).
    in_flight: Arc<Semaphore>,
}

impl Database {
    /// Opens a pool; fails at once with the driver's message when the database is unreachable.
    pub fn connect(url: &str, pool_size: u32) -> Result<Database, String> {
        let kind = DatabaseKind::from_url(url)?;
        if let DatabaseKind::Sqlite { path } = &kind {
            create_owner_only(path)?;
        }
        // One direct connection first: it fails at once with the driver's own message,
        // where the pool would retry until its timeout. Once it succeeded, the pool fills
        // itself in the background (checkouts wait for its first connections).
        kind.connect()
            .map_err(|e| format!("cannot connect to the {} database: {e}", kind.name()))?;
        let reachability = Arc::new(Reachability::default());
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(POOL_TIMEOUT)
            // The manager logs when the database stops and starts answering; r2d2 would log
            // every attempt to reconnect, several a second during an outage.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(ConnectionManager {
                kind: kind.clone(),
                reachability: reachability.clone(),
            });
        Ok(Database {
            pool,
            kind,
            reachability,
            in_flight: Arc::new(Semaphore::new(pool_size as usize)),
        })
    }

    pub fn kind(&self) -> &DatabaseKind {
        &self.kind
    }

    /// Whether the last attempt to reach the database failed (no waiting, no query).
    pub fn known_down(&self) -> bool {
        self.reachability.is_down()
    }

    /// A connection for blocking code (CLI commands, start-up work, worker threads), waiting
    /// up to [`CHECKOUT_WAIT`] for one.
    pub fn get(&self) -> Result<PooledConnection, DbError> {
        self.get_within(CHECKOUT_WAIT)
    }

    /// A connection within `wait`, or [`DbError::Unreachable`] within a step once the
    /// database is known to be down.
    pub fn get_within(&self, wait: Duration) -> Result<PooledConnection, DbError> {
        let deadline = Instant::now() + wait;
        loop {
            let step = CHECKOUT_STEP.min(deadline.saturating_duration_since(Instant::now()));
            match self.pool.get_timeout(step) {
                Ok(conn) => return Ok(conn),
                Err(e) if self.reachability.is_down() => {
                    return Err(DbError::Unreachable(e.to_string()));
                }
                Err(_) if Instant::now() >= deadline => return Err(DbError::Busy(wait)),
                Err(_) => {}
            }
        }
    }

    /// Runs blocking database work off the async executor, waiting up to [`CHECKOUT_WAIT`]
    /// for a connection.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.run_within(CHECKOUT_WAIT, work).await
    }

    /// [`Database::run`] with the wait for a connection bounded by `wait`.
    pub async fn run_within<T, E, F>(&self, wait: Duration, work: F) -> Result<T, RunError<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let turn = self.take_turn().await?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            // The turn ends with the work, not with the caller's wait: a caller that
            // stops waiting (a timeout) must not let more tasks run than connections.
            let _turn = turn;
            let mut conn = db.get_within(wait)?;
            work(&mut conn).map_err(RunError::Work)
        })
        .await
        .map_err(|e| RunError::Db(DbError::Task(e.to_string())))?
    }

    /// One of the pool's turns. Turns are served in order and waited for as long as it
    /// takes while the database answers, but not once it is known to be down.
    async fn take_turn(&self) -> Result<OwnedSemaphorePermit, DbError> {
        // A free turn is taken at once, with no timer set (the common case under load).
        if let Ok(permit) = self.in_flight.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let turn = self.in_flight.clone().acquire_owned();
        tokio::pin!(turn);
        loop {
            tokio::select! {
                permit = &mut turn => return permit.map_err(|e| DbError::Task(e.to_string())),
                () = tokio::time::sleep(CHECKOUT_STEP) => {
                    if self.reachability.is_down() {
                        return Err(DbError::Unreachable("while waiting for a turn".into()));
                    }
                }
            }
        }
    }

    /// Applies every pending migration of this backend; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, String> {
        let mut conn = self.get().map_err(|e| e.to_string())?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| format!("migration failed: {e}"))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }

    /// How many migrations of this backend are not applied yet.
    pub fn pending_migrations(&self) -> Result<usize, String> {
        pending_migrations(&mut *self.get().map_err(|e| e.to_string())?)
    }

    /// `Ok` when a trivial query answers, the wait for a connection bounded by `wait`.
    pub fn ping(&self, wait: Duration) -> Result<(), DbError> {
        Ok(select_one(&mut *self.get_within(wait)?)?)
    }
}

/// Creates a SQLite database file that does not exist yet readable and writable by its
/// owner only: it holds password hashes and, in development, the generated secret key.
/// SQLite gives the `-wal` and `-shm` files it makes beside it the same mode. An existing
/// file is left as it is (its mode is the operator's choice).
fn create_owner_only(path: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.starts_with(':') || path.starts_with("file:") {
        // In memory, or a URI whose options SQLite reads: nothing to create here.
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create the SQLite database {path}: {e}")),
    }
}

/// The most trivial query: whether the connection's database answers at all (one round
/// trip, no statement prepared: it runs before every checkout).
pub fn select_one(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// How many migrations of the connection's backend are not applied to its database yet.
pub fn pending_migrations(conn: &mut DbConnection) -> Result<usize, String> {
    match conn {
        DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|m| m.len()),
        DbConnection::Postgresql(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(|m| m.len()),
    }
    .map_err(|e| format!("cannot read migrations: {e}"))
}

/// Runs `work` in a transaction that is going to write. On SQLite the write lock is taken
/// at `BEGIN IMMEDIATE`, so a transaction that reads before it writes cannot fail to
/// upgrade its snapshot when another writer got in between (it waits its turn instead);
/// PostgreSQL needs no such thing. Rolled back when `work` fails.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match work(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is the one worth reporting; a failed rollback leaves the
            // connection broken, and the pool then discards it.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive matching on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The current time, in UTC, at the precision both backends store.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    now - chrono::Duration::nanoseconds(i64::from(now.and_utc().timestamp_subsec_nanos() % 1000))
}

/// Runs an insert that may lose a race to an identical one: in a savepoint, so that on
/// PostgreSQL the surrounding transaction survives the unique violation. Returns whether
/// this insert won.
pub fn insert_unless_duplicate(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> QueryResult<usize>,
) -> QueryResult<bool> {
    match conn.transaction(insert) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// True when a write failed because the database's storage is full (or failing): the
/// drivers name it only in words — SQLite's "database or disk is full" and "disk I/O
/// error", PostgreSQL's "No space left on device".
pub fn is_storage_full(error: &diesel::result::Error) -> bool {
    let diesel::result::Error::DatabaseError(_, info) = error else {
        return false;
    };
    let message = info.message();
    [
        "database or disk is full",
        "disk I/O error",
        "No space left on device",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// True when a diesel error is a unique-constraint violation.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// The name of the unique constraint or index that a failed write violated, alike on both
/// backends, so that callers map a refusal to its meaning by name (never by the message's
/// wording); `None` for any other error. PostgreSQL names it in the error. SQLite names only
/// the table and columns, so the unique index on exactly those columns is looked up: an
/// index created by name has that name, one made by an inline `UNIQUE` gets the name
/// PostgreSQL gives such a constraint (`{table}_{columns}_key`, `{table}_pkey`).
pub fn violated_constraint(
    conn: &mut DbConnection,
    error: &diesel::result::Error,
) -> QueryResult<Option<String>> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return Ok(None);
    };
    match conn {
        DbConnection::Postgresql(_) => Ok(info.constraint_name().map(str::to_string)),
        DbConnection::Sqlite(conn) => sqlite_unique_index(conn, info.message()),
    }
}

/// Whether `error` is a unique violation of one of `keys` (constraint or index names, as
/// the migrations give them); a name that cannot be found counts as none of them.
pub fn violates_unique(
    conn: &mut DbConnection,
    error: &diesel::result::Error,
    keys: &[&str],
) -> bool {
    matches!(violated_constraint(conn, error), Ok(Some(name)) if keys.contains(&name.as_str()))
}

/// The unique index SQLite's "UNIQUE constraint failed: t.a, t.b" refers to.
fn sqlite_unique_index(conn: &mut SqliteConnection, message: &str) -> QueryResult<Option<String>> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Nullable, Text};

    #[derive(diesel::QueryableByName)]
    struct IndexColumn {
        #[diesel(sql_type = Text)]
        index_name: String,
        #[diesel(sql_type = Text)]
        origin: String,
        #[diesel(sql_type = Nullable<Text>)]
        column_name: Option<String>,
    }

    let Some(list) = message.strip_prefix("UNIQUE constraint failed: ") else {
        return Ok(None);
    };
    let columns: Vec<(&str, &str)> = list
        .split(", ")
        .filter_map(|column| column.split_once('.'))
        .collect();
    let Some(&(table, _)) = columns.first() else {
        return Ok(None);
    };
    let wanted: Vec<&str> = columns.iter().map(|&(_, column)| column).collect();
    let rows: Vec<IndexColumn> = diesel::sql_query(
        "SELECT il.name AS index_name, il.origin AS origin, ii.name AS column_name \
         FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii \
         WHERE il.\"unique\" ORDER BY il.seq, ii.seqno",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    let mut indexes: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for row in &rows {
        let column = row.column_name.as_deref().unwrap_or_default();
        match indexes.last_mut() {
            Some((name, _, cols)) if *name == row.index_name => cols.push(column),
            _ => indexes.push((&row.index_name, &row.origin, vec![column])),
        }
    }
    Ok(indexes
        .into_iter()
        .find(|(_, _, cols)| *cols == wanted)
        .map(|(name, origin, _)| match origin {
            "pk" => format!("{table}_pkey"),
            "u" => format!("{table}_{}_key", wanted.join("_")),
            _ => name.to_string(),
        }))
}
