//! The review queue: authentic callbacks we could not read or whose status
//! the provider mapping does not know, kept for a human to look at.

use crate::domain::UnknownValue;

use super::{Store, StoreError};

/// Why a callback is in the review queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewKind {
    /// Authentic, but its body could not be read.
    Unreadable,
    /// Stored in the timeline, but the provider mapping does not know its status.
    UnknownStatus,
}

impl ReviewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreadable => "unreadable",
            Self::UnknownStatus => "unknown_status",
        }
    }
}

impl TryFrom<String> for ReviewKind {
    type Error = UnknownValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        [Self::Unreadable, Self::UnknownStatus]
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownValue::new("review kind", text))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRecord {
    pub id: i64,
    pub provider: String,
    pub route: String,
    #[sqlx(try_from = "String")]
    pub kind: ReviewKind,
    pub reason: String,
    pub event_id: Option<i64>,
    pub content_type: String,
    pub raw_payload_sealed: Vec<u8>,
    pub received_at_us: i64,
}

impl Store {
    /// Unresolved items, oldest first.
    pub async fn review_items(&self, limit: i64) -> Result<Vec<ReviewRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, received_at_us FROM review_items \
             WHERE resolved_at_us IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
