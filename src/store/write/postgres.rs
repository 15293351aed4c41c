//! The PostgreSQL writers: each owns one connection and applies a batch in a
//! few set-based statements with fixed texts (prepared once, arrays bound):
//! begin + advisory locks, insert events, read summaries, write everything
//! the plan decided, commit. Round trips, not rows, are what a batch costs.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};

use super::flows::{self, BatchOutcome, DueMessage, NewReview, Notification, WriteTx, delivery_of};
use super::{BatchWriter, Batches, Command, Done, ItemResult, Job, run_writer};
use crate::store::db::{advisory_key, conflict_or};
use crate::store::review::{REGISTERED_LATER, unmatched_key};
use crate::store::summary::{Delivery, SUMMARY_COLUMNS, Summary};
use crate::store::{
    EVENT_COLUMNS, EventRecord, InboundItem, MESSAGE_COLUMNS, MessageRecord, NewMessage, NewRetry,
    NewVerification, NewVerificationEvent, RetryRecord, StoreError,
};

pub(super) fn run(
    url: &str,
    receivers: Vec<mpsc::Receiver<Job>>,
    batches: Batches,
    timeout: Duration,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Unavailable(format!("writer runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        let options = match connect_options(url, timeout) {
            Ok(options) => options,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut writers = Vec::with_capacity(receivers.len());
        for _ in &receivers {
            let mut writer = PgWriter {
                notify: batches.notify,
                options: options.clone(),
                timeout,
                conn: None,
            };
            // Start-up fails loudly when the database is not there at all.
            if let Err(e) = writer.connection().await {
                let _ = ready.send(Err(e));
                return;
            }
            writers.push(writer);
        }
        let _ = ready.send(Ok(()));
        let local = tokio::task::LocalSet::new();
        for (writer, queue) in writers.into_iter().zip(receivers) {
            local.spawn_local(run_writer(writer, queue, batches.clone()));
        }
        local.await;
    });
}

/// The server cancels a statement that runs past the timeout.
fn connect_options(url: &str, timeout: Duration) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)?
        .options([("statement_timeout", timeout.as_millis().to_string())]))
}

/// One writer and its connection, opened again whenever it broke: a
/// database that restarted must not need a restart of smstrail.
pub(super) struct PgWriter {
    notify: bool,
    options: PgConnectOptions,
    timeout: Duration,
    conn: Option<PgConnection>,
}

impl PgWriter {
    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
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
    let mut tx = conn.begin_with(begin_and_lock(batch)).await?;
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::new();
    for (index, command) in batch.iter().enumerate() {
        if let Command::Ingest(item) = command
            && let Some(delivery) = delivery_of(index, item)
        {
            deliveries.push(delivery);
            results.push(None);
            continue;
        }
        match flows::apply_one(&mut PgTx(&mut tx, notify), command).await {
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
        let outcomes = flows::ingest_deliveries(&mut PgTx(&mut tx, notify), &deliveries).await?;
        for (index, outcome) in outcomes {
            results[index] = Some(Ok(Done::Ingested(outcome)));
        }
    }
    tx.commit().await?;
    results
        .into_iter()
        .map(|result| {
            result.ok_or_else(|| StoreError::Corrupt("a command got no answer".to_owned()))
        })
        .collect()
}

/// `BEGIN` and the advisory locks of every provider message id the batch
/// touches, in one round trip. The locks serialize a callback and the
/// registration of its message across writers and processes until the
/// transaction ends; taken in sorted order, two batches never wait on each
/// other in a cycle. The keys are integers we computed, so writing them
/// into the text is safe (and lets `BEGIN` travel in the same message).
fn begin_and_lock(batch: &[Command]) -> String {
    let mut keys: Vec<i64> = batch
        .iter()
        .flat_map(Command::locked_provider_message_ids)
        .map(|pmid| advisory_key("provider_message_id", pmid))
        .collect();
    if keys.is_empty() {
        return "BEGIN".to_owned();
    }
    keys.sort_unstable();
    keys.dedup();
    let list: Vec<String> = keys.iter().map(i64::to_string).collect();
    format!(
        "BEGIN; SELECT pg_advisory_xact_lock(k) FROM unnest('{{{}}}'::bigint[]) AS k",
        list.join(",")
    )
}

/// A row of the insert-and-read statement: an inserted event (dedup key and
/// id) or the summary of a message (the other columns).
#[derive(sqlx::FromRow)]
struct EventOrSummary {
    dedup_key: Option<String>,
    event_id: Option<i64>,
    id: Option<String>,
    provider: Option<String>,
    provider_message_id: Option<String>,
    current_status: Option<String>,
    current_raw_status: Option<String>,
    current_error_code: Option<String>,
    status_at_us: Option<i64>,
    is_final: Option<i32>,
    updated_at_us: Option<i64>,
}

impl TryFrom<EventOrSummary> for Summary {
    type Error = StoreError;

