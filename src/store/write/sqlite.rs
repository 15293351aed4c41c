//! The SQLite writer: one thread owns one `rusqlite` connection and applies
//! a whole batch synchronously with cached prepared statements.
//!
//! sqlx runs SQLite on a worker thread per connection, so every statement
//! is two cross-thread wake-ups; a batch of five statements spent most of
//! its time in those hand-offs. Here a statement is a function call.
//! SQLite has one writer at a time anyway, so row-at-a-time statements inside
//! one transaction cost microseconds; when an item is refused, the batch
//! runs again with a savepoint per item, so it fails alone.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::flows::{self, BatchOutcome, DueMessage, NewReview, Notification, WriteTx};
use super::rollup::RollupDelta;
use super::sqlite_batch as batch;
use super::sqlite_rollup as rollup;
use super::sqlite_rows::{event, message, retry};
use super::tally::VerificationFacts;
use super::{BatchWriter, Command, ItemResult};
use crate::store::review::{REGISTERED_LATER, unmatched_key};
use crate::store::summary::{Delivery, Summary};
use crate::store::{
    EVENT_COLUMNS, EventRecord, InboundItem, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, RetryRecord, StoreError,
};

const MESSAGE_COLUMNS: &str = crate::store::MESSAGE_COLUMNS;

pub(super) struct SqliteWriter {
    pub(super) conn: Connection,
    pub(super) notify: bool,
    /// Raised by the checkpoint thread when the WAL needs emptying.
    pub(super) wal_full: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// How long a statement waits for another process's lock.
    pub(super) busy: std::time::Duration,
}

impl BatchWriter for SqliteWriter {
    /// The whole batch in one transaction. Items fail rarely, so they first
    /// run without savepoints (a savepoint makes SQLite copy every page an
    /// item touches into a sub-journal); only when one fails is the batch
    /// rolled back and run again with a savepoint per item, so that the
    /// failing item is refused alone and its neighbours still commit.
    async fn apply(&mut self, batch: &[Command]) -> Result<Vec<ItemResult>, StoreError> {
        self.truncate_wal_if_full();
        // `BEGIN IMMEDIATE` takes the write lock up front, so a transaction
        // that reads before it writes cannot fail half-way on a lock upgrade.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        let mut counted = RollupDelta::default();
        for command in batch {
            let applied =
                flows::apply_one(&mut SqliteTx(&tx, self.notify, &mut counted), command).await;
            match applied {
                Ok(done) => results.push(Ok(done)),
                Err(error) if batch.len() == 1 => {
                    drop(tx); // rolls back whatever the item did before failing
                    return Ok(vec![Err(error)]);
                }
                Err(_) => {
                    drop(tx);
                    return self.apply_isolated(batch).await;
                }
            }
        }
        // The dashboards' counters of the whole batch, one upsert per row.
        if let Err(error) = rollup::flush(&tx, counted.take()) {
            drop(tx);
            if batch.len() == 1 {
                return Ok(vec![Err(error)]);
            }
            return self.apply_isolated(batch).await;
        }
        tx.commit()?;
        Ok(results)
    }
}

impl SqliteWriter {
    /// The batch again, each item in its own savepoint.
    async fn apply_isolated(&mut self, batch: &[Command]) -> Result<Vec<ItemResult>, StoreError> {
        let notify = self.notify;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for command in batch {
            let item = tx.savepoint()?;
            // Counted per item, inside its savepoint: a refused item leaves
            // no counts behind, and the next item reads the cells it wrote.
            let mut counted = RollupDelta::default();
            let applied = flows::apply_one(&mut SqliteTx(&item, notify, &mut counted), command)
                .await
                .and_then(|done| rollup::flush(&item, counted.take()).map(|()| done));
            match applied {
                Ok(done) => {
                    item.commit()?;
                    results.push(Ok(done));
                }
                Err(error) => {
                    drop(item); // rolls back this item alone
                    if tx.is_autocommit() {
                        // SQLite rolled the whole transaction back (disk full,
                        // I/O error): nothing of the batch is stored.
                        return Err(error);
                    }
                    results.push(Err(error));
                }
            }
        }
        tx.commit()?;
        Ok(results)
    }
}

/// The primitive statements on the writer's connection (inside the batch
/// transaction, within the item's savepoint), whether it notifies, and the
/// batch's rollup deltas.
struct SqliteTx<'c, 'r>(&'c Connection, bool, &'r mut RollupDelta);

