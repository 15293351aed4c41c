//! Retention (`SMSTRAIL_RETAIN_RAW_PAYLOADS`, `SMSTRAIL_RETAIN_NUMBERS`):
//! ciphertexts older than their setting are replaced by an empty blob and
//! the time of their removal is kept beside them. Hashes, masked forms,
//! summaries, events and aggregates stay; the audit log is never touched.
//!
//! Each table is walked a chunk at a time through a partial index of what
//! is still kept. Every update is idempotent (it only touches rows not yet
//! removed), so several instances may run the pass at once.

use super::{Store, StoreError};

/// Rows changed per statement: short write transactions that leave room
/// for the ingest writers between chunks.
const CHUNK: i64 = 500;

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Raw payloads of delivery events.
    pub event_payloads: u64,
    /// Raw payloads (and bodies) of inbound messages.
    pub inbound_payloads: u64,
    /// Raw payloads of review items.
    pub review_payloads: u64,
    /// Recipient numbers of outbound messages.
    pub recipients: u64,
    /// Sender numbers of inbound messages.
    pub senders: u64,
}

impl RetentionReport {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One kind of ciphertext in one table.
struct Target {
    table: &'static str,
    /// Text columns set to the empty blob.
    sealed: &'static [&'static str],
    removed_at: &'static str,
    /// The age column the partial index orders by.
    age: &'static str,
}

const EVENT_PAYLOADS: Target = Target {
    table: "message_events",
    sealed: &["raw_payload_sealed"],
    removed_at: "raw_payload_removed_at_us",
    age: "received_at_us",
};
/// The body of an inbound message is the sender's own words: it goes with
/// the raw payload that carries them too. The keyword stays.
const INBOUND_PAYLOADS: Target = Target {
    table: "inbound_messages",
    sealed: &["raw_payload_sealed", "body_sealed"],
    removed_at: "raw_payload_removed_at_us",
    age: "received_at_us",
};
const REVIEW_PAYLOADS: Target = Target {
    table: "review_items",
    sealed: &["raw_payload_sealed"],
    removed_at: "raw_payload_removed_at_us",
    age: "received_at_us",
};
const RECIPIENTS: Target = Target {
    table: "messages",
    sealed: &["recipient_sealed"],
    removed_at: "recipient_removed_at_us",
    age: "created_at_us",
};
const SENDERS: Target = Target {
    table: "inbound_messages",
    sealed: &["sender_sealed"],
    removed_at: "sender_removed_at_us",
    age: "received_at_us",
};

impl Store {
    /// Removes raw payloads received before `payloads_before_us` and numbers
    /// stored before `numbers_before_us` (`None`: keep those forever).
    pub async fn apply_retention(
        &self,
        payloads_before_us: Option<i64>,
        numbers_before_us: Option<i64>,
        now_us: i64,
    ) -> Result<RetentionReport, StoreError> {
        let mut report = RetentionReport::default();
        if let Some(cutoff) = payloads_before_us {
            report.event_payloads = self.remove(&EVENT_PAYLOADS, cutoff, now_us).await?;
            report.inbound_payloads = self.remove(&INBOUND_PAYLOADS, cutoff, now_us).await?;
            report.review_payloads = self.remove(&REVIEW_PAYLOADS, cutoff, now_us).await?;
        }
        if let Some(cutoff) = numbers_before_us {
            report.recipients = self.remove(&RECIPIENTS, cutoff, now_us).await?;
            report.senders = self.remove(&SENDERS, cutoff, now_us).await?;
        }
        Ok(report)
    }

    /// Chunk by chunk until no row older than `cutoff_us` keeps its ciphertext.
    async fn remove(&self, t: &Target, cutoff_us: i64, now_us: i64) -> Result<u64, StoreError> {
        let set: String = t
            .sealed
            .iter()
            .map(|column| format!("{column} = $1, "))
            .collect();
        let (table, removed_at, age) = (t.table, t.removed_at, t.age);
        let sql = format!(
            "UPDATE {table} SET {set}{removed_at} = $2 \
             WHERE {removed_at} IS NULL AND id IN ( \
               SELECT id FROM {table} WHERE {removed_at} IS NULL AND {age} < $3 \
               ORDER BY {age} LIMIT $4)"
        );
        let mut removed = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let changed = sqlx::query(&sql)
                .bind(Vec::<u8>::new())
                .bind(now_us)
                .bind(cutoff_us)
                .bind(CHUNK)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            removed += changed;
            if changed < CHUNK as u64 {
                return Ok(removed);
            }
        }
    }
}
