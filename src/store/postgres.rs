//! PostgreSQL, for scale.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::accounts::*;
use super::accounts_sql::*;
use super::records::*;
use super::sql::*;
use super::support::*;
use super::support_sql::impl_support;
use super::{OpenOptions, SessionBackend, StoreError};

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, open: OpenOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(open.max_connections)
            .test_before_acquire(open.test_before_acquire)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        if open.migrate {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        }
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Serializes everything that touches a provider message id across
    /// writers and processes until the transaction ends, so a callback and the
    /// registration of its message cannot miss each other. Keys are taken in
    /// sorted order, so two lockers never wait on each other in a cycle.
    async fn lock_provider_messages(
        conn: &mut PgConnection,
        keys: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let mut keys: Vec<i64> = keys.iter().map(|(p, id)| lock_key(p, id)).collect();
        keys.sort_unstable();
        keys.dedup();
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k")
            .bind(keys)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

impl_store!(PgStore, Postgres);
impl_accounts!(PgStore, Postgres);
impl_support!(PgStore, Postgres);
