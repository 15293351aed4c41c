//! One phone number's traffic, found through its keyed hash only: the
//! messages sent to it, the messages it sent us, its opt-out keywords, and
//! its ciphertext for the audited reveal.

use super::messages::MESSAGE_COLUMNS;
use super::user_history::INBOUND_AT;
use super::{MessageRecord, Store, StoreError};

/// How much traffic a number has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumberTraffic {
    /// Messages sent to it.
    pub outbound: i64,
    /// Messages it sent us.
    pub inbound: i64,
}

impl NumberTraffic {
    pub fn is_empty(self) -> bool {
        self.outbound == 0 && self.inbound == 0
    }
}

/// A keyword message (STOP, START, HELP) from the number.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeywordRecord {
    pub id: i64,
    pub keyword: String,
    /// When the number sent it, else when we received it.
    pub at_us: i64,
    /// Our number or sender identity it was sent to.
    pub recipient_identity: String,
}

/// What a reveal of the number needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberForReveal {
    pub masked: String,
    /// A ciphertext of the number; `None` when the retention policy removed
    /// every copy.
    pub sealed: Option<Vec<u8>>,
}

impl Store {
    pub async fn number_traffic(&self, hash: &[u8]) -> Result<NumberTraffic, StoreError> {
        let (outbound, inbound): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM messages WHERE recipient_hash = $1), \
                    (SELECT COUNT(*) FROM inbound_messages WHERE sender_hash = $1)",
        )
        .bind(hash)
        .fetch_one(self.pool())
        .await?;
        Ok(NumberTraffic { outbound, inbound })
    }

    /// The newest messages sent to the number.
    pub async fn messages_to_number(
        &self,
        hash: &[u8],
        limit: i64,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE recipient_hash = $1 \
             ORDER BY created_at_us DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(hash)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The newest keyword messages from the number.
    pub async fn keywords_from(
        &self,
        hash: &[u8],
        limit: i64,
    ) -> Result<Vec<KeywordRecord>, StoreError> {
        let sql = format!(
            "SELECT id, keyword, {INBOUND_AT} AS at_us, recipient_identity FROM inbound_messages \
             WHERE sender_hash = $1 AND keyword IS NOT NULL \
             ORDER BY {INBOUND_AT} DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(hash)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The user refs of the messages sent to the number, most recent first.
    pub async fn user_refs_of_number(
        &self,
        hash: &[u8],
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT user_ref FROM messages WHERE recipient_hash = $1 AND user_ref IS NOT NULL \
             GROUP BY user_ref ORDER BY MAX(created_at_us) DESC, user_ref LIMIT $2",
        )
        .bind(hash)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The number's masked form and a ciphertext of it not yet removed by
    /// the retention policy (the newest message's, else the newest inbound
    /// message's); `None` when no message went to it and none came from it.
    pub async fn number_for_reveal(
        &self,
        hash: &[u8],
    ) -> Result<Option<NumberForReveal>, StoreError> {
        // Kept copies first, then the newest: a removed copy is the answer
        // only when nothing else is left.
        let sources = [
            "SELECT recipient_masked, recipient_sealed FROM messages WHERE recipient_hash = $1 \
             ORDER BY CASE WHEN recipient_removed_at_us IS NULL THEN 0 ELSE 1 END, \
             created_at_us DESC LIMIT 1",
            "SELECT sender_masked, sender_sealed FROM inbound_messages WHERE sender_hash = $1 \
             ORDER BY CASE WHEN sender_removed_at_us IS NULL THEN 0 ELSE 1 END, \
             received_at_us DESC LIMIT 1",
        ];
        let mut conn = self.pool().acquire().await?;
        let mut found: Option<NumberForReveal> = None;
        for sql in sources {
            let row: Option<(String, Vec<u8>)> = sqlx::query_as(sql)
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some((masked, sealed)) = row {
                let sealed = Some(sealed).filter(|s| !s.is_empty());
                let kept = sealed.is_some();
                found = Some(NumberForReveal { masked, sealed });
                if kept {
                    break;
                }
            }
        }
        Ok(found)
    }
}
