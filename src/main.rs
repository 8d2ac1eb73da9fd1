//! The `accolade` command line.

use std::io::IsTerminal;
use std::process::ExitCode;

use accolade::auth::{password, users};
use accolade::config::{Config, LogFormat};
use accolade::db::Database;
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
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
        // Printed to the terminal once, never logged.
        println!(
            "\nNo superuser existed, so one was created.\n  username: admin\n  password: {secret}\nLog in at {}/admin/ ; you will be asked to choose a new password.\n",
            prepared.config.site_url
        );
    }
    let site_url = prepared.config.site_url.clone();
    actix_web::rt::System::new().block_on(async move {
        let app =
            accolade::Application::build(prepared).map_err(|e| format!("cannot listen: {e}"))?;
        println!("Accolade is serving the admin at {site_url}/admin/");
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn connect(config: &Config) -> Result<Database, String> {
    Database::connect(&config.database_url, 2)
}

fn migrate(config: &Config) -> Result<(), String> {
    let applied = connect(config)?.migrate()?;
    println!("Applied {} migration(s).", applied.len());
    Ok(())
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
    if users::find_by_username(&mut conn, username)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!("a user named “{username}” already exists"));
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
    users::set_password(&mut conn, user.id, &password::hash(&secret), false)
        .map_err(|e| e.to_string())?;
    println!("Password changed for “{username}”; their sessions have ended.");
    Ok(())
}

fn check(config: Config) -> Result<(), String> {
    println!(
        "Configuration: OK ({:?}, listening on {}, site {})",
        config.environment, config.bind, config.site_url
    );
    let db = connect(&config)?;
    db.ping().map_err(|e| format!("database: {e}"))?;
    println!("Database: {} reachable", db.kind().name());
    let pending = db.pending_migrations()?;
    if pending > 0 {
        println!(
            "Migrations: {pending} pending (applied at the next start, or by `accolade migrate`)"
        );
    } else {
        println!("Migrations: up to date");
    }
    Ok(())
}
