//! Storage: one interface at the level of use cases, two backends. No SQL
//! lives outside this module.
//!
//! Instants are stored as microseconds since the Unix epoch (`*_us` columns)
//! on both backends, so one SQL text and one Rust type serve SQLite and
//! PostgreSQL alike and ordering is numeric everywhere.

mod accounts;
mod accounts_sql;
mod postgres;
mod records;
mod sessions;
mod sql;
mod sqlite;
pub(crate) mod summary;
mod support;
mod support_sql;
pub mod write;

use async_trait::async_trait;
use std::sync::Arc;

pub use accounts::*;
pub use postgres::PgStore;
pub use records::*;
pub use sessions::SessionBackend;
pub(crate) use sql::{EVENT_COLUMNS, MESSAGE_COLUMNS};
pub use sqlite::SqliteStore;
pub use support::*;
pub use write::Writes;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused or failed; the caller answers 503 so the sender retries.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite writer's own connection refused or failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer could not take or finish the request (stopped, or a batch
    /// commit failed); the caller answers 503 so the sender retries.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;

    async fn message_by_provider_id(
        &self,
        provider_message_id: &str,
    ) -> Result<Option<MessageRecord>, StoreError>;

    /// The delivery timeline of a message, in provider time order.
    async fn events(&self, message: &MessageRecord) -> Result<Vec<EventRecord>, StoreError>;

    async fn retries(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError>;

    async fn review_items(&self, limit: i64) -> Result<Vec<ReviewRecord>, StoreError>;

    async fn inbound_messages(&self, limit: i64) -> Result<Vec<InboundRecord>, StoreError>;

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
    /// Ping a connection before handing it out.
    pub test_before_acquire: bool,
}

impl OpenOptions {
    /// The app's main pool: serves the API and the UI, migrates on start.
    pub const MAIN: Self = Self {
        max_connections: 6,
        migrate: true,
        test_before_acquire: true,
    };
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
