//! The database layer: one connection type over SQLite and PostgreSQL, chosen by URL.
//!
//! `DATABASE_URL` picks the backend by its scheme (never by trial, so a PostgreSQL URL can
//! not silently become a SQLite file). Every query in Accolade is written once against
//! [`DbConnection`]; only migrations exist per backend.

pub mod schema;
pub mod settings;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applied to every new SQLite connection: the settings SQLite does not remember per file.
const SQLITE_CONNECTION_SETUP: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

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

/// An r2d2 manager that connects to the backend the URL names.
pub struct ConnectionManager {
    kind: DatabaseKind,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.kind.connect().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::TransactionManager;
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The shared handle on the database: cheap to clone, one per process.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    kind: DatabaseKind,
    /// As many blocking tasks at a time as there are connections: more would only wait for
    /// one, each on a thread of its own (and memory with it).
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Database {
    /// Opens a pool; fails at once with the driver's message when the database is unreachable.
    pub fn connect(url: &str, pool_size: u32) -> Result<Database, String> {
        let kind = DatabaseKind::from_url(url)?;
        if let DatabaseKind::Sqlite { path } = &kind {
            create_owner_only(path)?;
        }
        // One direct connection first: it fails at once with the driver's own message,
        // where the pool would retry until its timeout.
        kind.connect()
            .map_err(|e| format!("cannot connect to the {} database: {e}", kind.name()))?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(10))
            .build(ConnectionManager { kind: kind.clone() })
            .map_err(|e| format!("cannot connect to the {} database: {e}", kind.name()))?;
        Ok(Database {
            pool,
            kind,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(pool_size as usize)),
        })
    }

    pub fn kind(&self) -> &DatabaseKind {
        &self.kind
    }

    /// A connection for blocking code (CLI commands, start-up work, worker threads).
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, AppError> {
        self.pool
            .get()
            .map_err(|e| AppError::internal(format!("database pool: {e}")))
    }

    /// Runs blocking database work off the async executor.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let _turn = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("database turn: {e}")))?;
        let db = self.clone();
        actix_web::web::block(move || {
            let mut conn = db.get()?;
            work(&mut conn).map_err(Into::into)
        })
        .await
        .map_err(|e| AppError::internal(format!("blocking task: {e}")))?
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
        let mut conn = self.get().map_err(|e| e.to_string())?;
        match &mut *conn {
            DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|m| m.len()),
            DbConnection::Postgresql(c) => {
                c.pending_migrations(POSTGRES_MIGRATIONS).map(|m| m.len())
            }
        }
        .map_err(|e| format!("cannot read migrations: {e}"))
    }

    /// `Ok` when a trivial query answers.
    pub fn ping(&self) -> Result<(), AppError> {
        let mut conn = self.get()?;
        diesel::sql_query("SELECT 1").execute(&mut *conn)?;
        Ok(())
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

/// True when a diesel error is a unique-constraint violation.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
