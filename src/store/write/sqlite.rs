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
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::{mpsc, oneshot};

use super::flows::{self, BatchOutcome, DueMessage, NewReview, Notification, WriteTx};
use super::sqlite_rows::{event, message, retry, summary};
use super::{BatchWriter, Batches, Command, ItemResult, Job, run_writer};
use crate::store::review::{REGISTERED_LATER, unmatched_key};
use crate::store::summary::{Delivery, SUMMARY_COLUMNS, Summary};
use crate::store::{
    EVENT_COLUMNS, EventRecord, InboundItem, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, RetryRecord, StoreError,
};

/// Statements kept prepared: every statement this writer runs fits.
const STATEMENT_CACHE: usize = 64;

const MESSAGE_COLUMNS: &str = crate::store::MESSAGE_COLUMNS;

pub(super) fn run(
    url: &str,
    mut receivers: Vec<mpsc::Receiver<Job>>,
    batches: Batches,
    timeout: Duration,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let writer = match SqliteWriter::open(url, timeout) {
        Ok(writer) => SqliteWriter {
            notify: batches.notify,
            ..writer
        },
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (Some(queue), true) = (receivers.pop(), receivers.is_empty()) else {
        let _ = ready.send(Err(StoreError::Unavailable(
            "SQLite runs exactly one writer".to_owned(),
        )));
        return;
    };
    // The writer never awaits anything but its queue: a current-thread
    // runtime on this thread is all it needs.
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Unavailable(format!("writer runtime: {e}"))));
            return;
        }
    };
    // Dropped when the writer stops, which stops the checkpointer too.
    let _checkpointer = writer.hand_checkpoints_to_a_thread(url, timeout);
    let _ = ready.send(Ok(()));
    runtime.block_on(run_writer(writer, queue, batches));
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

pub(super) struct SqliteWriter {
    conn: Connection,
    notify: bool,
}

impl SqliteWriter {
    /// `busy`: how long to wait for another process's write lock, so the
    /// writer never hangs on one.
    fn open(url: &str, busy: Duration) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        let conn = Connection::open(options.get_filename())?;
        conn.busy_timeout(busy)?;
        // FULL: a 2xx promises the callback survives a power cut, not only a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn,
            notify: false,
        })
    }

    /// SQLite checkpoints the WAL inside the commit that crosses 1,000
    /// pages, fsyncs included: the batch that happens to cross it waits for
    /// the whole copy. A thread of its own checkpoints instead (PASSIVE:
    /// never blocks the writer), on the other core. Should it fail to start,
    /// the writer keeps checkpointing itself. Returns what keeps it running.
    fn hand_checkpoints_to_a_thread(
        &self,
        url: &str,
        busy: Duration,
    ) -> Option<std::sync::mpsc::Sender<()>> {
        let opened = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::from)
            .and_then(|options| Ok(Connection::open(options.get_filename())?))
            .and_then(|conn| {
                conn.busy_timeout(busy)?;
                Ok(conn)
            });
        let conn = match opened {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                return None;
            }
        };
        let (keep, stop) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("smstrail-checkpoint".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_EVERY)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(error) = done {
                        tracing::warn!(%error, "WAL checkpoint failed; retrying");
                    }
                }
            });
        match spawned {
            Ok(_) => {
                if let Err(error) = self.conn.pragma_update(None, "wal_autocheckpoint", 0) {
                    tracing::warn!(%error, "the writer keeps checkpointing itself too");
                }
                Some(keep)
            }
            Err(error) => {
                tracing::warn!(%error, "no checkpoint thread; the writer checkpoints itself");
                None
            }
        }
    }
}

