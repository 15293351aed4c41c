//! The embedded default: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::accounts::*;
use super::accounts_sql::*;
use super::records::*;
use super::sql::*;
use super::support::*;
use super::support_sql::impl_support;
use super::{OpenOptions, SessionBackend, StoreError};

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str, open: OpenOptions) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(open.migrate)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a 2xx promises the callback survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(e.into()))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(open.max_connections)
            .test_before_acquire(open.test_before_acquire)
            .connect_with(options)
            .await?;
        if open.migrate {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that
    /// reads before it writes cannot fail half-way on a lock upgrade.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// SQLite runs one writer at a time: the write lock already serializes.
    async fn lock_provider_messages(
        _conn: &mut SqliteConnection,
        _keys: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_store!(SqliteStore, Sqlite);
impl_accounts!(SqliteStore, Sqlite);
impl_support!(SqliteStore, Sqlite);
