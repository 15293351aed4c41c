//! The write rules, written once for both backends: how a registration, a
//! provider-id PATCH, a retry, a verification or a batch of callbacks turns
//! into statements. Each backend implements only [`WriteTx`], the primitive
//! statements inside an open transaction; SQLite's run synchronously through
//! `rusqlite`, PostgreSQL's are set-based over sqlx.

use std::collections::{HashMap, HashSet};

use super::{Command, Done, ItemResult, Renormalize, TimeoutChunk};
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::domain::{DeliveryReport, DeliveryStatus};
use crate::store::summary::{Delivery, Plan, Summary, plan};
use crate::store::{
    EventRecord, InboundItem, IngestItem, IngestOutcome, MessageRecord, NewMessage, NewRetry,
    NewVerification, NewVerificationEvent, Registration, RetryRecord, SealedPayload, StoreError,
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
    async fn write_outcome(&mut self, outcome: &BatchOutcome<'_>) -> Result<(), StoreError>;

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
}

/// Applies every command that is not a delivery callback, one at a time;
/// delivery callbacks are left to [`ingest_deliveries`], set-based.
pub(crate) async fn apply_one(tx: &mut impl WriteTx, command: &Command) -> ItemResult {
    Ok(match command {
        Command::Ingest(item @ IngestItem::Delivery { .. }) => {
            let delivery = delivery_of(0, item)
                .ok_or_else(|| StoreError::Corrupt("not a delivery".to_owned()))?;
            let outcomes = ingest_deliveries(tx, &[delivery]).await?;
            Done::Ingested(outcomes.first().map(|(_, o)| *o).ok_or_else(lost)?)
        }
        Command::Ingest(IngestItem::Inbound(item)) => {
            Done::Ingested(if tx.insert_inbound(item).await? {
                IngestOutcome::Stored {
                    changed_summary: false,
                }
            } else {
                IngestOutcome::Duplicate
            })
        }
        Command::Ingest(IngestItem::Unreadable {
            provider,
            route,
            reason,
            dedup_key,
            payload,
            received_at_us,
        }) => {
            let review = NewReview {
                provider,
                route,
                kind: "unreadable",
                reason: reason.clone(),
                event_id: None,
                dedup_key: Some(dedup_key.as_str()),
                raw_status: None,
                payload,
                received_at_us: *received_at_us,
            };
            Done::Ingested(if tx.insert_review(&review).await? {
                IngestOutcome::Review
            } else {
                IngestOutcome::Duplicate
            })
        }
        Command::Register(message) => Done::Registered(register(tx, message).await?),
        Command::Renormalize(chunk) => Done::Renormalized(renormalize(tx, chunk).await?),
        Command::SetProviderMessageId {
            id,
            provider_message_id,
        } => Done::Message(set_provider_message_id(tx, id, provider_message_id).await?),
        Command::RecordRetry(retry) => {
            Done::Retry(tx.insert_retry(retry).await?.ok_or(StoreError::NotFound)?)
        }
        Command::CreateVerification(verification) => {
            tx.insert_verification(verification).await?;
            if !tx
                .insert_verification_event(&verification.first_event)
                .await?
            {
                return Err(StoreError::NotFound);
            }
            Done::Verification
        }
        Command::AddVerificationEvent(event) => {
            if !tx.insert_verification_event(event).await? {
                return Err(StoreError::NotFound);
            }
            Done::Verification
        }
        Command::TimeOut {
            now_us,
            limit,
            payload,
        } => Done::TimedOut(time_out(tx, *now_us, *limit, payload).await?),
    })
}

/// One chunk of timeouts. Each due message gets an event with normalized
/// `unknown` at its deadline, fed to [`ingest_deliveries`] like a provider
/// callback: the summary moves by the same precedence rules (never off a
/// final status; a later real receipt still wins), and the dedup key makes
/// it one event per message.
async fn time_out(
    tx: &mut impl WriteTx,
    now_us: i64,
    limit: usize,
    payload: &SealedPayload,
) -> Result<TimeoutChunk, StoreError> {
    let (due, scanned) = tx.claim_due(now_us, limit).await?;
    let mut chunk = TimeoutChunk {
        full: scanned >= limit,
        ..TimeoutChunk::default()
    };
    let mut reports = Vec::with_capacity(due.len());
    for m in &due {
        // Events belong to a message through its provider message id; a
        // message without one can have no receipt at all, so there is
        // nothing to time out. Its deadline is cleared all the same, or
        // every pass would walk over it again.
        let Some(pmid) = &m.provider_message_id else {
            chunk.without_provider_id.push(m.id.clone());
            continue;
        };
        let report = DeliveryReport {
            provider_message_id: pmid.clone(),
            raw_status: TIMEOUT_RAW_STATUS.to_owned(),
            status: Some(DeliveryStatus::Unknown),
            error_code: None,
            provider_event_id: None,
            provider_occurred_at: chrono::DateTime::from_timestamp_micros(m.final_deadline_us),
        };
        reports.push((m, report, timeout_dedup_key(&m.id)));
    }
    let deliveries: Vec<Delivery<'_>> = reports
        .iter()
        .enumerate()
        .map(|(index, (m, report, dedup_key))| Delivery {
            index,
            provider: &m.provider,
            report,
            dedup_key,
            payload,
            received_at_us: now_us,
        })
        .collect();
    if !deliveries.is_empty() {
        for (index, outcome) in ingest_deliveries(tx, &deliveries).await? {
            // A duplicate means an earlier pass wrote it: not our work.
            if let (IngestOutcome::Stored { .. }, Some((m, _, _))) = (outcome, reports.get(index)) {
                chunk.timed_out.push(m.id.clone());
            }
        }
    }
    let ids: Vec<&str> = due.iter().map(|m| m.id.as_str()).collect();
    tx.clear_deadlines(&ids).await?;
    Ok(chunk)
}

/// The delivery callback of a command, if it is one; `index` is its place in
/// the batch.
pub(crate) fn delivery_of(index: usize, item: &IngestItem) -> Option<Delivery<'_>> {
    match item {
        IngestItem::Delivery {
            provider,
            report,
            dedup_key,
            payload,
            received_at_us,
        } => Some(Delivery {
            index,
            provider,
            report,
            dedup_key,
            payload,
            received_at_us: *received_at_us,
        }),
        _ => None,
    }
}

