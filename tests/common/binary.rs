//! The real `accolade` binary as a child process: a clean environment, a port of its own,
//! and SIGKILL when the test is done with it (or wants it dead mid-work).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer `/healthz` (a debug build, on two busy
/// cores, applying migrations on a fresh database).
const START_LIMIT: Duration = Duration::from_secs(30);

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// Kibibytes of a `/proc/PID/status` line (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("{field} in the server's status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Resets the peak (VmHWM) to the current resident size.
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.0.id()), "5").unwrap();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with nothing of the test's environment but `PATH`: the database, the test
/// secret key, `port`, no award workers, two HTTP workers, the superuser password for
/// `createsuperuser --no-input`; output discarded unless the caller redirects it.
pub fn accolade(database_url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_accolade"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("ACCOLADE_BIND", format!("127.0.0.1:{port}"))
        .env("ACCOLADE_SECRET_KEY", super::SECRET_KEY)
        .env("ACCOLADE_WORKERS", "0")
        .env("ACCOLADE_HTTP_WORKERS", "2")
        .env("ACCOLADE_SUPERUSER_PASSWORD", super::PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Creates the superuser `username` with [`super::PASSWORD`] (migrating a fresh database).
pub fn create_superuser(database_url: &str, username: &str) {
    let created = accolade(database_url, 0)
        .args(["createsuperuser", "--username", username, "--email"])
        .arg(format!("{username}@example.org"))
        .arg("--no-input")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
}

/// Starts a server (`command` binds `port`) and returns it once `/healthz` answers.
pub async fn serve(command: &mut Command, port: u16) -> Result<Process, String> {
    let mut server = Process(
        command
            .spawn()
            .map_err(|e| format!("start accolade: {e}"))?,
    );
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + START_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(format!("accolade on {address} exited at start: {status}"));
        }
        if client
            .get(format!("{address}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!(
        "accolade did not answer on {address} within {} s",
        START_LIMIT.as_secs()
    ))
}

/// Output appended to `path` (created if missing): several runs of one process share a log.
pub fn log_to(path: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
        .into()
}

/// Runs a command to its end, or kills it after `limit`; `None` when it was killed.
pub async fn run_within(command: &mut Command, limit: Duration) -> Option<ExitStatus> {
    let mut process = Process(command.spawn().expect("start accolade"));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = process.0.try_wait() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
