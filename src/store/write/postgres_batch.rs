//! The PostgreSQL writers' set-based statements: a batch's callbacks (the
//! event insert that reads the summaries back, and the one statement that
//! writes everything the plan decided) and a registration. Free functions
//! over the transaction's connection, which `PgTx` calls.

use std::collections::HashMap;
use std::sync::LazyLock;

use sqlx::{PgConnection, Row};

use super::Command;

use super::postgres_rollup as rollup;
use super::rollup::RollupDelta;
use super::tx::BatchOutcome;
use crate::store::db::{advisory_key, conflict_or};
use crate::store::summary::{Delivery, SUMMARY_COLUMNS, Summary, SummaryCounted};
use crate::store::{MESSAGE_COLUMNS, MessageRecord, NewMessage, StoreError};

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
    destination_country: Option<String>,
    use_case: Option<String>,
    sender_identity: Option<String>,
    template_key: Option<String>,
    created_at_us: Option<i64>,
    sent_at_us: Option<i64>,
    verification_linked: Option<i32>,
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
            counted: SummaryCounted {
                country: row.destination_country,
                use_case: row.use_case,
                sender: row.sender_identity,
                template: row.template_key,
                created_at_us: row.created_at_us.ok_or_else(missing)?,
                sent_at_us: row.sent_at_us,
                verification_linked: row.verification_linked.ok_or_else(missing)? != 0,
            },
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

/// The batch's last statement: repeat counts, waiting marks, review items,
/// outbox rows, the dashboards' counters (parameters from $29) and the
/// summaries, as data-modifying CTEs of one `UPDATE`.
static WRITE_OUTCOME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} {} {}",
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
               $28::bigint[]) AS v (id, kind, status, error_code, at, created)), ",
        rollup::rollup_ctes(29),
        "UPDATE messages SET current_status = v.status, current_raw_status = v.raw_status, \
             current_error_code = v.error_code, status_at_us = v.status_at_us, \
             is_final = v.is_final, updated_at_us = v.updated_at_us \
             FROM UNNEST($15::text[], $16::text[], $17::text[], $18::text[], $19::bigint[], \
             $20::boolean[], $21::bigint[]) \
             AS v (id, status, raw_status, error_code, status_at_us, is_final, updated_at_us) \
             WHERE messages.id = v.id \
             RETURNING messages.id, messages.verification_linked"
    )
});

/// One statement: the insert, and the summaries of the messages the
/// batch is about (read in the same round trip; the advisory locks were
/// taken by the statement before, so this snapshot is after them).
pub(super) async fn insert_events(
    conn: &mut PgConnection,
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
         NULL::bigint AS updated_at_us, NULL AS destination_country, NULL AS use_case, \
         NULL AS sender_identity, NULL AS template_key, NULL::bigint AS created_at_us, \
         NULL::bigint AS sent_at_us, NULL::int AS verification_linked FROM inserted \
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
    .fetch_all(&mut *conn)
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

/// One statement: repeat counts, waiting marks, review items,
/// summaries and the dashboards' counters together. Returns the touched
/// messages an OTP verification names as of the update (see
/// `WriteTx::write_outcome`).
pub(super) async fn write_outcome(
    conn: &mut PgConnection,
    counted: &mut RollupDelta,
    outcome: &BatchOutcome<'_>,
) -> Result<Vec<String>, StoreError> {
    let (copies, waiting) = (&outcome.copies, &outcome.plan.unmatched);
    let (reviews, touched) = (&outcome.reviews, &outcome.plan.touched);
    let notes = &outcome.notifications;
    if copies.is_empty() && waiting.is_empty() && reviews.is_empty() && touched.is_empty() {
        return Ok(Vec::new());
    }
    let counted = counted.take();
    let query = sqlx::query(&WRITE_OUTCOME)
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
        .bind(column(notes, |n| n.created_at_us));
    let rows = rollup::bind_rollup(query, &counted)
        .fetch_all(&mut *conn)
        .await?;
    let mut linked = Vec::new();
    for row in rows {
        if row.try_get::<bool, _>(1)? {
            linked.push(row.try_get::<String, _>(0)?);
        }
    }
    Ok(linked)
}

/// One round trip: the insert, and the waiting mark it clears, in one
/// statement (data-modifying CTEs).
pub(super) async fn insert_message(
    conn: &mut PgConnection,
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
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
    Ok(row.map(|row| (row.message, row.waiting)))
}

/// One column of a set-based statement, as an array parameter.
pub(super) fn column<'a, T, V>(rows: &'a [T], value: impl Fn(&'a T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// `BEGIN` and the advisory locks of every provider message id the batch
/// touches, in one round trip. The locks serialize a callback and the
/// registration of its message across writers and processes until the
/// transaction ends; taken in sorted order, two batches never wait on each
/// other in a cycle. The keys are integers we computed, so writing them
/// into the text is safe (and lets `BEGIN` travel in the same message).
pub(super) fn begin_and_lock(batch: &[Command]) -> String {
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
