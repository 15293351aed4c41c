//! API tokens: only their digest is stored; the token itself is shown once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::db::conflict_or;
use super::{NewAuditEntry, Store, StoreError, audit::insert_audit};

const TOKEN_COLUMNS: &str = "id, name, created_at_us, revoked_at_us";

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: String,
    pub name: String,
    pub digest: String,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub created_at_us: i64,
    pub revoked_at_us: Option<i64>,
}

impl Store {
    pub async fn create_api_token(
        &self,
        token: &NewApiToken,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, digest, created_at_us, created_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&token.digest)
        .bind(token.created_at_us)
        .bind(&audit.actor_email)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, "token already exists"))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Newest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at_us DESC, id");
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    pub async fn api_token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<ApiTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE digest = $1");
        Ok(sqlx::query_as(&sql)
            .bind(digest)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Whether this digest belongs to a live (unrevoked) token. Every send-API
    /// request asks, so a live answer is remembered for [`LIVE_TOKEN_TTL`]: a
    /// token revoked through this process stops at once, one revoked through
    /// another instance within that time.
    pub async fn api_token_is_live(&self, digest: &str) -> Result<bool, StoreError> {
        let cache = &self.inner.live_tokens;
        if cache.contains(digest) {
            return Ok(true);
        }
        let live = self
            .api_token_by_digest(digest)
            .await?
            .is_some_and(|token| token.revoked_at_us.is_none());
        if live {
            cache.insert(digest);
        }
        Ok(live)
    }

    /// `NotFound` when the token does not exist or is already revoked.
    pub async fn revoke_api_token(
        &self,
        id: &str,
        audit: &NewAuditEntry,
    ) -> Result<ApiTokenRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE api_tokens SET revoked_at_us = $2 WHERE id = $1 AND revoked_at_us IS NULL \
             RETURNING {TOKEN_COLUMNS}"
        );
        let revoked: Option<ApiTokenRecord> = sqlx::query_as(&sql)
            .bind(id)
            .bind(audit.at_us)
            .fetch_optional(&mut *tx)
            .await?;
        let revoked = revoked.ok_or(StoreError::NotFound)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        self.inner.live_tokens.clear();
        Ok(revoked)
    }
}

/// How long a token found live is believed without asking the database again.
pub const LIVE_TOKEN_TTL: Duration = Duration::from_secs(5);

/// Tokens checked live recently, by digest. Bounded: a flood of distinct
/// valid tokens cannot grow it past [`MAX_LIVE_TOKENS`] (it starts over).
#[derive(Default)]
pub(super) struct LiveTokens(Mutex<HashMap<String, Instant>>);

const MAX_LIVE_TOKENS: usize = 1024;

impl LiveTokens {
    fn contains(&self, digest: &str) -> bool {
        let checked = self.lock().get(digest).copied();
        checked.is_some_and(|at| at.elapsed() < LIVE_TOKEN_TTL)
    }

    fn insert(&self, digest: &str) {
        let mut tokens = self.lock();
        if tokens.len() >= MAX_LIVE_TOKENS {
            tokens.clear();
        }
        tokens.insert(digest.to_owned(), Instant::now());
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // A panic while holding it leaves only timestamps behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
