//! The SQLite writer's heavier statements: a batch's callbacks (the event
//! inserts and the summaries they read), an inbound message, a
//! registration. Free functions over the transaction's connection, which
//! `SqliteTx` calls.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::conflict_or;
use super::sqlite_rows::{message, summary};
use crate::store::summary::{Delivery, SUMMARY_COLUMNS, Summary};
use crate::store::{InboundItem, MessageRecord, NewMessage, StoreError};

const MESSAGE_COLUMNS: &str = crate::store::MESSAGE_COLUMNS;

pub(super) fn insert_events(
    conn: &Connection,
    deliveries: &[&Delivery<'_>],
) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError> {
    let mut insert = conn.prepare_cached(
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
    // Repeats too: the dashboards count a repeat under its message.
    let mut keys: Vec<(&str, &str)> = deliveries
        .iter()
        .map(|d| (d.provider, d.report.provider_message_id.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut select = conn.prepare_cached(&format!(
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

pub(super) fn insert_inbound(conn: &Connection, item: &InboundItem) -> Result<bool, StoreError> {
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
    let id: Option<i64> = conn
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

pub(super) fn insert_message(
    conn: &Connection,
    m: &NewMessage,
) -> Result<Option<(MessageRecord, bool)>, StoreError> {
    let inserted = conn
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
        Some(pmid) => take_waiting(conn, &message.provider, pmid)?,
        None => false,
    };
    Ok(Some((message, waiting)))
}

pub(super) fn take_waiting(
    conn: &Connection,
    provider: &str,
    pmid: &str,
) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM unmatched_callbacks WHERE provider = ?1 AND provider_message_id = ?2",
        )?
        .execute(params![provider, pmid])?;
    Ok(removed > 0)
}