impl WriteTx for SqliteTx<'_, '_> {
    async fn insert_events(
        &mut self,
        deliveries: &[&Delivery<'_>],
    ) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError> {
        batch::insert_events(self.0, deliveries)
    }

    /// One writer at a time: the flags read with the summaries are current,
    /// so no message became linked since.
    async fn write_outcome(
        &mut self,
        outcome: &BatchOutcome<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let mut repeats = self.0.prepare_cached(
            "INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
             SELECT id, ?2, ?3 FROM message_events WHERE dedup_key = ?1 \
             ON CONFLICT (event_id) DO UPDATE SET count = event_duplicates.count + excluded.count, \
             last_received_at_us = max(event_duplicates.last_received_at_us, \
             excluded.last_received_at_us)",
        )?;
        for (key, count, last) in &outcome.copies {
            repeats.execute(params![key, count, last])?;
        }
        let mut waiting = self.0.prepare_cached(
            "INSERT INTO unmatched_callbacks (provider, provider_message_id, \
             first_received_at_us) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?;
        for d in &outcome.plan.unmatched {
            waiting.execute(params![
                d.provider,
                d.report.provider_message_id,
                d.received_at_us
            ])?;
        }
        for review in &outcome.reviews {
            self.insert_review(review).await?;
        }
        for summary in &outcome.plan.touched {
            self.write_summary(summary).await?;
        }
        self.insert_notifications(&outcome.notifications).await?;
        Ok(Vec::new())
    }

    fn notifies(&self) -> bool {
        self.1
    }

    async fn insert_notifications(&mut self, events: &[Notification]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = self.0.prepare_cached(
            "INSERT INTO notify_outbox (message_id, event_type, status, error_code, \
             occurred_at_us, created_at_us, next_attempt_at_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?;
        for n in events {
            insert.execute(params![
                n.message_id,
                n.event_type,
                n.status,
                n.error_code,
                n.occurred_at_us,
                n.created_at_us
            ])?;
        }
        Ok(())
    }

    async fn insert_inbound(&mut self, item: &InboundItem) -> Result<bool, StoreError> {
        batch::insert_inbound(self.0, item)
    }

    async fn insert_review(&mut self, r: &NewReview<'_>) -> Result<bool, StoreError> {
        let inserted = self
            .0
            .prepare_cached(
                "INSERT INTO review_items (provider, route, kind, reason, event_id, \
                 content_type, raw_payload_sealed, received_at_us, dedup_key, raw_status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (dedup_key) DO NOTHING",
            )?
            .execute(params![
                r.provider,
                r.route,
                r.kind,
                r.reason,
                r.event_id,
                r.payload.content_type,
                r.payload.sealed,
                r.received_at_us,
                r.dedup_key,
                r.raw_status,
            ])?;
        Ok(inserted > 0)
    }

    async fn insert_message(
        &mut self,
        m: &NewMessage,
    ) -> Result<Option<(MessageRecord, bool)>, StoreError> {
        batch::insert_message(self.0, m)
    }

    async fn message(&mut self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
            ))?
            .query_row(params![id], message)
            .optional()?)
    }

