//! The primitive statements of the write path ([`WriteTx`]), which each
//! backend implements inside an open transaction, and the values the write
//! rules of `flows.rs` hand them.

use std::collections::HashMap;

use super::rollup::RollupDelta;
use super::tally::VerificationFacts;
use crate::domain::DeliveryStatus;
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::store::summary::{Delivery, Plan, Summary};
use crate::store::{
    EventRecord, InboundItem, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, RetryRecord, SealedPayload, StoreError,
};

/// A review item about to be written.
pub(crate) struct NewReview<'a> {
    pub provider: &'a str,
    pub route: &'a str,
    pub kind: &'a str,
    pub reason: String,
    pub event_id: Option<i64>,
    /// Set for unreadable callbacks; `None` never conflicts.
    pub dedup_key: Option<&'a str>,
    /// The raw status the queue groups by; `None` when unreadable.
    pub raw_status: Option<&'a str>,
    pub payload: &'a SealedPayload,
    pub received_at_us: i64,
}

/// What a batch of delivery callbacks writes besides its events.
#[derive(Default)]
pub(crate) struct BatchOutcome<'a> {
    pub plan: Plan<'a>,
    pub reviews: Vec<NewReview<'a>>,
    /// Copies of callbacks stored before (or earlier in this batch):
    /// (dedup key, how many, latest receipt).
    pub copies: Vec<(&'a str, i64, i64)>,
    /// Outbox rows for the product (empty unless notifying is on).
    pub notifications: Vec<Notification>,
}

/// An event for the product (`SMSTRAIL_NOTIFY_URL`), written to the outbox
/// in the same transaction as the summary change it announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub message_id: String,
    /// `message.final` or `message.timeout`.
    pub event_type: &'static str,
    pub status: &'static str,
    pub error_code: Option<String>,
    pub occurred_at_us: i64,
    pub created_at_us: i64,
}

pub const EVENT_FINAL: &str = "message.final";
pub const EVENT_TIMEOUT: &str = "message.timeout";

/// What the product is told about a summary moving from `before` to
/// `after`: `message.final` when it became final (or moved between two
/// final statuses, e.g. a later `failed` after `delivered`),
/// `message.timeout` when smstrail's own timeout made it `unknown`; nothing
/// otherwise (a duplicate or a change that does not settle anything).
pub(crate) fn notification(
    before: (DeliveryStatus, bool),
    after: &Summary,
    now_us: i64,
) -> Option<Notification> {
    let (was_status, was_final) = before;
    let event_type = if after.is_final && (!was_final || was_status != after.current_status) {
        EVENT_FINAL
    } else if !after.is_final
        && after.current_status == DeliveryStatus::Unknown
        && was_status != DeliveryStatus::Unknown
        && after.current_raw_status.as_deref() == Some(TIMEOUT_RAW_STATUS)
    {
        EVENT_TIMEOUT
    } else {
        return None;
    };
    Some(Notification {
        message_id: after.id.clone(),
        event_type,
        status: after.current_status.as_str(),
        error_code: after.current_error_code.clone(),
        occurred_at_us: after.status_at_us,
        created_at_us: now_us,
    })
}

/// A message past its final-status window, claimed by a reconcile chunk.
pub(crate) struct DueMessage {
    pub id: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub final_deadline_us: i64,
}

/// One timeout event per message, whoever runs the job and however often:
/// the event table's unique dedup key refuses a second one.
pub fn timeout_dedup_key(message_id: &str) -> String {
    format!("smstrail|timeout|{message_id}")
}

