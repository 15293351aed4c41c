//! The SQL both backends share. sqlx's `$n` placeholders, `ON CONFLICT` and
//! `RETURNING` work on SQLite and PostgreSQL alike, so the whole store is
//! written once here and instantiated per backend by [`impl_store`]; each
//! backend file adds only how it connects, begins a write and locks.

use crate::domain::{DeliveryStatus, StatusAt};

use super::{EventRecord, MessageRecord, StoreError};

pub(super) const MESSAGE_COLUMNS: &str = "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    is_final, updated_at_us";

pub(super) const EVENT_COLUMNS: &str = "id, provider, provider_message_id, provider_event_id, \
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

/// What precedence needs of a message: read on the hot path instead of the
/// whole row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Summary {
    pub id: String,
    pub current_status: String,
    pub status_at_us: i64,
}

impl From<&MessageRecord> for Summary {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.clone(),
            current_status: m.current_status.clone(),
            status_at_us: m.status_at_us,
        }
    }
}

/// The summary fields a message takes after `event`, if the event moves it.
pub(super) struct SummaryUpdate {
    pub status: &'static str,
    pub raw_status: String,
    pub error_code: Option<String>,
    pub status_at_us: i64,
    pub is_final: bool,
}

/// Applies CONTRACT §2 precedence to a message's current status and a new
/// event; `None` when the event leaves the summary as it is.
pub(super) fn summary_after(
    message: &Summary,
    event_status: Option<DeliveryStatus>,
    raw_status: &str,
    error_code: Option<&str>,
    event_at_us: i64,
) -> Result<Option<SummaryUpdate>, StoreError> {
    let Some(status) = event_status else {
        return Ok(None);
    };
    let current = StatusAt {
        status: message.current_status.parse().map_err(|e| {
            StoreError::Corrupt(format!("message {}: {e}", message.id))
        })?,
        at: from_micros(message.status_at_us)?,
    };
    let candidate = StatusAt {
        status,
        at: from_micros(event_at_us)?,
    };
    Ok(current.is_superseded_by(&candidate).then(|| SummaryUpdate {
        status: status.as_str(),
        raw_status: raw_status.to_owned(),
        error_code: error_code.map(str::to_owned),
        status_at_us: event_at_us,
        is_final: status.is_final(),
    }))
}

/// Folds a timeline, in stored order, into the update it leads to from the
/// message's current summary.
pub(super) fn summary_after_all(
    message: &Summary,
    events: &[EventRecord],
) -> Result<Option<SummaryUpdate>, StoreError> {
    let mut state = message.clone();
    let mut last = None;
    for event in events {
        let status = match event.status.as_deref() {
            Some(text) => Some(
                text.parse::<DeliveryStatus>()
                    .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", event.id)))?,
            ),
            None => None,
        };
        if let Some(update) = summary_after(
            &state,
            status,
            &event.raw_status,
            event.error_code.as_deref(),
            event.effective_at_us(),
        )? {
            state.current_status = update.status.to_owned();
            state.status_at_us = update.status_at_us;
            last = Some(update);
        }
    }
    Ok(last)
}

