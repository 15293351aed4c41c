//! Storage: one concrete [`Store`] whose methods are grouped by the data they
//! touch (one module per entity), written once for SQLite and PostgreSQL
//! through sqlx's `Any` driver. What differs between the two lives in
//! [`db`]. No SQL lives outside this module.
//!
//! Instants are stored as microseconds since the Unix epoch (`*_us` columns)
//! on both backends, so one SQL text and one Rust type serve SQLite and
//! PostgreSQL alike and ordering is numeric everywhere.

mod accounts;
mod audit;
pub mod dashboards;
mod db;
mod events;
mod inbound;
mod messages;
mod numbers;
pub mod outbox;
mod query;
mod retention;
mod retries;
mod review;
mod sessions;
pub(crate) mod summary;
mod tokens;
mod user_history;
mod verifications;
pub mod write;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

pub use accounts::*;
pub use audit::*;
pub use dashboards::{CountRow, DashboardData, DashboardFilter, LatencyKind, LatencyRow, OtpRow};
pub use events::*;
pub use inbound::*;
pub use messages::*;
pub use numbers::*;
pub use retention::*;
pub use retries::*;
pub use review::*;
pub use sessions::SessionBackend;
pub use tokens::*;
pub use user_history::*;
pub use verifications::*;
pub use write::Writes;

use db::Backend;

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

/// The app's database. Cheap to clone: every clone shares the pools.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    pool: AnyPool,
    sessions: SessionBackend,
    live_tokens: tokens::LiveTokens,
    /// The sessions store's own pool, kept to report its use.
    sessions_pool: db::SessionPool,
    mappings: review::MappingCache,
    dashboards: dashboards::BucketCache,
}

/// How much of one connection pool is in use, read at the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// `main` (every query) or `sessions` (the UI's session store).
    pub name: &'static str,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    pub max_connections: u32,
    /// Create the database if needed and run the migrations.
    pub migrate: bool,
    /// Ping a connection before handing it out.
    pub test_before_acquire: bool,
    /// The longest a query waits for a connection, and (PostgreSQL) the
    /// longest a statement runs: a database that went away fails fast.
    pub timeout: Duration,
}

impl OpenOptions {
    /// The app's main pool: serves the API and the UI, migrates on start.
    pub const MAIN: Self = Self {
        max_connections: 6,
        migrate: true,
        test_before_acquire: true,
        timeout: crate::config::DEFAULT_DB_TIMEOUT,
    };
}

/// Opens the database named by `url`, creating it (and, for SQLite, its
/// folder) if needed, and runs the migrations.
pub async fn open(url: &str) -> Result<Store, StoreError> {
    open_with(url, OpenOptions::MAIN).await
}

pub async fn open_with(url: &str, options: OpenOptions) -> Result<Store, StoreError> {
    let pools = db::connect(url, options).await?;
    Ok(Store {
        inner: Arc::new(Inner {
            backend: pools.backend,
            pool: pools.any,
            sessions: pools.sessions,
            live_tokens: tokens::LiveTokens::default(),
            sessions_pool: pools.sessions_pool,
            mappings: review::MappingCache::default(),
            dashboards: dashboards::BucketCache::default(),
        }),
    })
}

impl Store {
    /// Whether the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// The tower-sessions store over this database.
    pub fn session_store(&self) -> SessionBackend {
        self.inner.sessions.clone()
    }

    /// The query pools' connections right now; cheap, no query.
    pub fn pool_use(&self) -> [PoolUse; 2] {
        let (size, idle, max) = match &self.inner.sessions_pool {
            db::SessionPool::Sqlite(pool) => pool_counts(pool),
            db::SessionPool::Postgres(pool) => pool_counts(pool),
        };
        let (main_size, main_idle, main_max) = pool_counts(self.pool());
        [
            PoolUse::new("main", main_size, main_idle, main_max),
            PoolUse::new("sessions", size, idle, max),
        ]
    }

    fn dashboard_cache(&self) -> &dashboards::BucketCache {
        &self.inner.dashboards
    }

    fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    fn backend(&self) -> Backend {
        self.inner.backend
    }
}

fn pool_counts<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> (u32, usize, u32) {
    (
        pool.size(),
        pool.num_idle(),
        pool.options().get_max_connections(),
    )
}

impl PoolUse {
    fn new(name: &'static str, size: u32, idle: usize, max: u32) -> Self {
        // `size` and `num_idle` are read one after the other, so a connection
        // handed out in between may count as idle beyond the pool's size.
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        Self {
            name,
            idle,
            in_use: size - idle,
            max,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}
