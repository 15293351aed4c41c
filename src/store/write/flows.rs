//! The write rules, written once for both backends: how a registration, a
//! provider-id PATCH, a retry, a verification or a batch of callbacks turns
//! into statements. Each backend implements only [`WriteTx`], the primitive
//! statements inside an open transaction; SQLite's run synchronously through
//! `rusqlite`, PostgreSQL's are set-based over sqlx.

use std::collections::{HashMap, HashSet};

use super::rollup::Counted;
use super::tally;
pub(crate) use super::tx::{
    BatchOutcome, DueMessage, NewReview, Notification, WriteTx, notification, timeout_dedup_key,
};
use super::{Command, Done, ItemResult, Renormalize, TimeoutChunk};
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::domain::{DeliveryReport, DeliveryStatus};
use crate::store::summary::{Delivery, Summary, plan};
use crate::store::{
    IngestItem, IngestOutcome, MessageRecord, NewMessage, Registration, SealedPayload, StoreError,
};

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
            let record = tx.insert_retry(retry).await?.ok_or(StoreError::NotFound)?;
            tally::retry(tx, &record).await?;
            Done::Retry(record)
        }
        Command::CreateVerification(verification) => {
            tx.insert_verification(verification).await?;
            if !tx
                .insert_verification_event(&verification.first_event)
                .await?
            {
                return Err(StoreError::NotFound);
            }
            tally::verification_event(tx, &verification.first_event).await?;
            Done::Verification
        }
        Command::AddVerificationEvent(event) => {
            if !tx.insert_verification_event(event).await? {
                return Err(StoreError::NotFound);
            }
            tally::verification_event(tx, event).await?;
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
    let before_batch = tally::before_plan(tx, &firsts, &inserted, &summaries, &copies);
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
    tally::after_plan(tx, &before_batch, &plan.touched).await?;
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
    let linked_now = tx.write_outcome(&outcome).await?;
    tally::linked_meanwhile(tx, &before_batch, &outcome.plan.touched, &linked_now).await?;
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
        Some((message, waiting)) => {
            tally::registered(tx, &message);
            if waiting {
                Ok(Registration::Created(attach(tx, message).await?))
            } else {
                Ok(Registration::Created(message))
            }
        }
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
            tally::moved(tx, &Counted::of_message(&message), &before, &summary).await?;
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
    tally::attached(tx, &message, &events, &before, &summary).await?;
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
