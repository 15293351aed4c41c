//! Sessions live in the app's own database through tower-sessions' sqlx
//! stores; this enum lets one session layer type serve either backend.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, Result, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The table our migrations create for tower-sessions on both backends.
const TABLE: &str = "sessions";

#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl From<sqlx::SqlitePool> for SessionBackend {
    fn from(pool: sqlx::SqlitePool) -> Self {
        Self::Sqlite(
            SqliteStore::new(pool)
                .with_table_name(TABLE)
                .expect("a constant, valid table name"),
        )
    }
}

impl From<sqlx::PgPool> for SessionBackend {
    fn from(pool: sqlx::PgPool) -> Self {
        Self::Postgres(
            PostgresStore::new(pool)
                .with_schema_name("public")
                .and_then(|store| store.with_table_name(TABLE))
                .expect("constant, valid schema and table names"),
        )
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> Result<()> {
        match self {
            Self::Sqlite(store) => store.delete_expired().await,
            Self::Postgres(store) => store.delete_expired().await,
        }
    }
}
