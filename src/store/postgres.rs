//! PostgreSQL, for scale.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::StoreError;
use super::records::*;
use super::sql::*;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Serializes everything that touches one provider message id across
    /// writers and processes until the transaction ends, so a callback and the
    /// registration of its message cannot miss each other.
    async fn lock_provider_message(
        conn: &mut PgConnection,
        provider: &str,
        provider_message_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(provider, provider_message_id))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

impl_store!(PgStore, Postgres);