/// The primitive statements of the write path, inside one open transaction.
pub(crate) trait WriteTx {
    /// Inserts the events not stored before and reads the summaries of the
    /// messages they are about: the new event ids by dedup key, and the
    /// summaries (one statement on PostgreSQL).
    async fn insert_events(
        &mut self,
        deliveries: &[&Delivery<'_>],
    ) -> Result<(HashMap<String, i64>, Vec<Summary>), StoreError>;

    /// Writes what a batch of callbacks decided: repeat counts, waiting
    /// marks, review items and the summaries it changed.
    /// Returns the touched messages that an OTP verification names as of
    /// this write. With writers side by side (PostgreSQL) one may have been
    /// linked after the batch read its summary; those are checked again.
    async fn write_outcome(
        &mut self,
        outcome: &BatchOutcome<'_>,
    ) -> Result<Vec<String>, StoreError>;

    /// Inbound message; `false` when it was stored before.
    async fn insert_inbound(&mut self, item: &InboundItem) -> Result<bool, StoreError>;

    /// `false` when an item with its dedup key was stored before.
    async fn insert_review(&mut self, review: &NewReview<'_>) -> Result<bool, StoreError>;

    /// Inserts a message and takes the waiting mark of its provider message
    /// id: the stored message and whether callbacks were waiting for it.
    /// `Ok(None)` when the idempotency key exists already; `Conflict` when
    /// the provider message id belongs to another message.
    async fn insert_message(
        &mut self,
        message: &NewMessage,
    ) -> Result<Option<(MessageRecord, bool)>, StoreError>;

    async fn message(&mut self, id: &str) -> Result<Option<MessageRecord>, StoreError>;

    async fn message_by_key(&mut self, idempotency_key: &str) -> Result<MessageRecord, StoreError>;

    /// `Conflict` when another message has this provider message id.
    async fn set_provider_message_id(&mut self, id: &str, pmid: &str) -> Result<(), StoreError>;

    /// Removes the waiting mark of a provider message id; whether there was one.
    async fn take_waiting(&mut self, provider: &str, pmid: &str) -> Result<bool, StoreError>;

    async fn timeline(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Vec<EventRecord>, StoreError>;

    async fn write_summary(&mut self, summary: &Summary) -> Result<(), StoreError>;

    /// Whether summary changes are announced to the product (outbox rows).
    fn notifies(&self) -> bool;

    /// Writes outbox rows outside a batch of callbacks (re-normalization,
    /// callbacks attached at registration).
    async fn insert_notifications(&mut self, events: &[Notification]) -> Result<(), StoreError>;

    /// Resolves the open review item of an unmatched provider message id,
    /// if there is one: its message has been registered.
    async fn resolve_unmatched(
        &mut self,
        provider: &str,
        pmid: &str,
        at_us: i64,
    ) -> Result<(), StoreError>;

    /// Sets the normalized status of these events (a status mapping changed).
    async fn set_event_status(
        &mut self,
        event_ids: &[i64],
        status: Option<&str>,
    ) -> Result<(), StoreError>;

    async fn message_by_provider_id(
        &mut self,
        provider: &str,
        pmid: &str,
    ) -> Result<Option<MessageRecord>, StoreError>;

    /// `None` when the message does not exist.
    async fn insert_retry(&mut self, retry: &NewRetry) -> Result<Option<RetryRecord>, StoreError>;

    async fn insert_verification(
        &mut self,
        verification: &NewVerification,
    ) -> Result<(), StoreError>;

    /// `false` when the verification does not exist.
    async fn insert_verification_event(
        &mut self,
        event: &NewVerificationEvent,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` messages without a final status whose deadline is at or
    /// before `now_us`, earliest deadline first, through the (is_final,
    /// final_deadline_us) index, that no other transaction is working on;
    /// and how many rows the scan saw (a full chunk means more may be due).
    async fn claim_due(
        &mut self,
        now_us: i64,
        limit: usize,
    ) -> Result<(Vec<DueMessage>, usize), StoreError>;

    /// Clears the deadlines of messages whose timeout is handled, so that no
    /// later pass finds them again.
    async fn clear_deadlines(&mut self, ids: &[&str]) -> Result<(), StoreError>;

    /// The dashboards' counter deltas of this batch, written before it
    /// commits (see `rollup.rs`).
    fn rollup(&mut self) -> &mut RollupDelta;

    /// Before a verification is counted: locks the messages it names, so
    /// their statuses cannot change under the count (PostgreSQL; SQLite has
    /// one writer at a time).
    async fn lock_verification_messages(&mut self, id: &str) -> Result<(), StoreError>;

    /// Marks a message as named by an OTP verification.
    async fn link_verification(&mut self, message_id: &str) -> Result<(), StoreError>;

    /// The verifications whose events name any of these messages.
    async fn verifications_naming(
        &mut self,
        message_ids: &[&str],
    ) -> Result<Vec<String>, StoreError>;

    /// What deciding where a verification is counted needs; `None` when it
    /// does not exist.
    async fn verification_facts(
        &mut self,
        id: &str,
    ) -> Result<Option<VerificationFacts>, StoreError>;

    /// How many repeated copies the provider callbacks of this provider
    /// message id received (smstrail's own timeout events left out).
    async fn repeated_copies_of(&mut self, provider: &str, pmid: &str) -> Result<i64, StoreError>;
}
