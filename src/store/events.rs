//! Delivery callbacks: the append-only timeline of each provider message,
//! what the ingest pipeline hands the store, and how often a callback was
//! repeated.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::db::OptionalText;
use super::query::Query;

use crate::domain::limbo::{Seen, Timeout, find_timeout};
use crate::domain::{DeliveryReport, DeliveryStatus, InboundPart, InboundReport};

use super::{MessageRecord, ProtectedNumber, Store, StoreError};

/// smstrail's own timeout in a message's timeline, if it timed out; its
/// window started when the message was sent, else registered.
pub fn timeout_in(m: &MessageRecord, events: &[EventRecord]) -> Option<Timeout> {
    let seen: Vec<Seen<'_>> = events
        .iter()
        .map(|e| Seen {
            id: e.id,
            raw_status: &e.raw_status,
            provider_at_us: e.provider_occurred_at_us,
            received_at_us: e.received_at_us,
            is_final: e.status.is_some_and(DeliveryStatus::is_final),
        })
        .collect();
    find_timeout(m.sent_at_us.unwrap_or(m.created_at_us), &seen)
}

pub(super) const EVENT_COLUMNS: &str = "id, provider, provider_message_id, provider_event_id, \
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type, \
    raw_payload_sealed";

/// The raw request kept as received, encrypted at rest because it carries
/// phone numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPayload {
    pub content_type: String,
    pub sealed: Vec<u8>,
}

/// An inbound message (a reply, an opt-out) as it is stored.
#[derive(Debug, Clone)]
pub struct InboundItem {
    pub provider: &'static str,
    pub report: InboundReport,
    pub sender: ProtectedNumber,
    pub body_sealed: Vec<u8>,
    pub keyword: Option<&'static str>,
    /// Set when this is one part of a long message.
    pub part: Option<InboundPart>,
    pub dedup_key: String,
    pub payload: SealedPayload,
    pub received_at_us: i64,
}

#[derive(Debug, Clone)]
pub enum IngestItem {
    Delivery {
        provider: &'static str,
        report: DeliveryReport,
        dedup_key: String,
        payload: SealedPayload,
        received_at_us: i64,
    },
    Inbound(InboundItem),
    /// An authentic callback we could not read.
    Unreadable {
        provider: &'static str,
        route: &'static str,
        reason: String,
        /// A keyed digest of the raw body: a replayed copy is a duplicate,
        /// not another review item.
        dedup_key: String,
        payload: SealedPayload,
        received_at_us: i64,
    },
}

impl IngestItem {
    /// The key that decides which writer handles the item: everything about
    /// one provider message goes through the same writer, in arrival order.
    pub fn shard_key(&self) -> (&str, &str) {
        match self {
            Self::Delivery {
                provider, report, ..
            } => (provider, &report.provider_message_id),
            Self::Inbound(item) => (item.provider, &item.report.provider_message_id),
            Self::Unreadable { provider, .. } => (provider, ""),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Appended to a registered message's timeline; `changed_summary` tells
    /// whether the message's current status moved.
    Stored { changed_summary: bool },
    /// Stored and waiting for its message to be registered.
    Waiting,
    /// Stored and put in the review queue (unknown status or unreadable).
    Review,
    /// Seen before: nothing changed.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRecord {
    pub id: i64,
    pub provider: String,
    pub provider_message_id: String,
    pub provider_event_id: Option<String>,
    pub raw_status: String,
    /// `None` when the raw status is not in the provider's mapping.
    #[sqlx(try_from = "OptionalText<DeliveryStatus>")]
    pub status: Option<DeliveryStatus>,
    pub error_code: Option<String>,
    pub provider_occurred_at_us: Option<i64>,
    pub received_at_us: i64,
    pub content_type: String,
    pub raw_payload_sealed: Vec<u8>,
}

impl EventRecord {
    /// Provider time where given, else when we received it.
    pub fn effective_at_us(&self) -> i64 {
        self.provider_occurred_at_us.unwrap_or(self.received_at_us)
    }
}

impl Store {
    /// The delivery timeline of a message, in provider time order.
    pub async fn events(&self, message: &MessageRecord) -> Result<Vec<EventRecord>, StoreError> {
        let Some(pmid) = &message.provider_message_id else {
            return Ok(Vec::new());
        };
        let mut conn = self.pool().acquire().await?;
        let mut events = timeline(&mut conn, &message.provider, pmid).await?;
        events.sort_by_key(|e| (e.effective_at_us(), e.id));
        Ok(events)
    }

    /// How many extra copies of each of these events arrived, by event id;
    /// events never repeated are absent.
    pub async fn duplicate_counts(
        &self,
        event_ids: &[i64],
    ) -> Result<HashMap<i64, i64>, StoreError> {
        if event_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query =
            Query::new("SELECT event_id, count FROM event_duplicates WHERE event_id IN (");
        query.bind_list(event_ids.iter().copied()).push(")");
        let (sql, args) = query.finish()?;
        let rows: Vec<(i64, i64)> = sqlx::query_as_with(&sql, args)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().collect())
    }
}

/// The events of one provider message in stored (arrival) order.
pub(super) async fn timeline(
    conn: &mut AnyConnection,
    provider: &str,
    provider_message_id: &str,
) -> Result<Vec<EventRecord>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM message_events \
         WHERE provider = $1 AND provider_message_id = $2 ORDER BY id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(provider)
        .bind(provider_message_id)
        .fetch_all(&mut *conn)
        .await?)
}