/// Stores a batch of delivery callbacks and moves the summaries they touch:
/// insert the new events, count the repeats, read the summaries, plan in
/// plain Rust, write the plan.
pub(crate) async fn ingest_deliveries(
    tx: &mut impl WriteTx,
    deliveries: &[Delivery<'_>],
) -> Result<Vec<(usize, IngestOutcome)>, StoreError> {
    // A callback repeated inside one batch: only its first copy is offered.
    let mut seen = HashSet::new();
    let firsts: Vec<&Delivery<'_>> = deliveries
        .iter()
        .filter(|d| seen.insert(d.dedup_key))
        .collect();
    let (inserted, summaries) = tx.insert_events(&firsts).await?;
    let copies = repeated_copies(deliveries, &inserted);
    if inserted.is_empty() {
        tx.write_outcome(&BatchOutcome {
            copies,
            ..BatchOutcome::default()
        })
        .await?;
        return Ok(deliveries
            .iter()
            .map(|d| (d.index, IngestOutcome::Duplicate))
            .collect());
    }
    let before: HashMap<String, (DeliveryStatus, bool)> = if tx.notifies() {
        summaries
            .iter()
            .map(|s| (s.id.clone(), (s.current_status, s.is_final)))
            .collect()
    } else {
        HashMap::new()
    };
    let plan = plan(deliveries, inserted, summaries)?;
    let now_us = chrono::Utc::now().timestamp_micros();
    let notifications: Vec<Notification> = plan
        .touched
        .iter()
        .filter_map(|after| {
            let was = before.get(&after.id)?;
            notification(*was, after, now_us)
        })
        .collect();
    let reviews: Vec<NewReview<'_>> = plan
        .reviews
        .iter()
        .map(|(event_id, d)| NewReview {
            provider: d.provider,
            route: "status",
            kind: "unknown_status",
            reason: format!("unknown status {:?}", d.report.raw_status),
            event_id: Some(*event_id),
            // Deduplicated as an event already.
            dedup_key: None,
            raw_status: Some(d.report.raw_status.as_str()),
            payload: d.payload,
            received_at_us: d.received_at_us,
        })
        .collect();
    let outcome = BatchOutcome {
        plan,
        reviews,
        copies,
        notifications,
    };
    tx.write_outcome(&outcome).await?;
    Ok(outcome.plan.outcomes)
}

/// The copies of callbacks that were stored before (or earlier in this
/// batch): (dedup key, how many, latest receipt).
fn repeated_copies<'a>(
    deliveries: &'a [Delivery<'_>],
    inserted: &HashMap<String, i64>,
) -> Vec<(&'a str, i64, i64)> {
    let mut copies: Vec<(&str, i64, i64)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut first_seen = HashSet::new();
    for d in deliveries {
        let stored_now = inserted.contains_key(d.dedup_key) && first_seen.insert(d.dedup_key);
        if stored_now {
            continue;
        }
        match position.get(d.dedup_key) {
            Some(&at) => {
                copies[at].1 += 1;
                copies[at].2 = copies[at].2.max(d.received_at_us);
            }
            None => {
                position.insert(d.dedup_key, copies.len());
                copies.push((d.dedup_key, 1, d.received_at_us));
            }
        }
    }
    copies
}

