//! The notify outbox: rows the writers insert with a summary change, claimed
//! and marked here by the sender (`crate::notify`). Safe with several
//! instances: a claim is a conditional update that sets a lease, so two
//! senders never hold one row at the same time (on PostgreSQL the candidate
//! rows are also taken `FOR UPDATE SKIP LOCKED`); a crashed sender's lease
//! simply runs out. Per message only the oldest unsent row is eligible, so
//! events leave in the order their changes committed.

use super::db::Backend;
use super::{Store, StoreError};

/// A claimed outbox row with what its event body needs from the message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: i64,
    pub message_id: String,
    pub event_type: String,
    pub status: String,
    pub error_code: Option<String>,
    pub occurred_at_us: i64,
    pub attempts: i64,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action_kind: Option<String>,
    pub product_action_ref: Option<String>,
    pub product_action_url: Option<String>,
}

/// Where the product's notification about a message stands (its latest
/// outbox row), for the message page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NotifyState {
    pub event_type: String,
    pub attempts: i64,
    pub sent_at_us: Option<i64>,
    pub last_attempt_at_us: Option<i64>,
    pub next_attempt_at_us: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// Claims up to `limit` due rows until `lease_until_us`, counting the
    /// attempt; only the oldest unsent row of each message is due.
    pub async fn claim_outbox(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE notify_outbox SET claimed_until_us = $1, attempts = attempts + 1, \
             last_attempt_at_us = $2 \
             WHERE id IN (SELECT o.id FROM notify_outbox o \
               WHERE o.sent_at_us IS NULL AND o.next_attempt_at_us <= $2 \
               AND (o.claimed_until_us IS NULL OR o.claimed_until_us < $2) \
               AND NOT EXISTS (SELECT 1 FROM notify_outbox p WHERE p.message_id = o.message_id \
                 AND p.sent_at_us IS NULL AND p.id < o.id) \
               ORDER BY o.id LIMIT $3{lock}) \
             AND sent_at_us IS NULL AND (claimed_until_us IS NULL OR claimed_until_us < $2) \
             RETURNING id"
        );
        let ids: Vec<i64> = sqlx::query_scalar(&sql)
            .bind(lease_until_us)
            .bind(now_us)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            let event: Option<OutboxEvent> = sqlx::query_as(
                "SELECT o.id, o.message_id, o.event_type, o.status, o.error_code, \
                 o.occurred_at_us, o.attempts, m.provider, m.provider_message_id, m.use_case, \
                 m.user_ref, m.product_action_kind, m.product_action_ref, m.product_action_url \
                 FROM notify_outbox o JOIN messages m ON m.id = o.message_id WHERE o.id = $1",
            )
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
            events.extend(event);
        }
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// The product answered 2xx.
    pub async fn outbox_sent(&self, id: i64, at_us: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notify_outbox SET sent_at_us = $2, claimed_until_us = NULL, \
             last_error = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(at_us)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The attempt failed: try again at `retry_at_us`.
    pub async fn outbox_failed(
        &self,
        id: i64,
        retry_at_us: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notify_outbox SET next_attempt_at_us = $2, claimed_until_us = NULL, \
             last_error = $3 WHERE id = $1 AND sent_at_us IS NULL",
        )
        .bind(id)
        .bind(retry_at_us)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest notification about a message, if any was written.
    pub async fn notify_state(&self, message_id: &str) -> Result<Option<NotifyState>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT event_type, attempts, sent_at_us, last_attempt_at_us, next_attempt_at_us, \
             last_error FROM notify_outbox WHERE message_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(self.pool())
        .await?)
    }
}
