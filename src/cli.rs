//! The command line of CONTRACT §1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{AppState, StartError, existing_data_key, resolve_data_key};
use crate::config::{Config, LogFormat};
use crate::domain::account::{Role, check_password, normalize_email};
use crate::store;
use crate::usecase::accounts::{self, NewAccount};
use crate::usecase::{Actor, UseCaseError, tokens};

#[derive(Debug, Parser)]
#[command(
    name = "smstrail",
    version,
    about = "Self-hosted SMS delivery timeline"
)]
pub struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web UI, the API and the ingest routes (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API tokens for the send-side API.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the people who use the support UI.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run one pass of the reconciliation job and print what it did.
    Reconcile,
    /// Check an evidence file downloaded from a message page: that this
    /// smstrail's data key signed it and not one byte changed since.
    VerifyEvidence {
        /// The downloaded `smstrail-evidence-….json`.
        file: PathBuf,
    },
    /// Fill the database with a month of realistic demo traffic, played
    /// through the real pipeline.
    Demo {
        /// How many messages to send (at most 3,000,000).
        #[arg(long, default_value_t = crate::demo::DEFAULT_MESSAGES)]
        messages: u64,
        /// Run even if the database holds data that is not the demo's.
        #[arg(long)]
        force: bool,
        /// Seed of the stories: the same seed tells the same month.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Prompts for the password on a terminal; otherwise reads
    /// it from the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        /// support or admin.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// What the token is for, e.g. "checkout-service".
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("smstrail: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log, config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smstrail: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smstrail: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: in files, journald or a
    // log shipper they are noise in every line.
    let ansi = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub async fn run(command: Command, config: Config) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            store::open(&config.database_url)
                .await
                .map_err(StartError::from)?;
            println!("migrations applied");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { name },
        } => create_token(config, &name).await,
        Command::User {
            command: UserCommand::Add { email, role },
        } => add_user(config, &email, &role).await,
        Command::Reconcile => reconcile(config).await,
        Command::VerifyEvidence { file } => verify_evidence(&config, &file),
        Command::Demo {
            messages,
            force,
            seed,
        } => demo(config, messages, force, seed).await,
    }
}

async fn demo(config: Config, messages: u64, force: bool, seed: u64) -> Result<(), CliError> {
    use std::io::IsTerminal;
    let options = crate::demo::DemoOptions {
        messages,
        force,
        seed,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(messages);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} messages, {per_sec}, {eta} left",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let ticker = bar.clone();
    let summary = crate::demo::run(config, &options, move |done| ticker.set_position(done))
        .await
        .map_err(|e| match e {
            crate::demo::DemoError::Start(start) => CliError::Start(start),
            other => CliError::Usage(other.to_string()),
        })?;
    bar.finish_and_clear();
    println!(
        "demo: played in {}\n{summary}",
        crate::demo::took(started.elapsed())
    );
    Ok(())
}

/// Prints what the file says and exits 0 only when it verifies; needs the
/// data key, not the database.
fn verify_evidence(config: &Config, file: &std::path::Path) -> Result<(), CliError> {
    use crate::domain::evidence;
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let cipher = crate::crypto::DataCipher::new(&existing_data_key(config)?);
    let document = evidence::verify(cipher.evidence_key(), &bytes)
        .map_err(|e| CliError::Usage(format!("invalid: {}: {e}", file.display())))?;
    println!("valid: signed by this smstrail's data key");
    println!(
        "message {} ({} {}), exported {} by {}: {} events, {} audit records",
        document.message.id,
        document.message.provider,
        document
            .message
            .provider_message_id
            .as_deref()
            .unwrap_or("-"),
        document.exported_at,
        document.exported_by,
        document.timeline.len(),
        document.audit.len()
    );
    Ok(())
}

/// One pass, as `serve` runs it on its timer; safe beside running servers.
async fn reconcile(config: Config) -> Result<(), CliError> {
    let state = AppState::build(config).await?;
    let now = chrono::Utc::now().timestamp_micros();
    let report =
        crate::reconcile::run_pass(&state.writes, &state.cipher, now, crate::reconcile::CHUNK)
            .await
            .map_err(StartError::from)?;
    println!("{report}");
    Ok(())
}

async fn serve(config: Config) -> Result<(), CliError> {
    let bind = config.bind;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: bind.to_string(),
            source,
        })?;
    let state = AppState::build(config).await?;
    state.start_background_jobs();
    let now = chrono::Utc::now().timestamp_micros();
    let link =
        crate::auth::setup::issue_link_if_needed(&state.store, &state.config.public_url, now)
            .await
            .map_err(StartError::from)?;
    if let Some(link) = link {
        tracing::warn!(
            "no account exists yet: create the first admin at {link} (valid for 1 hour, single use; \
             a restart prints a new link)"
        );
    }
    tracing::info!(address = %bind, public_url = %state.config.public_url, "smstrail listening");
    crate::serve(listener, state, crate::shutdown_signal()).await?;
    Ok(())
}

async fn create_token(config: Config, name: &str) -> Result<(), CliError> {
    tokens::check_name(name).map_err(usage("name"))?;
    resolve_data_key(&config)?;
    let store = store::open(&config.database_url)
        .await
        .map_err(StartError::from)?;
    let minted = tokens::mint(&store, name, &Actor::command_line())
        .await
        .map_err(usage("name"))?;
    println!("{}", minted.secret);
    eprintln!(
        "API token {:?} created. It is shown only this once: store it now.",
        minted.name
    );
    Ok(())
}

async fn add_user(config: Config, email: &str, role: &str) -> Result<(), CliError> {
    let email = normalize_email(email).map_err(|e| CliError::Usage(format!("--email: {e}")))?;
    let role: Role = role
        .parse()
        .map_err(|e| CliError::Usage(format!("--role: {e}")))?;
    let password = read_new_password()?;
    check_password(&password).map_err(CliError::Usage)?;
    resolve_data_key(&config)?;
    let store = store::open(&config.database_url)
        .await
        .map_err(StartError::from)?;
    let account = NewAccount {
        email: email.clone(),
        role,
        password,
    };
    accounts::add_user(&store, account, &Actor::command_line())
        .await
        .map_err(usage("password"))?;
    eprintln!("user {email} added with role {role}");
    Ok(())
}

/// Maps a use-case error: what the person typed is named by its flag, the
/// rest is a start-up failure.
fn usage(flag: &'static str) -> impl Fn(UseCaseError) -> CliError {
    move |error| match error {
        UseCaseError::Invalid(message) => CliError::Usage(format!("--{flag}: {message}")),
        UseCaseError::Conflict(message) | UseCaseError::Internal(message) => {
            CliError::Usage(message)
        }
        UseCaseError::NotFound(what) => CliError::Usage(format!("{what} not found")),
        UseCaseError::Store(store) => StartError::from(store).into(),
    }
}

/// On a terminal: asked twice without echo. From a pipe: the first line.
fn read_new_password() -> Result<String, CliError> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat the password: ")?;
        if first != second {
            return Err(CliError::Usage("the passwords differ".to_owned()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(CliError::Usage(
            "no password on standard input (give it as the first line)".to_owned(),
        ));
    }
    Ok(password.to_owned())
}
