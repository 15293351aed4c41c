//! What the support UI reads beyond one message: search, duplicate counts,
//! the inbound messages of a number and the OTP verifications of a message.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{
    InboundRecord, MessageRecord, RetryRecord, StoreError, VerificationEventRecord,
    VerificationRecord,
};

/// The key a search box query resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// The keyed hash of an E.164 number: numbers are never matched in clear.
    RecipientHash(Vec<u8>),
    /// Matches a message id, a provider message id, a user ref or a product
    /// action ref exactly.
    Identifier(String),
}

#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub key: Option<SearchKey>,
    pub status: Option<String>,
    pub country: Option<String>,
    pub provider: Option<String>,
    pub sender_identity: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    /// Created at or after.
    pub from_us: Option<i64>,
    /// Created before.
    pub to_us: Option<i64>,
    /// Keyset cursor: messages strictly older than this `(created_at_us, id)`.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

#[async_trait]
pub trait SupportStore: Send + Sync {
    /// Newest first.
    async fn search_messages(&self, query: &MessageQuery)
    -> Result<Vec<MessageRecord>, StoreError>;

    /// How many extra copies of each of these events arrived, by event id;
    /// events never repeated are absent.
    async fn duplicate_counts(&self, event_ids: &[i64]) -> Result<HashMap<i64, i64>, StoreError>;

    /// The retries and fallbacks that produced this message (it is their
    /// `new_message_id`).
    async fn retries_into(&self, message_id: &str) -> Result<Vec<RetryRecord>, StoreError>;

    /// Inbound messages (replies, opt-outs) from the number with this hash,
    /// newest first.
    async fn inbound_from(
        &self,
        sender_hash: &[u8],
        limit: i64,
    ) -> Result<Vec<InboundRecord>, StoreError>;

    /// The OTP verifications that mention this message, with their events.
    async fn verifications_of_message(
        &self,
        message_id: &str,
    ) -> Result<Vec<(VerificationRecord, Vec<VerificationEventRecord>)>, StoreError>;
}
