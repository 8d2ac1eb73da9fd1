//! The database layer on the configured backend (SQLite, or PostgreSQL when
//! `ACCOLADE_TEST_DATABASE_URL` is set).

mod common;

use accolade::auth::permissions;
use accolade::db::{Database, DatabaseKind, DbConnection};
use diesel::prelude::*;

fn fresh() -> (common::TestDatabase, Database) {
    let database = common::TestDatabase::new();
    let db = Database::connect(&database.url, 2).expect("connect");
    (database, db)
}

/// Shown as ignored, with the reason, when this run does not use PostgreSQL.
#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL NOT TESTED in this run: set ACCOLADE_TEST_DATABASE_URL (.ci/run does)"
)]
fn postgresql_is_the_backend_under_test() {
    assert!(common::on_postgres(), "ACCOLADE_TEST_DATABASE_URL is set");
    let (_dir, db) = fresh();
    assert_eq!(db.kind().name(), "PostgreSQL");
}

#[test]
fn the_url_scheme_chooses_the_backend() {
    assert_eq!(
        DatabaseKind::from_url("sqlite://data/accolade.db").unwrap(),
        DatabaseKind::Sqlite {
            path: "data/accolade.db".into()
        }
    );
    assert!(matches!(
        DatabaseKind::from_url("postgres://u@h/db"),
        Ok(DatabaseKind::Postgres { .. })
    ));
    assert!(DatabaseKind::from_url("postgresql://u@h/db").is_ok());
    assert!(DatabaseKind::from_url("mysql://u@h/db").is_err());
    // An unreachable PostgreSQL server is an error, never a SQLite file by that name.
    let err = Database::connect("postgres://nobody@127.0.0.1:1/none", 1)
        .err()
        .expect("refused");
    assert!(err.contains("PostgreSQL"), "{err}");
}

/// The migration folders of one backend, by name.
fn migration_names(backend: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("migrations/{backend}"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    assert_eq!(migration_names("sqlite"), migration_names("postgres"));
}

#[test]
fn migrations_apply_once() {
    let (_dir, db) = fresh();
    let all = migration_names("sqlite").len();
    assert_eq!(db.pending_migrations().unwrap(), all);
    assert_eq!(db.migrate().unwrap().len(), all);
    assert!(db.migrate().unwrap().is_empty(), "nothing left to apply");
    assert_eq!(db.pending_migrations().unwrap(), 0);
}

#[test]
fn sqlite_connections_enforce_foreign_keys_and_use_wal() {
    if common::on_postgres() {
        return;
    }
    let (_dir, db) = fresh();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    let bad = diesel::sql_query("INSERT INTO user_groups (user_id, group_id) VALUES (999, 999)")
        .execute(&mut *conn);
    assert!(bad.is_err(), "foreign keys are on");
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

#[test]
fn the_development_secret_key_is_made_once_and_shared() {
    let (_dir, db) = fresh();
    db.migrate().unwrap();
    let first = accolade::auth::tokens::development_secret_key(&mut db.get().unwrap()).unwrap();
    let second = accolade::auth::tokens::development_secret_key(&mut db.get().unwrap()).unwrap();
    assert_eq!(first, second);
    assert!(first.len() >= 32);
}

#[test]
fn permissions_are_created_once_per_model() {
    let (database, db) = fresh();
    let db_url = database.url.clone();
    db.migrate().unwrap();
    let site = accolade::backoffice::site(&common::test_config(&db_url, &[]));
    let mut conn = db.get().unwrap();
    assert_eq!(
        permissions::sync(&mut conn, &site.permission_models()).unwrap(),
        site.permission_models().len() * 4
    );
    assert_eq!(
        permissions::sync(&mut conn, &site.permission_models()).unwrap(),
        0
    );
    let names: Vec<String> = permissions::choices(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(
        names.contains(&"auth | user | Can change user".to_string()),
        "{names:?}"
    );
}

#[test]
fn unique_and_cascade_rules_live_in_the_database() {
    use accolade::db::schema::{groups, user_groups, users};
    let (_dir, db) = fresh();
    db.migrate().unwrap();
    let mut conn = db.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let hash = common::shared_hash();
    let id = accolade::auth::users::create(
        conn,
        &accolade::auth::users::NewUser::new("alice", "", &hash),
    )
    .unwrap();
    let again = accolade::auth::users::create(
        conn,
        &accolade::auth::users::NewUser::new("alice", "", &hash),
    );
    assert!(accolade::db::is_unique_violation(&again.unwrap_err()));
    let gid: i64 = diesel::insert_into(groups::table)
        .values(groups::name.eq("g"))
        .returning(groups::id)
        .get_result(conn)
        .unwrap();
    diesel::insert_into(user_groups::table)
        .values((user_groups::user_id.eq(id), user_groups::group_id.eq(gid)))
        .execute(conn)
        .unwrap();
    diesel::delete(users::table.find(id)).execute(conn).unwrap();
    let left: i64 = user_groups::table.count().get_result(conn).unwrap();
    assert_eq!(left, 0, "memberships go with their user");
}

/// A checkout waits its turn while every connection is busy and the database answers:
/// the short wait is for an outage only (load tests run 64 clients on a small pool).
#[test]
fn a_checkout_waits_its_turn_while_the_database_answers() {
    let (_dir, db) = fresh();
    let held: Vec<_> = (0..2).map(|_| db.get().expect("a connection")).collect();
    let waiter = {
        let db = db.clone();
        std::thread::spawn(move || db.get().map(drop))
    };
    // Several of the steps in which a checkout looks for an outage.
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert!(!db.known_down());
    drop(held);
    waiter
        .join()
        .unwrap()
        .expect("the connection, once one is free");
}
