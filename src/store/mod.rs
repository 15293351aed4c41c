//! Storage: one interface at the level of use cases, two backends. No SQL
//! lives outside this module.
//!
//! Instants are stored as microseconds since the Unix epoch (`*_us` columns)
//! on both backends, so one SQL text and one Rust type serve SQLite and
//! PostgreSQL alike and ordering is numeric everywhere.

mod accounts;
mod accounts_sql;
mod ingest_sql;
mod postgres;
mod records;
mod sessions;
mod sql;
mod sqlite;
mod summary;
mod support;
mod support_sql;

use async_trait::async_trait;
use std::sync::Arc;

pub use accounts::*;
pub use postgres::PgStore;
pub use records::*;
pub use sessions::SessionBackend;
pub use sqlite::SqliteStore;
pub use support::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused or failed; the caller answers 503 so the sender retries.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// Everything the app asks of its database; the accounts and support-UI
/// halves live in their own traits to keep each file small.
#[async_trait]
pub trait Store: AccountStore + SupportStore + Send + Sync + 'static {
    /// Whether the database answers a query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies a batch of callbacks in ONE transaction: either every outcome
    /// is committed or the call fails and nothing of it is.
    async fn ingest(&self, batch: &[IngestItem]) -> Result<Vec<IngestOutcome>, StoreError>;

    /// Registers an outbound message under its idempotency key, attaching any
    /// callbacks that arrived for its provider message id before it.
    async fn register_message(&self, message: &NewMessage) -> Result<Registration, StoreError>;

    /// Sets the provider message id of a message that has none (or the same
    /// one), attaching waiting callbacks. `Conflict` if it already has another
    /// or another message has this one.
    async fn set_provider_message_id(
        &self,
        id: &str,
        provider_message_id: &str,
    ) -> Result<MessageRecord, StoreError>;

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;

    async fn message_by_provider_id(
        &self,
        provider_message_id: &str,
    ) -> Result<Option<MessageRecord>, StoreError>;

    /// The delivery timeline of a message, in provider time order.
    async fn events(&self, message: &MessageRecord) -> Result<Vec<EventRecord>, StoreError>;

    async fn record_retry(&self, retry: &NewRetry) -> Result<RetryRecord, StoreError>;

    async fn retries(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError>;

    async fn review_items(&self, limit: i64) -> Result<Vec<ReviewRecord>, StoreError>;

    async fn inbound_messages(&self, limit: i64) -> Result<Vec<InboundRecord>, StoreError>;

    /// Creates a verification with its opening event, in one transaction.
    async fn create_verification(&self, verification: &NewVerification) -> Result<(), StoreError>;

    /// Appends an event; `NotFound` when the verification does not exist.
    async fn add_verification_event(&self, event: &NewVerificationEvent) -> Result<(), StoreError>;

    /// A verification and its events in time order.
    async fn verification(
        &self,
        id: &str,
    ) -> Result<Option<(VerificationRecord, Vec<VerificationEventRecord>)>, StoreError>;

    async fn api_token_by_digest(&self, digest: &str)
    -> Result<Option<ApiTokenRecord>, StoreError>;
}

pub type DynStore = Arc<dyn Store>;

/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub max_connections: u32,
    /// Create the database if needed and run the migrations.
    pub migrate: bool,
    /// Ping a connection before handing it out. The ingest writers skip it:
    /// it is a round trip per batch, and a dead connection fails its batch
    /// with a 503 the provider retries anyway.
    pub test_before_acquire: bool,
}

impl OpenOptions {
    /// The app's main pool: serves the API and the UI, migrates on start.
    pub const MAIN: Self = Self {
        max_connections: 6,
        migrate: true,
        test_before_acquire: true,
    };

    /// A pool for the ingest writers only: one connection per writer.
    pub fn ingest(writers: usize) -> Self {
        Self {
            max_connections: u32::try_from(writers).unwrap_or(u32::MAX).max(1),
            migrate: false,
            test_before_acquire: false,
        }
    }
}

/// Opens the database named by `url`, creating it (and, for SQLite, its
/// folder) if needed, and runs the migrations.
pub async fn open(url: &str) -> Result<DynStore, StoreError> {
    open_with(url, OpenOptions::MAIN).await
}

pub async fn open_with(url: &str, options: OpenOptions) -> Result<DynStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, options).await?))
    } else {
        Ok(Arc::new(PgStore::open(url, options).await?))
    }
}
