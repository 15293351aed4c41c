//! The SQL both backends share. sqlx's `$n` placeholders, `ON CONFLICT` and
//! `RETURNING` work on SQLite and PostgreSQL alike, so the whole store is
//! written once here and instantiated per backend by [`impl_store`]; each
//! backend file adds only how it connects, begins a write and locks.

use super::StoreError;

pub(crate) const MESSAGE_COLUMNS: &str = "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    is_final, updated_at_us";

pub(crate) const EVENT_COLUMNS: &str = "id, provider, provider_message_id, provider_event_id, \
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type, \
    raw_payload_sealed";

/// A stable 64-bit key for locking one provider message across processes.
pub(super) fn lock_key(provider: &str, provider_message_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(provider.as_bytes())
        .chain_update([0u8])
        .chain_update(provider_message_id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Maps a unique-constraint violation to `Conflict`, by error kind rather than
/// constraint name (SQLite reports none).
pub(super) fn conflict_or(error: sqlx::Error, what: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Database(error),
    }
}

/// Implements [`super::Store`] for a backend type with a `pool` field and
/// the inherent methods `begin_write` and `lock_provider_messages`.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::find_message(&mut conn, id).await
            }

            async fn message_by_provider_id(
                &self,
                pmid: &str,
            ) -> Result<Option<MessageRecord>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE provider_message_id = $1 \
                     ORDER BY created_at_us LIMIT 1"
                ))
                .bind(pmid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn events(&self, message: &MessageRecord) -> Result<Vec<EventRecord>, StoreError> {
                let Some(pmid) = &message.provider_message_id else {
                    return Ok(Vec::new());
                };
                let mut conn = self.pool.acquire().await?;
                let mut events = Self::timeline(&mut conn, &message.provider, pmid).await?;
                events.sort_by_key(|e| (e.effective_at_us(), e.id));
                Ok(events)
            }

            async fn retries(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, message_id, kind, new_message_id, reason, created_at_us \
                     FROM message_retries WHERE message_id = $1 ORDER BY id",
                )
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn review_items(&self, limit: i64) -> Result<Vec<ReviewRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, provider, route, kind, reason, event_id, content_type, \
                     raw_payload_sealed, received_at_us FROM review_items \
                     WHERE resolved_at_us IS NULL ORDER BY id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn inbound_messages(&self, limit: i64) -> Result<Vec<InboundRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, provider, provider_message_id, sender_hash, sender_masked, \
                     recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                     received_at_us FROM inbound_messages ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn verification(
                &self,
                id: &str,
            ) -> Result<Option<(VerificationRecord, Vec<VerificationEventRecord>)>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let found: Option<VerificationRecord> =
                    sqlx::query_as("SELECT id, user_ref, created_at_us FROM verifications WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some(verification) = found else {
                    return Ok(None);
                };
                let events = Self::verification_events(&mut conn, id).await?;
                Ok(Some((verification, events)))
            }

            async fn api_token_by_digest(
                &self,
                digest: &str,
            ) -> Result<Option<ApiTokenRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, name, created_at_us, revoked_at_us FROM api_tokens WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?)
            }
        }

        impl $store {
            async fn verification_events(
                conn: &mut <$db as sqlx::Database>::Connection,
                verification_id: &str,
            ) -> Result<Vec<VerificationEventRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT id, kind, message_id, occurred_at_us, recorded_at_us FROM verification_events \
                     WHERE verification_id = $1 ORDER BY occurred_at_us, id",
                )
                .bind(verification_id)
                .fetch_all(&mut *conn)
                .await?)
            }

            async fn timeline(
                conn: &mut <$db as sqlx::Database>::Connection,
                provider: &str,
                pmid: &str,
            ) -> Result<Vec<EventRecord>, StoreError> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {EVENT_COLUMNS} FROM message_events \
                     WHERE provider = $1 AND provider_message_id = $2 ORDER BY id"
                ))
                .bind(provider)
                .bind(pmid)
                .fetch_all(&mut *conn)
                .await?)
            }

            async fn find_message(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: &str,
            ) -> Result<Option<MessageRecord>, StoreError> {
                Ok(sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?)
            }

        }
    };
}

pub(super) use impl_store;
