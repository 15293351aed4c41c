//! The command line of CONTRACT §1.

use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};

use crate::app::{AppState, StartError, resolve_data_key};
use crate::config::Config;
use crate::crypto::{random_bytes, token_digest};
use crate::store::{self, NewApiToken};

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
    store
        .create_api_token(&NewApiToken {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            digest: token_digest(&token),
            created_at_us: chrono::Utc::now().timestamp_micros(),
        })
        .await
        .map_err(StartError::from)?;
    println!("{token}");
    eprintln!("API token {name:?} created. It is shown only this once: store it now.");
    Ok(())
}
