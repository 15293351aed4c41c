//! What a writer is asked to do, and what it answers.

use crate::domain::DeliveryStatus;
use crate::store::{
    IngestItem, IngestOutcome, MessageRecord, NewMessage, NewRetry, NewVerification,
    NewVerificationEvent, Registration, RetryRecord, SealedPayload,
};

#[derive(Debug, Clone)]
pub enum Command {
    Ingest(IngestItem),
    Register(NewMessage),
    SetProviderMessageId {
        id: String,
        provider_message_id: String,
    },
    RecordRetry(NewRetry),
    CreateVerification(NewVerification),
    AddVerificationEvent(NewVerificationEvent),
    /// One chunk of the reconcile job: up to `limit` messages past their
    /// final-status window at `now_us` get smstrail's timeout event, through
    /// the same precedence path as a provider callback. `payload` is the
    /// (sealed) raw payload every timeout event stores.
    TimeOut {
        now_us: i64,
        limit: usize,
        payload: SealedPayload,
    },
    Renormalize(Renormalize),
}

/// What one chunk of timeouts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeoutChunk {
    /// Messages that got their timeout event now.
    pub timed_out: Vec<String>,
    /// Messages past their window with no provider message id: no receipt
    /// can ever reach them, so they get no event (see the README).
    pub without_provider_id: Vec<String>,
    /// Whether the chunk was full: more messages may be due.
    pub full: bool,
}

/// One chunk of a re-normalization after a status mapping changed: these
/// events of `provider` get `status`, and the messages of these provider
/// message ids get their summaries recomputed.
#[derive(Debug, Clone)]
pub struct Renormalize {
    pub provider: String,
    pub status: Option<DeliveryStatus>,
    pub event_ids: Vec<i64>,
    /// Sorted and without repeats: the PostgreSQL writer locks them in order.
    pub provider_message_ids: Vec<String>,
    pub at_us: i64,
}

#[derive(Debug, Clone)]
pub enum Done {
    Ingested(IngestOutcome),
    Registered(Registration),
    Message(MessageRecord),
    Retry(RetryRecord),
    Verification,
    TimedOut(TimeoutChunk),
    /// How many message summaries a re-normalization chunk changed.
    Renormalized(usize),
}

impl Command {
    /// Which writer takes the command: everything about one provider message
    /// id goes to the same one, in arrival order.
    pub fn shard_key(&self) -> &str {
        match self {
            Self::Ingest(item) => item.shard_key().1,
            Self::Register(message) => message
                .provider_message_id
                .as_deref()
                .unwrap_or(&message.idempotency_key),
            Self::SetProviderMessageId {
                provider_message_id,
                ..
            } => provider_message_id,
            Self::RecordRetry(retry) => &retry.message_id,
            Self::CreateVerification(verification) => &verification.id,
            Self::AddVerificationEvent(event) => &event.verification_id,
            Self::TimeOut { .. } => "smstrail|reconcile",
            Self::Renormalize(chunk) => &chunk.provider,
        }
    }
}

impl Command {
    /// The provider message ids whose advisory locks the command needs on
    /// PostgreSQL: everything that can attach a callback to a message or
    /// move its summary.
    pub fn locked_provider_message_ids(&self) -> &[String] {
        match self {
            Self::Ingest(IngestItem::Delivery { report, .. }) => {
                std::slice::from_ref(&report.provider_message_id)
            }
            Self::Register(message) => message.provider_message_id.as_slice(),
            Self::SetProviderMessageId {
                provider_message_id,
                ..
            } => std::slice::from_ref(provider_message_id),
            Self::Renormalize(chunk) => &chunk.provider_message_ids,
            _ => &[],
        }
    }
}
