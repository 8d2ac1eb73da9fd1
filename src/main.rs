//! The `accolade` command line.

use std::io::IsTerminal;
use std::process::ExitCode;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use accolade::auth::{password, users};
use accolade::badging::jobs;
use accolade::config::{Config, LogFormat};
use accolade::courses::CourseKey;
use accolade::db::Database;
use accolade::validation;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "accolade",
    version,
    about = "The Open Badges service of an Open edX site."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the admin, the API and the badge pages (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a superuser (staff, with every permission).
    Createsuperuser {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Take the password from ACCOLADE_SUPERUSER_PASSWORD instead of prompting.
        #[arg(long)]
        no_input: bool,
    },
    /// Set a user's password (prompts twice). The user's sessions end.
    Changepassword { username: String },
    /// Validate the configuration and database connectivity; exit non-zero on any problem.
    Check,
    /// Queue one course-completion award (and, with --wait, carry it out and print the assertion URL).
    Award {
        #[arg(long)]
        course: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        mode: String,
        /// The certificate's public id: the evidence is its LMS page.
        #[arg(long)]
        verify_uuid: Option<String>,
        /// Wait for the award and print the assertion URL (exit non-zero if it fails).
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this many seconds (the job stays queued).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Queue the course-completion badges of a course's existing passing certificates (for a
    /// course that turned badges on late), then carry them out with a progress bar.
    Backfill {
        #[arg(long)]
        course: String,
        /// Only queue: leave the awards to the workers of the running service.
        #[arg(long)]
        no_wait: bool,
    },
    /// List pending, running and failed award jobs.
    Jobs,
    /// Run award workers only (ACCOLADE_WORKERS threads, at least one) until stopped.
    Worker,
    /// Compare each badge class's assertions on Badgr with Accolade's and report what
    /// differs; with --fix, adopt what Accolade lacks and revoke duplicates on Badgr.
    Reconcile {
        #[arg(long)]
        fix: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => return fail(&format!("configuration error: {e}")),
    };
    init_logging(&config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::Createsuperuser {
            username,
            email,
            no_input,
        } => create_superuser(&config, &username, &email, no_input),
        Command::Changepassword { username } => change_password(&config, &username),
        Command::Check => check(config),
        Command::Award {
            course,
            username,
            email,
            mode,
            verify_uuid,
            wait,
            timeout,
        } => award(
            config,
            &course,
            &username,
            &email,
            &mode,
            verify_uuid.as_deref(),
            wait.then_some(timeout),
        ),
        Command::Backfill { course, no_wait } => backfill(config, &course, !no_wait),
        Command::Jobs => list_jobs(&config),
        Command::Worker => worker(config),
        Command::Reconcile { fix } => reconcile(config, fix),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn reconcile(config: Config, fix: bool) -> Result<(), String> {
    let prepared = accolade::prepare(config)?;
    let backend = accolade::badge_backend(&prepared)?;
    let outcome = accolade::badging::reconcile::run(&prepared.db, backend.as_ref(), fix);
    // The blocking HTTP client owns a runtime that is dropped here, outside any other.
    drop(backend);
    let Some(run) = outcome? else {
        println!("Nothing to reconcile: Accolade is its own issuer (no Badgr configured).");
        return Ok(());
    };
    for f in &run.findings {
        let class = f.class.map(|c| format!(" class #{c}")).unwrap_or_default();
        let learner = f
            .learner
            .map(|l| format!(" learner #{l}"))
            .unwrap_or_default();
        let action = if f.action.is_empty() {
            String::new()
        } else {
            format!(" [{}]", f.action)
        };
        println!(
            "{}{class}{learner} {}: {}{action}",
            f.kind, f.backend_id, f.detail
        );
    }
    println!("Reconciliation #{}: {}", run.id, run.summary);
    Ok(())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("accolade: {message}");
    ExitCode::FAILURE
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(config: Config) -> Result<(), String> {
    let prepared = accolade::prepare(config)?;
    if let Some(secret) =
        accolade::ensure_initial_superuser(&prepared.db).map_err(|e| e.to_string())?
    {
        announce_initial_superuser(&prepared.config, &secret)?;
    }
    let site_url = prepared.config.site_url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = accolade::badging::worker::spawn(
        prepared.config.award_workers as usize,
        prepared.db.clone(),
        accolade::badge_backend(&prepared)?,
        accolade::worker_settings(&prepared.config),
        stop.clone(),
    );
    let served = actix_web::rt::System::new().block_on(async move {
        let app =
            accolade::Application::build(prepared).map_err(|e| format!("cannot listen: {e}"))?;
        println!("Accolade is serving the admin at {site_url}/admin/");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    served
}

fn award(
    config: Config,
    course: &str,
    username: &str,
    email: &str,
    mode: &str,
    verify_uuid: Option<&str>,
    wait: Option<u64>,
) -> Result<(), String> {
    let (username, email) = (username.trim(), email.trim());
    let key = CourseKey::parse(course.trim()).map_err(|e| format!("--course: {e}"))?;
    // The rules the LMS's events meet at the intake, one of each for both.
    let mode_problem = accolade::courses::validate_mode(mode);
    let problems = [
        ("--username", validation::learner_username(username).err()),
        ("--email", validation::email_address(email).err()),
        ("--mode", mode_problem.as_deref()),
        (
            "--verify-uuid",
            verify_uuid.and_then(|id| validation::verify_uuid(id.trim()).err()),
        ),
    ];
    if let Some((flag, problem)) = problems.iter().find_map(|(f, p)| Some((f, (*p)?))) {
        return Err(format!("{flag}: {problem}"));
    }
    let verify_uuid = verify_uuid.map(str::trim);
    let prepared = accolade::prepare(config)?;
    let evidence = verify_uuid
        .map(|uuid| accolade::badging::award::evidence_url(&prepared.config.lms_url, uuid))
        .unwrap_or_default();
    let mut conn = prepared.db.get().map_err(|e| e.to_string())?;
    let job = accolade::db::write_transaction(&mut conn, |conn| {
        if accolade::courses::find_by_key(conn, &key.to_string())?.is_none() {
            accolade::courses::create(conn, &key, "")?;
        }
        let learner = accolade::learners::upsert(conn, username, email)?;
        jobs::enqueue_course_completion(conn, learner.id, &key.to_string(), mode, &evidence)
    })
    .map_err(|e| e.to_string())?;
    drop(conn);
    if job.joined {
        println!("Award job {} for this badge is already waiting.", job.id);
    } else {
        println!("Queued award job {}.", job.id);
    }
    let job = job.id;
    let Some(timeout) = wait else {
        return Ok(());
    };
    let backend = accolade::badge_backend(&prepared)?;
    let settings = accolade::worker_settings(&prepared.config);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let mut last_error = String::new();
    loop {
        accolade::badging::worker::drain(&prepared.db, backend.as_ref(), &settings, "cli")?;
        let mut conn = prepared.db.get().map_err(|e| e.to_string())?;
        let state = jobs::get(&mut conn, job)
            .map_err(|e| e.to_string())?
            .ok_or("the job vanished")?;
        match state.status {
            jobs::JobStatus::Done => return report_award(&mut conn, &state),
            jobs::JobStatus::Failed => {
                return Err(format!("the award failed: {}", state.last_error));
            }
            _ if std::time::Instant::now() > deadline => {
                return Err(format!(
                    "still waiting after {timeout} s; the job stays queued ({})",
                    state.last_error
                ));
            }
            _ => {
                if state.last_error != last_error && !state.last_error.is_empty() {
                    eprintln!(
                        "attempt {} did not succeed ({}); retrying",
                        state.attempts, state.last_error
                    );
                    last_error = state.last_error.clone();
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}

/// Prints the assertion URL of a finished job, or why there is none.
fn report_award(conn: &mut accolade::db::DbConnection, job: &jobs::AwardJob) -> Result<(), String> {
    match job.assertion_id {
        Some(id) => {
            let url = accolade::badging::assertions::url_of(conn, id).map_err(|e| e.to_string())?;
            println!("{url}");
        }
        None => {
            let reason = jobs::last_reason(conn, job.id).map_err(|e| e.to_string())?;
            println!("No badge awarded: {reason}");
        }
    }
    Ok(())
}

fn backfill(config: Config, course: &str, wait: bool) -> Result<(), String> {
    use accolade::badging::backfill;
    let key = CourseKey::parse(course).map_err(|e| format!("--course: {e}"))?;
    let prepared = accolade::prepare(config)?;
    if !prepared.config.badges_enabled {
        return Err("badging is off for this site (ENABLE_OPENBADGES=false)".into());
    }
    let mut conn = prepared.db.get().map_err(|e| e.to_string())?;
    let found = accolade::courses::find_by_key(&mut conn, &key.to_string())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("Accolade does not know the course {key}"))?;
    if !found.issue_badges {
        return Err(format!(
            "“Issue Open Badges” is off for {key}: turn it on first (admin or Studio)"
        ));
    }
    let lms_url = prepared.config.lms_url.clone();
    let run = accolade::db::write_transaction(&mut conn, |conn| {
        backfill::start(conn, &key.to_string(), "command line", &lms_url)
    })
    .map_err(|e| e.to_string())?;
    println!(
        "Queued {} award(s) for {key}; {} learner(s) already had the badge or one waiting.",
        run.queued, run.skipped
    );
    if !wait || run.queued == 0 {
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers = accolade::badging::worker::spawn(
        (prepared.config.award_workers as usize).max(1),
        prepared.db.clone(),
        accolade::badge_backend(&prepared)?,
        accolade::worker_settings(&prepared.config),
        stop.clone(),
    );
    let progress = loop {
        let progress = backfill::progress(&mut conn, run.id).map_err(|e| e.to_string())?;
        draw_progress(&progress, i64::from(run.queued));
        if progress.finished() {
            break progress;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    eprintln!();
    println!("Backfill of {key}: {}.", progress.describe());
    if progress.failed > 0 {
        return Err(format!(
            "{} award(s) failed: `accolade jobs` lists them with their errors",
            progress.failed
        ));
    }
    Ok(())
}

/// A one-line progress bar on stderr (redrawn in place on a terminal).
fn draw_progress(progress: &accolade::badging::backfill::Progress, total: i64) {
    const WIDTH: i64 = 30;
    let finished = progress.done + progress.failed;
    let filled = (finished * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    let line = format!("[{bar}] {finished}/{total}  ({})", progress.describe());
    if std::io::stderr().is_terminal() {
        eprint!("\r{line}");
    } else if progress.finished() {
        eprint!("{line}");
    }
}

fn list_jobs(config: &Config) -> Result<(), String> {
    let db = connect(config)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let unfinished = jobs::unfinished(&mut conn, 200).map_err(|e| e.to_string())?;
    if unfinished.is_empty() {
        println!("No pending, running or failed award jobs.");
    }
    for job in unfinished {
        println!(
            "{:>6}  {:<8} {} learner {} {}  attempts {}  next {}  {}",
            job.id,
            job.status,
            job.course_id,
            job.learner_id,
            job.work(),
            job.attempts,
            job.next_attempt_at,
            job.last_error
        );
    }
    Ok(())
}

fn worker(config: Config) -> Result<(), String> {
    let prepared = accolade::prepare(config)?;
    let count = (prepared.config.award_workers as usize).max(1);
    println!("Running {count} award worker(s); stop with Ctrl-C.");
    let workers = accolade::badging::worker::spawn(
        count,
        prepared.db.clone(),
        accolade::badge_backend(&prepared)?,
        accolade::worker_settings(&prepared.config),
        Arc::new(AtomicBool::new(false)),
    );
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn connect(config: &Config) -> Result<Database, String> {
    Database::connect(&config.database_url, 2)
}

fn migrate(config: &Config) -> Result<(), String> {
    let applied = connect(config)?.migrate()?;
    println!("Applied {} migration(s).", applied.len());
    Ok(())
}

/// Shows the generated password once on a terminal. Anywhere else standard output is a log
/// (systemd, a container), so the password goes to a file only its owner can read, and only
/// the file's path is printed; the file is deleted at the first password change.
fn announce_initial_superuser(config: &Config, secret: &str) -> Result<(), String> {
    let login = format!(
        "Log in at {}/admin/ ; you will be asked to choose a new password.",
        config.site_url
    );
    if std::io::stdout().is_terminal() {
        println!(
            "\nNo superuser existed, so one was created.\n  username: admin\n  password: {secret}\n{login}\n"
        );
        return Ok(());
    }
    let path = config.initial_password_file();
    write_owner_only(&path, secret).map_err(|e| {
        format!(
            "cannot write the initial password to {}: {e}",
            path.display()
        )
    })?;
    println!(
        "\nNo superuser existed, so one was created.\n  username: admin\n  password file: {}\n{login}\n",
        path.display()
    );
    Ok(())
}

fn write_owner_only(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{secret}")
}

fn read_new_password(prompt_user: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to prompt for a password (use --no-input with ACCOLADE_SUPERUSER_PASSWORD)".into());
    }
    let first = rpassword::prompt_password(format!("Password for {prompt_user}: "))
        .map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Password (again): ").map_err(|e| e.to_string())?;
    if first != second {
        return Err("the two passwords didn’t match".into());
    }
    Ok(first)
}

fn check_password(password: &str, username: &str, email: &str) -> Result<(), String> {
    let problems = password::validate(password, username, email);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(" "))
    }
}

fn create_superuser(
    config: &Config,
    username: &str,
    email: &str,
    no_input: bool,
) -> Result<(), String> {
    if let Some(problem) = users::validate_username(username) {
        return Err(format!("username: {problem}"));
    }
    let secret = if no_input {
        std::env::var("ACCOLADE_SUPERUSER_PASSWORD").map_err(|_| {
            "--no-input needs the password in ACCOLADE_SUPERUSER_PASSWORD".to_string()
        })?
    } else {
        read_new_password(username)?
    };
    check_password(&secret, username, email)?;
    let db = connect(config)?;
    db.migrate()?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    if let Some(existing) = users::find_clash(&mut conn, username).map_err(|e| e.to_string())? {
        return Err(format!(
            "a user named “{}” already exists (usernames are the same ignoring case and look-alike characters)",
            existing.username
        ));
    }
    let hash = password::hash(&secret);
    users::create(
        &mut conn,
        &users::NewUser::superuser(username, email, &hash),
    )
    .map_err(|e| e.to_string())?;
    println!("Superuser “{username}” created.");
    Ok(())
}

fn change_password(config: &Config, username: &str) -> Result<(), String> {
    let db = connect(config)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let user = users::find_by_username(&mut conn, username)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user named “{username}”"))?;
    let secret = read_new_password(username)?;
    check_password(&secret, &user.username, &user.email)?;
    users::set_password(&mut conn, user.id, &password::hash(&secret), false, None)
        .map_err(|e| e.to_string())?;
    // The guesses against the old password no longer matter: the user may log in at once.
    accolade::auth::throttle::forget(&mut conn, &config.throttle, &user.username)
        .map_err(|e| e.to_string())?;
    accolade::config::forget_initial_password(config, &user);
    println!(
        "Password changed for “{username}”; their sessions have ended and their failed logins are forgotten."
    );
    Ok(())
}

fn check(config: Config) -> Result<(), String> {
    println!(
        "Configuration: OK ({:?}, listening on {}, site {})",
        config.environment, config.bind, config.site_url
    );
    let db = connect(&config)?;
    db.ping(accolade::db::CHECKOUT_WAIT)
        .map_err(|e| format!("database: {e}"))?;
    println!("Database: {} reachable", db.kind().name());
    let pending = db.pending_migrations()?;
    if pending > 0 {
        println!(
            "Migrations: {pending} pending (applied at the next start, or by `accolade migrate`)"
        );
    } else {
        println!("Migrations: up to date");
    }
    let badges_enabled = config.badges_enabled;
    let secret_key = match &config.secret_key {
        Some(key) => key.clone(),
        None if pending == 0 => {
            let mut conn = db.get().map_err(|e| e.to_string())?;
            accolade::db::settings::get(&mut conn, "secret_key")
                .map_err(|e| e.to_string())?
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let prepared = accolade::Prepared {
        admin: accolade::backoffice::site(&config),
        config,
        secret_key,
        db,
    };
    let backend = accolade::badge_backend(&prepared)?
        .health()
        .map_err(|e| format!("badge backend: {e}"))?;
    println!("Badge backend: {backend}");
    if !badges_enabled {
        println!("Badging: off (ENABLE_OPENBADGES=false)");
    }
    Ok(())
}
