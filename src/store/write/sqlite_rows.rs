//! Rows read by the SQLite writer, mapped by column name: `rusqlite` has no
//! `FromRow`, and the writer reads the same records the `Any` store does.

use rusqlite::Row;

use crate::store::summary::{Summary, SummaryCounted};
use crate::store::{EventRecord, MessageRecord, RetryRecord};

pub(super) fn retry(row: &Row<'_>) -> rusqlite::Result<RetryRecord> {
    Ok(RetryRecord {
        id: row.get(0)?,
        message_id: row.get(1)?,
        kind: parsed(row, "kind")?,
        new_message_id: row.get(3)?,
        reason: row.get(4)?,
        created_at_us: row.get(5)?,
    })
}

pub(super) fn summary(row: &Row<'_>) -> rusqlite::Result<Summary> {
    Ok(Summary {
        id: row.get("id")?,
        provider: row.get("provider")?,
        provider_message_id: row.get("provider_message_id")?,
        current_status: parsed(row, "current_status")?,
        current_raw_status: row.get("current_raw_status")?,
        current_error_code: row.get("current_error_code")?,
        status_at_us: row.get("status_at_us")?,
        is_final: row.get("is_final")?,
        updated_at_us: row.get("updated_at_us")?,
        counted: SummaryCounted {
            country: row.get("destination_country")?,
            use_case: row.get("use_case")?,
            sender: row.get("sender_identity")?,
            template: row.get("template_key")?,
            created_at_us: row.get("created_at_us")?,
            sent_at_us: row.get("sent_at_us")?,
            verification_linked: row.get("verification_linked")?,
        },
    })
}

pub(super) fn event(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: row.get("id")?,
        provider: row.get("provider")?,
        provider_message_id: row.get("provider_message_id")?,
        provider_event_id: row.get("provider_event_id")?,
        raw_status: row.get("raw_status")?,
        status: row
            .get::<_, Option<String>>("status")?
            .map(parse_text)
            .transpose()?,
        error_code: row.get("error_code")?,
        provider_occurred_at_us: row.get("provider_occurred_at_us")?,
        received_at_us: row.get("received_at_us")?,
        content_type: row.get("content_type")?,
        raw_payload_sealed: row.get("raw_payload_sealed")?,
    })
}

pub(super) fn message(row: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    Ok(MessageRecord {
        id: row.get("id")?,
        idempotency_key: row.get("idempotency_key")?,
        request_fingerprint: row.get("request_fingerprint")?,
        provider: row.get("provider")?,
        provider_message_id: row.get("provider_message_id")?,
        recipient_hash: row.get("recipient_hash")?,
        recipient_sealed: row.get("recipient_sealed")?,
        recipient_masked: row.get("recipient_masked")?,
        destination_country: row.get("destination_country")?,
        sender_identity: row.get("sender_identity")?,
        sender_type: row.get("sender_type")?,
        template_key: row.get("template_key")?,
        use_case: row.get("use_case")?,
        user_ref: row.get("user_ref")?,
        product_action_kind: row.get("product_action_kind")?,
        product_action_ref: row.get("product_action_ref")?,
        product_action_url: row.get("product_action_url")?,
        recipient_timezone: row.get("recipient_timezone")?,
        sent_at_us: row.get("sent_at_us")?,
        metadata_json: row.get("metadata_json")?,
        created_at_us: row.get("created_at_us")?,
        current_status: parsed(row, "current_status")?,
        current_raw_status: row.get("current_raw_status")?,
        current_error_code: row.get("current_error_code")?,
        status_at_us: row.get("status_at_us")?,
        is_final: row.get("is_final")?,
        updated_at_us: row.get("updated_at_us")?,
        recipient_valid: row.get("recipient_valid")?,
    })
}

/// A text column holding one of our enums; unknown text is an error, never a guess.
fn parsed<T>(row: &Row<'_>, column: &str) -> rusqlite::Result<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    parse_text(row.get::<_, String>(column)?)
}

fn parse_text<T>(text: String) -> rusqlite::Result<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    T::try_from(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}
