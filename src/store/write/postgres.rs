//! The PostgreSQL writers: each owns one connection and applies a batch in a
//! few set-based statements with fixed texts (prepared once, arrays bound):
//! begin + advisory locks, insert events, read summaries, write everything
//! the plan decided, commit. Round trips, not rows, are what a batch costs.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::flows::{self, BatchOutcome, DueMessage, NewReview, Notification, WriteTx, delivery_of};
use super::postgres_batch::{self as batch, column};
use super::postgres_rollup as rollup;
use super::rollup::RollupDelta;
use super::tally::VerificationFacts;
use super::{BatchWriter, Command, Done, ItemResult};
use crate::store::db::{advisory_key, conflict_or};
use crate::store::review::{REGISTERED_LATER, unmatched_key};
use crate::store::summary::{Delivery, Summary};
use crate::store::{
    EVENT_COLUMNS, EventRecord, InboundItem, MESSAGE_COLUMNS, MessageRecord, NewMessage, NewRetry,
    NewVerification, NewVerificationEvent, RetryRecord, StoreError,
};

/// One writer and its connection, opened again whenever it broke: a
/// database that restarted must not need a restart of smstrail.
pub(super) struct PgWriter {
    pub(super) notify: bool,
    pub(super) options: PgConnectOptions,
    pub(super) timeout: Duration,
    pub(super) conn: Option<PgConnection>,
}

impl PgWriter {
    pub(super) async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.is_none() {
            let connect = PgConnection::connect_with(&self.options);
            let conn = tokio::time::timeout(self.timeout, connect)
                .await
                .map_err(|_| unavailable("connecting timed out"))?
                .map_err(|e| unavailable(&e.to_string()))?;
            tracing::info!("ingest writer connected to PostgreSQL");
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| unavailable("no connection"))
    }
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL: {why}"))
}