    fn try_from(row: EventOrSummary) -> Result<Self, StoreError> {
        let missing = || StoreError::Corrupt("a summary row without its columns".to_owned());
        Ok(Self {
            id: row.id.ok_or_else(missing)?,
            provider: row.provider.ok_or_else(missing)?,
            provider_message_id: row.provider_message_id,
            current_status: row
                .current_status
                .ok_or_else(missing)?
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("stored status: {e}")))?,
            current_raw_status: row.current_raw_status,
            current_error_code: row.current_error_code,
            status_at_us: row.status_at_us.ok_or_else(missing)?,
            is_final: row.is_final.ok_or_else(missing)? != 0,
            updated_at_us: row.updated_at_us.ok_or_else(missing)?,
        })
    }
}

/// A freshly inserted message and whether callbacks were waiting for it.
#[derive(sqlx::FromRow)]
struct Inserted {
    #[sqlx(flatten)]
    message: MessageRecord,
    waiting: bool,
}

/// The primitive statements on a writer's open transaction.
struct PgTx<'t>(&'t mut PgConnection, bool);

impl WriteTx for PgTx<'_> {
    /// One statement: the insert, and the summaries of the messages the
    /// batch is about (read in the same round trip; the advisory locks were
    /// taken by the statement before, so this snapshot is after them).
    async fn insert_events(
        &mut self,
        deliveries: &[&Delivery<'_>],
    ) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError> {
        let rows: Vec<EventOrSummary> = sqlx::query_as(&format!(
            "WITH inserted AS ( \
               INSERT INTO message_events (dedup_key, provider, provider_message_id, \
               provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
               received_at_us, content_type, raw_payload_sealed) \
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
               $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], \
               $11::bytea[]) \
               ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id) \
             SELECT dedup_key, id AS event_id, NULL AS id, NULL AS provider, \
             NULL AS provider_message_id, NULL AS current_status, NULL AS current_raw_status, \
             NULL AS current_error_code, NULL::bigint AS status_at_us, NULL::int AS is_final, \
             NULL::bigint AS updated_at_us FROM inserted \
             UNION ALL \
             SELECT NULL, NULL, {SUMMARY_COLUMNS} FROM messages \
             WHERE (provider, provider_message_id) IN \
             (SELECT * FROM UNNEST($2::text[], $3::text[]))"
        ))
        .bind(column(deliveries, |d| d.dedup_key))
        .bind(column(deliveries, |d| d.provider))
        .bind(column(deliveries, |d| {
            d.report.provider_message_id.as_str()
        }))
        .bind(column(deliveries, |d| {
            d.report.provider_event_id.as_deref()
        }))
        .bind(column(deliveries, |d| d.report.raw_status.as_str()))
        .bind(column(deliveries, |d| d.status_text()))
        .bind(column(deliveries, |d| d.report.error_code.as_deref()))
        .bind(column(deliveries, |d| d.provider_occurred_at_us()))
        .bind(column(deliveries, |d| d.received_at_us))
        .bind(column(deliveries, |d| d.payload.content_type.as_str()))
        .bind(column(deliveries, |d| d.payload.sealed.as_slice()))
        .fetch_all(&mut *self.0)
        .await?;
        let mut inserted = HashMap::new();
        let mut summaries = Vec::new();
        for row in rows {
            match (row.dedup_key.clone(), row.event_id) {
                (Some(key), Some(id)) => {
                    inserted.insert(key, id);
                }
                _ => summaries.push(Summary::try_from(row)?),
            }
        }
        Ok((inserted, summaries))
    }

    /// One statement: repeat counts, waiting marks, review items and
    /// summaries together.
    async fn write_outcome(&mut self, outcome: &BatchOutcome<'_>) -> Result<(), StoreError> {
        let (copies, waiting) = (&outcome.copies, &outcome.plan.unmatched);
        let (reviews, touched) = (&outcome.reviews, &outcome.plan.touched);
        let notes = &outcome.notifications;
        if copies.is_empty() && waiting.is_empty() && reviews.is_empty() && touched.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "WITH repeats AS ( \
               INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
               SELECT e.id, v.count, v.last \
               FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS v (dedup_key, count, last) \
               JOIN message_events e ON e.dedup_key = v.dedup_key \
               ON CONFLICT (event_id) DO UPDATE \
               SET count = event_duplicates.count + excluded.count, \
               last_received_at_us = GREATEST(event_duplicates.last_received_at_us, \
               excluded.last_received_at_us)), \
             waiting AS ( \
               INSERT INTO unmatched_callbacks (provider, provider_message_id, \
               first_received_at_us) \
               SELECT * FROM UNNEST($4::text[], $5::text[], $6::bigint[]) \
               ON CONFLICT DO NOTHING), \
             review AS ( \
               INSERT INTO review_items (provider, route, kind, reason, event_id, \
               content_type, raw_payload_sealed, received_at_us, raw_status) \
               SELECT * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::text[], \
               $11::bigint[], $12::text[], $13::bytea[], $14::bigint[], $22::text[])), \
             notify AS ( \
               INSERT INTO notify_outbox (message_id, event_type, status, error_code, \
               occurred_at_us, created_at_us, next_attempt_at_us) \
               SELECT v.id, v.kind, v.status, v.error_code, v.at, v.created, v.created \
               FROM UNNEST($23::text[], $24::text[], $25::text[], $26::text[], $27::bigint[], \
               $28::bigint[]) AS v (id, kind, status, error_code, at, created)) \
             UPDATE messages SET current_status = v.status, current_raw_status = v.raw_status, \
             current_error_code = v.error_code, status_at_us = v.status_at_us, \
             is_final = v.is_final, updated_at_us = v.updated_at_us \
             FROM UNNEST($15::text[], $16::text[], $17::text[], $18::text[], $19::bigint[], \
             $20::boolean[], $21::bigint[]) \
             AS v (id, status, raw_status, error_code, status_at_us, is_final, updated_at_us) \
             WHERE messages.id = v.id",
        )
        .bind(column(copies, |c| c.0))
        .bind(column(copies, |c| c.1))
        .bind(column(copies, |c| c.2))
        .bind(column(waiting, |d| d.provider))
        .bind(column(waiting, |d| d.report.provider_message_id.as_str()))
        .bind(column(waiting, |d| d.received_at_us))
        .bind(column(reviews, |r| r.provider))
        .bind(column(reviews, |r| r.route))
        .bind(column(reviews, |r| r.kind))
        .bind(column(reviews, |r| r.reason.as_str()))
        .bind(column(reviews, |r| r.event_id))
        .bind(column(reviews, |r| r.payload.content_type.as_str()))
        .bind(column(reviews, |r| r.payload.sealed.as_slice()))
        .bind(column(reviews, |r| r.received_at_us))
        .bind(column(touched, |s| s.id.as_str()))
        .bind(column(touched, |s| s.current_status.as_str()))
        .bind(column(touched, |s| s.current_raw_status.as_deref()))
        .bind(column(touched, |s| s.current_error_code.as_deref()))
        .bind(column(touched, |s| s.status_at_us))
        .bind(column(touched, |s| s.is_final))
        .bind(column(touched, |s| s.updated_at_us))
        .bind(column(reviews, |r| r.raw_status))
        .bind(column(notes, |n| n.message_id.as_str()))
        .bind(column(notes, |n| n.event_type))
        .bind(column(notes, |n| n.status))
        .bind(column(notes, |n| n.error_code.as_deref()))
        .bind(column(notes, |n| n.occurred_at_us))
        .bind(column(notes, |n| n.created_at_us))
        .execute(&mut *self.0)
        .await?;
        Ok(())
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

    /// One round trip: the insert, and the waiting mark it clears, in one
    /// statement (data-modifying CTEs).
    async fn insert_message(
        &mut self,
        m: &NewMessage,
    ) -> Result<Option<(MessageRecord, bool)>, StoreError> {
        let row: Option<Inserted> = sqlx::query_as(&format!(
            "WITH inserted AS ( \
               INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
               provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
               destination_country, sender_identity, sender_type, template_key, use_case, \
               user_ref, product_action_kind, product_action_ref, product_action_url, \
               recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
               status_at_us, is_final, updated_at_us, recipient_valid, final_deadline_us) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
               $17, $18, $19, $20, $21, 'accepted', $21, FALSE, $21, $22, $23) \
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING {MESSAGE_COLUMNS}), \
             waiting AS ( \
               DELETE FROM unmatched_callbacks u USING inserted i \
               WHERE u.provider = i.provider AND u.provider_message_id = i.provider_message_id \
               RETURNING 1) \
             SELECT inserted.*, EXISTS (SELECT 1 FROM waiting) AS waiting FROM inserted"
        ))
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
        .bind(m.recipient_valid)
        .bind(m.final_deadline_us)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
        Ok(row.map(|row| (row.message, row.waiting)))
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
}

/// One column of a set-based statement, as an array parameter.
fn column<'a, T, V>(rows: &'a [T], value: impl Fn(&'a T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}
