//! Marks a build whose tests will run on PostgreSQL, so that the PostgreSQL check test is
//! reported as ignored ("PostgreSQL NOT TESTED") in a plain `cargo test` run.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=ACCOLADE_TEST_DATABASE_URL");
    if std::env::var("ACCOLADE_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
