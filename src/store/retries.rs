//! Retries and fallbacks: the links between a message and the one sent
//! again in its place.

use crate::domain::outbound::RetryKind;

use super::{Store, StoreError};

pub(super) const RETRY_COLUMNS: &str =
    "id, message_id, kind, new_message_id, reason, created_at_us";

#[derive(Debug, Clone)]
pub struct NewRetry {
    pub message_id: String,
    pub kind: RetryKind,
    pub new_message_id: Option<String>,
    pub reason: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RetryRecord {
    pub id: i64,
    pub message_id: String,
    #[sqlx(try_from = "String")]
    pub kind: RetryKind,
    pub new_message_id: Option<String>,
    pub reason: Option<String>,
    pub created_at_us: i64,
}

impl Store {
    /// The retries and fallbacks recorded for this message.
    pub async fn retries(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError> {
        self.retries_where("message_id", message_id).await
    }

    /// The retries and fallbacks that produced this message (it is their
    /// `new_message_id`).
    pub async fn retries_into(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError> {
        self.retries_where("new_message_id", message_id).await
    }

    async fn retries_where(
        &self,
        column: &'static str,
        message_id: &str,
    ) -> Result<Vec<RetryRecord>, StoreError> {
        let sql =
            format!("SELECT {RETRY_COLUMNS} FROM message_retries WHERE {column} = $1 ORDER BY id");
        Ok(sqlx::query_as(&sql)
            .bind(message_id)
            .fetch_all(self.pool())
            .await?)
    }
}