/// Whether the connection itself failed (network, server shutdown,
/// cancelled statement) rather than one statement being refused: then it is
/// replaced and the batch is not retried item by item.
fn connection_lost(error: &StoreError) -> bool {
    let StoreError::Database(error) = error else {
        return false;
    };
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

impl BatchWriter for PgWriter {
    async fn apply(&mut self, batch: &[Command]) -> Result<Vec<ItemResult>, StoreError> {
        let (timeout, notify) = (self.timeout, self.notify);
        let conn = self.connection().await?;
        match tokio::time::timeout(timeout, apply_batch(conn, batch, notify)).await {
            Ok(Err(error)) if connection_lost(&error) => {
                self.conn = None;
                Err(unavailable(&error.to_string()))
            }
            Ok(answer) => answer,
            Err(_) => {
                // Where the transaction stands is unknown: never reuse it.
                self.conn = None;
                Err(unavailable("the batch timed out"))
            }
        }
    }
}

async fn apply_batch(
    conn: &mut PgConnection,
    batch: &[Command],
    notify: bool,
) -> Result<Vec<ItemResult>, StoreError> {
    let mut tx = conn.begin_with(batch::begin_and_lock(batch)).await?;
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::new();
    let mut counted = RollupDelta::default();
    for (index, command) in batch.iter().enumerate() {
        if let Command::Ingest(item) = command
            && let Some(delivery) = delivery_of(index, item)
        {
            deliveries.push(delivery);
            results.push(None);
            continue;
        }
        match flows::apply_one(&mut PgTx(&mut tx, notify, &mut counted), command).await {
            Ok(done) => results.push(Some(Ok(done))),
            // A refused statement aborts the whole transaction on
            // PostgreSQL: answer a lone item, retry a batch item by item.
            Err(error) if batch.len() == 1 && !connection_lost(&error) => {
                return Ok(vec![Err(error)]);
            }
            Err(error) => return Err(error),
        }
    }
    if !deliveries.is_empty() {
        let outcomes =
            flows::ingest_deliveries(&mut PgTx(&mut tx, notify, &mut counted), &deliveries).await?;
        for (index, outcome) in outcomes {
            results[index] = Some(Ok(Done::Ingested(outcome)));
        }
    }
    // What the callbacks' statement did not carry (a batch of registrations).
    rollup::flush(&mut tx, counted.take()).await?;
    tx.commit().await?;
    results
        .into_iter()
        .map(|result| {
            result.ok_or_else(|| StoreError::Corrupt("a command got no answer".to_owned()))
        })
        .collect()
}

/// The primitive statements on a writer's open transaction, whether it
/// notifies, and the batch's rollup deltas.
struct PgTx<'t, 'r>(&'t mut PgConnection, bool, &'r mut RollupDelta);

impl WriteTx for PgTx<'_, '_> {
    async fn insert_events(
        &mut self,
        deliveries: &[&Delivery<'_>],
    ) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError> {
        batch::insert_events(self.0, deliveries).await
    }

    async fn write_outcome(
        &mut self,
        outcome: &BatchOutcome<'_>,
    ) -> Result<Vec<String>, StoreError> {
        batch::write_outcome(self.0, self.2, outcome).await
    }

    fn notifies(&self) -> bool {
        self.1
    }

    async fn insert_notifications(&mut self, events: &[Notification]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO notify_outbox (message_id, event_type, status, error_code, \
             occurred_at_us, created_at_us, next_attempt_at_us) \
             SELECT v.id, v.kind, v.status, v.error_code, v.at, v.created, v.created \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
             $6::bigint[]) AS v (id, kind, status, error_code, at, created)",
        )
        .bind(column(events, |n| n.message_id.as_str()))
        .bind(column(events, |n| n.event_type))
        .bind(column(events, |n| n.status))
        .bind(column(events, |n| n.error_code.as_deref()))
        .bind(column(events, |n| n.occurred_at_us))
        .bind(column(events, |n| n.created_at_us))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn insert_inbound(&mut self, item: &InboundItem) -> Result<bool, StoreError> {
        let InboundItem {
            provider,
            report,
            sender,
            body_sealed,
            keyword,
            part,
            dedup_key,
            payload,
            received_at_us,
        } = item;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
             sender_hash, sender_sealed, sender_masked, sender_country, \
             recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
             received_at_us, content_type, raw_payload_sealed, part_group, \
             part_number, part_total) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
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
        .bind(part.as_ref().map(|p| p.group.as_str()))
        .bind(part.as_ref().map(|p| i64::from(p.number)))
        .bind(part.as_ref().map(|p| i64::from(p.total)))
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(id.is_some())
    }

    async fn insert_review(&mut self, r: &NewReview<'_>) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, received_at_us, dedup_key, raw_status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(r.provider)
        .bind(r.route)
        .bind(r.kind)
        .bind(&r.reason)
        .bind(r.event_id)
        .bind(&r.payload.content_type)
        .bind(&r.payload.sealed)
        .bind(r.received_at_us)
        .bind(r.dedup_key)
        .bind(r.raw_status)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    async fn insert_message(
        &mut self,
        m: &NewMessage,
    ) -> Result<Option<(MessageRecord, bool)>, StoreError> {
        batch::insert_message(self.0, m).await
    }

    async fn message(&mut self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn message_by_key(&mut self, key: &str) -> Result<MessageRecord, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn set_provider_message_id(&mut self, id: &str, pmid: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET provider_message_id = $2 WHERE id = $1")
            .bind(id)
            .bind(pmid)
            .execute(&mut *self.0)
            .await
            .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
        Ok(())
    }

    async fn take_waiting(&mut self, provider: &str, pmid: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query(
            "DELETE FROM unmatched_callbacks WHERE provider = $1 AND provider_message_id = $2",
        )
        .bind(provider)
        .bind(pmid)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(removed > 0)
    }

    async fn timeline(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Vec<EventRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM message_events \
             WHERE provider = $1 AND provider_message_id = $2 ORDER BY id"
        ))
        .bind(provider)
        .bind(pmid)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn write_summary(&mut self, s: &Summary) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET current_status = $2, current_raw_status = $3, \
             current_error_code = $4, status_at_us = $5, is_final = $6, updated_at_us = $7 \
             WHERE id = $1",
        )
        .bind(&s.id)
        .bind(s.current_status.as_str())
        .bind(&s.current_raw_status)
        .bind(&s.current_error_code)
        .bind(s.status_at_us)
        .bind(s.is_final)
        .bind(s.updated_at_us)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn resolve_unmatched(
        &mut self,
        provider: &str,
        pmid: &str,
        at_us: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE review_items SET resolved_at_us = $2, resolution = $3 \
             WHERE dedup_key = $1 AND resolved_at_us IS NULL",
        )
        .bind(unmatched_key(provider, pmid))
        .bind(at_us)
        .bind(REGISTERED_LATER)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// One statement for the whole chunk.
    async fn set_event_status(
        &mut self,
        event_ids: &[i64],
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE message_events SET status = $2 WHERE id = ANY($1::bigint[])")
            .bind(event_ids)
            .bind(status)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn message_by_provider_id(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE provider = $1 AND provider_message_id = $2"
        ))
        .bind(provider)
        .bind(pmid)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn insert_retry(&mut self, r: &NewRetry) -> Result<Option<RetryRecord>, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO message_retries (message_id, kind, new_message_id, reason, created_at_us) \
             SELECT id, $2, $3, $4, $5 FROM messages WHERE id = $1 \
             RETURNING id, message_id, kind, new_message_id, reason, created_at_us",
        )
        .bind(&r.message_id)
        .bind(r.kind.as_str())
        .bind(&r.new_message_id)
        .bind(&r.reason)
        .bind(r.created_at_us)
        .fetch_optional(&mut *self.0)
        .await?)
    }

    async fn insert_verification(&mut self, v: &NewVerification) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO verifications (id, user_ref, created_at_us) VALUES ($1, $2, $3)")
            .bind(&v.id)
            .bind(&v.user_ref)
            .bind(v.created_at_us)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_verification_event(
        &mut self,
        e: &NewVerificationEvent,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO verification_events (verification_id, kind, message_id, \
             occurred_at_us, recorded_at_us) SELECT id, $2, $3, $4, $5 FROM verifications \
             WHERE id = $1",
        )
        .bind(&e.verification_id)
        .bind(e.kind.as_str())
        .bind(&e.message_id)
        .bind(e.occurred_at_us)
        .bind(e.recorded_at_us)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// Rows another pass holds are skipped (`FOR UPDATE SKIP LOCKED`), so
    /// two passes started together split the due messages instead of doing
    /// them twice. A message whose provider message id a callback writer
    /// holds right now is left for the next pass: its advisory lock is only
    /// tried, never waited for, so this never waits in a cycle with a writer
    /// that holds the lock and waits for the row.
    async fn claim_due(
        &mut self,
        now_us: i64,
        limit: usize,
    ) -> Result<(Vec<DueMessage>, usize), StoreError> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, provider, provider_message_id, final_deadline_us FROM messages \
             WHERE is_final = FALSE AND final_deadline_us <= $1 \
             ORDER BY final_deadline_us LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(now_us)
        .bind(limit as i64)
        .fetch_all(&mut *self.0)
        .await?;
        let scanned = rows.len();
        let keys: Vec<i64> = rows
            .iter()
            .filter_map(|(_, _, pmid, _)| pmid.as_deref())
            .map(|pmid| advisory_key("provider_message_id", pmid))
            .collect();
        let locked: Vec<i64> = if keys.is_empty() {
            Vec::new()
        } else {
            sqlx::query_scalar(
                "SELECT k FROM unnest($1::bigint[]) AS k WHERE pg_try_advisory_xact_lock(k)",
            )
            .bind(&keys)
            .fetch_all(&mut *self.0)
            .await?
        };
        let due = rows
            .into_iter()
            .filter(|(_, _, pmid, _)| {
                pmid.as_deref()
                    .is_none_or(|pmid| locked.contains(&advisory_key("provider_message_id", pmid)))
            })
            .map(
                |(id, provider, provider_message_id, final_deadline_us)| DueMessage {
                    id,
                    provider,
                    provider_message_id,
                    final_deadline_us,
                },
            )
            .collect();
        Ok((due, scanned))
    }

    async fn clear_deadlines(&mut self, ids: &[&str]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE messages SET final_deadline_us = NULL WHERE id = ANY($1::text[])")
            .bind(ids)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    fn rollup(&mut self) -> &mut RollupDelta {
        self.2
    }

    async fn lock_verification_messages(&mut self, id: &str) -> Result<(), StoreError> {
        rollup::lock_verification_messages(self.0, id).await
    }

    async fn link_verification(&mut self, message_id: &str) -> Result<(), StoreError> {
        rollup::link_verification(self.0, message_id).await
    }

    async fn verifications_naming(&mut self, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        rollup::verifications_naming(self.0, ids).await
    }

    async fn verification_facts(
        &mut self,
        id: &str,
    ) -> Result<Option<VerificationFacts>, StoreError> {
        rollup::verification_facts(self.0, id).await
    }

    async fn repeated_copies_of(&mut self, provider: &str, pmid: &str) -> Result<i64, StoreError> {
        rollup::repeated_copies_of(self.0, provider, pmid).await
    }
}
