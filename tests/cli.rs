//! The `accolade` command line, run as a user would run it.

use std::process::Command;

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