async fn register(tx: &mut impl WriteTx, m: &NewMessage) -> Result<Registration, StoreError> {
    match tx.insert_message(m).await? {
        Some((message, false)) => Ok(Registration::Created(message)),
        Some((message, true)) => Ok(Registration::Created(attach(tx, message).await?)),
        None => {
            let message = tx.message_by_key(&m.idempotency_key).await?;
            let same_request = message.request_fingerprint == m.request_fingerprint;
            Ok(Registration::Existing {
                message,
                same_request,
            })
        }
    }
}

async fn set_provider_message_id(
    tx: &mut impl WriteTx,
    id: &str,
    pmid: &str,
) -> Result<MessageRecord, StoreError> {
    let message = tx.message(id).await?.ok_or(StoreError::NotFound)?;
    match message.provider_message_id.as_deref() {
        Some(existing) if existing == pmid => return Ok(message),
        Some(_) => {
            return Err(StoreError::Conflict(
                "the message already has another provider_message_id".to_owned(),
            ));
        }
        None => {}
    }
    tx.set_provider_message_id(id, pmid).await?;
    let message = MessageRecord {
        provider_message_id: Some(pmid.to_owned()),
        ..message
    };
    if tx.take_waiting(&message.provider, pmid).await? {
        attach(tx, message).await
    } else {
        Ok(message)
    }
}

/// Attaches the callbacks that waited for this message: folds them into its
/// summary and resolves the review item they may have opened meanwhile.
async fn attach(
    tx: &mut impl WriteTx,
    message: MessageRecord,
) -> Result<MessageRecord, StoreError> {
    if let Some(pmid) = &message.provider_message_id {
        let now = chrono::Utc::now().timestamp_micros();
        tx.resolve_unmatched(&message.provider, pmid, now).await?;
    }
    replay(tx, message).await
}

/// Applies a status mapping to one chunk of stored events, then recomputes
/// the summary of every message they belong to by replaying its whole
/// timeline from the registered state: the same precedence code as ingest,
/// so a `sent` stored after a remapped `delivered` still cannot downgrade it.
async fn renormalize(tx: &mut impl WriteTx, chunk: &Renormalize) -> Result<usize, StoreError> {
    tx.set_event_status(&chunk.event_ids, chunk.status.map(DeliveryStatus::as_str))
        .await?;
    let mut changed = 0;
    for pmid in &chunk.provider_message_ids {
        let Some(message) = tx.message_by_provider_id(&chunk.provider, pmid).await? else {
            continue; // still unmatched: its summary is computed when it attaches
        };
        let before = Summary::from(&message);
        let mut summary = Summary::registered(&message);
        let events = tx.timeline(&message.provider, pmid).await?;
        summary.apply_all(&events)?;
        summary.updated_at_us = before.updated_at_us;
        if summary != before {
            summary.updated_at_us = before.updated_at_us.max(chunk.at_us);
            tx.write_summary(&summary).await?;
            notify(tx, &before, &summary).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Folds the callbacks that arrived before the message's provider id was
/// known (and were waiting) into its summary.
async fn replay(
    tx: &mut impl WriteTx,
    message: MessageRecord,
) -> Result<MessageRecord, StoreError> {
    let Some(pmid) = &message.provider_message_id else {
        return Ok(message);
    };
    let events = tx.timeline(&message.provider, pmid).await?;
    let before = Summary::from(&message);
    let mut summary = before.clone();
    summary.apply_all(&events)?;
    tx.write_summary(&summary).await?;
    notify(tx, &before, &summary).await?;
    tx.message(&message.id).await?.ok_or(StoreError::NotFound)
}

/// Writes the outbox row of one summary change, if it announces anything.
async fn notify(
    tx: &mut impl WriteTx,
    before: &Summary,
    after: &Summary,
) -> Result<(), StoreError> {
    if !tx.notifies() {
        return Ok(());
    }
    let now_us = chrono::Utc::now().timestamp_micros();
    match notification((before.current_status, before.is_final), after, now_us) {
        Some(n) => tx.insert_notifications(&[n]).await,
        None => Ok(()),
    }
}

fn lost() -> StoreError {
    StoreError::Corrupt("the batch plan lost a callback".to_owned())
}
