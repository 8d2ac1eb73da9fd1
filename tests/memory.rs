//! What bursts of heavy work cost the real `accolade` binary, read from its
//! `/proc/PID/status`: 8 concurrent uploads of the largest accepted image, then 200 failed
//! logins, with `/healthz` polled meanwhile. Prints the figures (`cargo test --test memory
//! -- --nocapture`) and holds the memory targets; latency is printed, never asserted
//! (pass/fail never depends on timing).

mod common;
#[path = "common/images.rs"]
mod samples;

use std::time::{Duration, Instant};

use common::binary::{self, Process};
use futures_util::StreamExt;

const MIB: u64 = 1024;
const UPLOADS: usize = 8;
const FAILED_LOGINS: usize = 200;

/// The binary serving a fresh database with the superuser `root`, once `/healthz` answers.
async fn start_server(database: &common::TestDatabase) -> (Process, String) {
    binary::create_superuser(&database.url, "root");
    let port = binary::free_port();
    let mut command = binary::accolade(&database.url, port);
    // Every failed login is verified (argon2), none throttled.
    command.env("ACCOLADE_LOGIN_MAX_FAILURES_PER_ADDRESS", "100000");
    let server = binary::serve(&mut command, port)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (server, format!("http://127.0.0.1:{port}"))
}

/// A client with a session, and the session's CSRF token.
async fn session(address: &str) -> (reqwest::Client, String) {
    let client = common::new_client();
    let token = csrf_on(&client, &format!("{address}/admin/login/"))
        .await
        .expect("a CSRF token");
    (client, token)
}

/// The CSRF token on the page at `url`, as `client` gets it.
async fn csrf_on(client: &reqwest::Client, url: &str) -> Option<String> {
    let page = client.get(url).send().await.unwrap();
    common::csrf_in(&common::text_of(page).await)
}

async fn log_in(client: &reqwest::Client, address: &str, token: &str, user: &str) -> u16 {
    client
        .post(format!("{address}/admin/login/"))
        .form(&[
            ("csrf_token", token),
            ("username", user),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `/healthz` until `done` resolves; returns `done`'s output and the slowest answer.
async fn with_health<T>(address: &str, done: impl Future<Output = T>) -> (T, Duration) {
    let client = reqwest::Client::new();
    let url = format!("{address}/healthz");
    let mut slowest = Duration::ZERO;
    tokio::pin!(done);
    loop {
        let probe = async {
            let asked = Instant::now();
            let status = client.get(&url).send().await.map(|r| r.status());
            let took = asked.elapsed();
            tokio::time::sleep(Duration::from_millis(10)).await;
            (status, took)
        };
        tokio::select! {
            output = &mut done => return (output, slowest),
            (status, took) = probe => {
                assert_eq!(status.unwrap(), 200, "/healthz during the burst");
                slowest = slowest.max(took);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bursts_of_uploads_and_failed_logins_keep_memory_bounded() {
    let largest = samples::png16(4096, 4096, [50_000, 9_000, 9_000, 65_535]);
    let database = common::TestDatabase::new();
    let (server, address) = start_server(&database).await;
    let (client, token) = session(&address).await;
    assert_eq!(log_in(&client, &address, &token, "root").await, 302);
    let token = {
        // The token is renewed at login.
        let add = format!("{address}/admin/certificates/badgeimageconfiguration/add/");
        csrf_on(&client, &add)
            .await
            .expect("a CSRF token after login")
    };

    let start = server.status_kib("VmRSS:");
    server.reset_peak();
    let uploads = (0..UPLOADS).map(|n| {
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .text("mode", format!("mode-{n}"))
            .text("make_square", "")
            .part(
                "icon",
                reqwest::multipart::Part::bytes(largest.clone()).file_name("largest.png"),
            );
        client
            .post(format!(
                "{address}/admin/certificates/badgeimageconfiguration/add/"
            ))
            .multipart(form)
            .send()
    });
    let (answers, slowest) = with_health(&address, futures_util::future::join_all(uploads)).await;
    for answer in answers {
        assert_eq!(answer.unwrap().status(), 302, "every upload is saved");
    }
    let peak = server.status_kib("VmHWM:") - start;
    let after_uploads = server.status_kib("VmRSS:");
    println!(
        "{UPLOADS} concurrent uploads of a 4096x4096 16-bit RGBA PNG ({} KB): resident \
         {} MiB at start, peak +{} MiB, {} MiB after; /healthz slowest {} ms",
        largest.len() / 1000,
        start / MIB,
        peak / MIB,
        after_uploads / MIB,
        slowest.as_millis()
    );

    let before_logins = server.status_kib("VmRSS:");
    let (stranger, stranger_token) = session(&address).await;
    let logins = (0..FAILED_LOGINS).map(|n| {
        // Four attempts a name: under the per-username limit, so each is verified.
        let user = format!("nobody-{}", n / 4);
        let (stranger, stranger_token, address) = (&stranger, &stranger_token, &address);
        async move { log_in(stranger, address, stranger_token, &user).await }
    });
    let logins = futures_util::stream::iter(logins).buffer_unordered(UPLOADS);
    let (statuses, slowest) = with_health(&address, logins.collect::<Vec<u16>>()).await;
    assert!(statuses.iter().all(|&s| s == 200), "refused, not throttled");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_logins = server.status_kib("VmRSS:");
    let grew = after_logins.saturating_sub(before_logins);
    println!(
        "{FAILED_LOGINS} failed logins, 8 at a time: resident {} MiB before, {} MiB after \
         (+{} MiB); /healthz slowest {} ms",
        before_logins / MIB,
        after_logins / MIB,
        grew / MIB,
        slowest.as_millis()
    );

    assert!(
        peak < 300 * MIB,
        "{UPLOADS} maximum-size uploads raised the peak by {} MiB (target: under 300)",
        peak / MIB
    );
    assert!(
        grew < 50 * MIB,
        "{FAILED_LOGINS} failed logins left the server {} MiB larger (target: under 50)",
        grew / MIB
    );
}
