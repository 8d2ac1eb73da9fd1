//! The `accolade` command line, run as a user would run it.

mod common;

use std::process::Command;

use diesel::prelude::*;

fn accolade(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_accolade"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["createsuperuser", "--help"],
        &["changepassword", "--help"],
        &["check", "--help"],
    ] {
        let output = accolade(dir.path()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn check_names_the_malformed_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = accolade(dir.path())
        .arg("check")
        .env("ACCOLADE_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ACCOLADE_BIND"));

    let output = accolade(dir.path())
        .arg("check")
        .env("ACCOLADE_SECURE_COOKIE", "true")
        .output()
        .unwrap();
    assert!(!output.status.success(), "a misspelt setting is refused");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ACCOLADE_SECURE_COOKIE: unknown setting")
    );

    let output = accolade(dir.path())
        .arg("check")
        .env("ACCOLADE_ENV", "production")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ACCOLADE_SECRET_KEY"));

    std::fs::write(
        dir.path().join("accolade.toml"),
        "ACCOLADE_BIND = \"also bad\"\n",
    )
    .unwrap();
    let output = accolade(dir.path()).arg("check").output().unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ACCOLADE_BIND"),
        "the file is read"
    );
    let output = accolade(dir.path())
        .arg("check")
        .env("ACCOLADE_BIND", "127.0.0.1:9000")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the environment wins over the file"
    );
}

#[test]
fn check_reports_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = accolade(dir.path())
        .arg("check")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("cannot connect to the PostgreSQL database")
    );
}

#[test]
fn createsuperuser_without_input_then_check_and_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let create = |password: &str| {
        accolade(dir.path())
            .args([
                "createsuperuser",
                "--username",
                "ops",
                "--email",
                "ops@example.org",
                "--no-input",
            ])
            .env("ACCOLADE_SUPERUSER_PASSWORD", password)
            .output()
            .unwrap()
    };
    let weak = create("short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too short"));

    let ok = create("plum-orbit-canvas-41");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        dir.path().join("accolade.db").exists(),
        "the default SQLite file is created"
    );
    let again = create("plum-orbit-canvas-41");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let check = accolade(dir.path()).arg("check").output().unwrap();
    assert!(check.status.success());
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("SQLite reachable") && out.contains("Migrations: up to date"),
        "{out}"
    );
    assert!(
        out.contains("Badge backend: local Open Badges 2.0 issuer"),
        "{out}"
    );

    let migrate = accolade(dir.path()).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("Applied 0 migration(s)."));
}

#[test]
fn changepassword_needs_a_terminal_and_an_existing_user() {
    let dir = tempfile::tempdir().unwrap();
    let output = accolade(dir.path())
        .args(["changepassword", "ghost"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn award_checks_its_options_as_the_intake_checks_events() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::new();
    let award = |username: &str, verify_uuid: &str| {
        accolade(dir.path())
            .args([
                "award",
                "--course",
                "course-v1:edX+Trust+2026",
                "--username",
                username,
                "--email",
                "alice@example.com",
                "--mode",
                "verified",
                "--verify-uuid",
                verify_uuid,
            ])
            .env("DATABASE_URL", &database.url)
            .output()
            .unwrap()
    };
    let uuid = "3f6c1d0e9b2a4c5d8e7f6a5b4c3d2e1f";
    for (username, verify_uuid, option) in [
        ("alice", "\"><script>alert(1)</script>", "--verify-uuid"),
        ("alice", "3f6c1d0e9b2a", "--verify-uuid"),
        ("<b>x", uuid, "--username"),
    ] {
        let refused = award(username, verify_uuid);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{username:?} {verify_uuid:?}");
        assert!(stderr.contains(option), "{stderr}");
    }
    let queued = award("alice", uuid);
    assert!(
        queued.status.success(),
        "{}",
        String::from_utf8_lossy(&queued.stderr)
    );
    let db = accolade::db::Database::connect(&database.url, 1).unwrap();
    let evidence: Vec<String> = accolade::db::schema::award_jobs::table
        .select(accolade::db::schema::award_jobs::evidence_url)
        .load(&mut *db.get().unwrap())
        .unwrap();
    assert_eq!(evidence.len(), 1, "only the valid award was queued");
    assert!(evidence[0].ends_with(&format!("/certificates/{uuid}?evidence_visit=1")));
}
