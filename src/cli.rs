//! The command line of CONTRACT §1.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};

use crate::app::{AppState, StartError, resolve_data_key};
use crate::config::Config;
use crate::crypto::{random_bytes, token_digest};
use crate::domain::account::{AuditAction, Role, check_password, normalize_email};
use crate::store::{self, NewApiToken, NewAuditEntry, NewUser, StoreError};

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
    init_logging(&config.log);
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

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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
    }
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
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CliError::Usage(
            "--name must be 1 to 100 characters".to_owned(),
        ));
    }
    resolve_data_key(&config)?;
    let store = store::open(&config.database_url)
        .await
        .map_err(StartError::from)?;
    let bytes = random_bytes::<32>().map_err(|e| CliError::Usage(e.to_string()))?;
    let token = format!("smst_{}", URL_SAFE_NO_PAD.encode(bytes));
    let now = chrono::Utc::now().timestamp_micros();
    let id = uuid::Uuid::now_v7().to_string();
    store
        .create_api_token(
            &NewApiToken {
                id: id.clone(),
                name: name.to_owned(),
                digest: token_digest(&token),
                created_at_us: now,
            },
            &NewAuditEntry {
                at_us: now,
                target: Some(id),
                detail: Some(format!("{name:?}, from the command line")),
                ..NewAuditEntry::new(AuditAction::TokenCreate)
            },
        )
        .await
        .map_err(StartError::from)?;
    println!("{token}");
    eprintln!("API token {name:?} created. It is shown only this once: store it now.");
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
    let password_hash = crate::auth::password::hash(password)
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let now = chrono::Utc::now().timestamp_micros();
    let id = uuid::Uuid::now_v7().to_string();
    let user = NewUser {
        id: id.clone(),
        email: email.clone(),
        role,
        password_hash,
        created_at_us: now,
    };
    let entry = NewAuditEntry {
        at_us: now,
        target: Some(email.clone()),
        detail: Some(format!("role {role}, from the command line")),
        ..NewAuditEntry::new(AuditAction::UserAdd)
    };
    match store.create_user(&user, &entry).await {
        Ok(_) => {
            eprintln!("user {email} added with role {role}");
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Err(CliError::Usage(format!(
            "a user with email {email} exists already"
        ))),
        Err(other) => Err(StartError::from(other).into()),
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