    async fn message_by_key(&mut self, key: &str) -> Result<MessageRecord, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = ?1"
            ))?
            .query_row(params![key], message)?)
    }

    async fn set_provider_message_id(&mut self, id: &str, pmid: &str) -> Result<(), StoreError> {
        self.0
            .prepare_cached("UPDATE messages SET provider_message_id = ?2 WHERE id = ?1")?
            .execute(params![id, pmid])
            .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
        Ok(())
    }

    async fn take_waiting(&mut self, provider: &str, pmid: &str) -> Result<bool, StoreError> {
        batch::take_waiting(self.0, provider, pmid)
    }

    async fn timeline(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Vec<EventRecord>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM message_events \
                 WHERE provider = ?1 AND provider_message_id = ?2 ORDER BY id"
            ))?
            .query_map(params![provider, pmid], event)?
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn write_summary(&mut self, s: &Summary) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE messages SET current_status = ?2, current_raw_status = ?3, \
                 current_error_code = ?4, status_at_us = ?5, is_final = ?6, updated_at_us = ?7 \
                 WHERE id = ?1",
            )?
            .execute(params![
                s.id,
                s.current_status.as_str(),
                s.current_raw_status,
                s.current_error_code,
                s.status_at_us,
                s.is_final,
                s.updated_at_us,
            ])?;
        Ok(())
    }

    async fn resolve_unmatched(
        &mut self,
        provider: &str,
        pmid: &str,
        at_us: i64,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE review_items SET resolved_at_us = ?2, resolution = ?3 \
                 WHERE dedup_key = ?1 AND resolved_at_us IS NULL",
            )?
            .execute(params![
                unmatched_key(provider, pmid),
                at_us,
                REGISTERED_LATER
            ])?;
        Ok(())
    }

    async fn set_event_status(
        &mut self,
        event_ids: &[i64],
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .0
            .prepare_cached("UPDATE message_events SET status = ?2 WHERE id = ?1")?;
        for id in event_ids {
            update.execute(params![id, status])?;
        }
        Ok(())
    }

    async fn message_by_provider_id(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages \
                 WHERE provider = ?1 AND provider_message_id = ?2"
            ))?
            .query_row(params![provider, pmid], message)
            .optional()?)
    }

    async fn insert_retry(&mut self, r: &NewRetry) -> Result<Option<RetryRecord>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "INSERT INTO message_retries (message_id, kind, new_message_id, reason, \
                 created_at_us) SELECT id, ?2, ?3, ?4, ?5 FROM messages WHERE id = ?1 \
                 RETURNING id, message_id, kind, new_message_id, reason, created_at_us",
            )?
            .query_row(
                params![
                    r.message_id,
                    r.kind.as_str(),
                    r.new_message_id,
                    r.reason,
                    r.created_at_us
                ],
                retry,
            )
            .optional()?)
    }

    async fn insert_verification(&mut self, v: &NewVerification) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO verifications (id, user_ref, created_at_us) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![v.id, v.user_ref, v.created_at_us])?;
        Ok(())
    }

    async fn insert_verification_event(
        &mut self,
        e: &NewVerificationEvent,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .0
            .prepare_cached(
                "INSERT INTO verification_events (verification_id, kind, message_id, \
                 occurred_at_us, recorded_at_us) \
                 SELECT id, ?2, ?3, ?4, ?5 FROM verifications WHERE id = ?1",
            )?
            .execute(params![
                e.verification_id,
                e.kind.as_str(),
                e.message_id,
                e.occurred_at_us,
                e.recorded_at_us
            ])?;
        Ok(inserted > 0)
    }

    /// SQLite has one writer at a time and this runs inside `BEGIN
    /// IMMEDIATE`: another process's pass waits for the lock and then finds
    /// these deadlines cleared, so nothing is claimed twice.
    async fn claim_due(
        &mut self,
        now_us: i64,
        limit: usize,
    ) -> Result<(Vec<DueMessage>, usize), StoreError> {
        let due = self
            .0
            .prepare_cached(
                "SELECT id, provider, provider_message_id, final_deadline_us FROM messages \
                 WHERE is_final = FALSE AND final_deadline_us <= ?1 \
                 ORDER BY final_deadline_us LIMIT ?2",
            )?
            .query_map(params![now_us, limit as i64], |row| {
                Ok(DueMessage {
                    id: row.get(0)?,
                    provider: row.get(1)?,
                    provider_message_id: row.get(2)?,
                    final_deadline_us: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let scanned = due.len();
        Ok((due, scanned))
    }

    async fn clear_deadlines(&mut self, ids: &[&str]) -> Result<(), StoreError> {
        let mut clear = self
            .0
            .prepare_cached("UPDATE messages SET final_deadline_us = NULL WHERE id = ?1")?;
        for id in ids {
            clear.execute(params![id])?;
        }
        Ok(())
    }

    fn rollup(&mut self) -> &mut RollupDelta {
        self.2
    }

    /// Nothing to lock: SQLite runs one writer at a time.
    async fn lock_verification_messages(&mut self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn link_verification(&mut self, message_id: &str) -> Result<(), StoreError> {
        rollup::link_verification(self.0, message_id)
    }

    async fn verifications_naming(&mut self, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        rollup::verifications_naming(self.0, ids)
    }

    async fn verification_facts(
        &mut self,
        id: &str,
    ) -> Result<Option<VerificationFacts>, StoreError> {
        rollup::verification_facts(self.0, id)
    }

    async fn repeated_copies_of(&mut self, provider: &str, pmid: &str) -> Result<i64, StoreError> {
        rollup::repeated_copies_of(self.0, provider, pmid)
    }
}

/// Maps a unique-constraint violation to `Conflict` (a trigger's refusal is
/// a constraint error too, but not a conflict: it stays a storage failure).
pub(super) fn conflict_or(error: rusqlite::Error, what: &str) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Sqlite(error),
    }
}
