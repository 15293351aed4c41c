//! Inbound messages: replies and opt-outs from recipients.

use super::{Store, StoreError};
use crate::domain::InboundPart;

pub(super) const INBOUND_COLUMNS: &str = "id, provider, provider_message_id, sender_hash, sender_masked, \
    recipient_identity, body_sealed, keyword, provider_occurred_at_us, received_at_us, \
    part_group, part_number, part_total";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboundRecord {
    pub id: i64,
    pub provider: String,
    pub provider_message_id: String,
    pub sender_hash: Vec<u8>,
    pub sender_masked: String,
    pub recipient_identity: String,
    pub body_sealed: Vec<u8>,
    pub keyword: Option<String>,
    pub provider_occurred_at_us: Option<i64>,
    pub received_at_us: i64,
    /// Where this row belongs when it is one part of a long message.
    pub part_group: Option<String>,
    pub part_number: Option<i64>,
    pub part_total: Option<i64>,
}

impl InboundRecord {
    /// The part this row is, when it is one (and its numbers are sane).
    pub fn part(&self) -> Option<InboundPart> {
        Some(InboundPart {
            group: self.part_group.clone()?,
            number: u16::try_from(self.part_number?).ok()?,
            total: u16::try_from(self.part_total?).ok()?,
        })
    }
}

impl Store {
    /// The latest inbound messages, newest first.
    pub async fn inbound_messages(&self, limit: i64) -> Result<Vec<InboundRecord>, StoreError> {
        let sql =
            format!("SELECT {INBOUND_COLUMNS} FROM inbound_messages ORDER BY id DESC LIMIT $1");
        Ok(sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Inbound messages from the number with this hash, newest first.
    pub async fn inbound_from(
        &self,
        sender_hash: &[u8],
        limit: i64,
    ) -> Result<Vec<InboundRecord>, StoreError> {
        let sql = format!(
            "SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE sender_hash = $1 \
             ORDER BY id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(sender_hash)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}