impl BatchWriter for SqliteWriter {
    /// The whole batch in one transaction. Items fail rarely, so they first
    /// run without savepoints (a savepoint makes SQLite copy every page an
    /// item touches into a sub-journal); only when one fails is the batch
    /// rolled back and run again with a savepoint per item, so that the
    /// failing item is refused alone and its neighbours still commit.
    async fn apply(&mut self, batch: &[Command]) -> Result<Vec<ItemResult>, StoreError> {
        // `BEGIN IMMEDIATE` takes the write lock up front, so a transaction
        // that reads before it writes cannot fail half-way on a lock upgrade.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for command in batch {
            match flows::apply_one(&mut SqliteTx(&tx, self.notify), command).await {
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
            match flows::apply_one(&mut SqliteTx(&item, notify), command).await {
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
/// transaction, within the item's savepoint).
struct SqliteTx<'c>(&'c Connection, bool);

impl WriteTx for SqliteTx<'_> {
    async fn insert_events(
        &mut self,
        deliveries: &[&Delivery<'_>],
    ) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError> {
        let mut insert = self.0.prepare_cached(
            "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
             provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
             received_at_us, content_type, raw_payload_sealed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        )?;
        let mut inserted = HashMap::new();
        for d in deliveries {
            let id: Option<i64> = insert
                .query_row(
                    params![
                        d.dedup_key,
                        d.provider,
                        d.report.provider_message_id,
                        d.report.provider_event_id,
                        d.report.raw_status,
                        d.status_text(),
                        d.report.error_code,
                        d.provider_occurred_at_us(),
                        d.received_at_us,
                        d.payload.content_type,
                        d.payload.sealed,
                    ],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                inserted.insert(d.dedup_key.to_owned(), id);
            }
        }
        let mut keys: Vec<(&str, &str)> = deliveries
            .iter()
            .filter(|d| inserted.contains_key(d.dedup_key))
            .map(|d| (d.provider, d.report.provider_message_id.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut select = self.0.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM messages \
             WHERE provider = ?1 AND provider_message_id = ?2"
        ))?;
        let mut summaries = Vec::with_capacity(keys.len());
        for (provider, pmid) in keys {
            if let Some(found) = select
                .query_row(params![provider, pmid], summary)
                .optional()?
            {
                summaries.push(found);
            }
        }
        Ok((inserted, summaries))
    }

    async fn write_outcome(&mut self, outcome: &BatchOutcome<'_>) -> Result<(), StoreError> {
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
        self.insert_notifications(&outcome.notifications).await
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
        let id: Option<i64> = self
            .0
            .prepare_cached(
                "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
                 sender_hash, sender_sealed, sender_masked, sender_country, \
                 recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                 received_at_us, content_type, raw_payload_sealed, part_group, \
                 part_number, part_total) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17) \
                 ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            )?
            .query_row(
                params![
                    dedup_key,
                    provider,
                    report.provider_message_id,
                    sender.hash,
                    sender.sealed,
                    sender.masked,
                    sender.country,
                    report.to,
                    body_sealed,
                    keyword,
                    report.provider_occurred_at.map(|t| t.timestamp_micros()),
                    received_at_us,
                    payload.content_type,
                    payload.sealed,
                    part.as_ref().map(|p| p.group.as_str()),
                    part.as_ref().map(|p| i64::from(p.number)),
                    part.as_ref().map(|p| i64::from(p.total)),
                ],
                |row| row.get(0),
            )
            .optional()?;
        Ok(id.is_some())
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
        let inserted = self
            .0
            .prepare_cached(&format!(
                "INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
                 provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
                 destination_country, sender_identity, sender_type, template_key, use_case, \
                 user_ref, product_action_kind, product_action_ref, product_action_url, \
                 recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
                 status_at_us, is_final, updated_at_us, recipient_valid, final_deadline_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                 ?16, ?17, ?18, ?19, ?20, ?21, 'accepted', ?21, FALSE, ?21, ?22, ?23) \
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING {MESSAGE_COLUMNS}"
            ))?
            .query_row(
                params![
                    m.id,
                    m.idempotency_key,
                    m.request_fingerprint,
                    m.provider,
                    m.provider_message_id,
                    m.recipient.hash,
                    m.recipient.sealed,
                    m.recipient.masked,
                    m.recipient.country,
                    m.sender_identity,
                    m.sender_type,
                    m.template_key,
                    m.use_case,
                    m.user_ref,
                    m.product_action.kind,
                    m.product_action.reference,
                    m.product_action.url,
                    m.recipient_timezone,
                    m.sent_at_us,
                    m.metadata_json,
                    m.created_at_us,
                    m.recipient_valid,
                    m.final_deadline_us,
                ],
                message,
            )
            .optional()
            .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
        let Some(message) = inserted else {
            return Ok(None);
        };
        let waiting = match &message.provider_message_id {
            Some(pmid) => self.take_waiting(&message.provider, pmid).await?,
            None => false,
        };
        Ok(Some((message, waiting)))
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
        let removed = self
            .0
            .prepare_cached(
                "DELETE FROM unmatched_callbacks WHERE provider = ?1 AND provider_message_id = ?2",
            )?
            .execute(params![provider, pmid])?;
        Ok(removed > 0)
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
}

/// Maps a unique-constraint violation to `Conflict` (a trigger's refusal is
/// a constraint error too, but not a conflict: it stays a storage failure).
fn conflict_or(error: rusqlite::Error, what: &str) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Sqlite(error),
    }
}