fn from_micros(us: i64) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {us} out of range")))
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
/// the inherent methods `begin_write` and `lock_provider_message`.
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn ingest(&self, batch: &[IngestItem]) -> Result<Vec<IngestOutcome>, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut outcomes = Vec::with_capacity(batch.len());
                for item in batch {
                    outcomes.push(Self::ingest_one(&mut tx, item).await?);
                }
                tx.commit().await?;
                Ok(outcomes)
            }

            async fn register_message(&self, m: &NewMessage) -> Result<Registration, StoreError> {
                let mut tx = self.begin_write().await?;
                if let Some(pmid) = &m.provider_message_id {
                    Self::lock_provider_message(&mut tx, &m.provider, pmid).await?;
                }
                let inserted: Option<String> = sqlx::query_scalar(
                    "INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
                     provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
                     destination_country, sender_identity, sender_type, template_key, use_case, \
                     user_ref, product_action_kind, product_action_ref, product_action_url, \
                     recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
                     status_at_us, is_final, updated_at_us) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                     $17, $18, $19, $20, $21, 'accepted', $21, FALSE, $21) \
                     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(&m.id)
                .bind(&m.idempotency_key)
                .bind(&m.request_fingerprint)
                .bind(&m.provider)
                .bind(&m.provider_message_id)
                .bind(&m.recipient.hash)
                .bind(&m.recipient.sealed)
                .bind(&m.recipient.masked)
                .bind(&m.recipient.country)
                .bind(&m.sender_identity)
                .bind(&m.sender_type)
                .bind(&m.template_key)
                .bind(&m.use_case)
                .bind(&m.user_ref)
                .bind(&m.product_action.kind)
                .bind(&m.product_action.reference)
                .bind(&m.product_action.url)
                .bind(&m.recipient_timezone)
                .bind(m.sent_at_us)
                .bind(&m.metadata_json)
                .bind(m.created_at_us)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;

                let registration = match inserted {
                    Some(id) => {
                        let message = Self::load_message(&mut tx, &id).await?;
                        Registration::Created(Self::attach_waiting(&mut tx, message).await?)
                    }
                    None => {
                        let message: MessageRecord = sqlx::query_as(&format!(
                            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = $1"
                        ))
                        .bind(&m.idempotency_key)
                        .fetch_one(&mut *tx)
                        .await?;
                        let same_request = message.request_fingerprint == m.request_fingerprint;
                        Registration::Existing { message, same_request }
                    }
                };
                tx.commit().await?;
                Ok(registration)
            }

            async fn set_provider_message_id(
                &self,
                id: &str,
                pmid: &str,
            ) -> Result<MessageRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let message = Self::find_message(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
                match message.provider_message_id.as_deref() {
                    Some(existing) if existing == pmid => {
                        tx.commit().await?;
                        return Ok(message);
                    }
                    Some(_) => {
                        return Err(StoreError::Conflict(
                            "the message already has another provider_message_id".to_owned(),
                        ));
                    }
                    None => {}
                }
                Self::lock_provider_message(&mut tx, &message.provider, pmid).await?;
                sqlx::query("UPDATE messages SET provider_message_id = $2 WHERE id = $1")
                    .bind(id)
                    .bind(pmid)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
                let message = Self::load_message(&mut tx, id).await?;
                let message = Self::attach_waiting(&mut tx, message).await?;
                tx.commit().await?;
                Ok(message)
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

            async fn record_retry(&self, r: &NewRetry) -> Result<RetryRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let record: Option<RetryRecord> = sqlx::query_as(
                    "INSERT INTO message_retries (message_id, kind, new_message_id, reason, created_at_us) \
                     SELECT id, $2, $3, $4, $5 FROM messages WHERE id = $1 \
                     RETURNING id, message_id, kind, new_message_id, reason, created_at_us",
                )
                .bind(&r.message_id)
                .bind(&r.kind)
                .bind(&r.new_message_id)
                .bind(&r.reason)
                .bind(r.created_at_us)
                .fetch_optional(&mut *tx)
                .await?;
                let record = record.ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(record)
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

            async fn create_api_token(&self, t: &NewApiToken) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, digest, created_at_us) VALUES ($1, $2, $3, $4)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(&t.digest)
                .bind(t.created_at_us)
                .execute(&self.pool)
                .await
                .map_err(|e| conflict_or(e, "token already exists"))?;
                Ok(())
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
            async fn ingest_one(
                conn: &mut <$db as sqlx::Database>::Connection,
                item: &IngestItem,
            ) -> Result<IngestOutcome, StoreError> {
                match item {
                    IngestItem::Delivery { provider, report, dedup_key, payload, received_at_us } => {
                        Self::lock_provider_message(conn, provider, &report.provider_message_id).await?;
                        let event_id: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
                             provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
                             received_at_us, content_type, raw_payload_sealed) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                        )
                        .bind(dedup_key)
                        .bind(*provider)
                        .bind(&report.provider_message_id)
                        .bind(&report.provider_event_id)
                        .bind(&report.raw_status)
                        .bind(report.status.map(|s| s.as_str()))
                        .bind(&report.error_code)
                        .bind(report.provider_occurred_at.map(|t| t.timestamp_micros()))
                        .bind(received_at_us)
                        .bind(&payload.content_type)
                        .bind(&payload.sealed)
                        .fetch_optional(&mut *conn)
                        .await?;
                        let Some(event_id) = event_id else {
                            return Ok(IngestOutcome::Duplicate);
                        };
                        let message: Option<Summary> = sqlx::query_as(
                            "SELECT id, current_status, status_at_us FROM messages \
                             WHERE provider = $1 AND provider_message_id = $2",
                        )
                        .bind(*provider)
                        .bind(&report.provider_message_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                        if message.is_none() {
                            sqlx::query(
                                "INSERT INTO unmatched_callbacks (provider, provider_message_id, \
                                 first_received_at_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            )
                            .bind(*provider)
                            .bind(&report.provider_message_id)
                            .bind(received_at_us)
                            .execute(&mut *conn)
                            .await?;
                        }
                        if report.status.is_none() {
                            Self::open_review(
                                conn,
                                provider,
                                "status",
                                "unknown_status",
                                &format!("unknown status {:?}", report.raw_status),
                                Some(event_id),
                                payload,
                                *received_at_us,
                            )
                            .await?;
                            return Ok(IngestOutcome::Review);
                        }
                        let Some(message) = message else {
                            return Ok(IngestOutcome::Waiting);
                        };
                        let event_at = report
                            .provider_occurred_at
                            .map(|t| t.timestamp_micros())
                            .unwrap_or(*received_at_us);
                        let update = summary_after(
                            &message,
                            report.status,
                            &report.raw_status,
                            report.error_code.as_deref(),
                            event_at,
                        )?;
                        let changed_summary = update.is_some();
                        Self::update_summary(conn, &message, update, *received_at_us).await?;
                        Ok(IngestOutcome::Stored { changed_summary })
                    }
                    IngestItem::Inbound {
                        provider,
                        report,
                        sender,
                        body_sealed,
                        keyword,
                        dedup_key,
                        payload,
                        received_at_us,
                    } => {
                        let id: Option<i64> = sqlx::query_scalar(
                            "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
                             sender_hash, sender_sealed, sender_masked, sender_country, \
                             recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                             received_at_us, content_type, raw_payload_sealed) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                        )
                        .bind(dedup_key)
                        .bind(*provider)
                        .bind(&report.provider_message_id)
                        .bind(&sender.hash)
                        .bind(&sender.sealed)
                        .bind(&sender.masked)
                        .bind(&sender.country)
                        .bind(&report.to)
                        .bind(body_sealed)
                        .bind(*keyword)
                        .bind(report.provider_occurred_at.map(|t| t.timestamp_micros()))
                        .bind(received_at_us)
                        .bind(&payload.content_type)
                        .bind(&payload.sealed)
                        .fetch_optional(&mut *conn)
                        .await?;
                        Ok(match id {
                            Some(_) => IngestOutcome::Stored { changed_summary: false },
                            None => IngestOutcome::Duplicate,
                        })
                    }
                    IngestItem::Unreadable { provider, route, reason, payload, received_at_us } => {
                        Self::open_review(
                            conn,
                            provider,
                            route,
                            "unreadable",
                            reason,
                            None,
                            payload,
                            *received_at_us,
                        )
                        .await?;
                        Ok(IngestOutcome::Review)
                    }
                }
            }

            #[allow(clippy::too_many_arguments)]
            async fn open_review(
                conn: &mut <$db as sqlx::Database>::Connection,
                provider: &str,
                route: &str,
                kind: &str,
                reason: &str,
                event_id: Option<i64>,
                payload: &SealedPayload,
                received_at_us: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
                     raw_payload_sealed, received_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(provider)
                .bind(route)
                .bind(kind)
                .bind(reason)
                .bind(event_id)
                .bind(&payload.content_type)
                .bind(&payload.sealed)
                .bind(received_at_us)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn update_summary(
                conn: &mut <$db as sqlx::Database>::Connection,
                message: &Summary,
                update: Option<SummaryUpdate>,
                now_us: i64,
            ) -> Result<(), StoreError> {
                let query = match update {
                    Some(u) => sqlx::query(
                        "UPDATE messages SET current_status = $2, current_raw_status = $3, \
                         current_error_code = $4, status_at_us = $5, is_final = $6, \
                         updated_at_us = $7 WHERE id = $1",
                    )
                    .bind(&message.id)
                    .bind(u.status)
                    .bind(u.raw_status)
                    .bind(u.error_code)
                    .bind(u.status_at_us)
                    .bind(u.is_final)
                    .bind(now_us),
                    None => sqlx::query("UPDATE messages SET updated_at_us = $2 WHERE id = $1")
                        .bind(&message.id)
                        .bind(now_us),
                };
                query.execute(&mut *conn).await?;
                Ok(())
            }

            /// Folds the callbacks that arrived before the message's provider
            /// id was known into its summary, and clears them from the waiting list.
            async fn attach_waiting(
                conn: &mut <$db as sqlx::Database>::Connection,
                message: MessageRecord,
            ) -> Result<MessageRecord, StoreError> {
                let Some(pmid) = message.provider_message_id.clone() else {
                    return Ok(message);
                };
                let waiting = sqlx::query(
                    "DELETE FROM unmatched_callbacks WHERE provider = $1 AND provider_message_id = $2",
                )
                .bind(&message.provider)
                .bind(&pmid)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if waiting == 0 {
                    return Ok(message);
                }
                let events = Self::timeline(conn, &message.provider, &pmid).await?;
                let summary = Summary::from(&message);
                let update = summary_after_all(&summary, &events)?;
                Self::update_summary(conn, &summary, update, message.updated_at_us).await?;
                Self::load_message(conn, &message.id).await
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

            async fn load_message(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: &str,
            ) -> Result<MessageRecord, StoreError> {
                Self::find_message(conn, id).await?.ok_or(StoreError::NotFound)
            }
        }
    };
}

pub(super) use impl_store;
