//! A 50 MiB body is refused early with 413, and the server's memory stays bounded while it
//! arrives. Alone in its test binary so the memory figures are this test's own (the server
//! runs in the test's process).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};

const FIFTY_MIB: usize = 50 * 1024 * 1024;

/// Kilobytes of a `/proc/self/status` line (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends `head`, `prefix` and then zeros, but only the first `SENT_BEFORE_ANSWER` bytes of a
/// body declared as 50 MiB, and returns the status line the server answers with while the
/// rest has still to come.
fn answer_before_the_end(address: &str, head: &str, prefix: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(prefix).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = prefix.len();
    while sent < SENT_BEFORE_ANSWER {
        // The server may stop reading once it has refused the request.
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut response = vec![0u8; 4096];
    let n = stream.read(&mut response).unwrap_or(0);
    let text = String::from_utf8_lossy(&response[..n]);
    text.lines().next().unwrap_or_default().to_string()
}

/// More than any limit (uploads: 2 MiB plus 1 MiB for the rest of the form), far less than
/// what the requests declare.
const SENT_BEFORE_ANSWER: usize = 4 * 1024 * 1024;

#[tokio::test]
async fn fifty_mib_bodies_are_refused_early_with_bounded_memory() {
    let app = common::spawn_app().await;
    app.create_user("root", true, true);
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.login_with(&client, "root", common::PASSWORD).await;
    app.login("root").await;
    let lms = app.create_user("lms", false, false);
    let bearer = app.create_token(lms).await;
    let token = app.csrf_token_for(&client).await;
    let cookie = jar
        .cookies(&app.address.parse().unwrap())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let address = app.address.trim_start_matches("http://").to_string();

    let boundary = "accoladeboundary";
    let upload_prefix = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"icon\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let cases = [
        (
            "/admin/certificates/badgeimageconfiguration/add/",
            format!("multipart/form-data; boundary={boundary}"),
            upload_prefix.into_bytes(),
        ),
        (
            "/admin/login/",
            "application/x-www-form-urlencoded".to_string(),
            format!("csrf_token={token}&username=").into_bytes(),
        ),
        (
            "/api/v1/events/certificate",
            "application/json".to_string(),
            b"{\"event_id\": \"".to_vec(),
        ),
    ];
    for (path, content_type, prefix) in cases {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\
             Authorization: Bearer {bearer}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {FIFTY_MIB}\r\nConnection: close\r\n\r\n"
        );
        let before = status_kib("VmRSS:");
        // Resets VmHWM to the current RSS, so the next reading is this request's peak.
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let address = address.clone();
        let status =
            tokio::task::spawn_blocking(move || answer_before_the_end(&address, &head, &prefix))
                .await
                .unwrap();
        let grew_kib = status_kib("VmHWM:").saturating_sub(before);
        eprintln!("{path}: {status}; peak grew {grew_kib} KiB");
        assert!(status.contains("413"), "{path}: {status}");
        assert!(
            grew_kib < 24 * 1024,
            "{path}: memory grew by {grew_kib} KiB"
        );
    }
}
