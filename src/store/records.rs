//! What goes into and comes out of the store. Phone numbers arrive here
//! already hashed, sealed and masked: the store never sees one in clear.

use crate::domain::{DeliveryReport, InboundReport};

/// A recipient (or inbound sender) number in its three stored forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedNumber {
    pub hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub masked: String,
    pub country: Option<String>,
}

/// The raw request kept as received, encrypted at rest because it carries
/// phone numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPayload {
    pub content_type: String,
    pub sealed: Vec<u8>,
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
    Inbound {
        provider: &'static str,
        report: InboundReport,
        sender: ProtectedNumber,
        body_sealed: Vec<u8>,
        keyword: Option<&'static str>,
        dedup_key: String,
        payload: SealedPayload,
        received_at_us: i64,
    },
    /// An authentic callback we could not read.
    Unreadable {
        provider: &'static str,
        route: &'static str,
        reason: String,
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
            Self::Inbound {
                provider, report, ..
            } => (provider, &report.provider_message_id),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAction {
    pub kind: Option<String>,
    pub reference: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub idempotency_key: String,
    /// Digest of the request as understood, to tell a replay from a conflict.
    pub request_fingerprint: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient: ProtectedNumber,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action: ProductAction,
    pub recipient_timezone: Option<String>,
    pub sent_at_us: Option<i64>,
    pub metadata_json: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone)]
pub enum Registration {
    Created(MessageRecord),
    /// The idempotency key was used before; `same_request` says whether with
    /// the same body.
    Existing {
        message: MessageRecord,
        same_request: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: String,
    pub idempotency_key: String,
    pub request_fingerprint: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient_hash: Vec<u8>,
    pub recipient_sealed: Vec<u8>,
    pub recipient_masked: String,
    pub destination_country: Option<String>,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action_kind: Option<String>,
    pub product_action_ref: Option<String>,
    pub product_action_url: Option<String>,
    pub recipient_timezone: Option<String>,
    pub sent_at_us: Option<i64>,
    pub metadata_json: Option<String>,
    pub created_at_us: i64,
    pub current_status: String,
    pub current_raw_status: Option<String>,
    pub current_error_code: Option<String>,
    /// The effective time of the current status (provider time, else receipt).
    pub status_at_us: i64,
    pub is_final: bool,
    pub updated_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRecord {
    pub id: i64,
    pub provider: String,
    pub provider_message_id: String,
    pub provider_event_id: Option<String>,
    pub raw_status: String,
    /// `None` when the raw status is not in the provider's mapping.
    pub status: Option<String>,
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

#[derive(Debug, Clone)]
pub struct NewRetry {
    pub message_id: String,
    pub kind: String,
    pub new_message_id: Option<String>,
    pub reason: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RetryRecord {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub new_message_id: Option<String>,
    pub reason: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRecord {
    pub id: i64,
    pub provider: String,
    pub route: String,
    pub kind: String,
    pub reason: String,
    pub event_id: Option<i64>,
    pub content_type: String,
    pub raw_payload_sealed: Vec<u8>,
    pub received_at_us: i64,
}

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
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: String,
    pub name: String,
    pub digest: String,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub created_at_us: i64,
    pub revoked_at_us: Option<i64>,
}

/// A verification and the `requested` event that opens it.
#[derive(Debug, Clone)]
pub struct NewVerification {
    pub id: String,
    pub user_ref: Option<String>,
    pub created_at_us: i64,
    pub first_event: NewVerificationEvent,
}

#[derive(Debug, Clone)]
pub struct NewVerificationEvent {
    pub verification_id: String,
    pub kind: &'static str,
    pub message_id: Option<String>,
    pub occurred_at_us: i64,
    pub recorded_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationRecord {
    pub id: String,
    pub user_ref: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VerificationEventRecord {
    pub id: i64,
    pub kind: String,
    pub message_id: Option<String>,
    pub occurred_at_us: i64,
    pub recorded_at_us: i64,
}
