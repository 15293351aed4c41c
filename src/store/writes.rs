//! The hot write path: every write a provider callback or the send API
//! makes. Kept together in one file because it is tuned as a unit (one
//! transaction per batch, a handful of set-based statements, locks per
//! provider message on PostgreSQL).

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::AnyConnection;

use super::query::Query;

use super::db::conflict_or;
use super::events::timeline;
use super::messages::{MESSAGE_COLUMNS, find_message, load_message};
use super::retries::RETRY_COLUMNS;
use super::summary::{Delivery, SUMMARY_COLUMNS, Summary, plan};
use super::{
    IngestItem, IngestOutcome, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, Registration, RetryRecord, ReviewKind, SealedPayload, Store, StoreError,
};

impl Store {
    /// Applies a batch of callbacks in ONE transaction: either every outcome
    /// is committed or the call fails and nothing of it is.
    pub async fn ingest(&self, batch: &[IngestItem]) -> Result<Vec<IngestOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let outcomes = self.ingest_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Registers an outbound message under its idempotency key, attaching any
    /// callbacks that arrived for its provider message id before it.
    pub async fn register_message(&self, m: &NewMessage) -> Result<Registration, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(pmid) = &m.provider_message_id {
            self.lock_provider_messages(&mut tx, &[(m.provider.as_str(), pmid.as_str())])
                .await?;
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
            Some(id) => Registration::Created(attach_waiting(&mut tx, &id).await?),
            None => {
                let sql =
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE idempotency_key = $1");
                let message: MessageRecord = sqlx::query_as(&sql)
                    .bind(&m.idempotency_key)
                    .fetch_one(&mut *tx)
                    .await?;
                let same_request = message.request_fingerprint == m.request_fingerprint;
                Registration::Existing {
                    message,
                    same_request,
                }
            }
        };
        tx.commit().await?;
        Ok(registration)
    }

    /// Sets the provider message id of a message that has none (or the same
    /// one), attaching waiting callbacks. `Conflict` if it already has another
    /// or another message has this one.
    pub async fn set_provider_message_id(
        &self,
        id: &str,
        provider_message_id: &str,
    ) -> Result<MessageRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let message = find_message(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        match message.provider_message_id.as_deref() {
            Some(existing) if existing == provider_message_id => {
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
        self.lock_provider_messages(&mut tx, &[(message.provider.as_str(), provider_message_id)])
            .await?;
        sqlx::query("UPDATE messages SET provider_message_id = $2 WHERE id = $1")
            .bind(id)
            .bind(provider_message_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, "provider_message_id is already registered"))?;
        let message = attach_waiting(&mut tx, id).await?;
        tx.commit().await?;
        Ok(message)
    }

    /// `NotFound` when the message does not exist.
    pub async fn record_retry(&self, r: &NewRetry) -> Result<RetryRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO message_retries (message_id, kind, new_message_id, reason, created_at_us) \
             SELECT id, $2, $3, $4, $5 FROM messages WHERE id = $1 RETURNING {RETRY_COLUMNS}"
        );
        let record: Option<RetryRecord> = sqlx::query_as(&sql)
            .bind(&r.message_id)
            .bind(r.kind.as_str())
            .bind(&r.new_message_id)
            .bind(&r.reason)
            .bind(r.created_at_us)
            .fetch_optional(&mut *tx)
            .await?;
        let record = record.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(record)
    }

    /// Creates a verification with its opening event, in one transaction.
    pub async fn create_verification(&self, v: &NewVerification) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO verifications (id, user_ref, created_at_us) VALUES ($1, $2, $3)")
            .bind(&v.id)
            .bind(&v.user_ref)
            .bind(v.created_at_us)
            .execute(&mut *tx)
            .await?;
        insert_verification_event(&mut tx, &v.first_event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends an event; `NotFound` when the verification does not exist.
    pub async fn add_verification_event(&self, e: &NewVerificationEvent) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_verification_event(&mut tx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ingest_batch(
        &self,
        conn: &mut AnyConnection,
        batch: &[IngestItem],
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let mut outcomes = vec![IngestOutcome::Duplicate; batch.len()];
        let mut deliveries = Vec::new();
        for (index, item) in batch.iter().enumerate() {
            match item {
                IngestItem::Delivery {
                    provider,
                    report,
                    dedup_key,
                    payload,
                    received_at_us,
                } => {
                    deliveries.push(Delivery {
                        index,
                        provider,
                        report,
                        dedup_key,
                        payload,
                        received_at_us: *received_at_us,
                    });
                }
                IngestItem::Inbound { .. } => {
                    outcomes[index] = ingest_inbound(conn, item).await?;
                }
                IngestItem::Unreadable {
                    provider,
                    route,
                    reason,
                    payload,
                    received_at_us,
                } => {
                    let review = Review {
                        provider,
                        route,
                        kind: ReviewKind::Unreadable,
                        reason,
                        event_id: None,
                        payload,
                        received_at_us: *received_at_us,
                    };
                    insert_review(conn, &review).await?;
                    outcomes[index] = IngestOutcome::Review;
                }
            }
        }
        if !deliveries.is_empty() {
            for (index, outcome) in self.ingest_deliveries(conn, &deliveries).await? {
                outcomes[index] = outcome;
            }
        }
        Ok(outcomes)
    }

    async fn ingest_deliveries(
        &self,
        conn: &mut AnyConnection,
        deliveries: &[Delivery<'_>],
    ) -> Result<Vec<(usize, IngestOutcome)>, StoreError> {
        // A callback repeated inside one batch: only its first copy is offered.
        let mut seen = HashSet::new();
        let firsts: Vec<&Delivery<'_>> = deliveries
            .iter()
            .filter(|d| seen.insert(d.dedup_key))
            .collect();

        let mut keys: Vec<(&str, &str)> = firsts
            .iter()
            .map(|d| (d.provider, d.report.provider_message_id.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.lock_provider_messages(conn, &keys).await?;

        let mut insert = Query::new(
            "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
             provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
             received_at_us, content_type, raw_payload_sealed) ",
        );
        insert.values(&firsts, |row, d| {
            row.bind(d.dedup_key)
                .bind(d.provider)
                .bind(d.report.provider_message_id.as_str())
                .bind(d.report.provider_event_id.as_deref())
                .bind(d.report.raw_status.as_str())
                .bind(d.status_text())
                .bind(d.report.error_code.as_deref())
                .bind(d.provider_occurred_at_us())
                .bind(d.received_at_us)
                .bind(d.payload.content_type.as_str())
                .bind(d.payload.sealed.as_slice());
        });
        insert.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id");
        let (sql, args) = insert.finish()?;
        let inserted: HashMap<String, i64> = sqlx::query_as_with::<_, (String, i64), _>(&sql, args)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        count_duplicates(conn, deliveries, &inserted).await?;
        if inserted.is_empty() {
            return Ok(deliveries
                .iter()
                .map(|d| (d.index, IngestOutcome::Duplicate))
                .collect());
        }

        let mut select = Query::new(format!(
            "SELECT {SUMMARY_COLUMNS} FROM messages WHERE provider_message_id IN ("
        ));
        select
            .bind_list(keys.iter().map(|(_, pmid)| *pmid))
            .push(")");
        let (sql, args) = select.finish()?;
        let summaries: Vec<Summary> = sqlx::query_as_with(&sql, args)
            .fetch_all(&mut *conn)
            .await?;

        let plan = plan(deliveries, inserted, summaries)?;
        insert_unmatched(conn, &plan.unmatched).await?;
        for (event_id, d) in &plan.reviews {
            let reason = format!("unknown status {:?}", d.report.raw_status);
            let review = Review {
                provider: d.provider,
                route: "status",
                kind: ReviewKind::UnknownStatus,
                reason: &reason,
                event_id: Some(*event_id),
                payload: d.payload,
                received_at_us: d.received_at_us,
            };
            insert_review(conn, &review).await?;
        }
        write_summaries(conn, &plan.touched).await?;
        Ok(plan.outcomes)
    }
}

/// Counts the copies of already stored callbacks (providers retry), so the
/// timeline can say how often each event was delivered.
async fn count_duplicates(
    conn: &mut AnyConnection,
    deliveries: &[Delivery<'_>],
    inserted: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    let mut copies: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut first_seen = HashSet::new();
    for d in deliveries {
        let stored_now = inserted.contains_key(d.dedup_key) && first_seen.insert(d.dedup_key);
        if !stored_now {
            let entry = copies.entry(d.dedup_key).or_insert((0, d.received_at_us));
            entry.0 += 1;
            entry.1 = entry.1.max(d.received_at_us);
        }
    }
    if copies.is_empty() {
        return Ok(());
    }
    let mut upsert = Query::new(
        "INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
         SELECT e.id, v.column2, v.column3 FROM (",
    );
    upsert.values(&copies, |row, (key, (count, last))| {
        row.bind(*key).bind(*count).bind(*last);
    });
    // `WHERE TRUE` keeps SQLite's parser from reading ON CONFLICT as a join clause.
    upsert.push(
        ") AS v JOIN message_events e ON e.dedup_key = v.column1 WHERE TRUE \
         ON CONFLICT (event_id) DO UPDATE SET count = event_duplicates.count + excluded.count, \
         last_received_at_us = CASE WHEN excluded.last_received_at_us > \
         event_duplicates.last_received_at_us THEN excluded.last_received_at_us \
         ELSE event_duplicates.last_received_at_us END",
    );
    let (sql, args) = upsert.finish()?;
    sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    Ok(())
}

async fn insert_unmatched(
    conn: &mut AnyConnection,
    unmatched: &[Delivery<'_>],
) -> Result<(), StoreError> {
    if unmatched.is_empty() {
        return Ok(());
    }
    let mut insert = Query::new(
        "INSERT INTO unmatched_callbacks (provider, provider_message_id, first_received_at_us) ",
    );
    insert.values(unmatched, |row, d| {
        row.bind(d.provider)
            .bind(d.report.provider_message_id.as_str())
            .bind(d.received_at_us);
    });
    insert.push(" ON CONFLICT DO NOTHING");
    let (sql, args) = insert.finish()?;
    sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    Ok(())
}

/// Writes summaries back in one statement; `UPDATE … FROM (VALUES …)` and the
/// `columnN` names work on both backends.
async fn write_summaries(
    conn: &mut AnyConnection,
    summaries: &[Summary],
) -> Result<(), StoreError> {
    if summaries.is_empty() {
        return Ok(());
    }
    let mut update = Query::new(
        "UPDATE messages SET current_status = v.column2, current_raw_status = v.column3, \
         current_error_code = v.column4, status_at_us = v.column5, is_final = v.column6, \
         updated_at_us = v.column7 FROM (",
    );
    update.values(summaries, |row, s| {
        row.bind(s.id.as_str())
            .bind(s.current_status.as_str())
            .bind(s.current_raw_status.as_deref())
            .bind(s.current_error_code.as_deref())
            .bind(s.status_at_us)
            .bind(s.is_final)
            .bind(s.updated_at_us);
    });
    update.push(") AS v WHERE messages.id = v.column1");
    let (sql, args) = update.finish()?;
    sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    Ok(())
}

async fn ingest_inbound(
    conn: &mut AnyConnection,
    item: &IngestItem,
) -> Result<IngestOutcome, StoreError> {
    let IngestItem::Inbound {
        provider,
        report,
        sender,
        body_sealed,
        keyword,
        dedup_key,
        payload,
        received_at_us,
    } = item
    else {
        return Err(StoreError::Corrupt("not an inbound item".to_owned()));
    };
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
        Some(_) => IngestOutcome::Stored {
            changed_summary: false,
        },
        None => IngestOutcome::Duplicate,
    })
}

/// A callback put in the review queue.
struct Review<'a> {
    provider: &'a str,
    route: &'a str,
    kind: ReviewKind,
    reason: &'a str,
    event_id: Option<i64>,
    payload: &'a SealedPayload,
    received_at_us: i64,
}

async fn insert_review(conn: &mut AnyConnection, r: &Review<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
         raw_payload_sealed, received_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.provider)
    .bind(r.route)
    .bind(r.kind.as_str())
    .bind(r.reason)
    .bind(r.event_id)
    .bind(&r.payload.content_type)
    .bind(&r.payload.sealed)
    .bind(r.received_at_us)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Folds the callbacks that arrived before the message's provider id was
/// known into its summary, and clears them from the waiting list.
async fn attach_waiting(
    conn: &mut AnyConnection,
    message_id: &str,
) -> Result<MessageRecord, StoreError> {
    let message = load_message(conn, message_id).await?;
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
    let events = timeline(conn, &message.provider, &pmid).await?;
    let mut summary = Summary::from(&message);
    summary.apply_all(&events)?;
    write_summaries(conn, std::slice::from_ref(&summary)).await?;
    load_message(conn, message_id).await
}

async fn insert_verification_event(
    conn: &mut AnyConnection,
    e: &NewVerificationEvent,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO verification_events (verification_id, kind, message_id, occurred_at_us, \
         recorded_at_us) SELECT id, $2, $3, $4, $5 FROM verifications WHERE id = $1",
    )
    .bind(&e.verification_id)
    .bind(e.kind.as_str())
    .bind(&e.message_id)
    .bind(e.occurred_at_us)
    .bind(e.recorded_at_us)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
