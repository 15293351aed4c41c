//! Where the write rules meet the dashboards' rollups: each flow of
//! `flows.rs` tells this module what it changed, and the changes become
//! counter deltas in the batch's [`RollupDelta`]. Written once over
//! [`WriteTx`], like the flows.

use std::collections::{HashMap, HashSet};

use super::flows::WriteTx;
use super::rollup::{Counted, VerificationCell, state_of};
use crate::domain::DeliveryStatus;
use crate::domain::dashboard::MessageState;
use crate::domain::dashboard::rollup::{counted_message, event_fact, otp_category};
use crate::domain::limbo::is_timeout;
use crate::domain::verification::VerificationEventKind;
use crate::store::summary::{Delivery, Summary};
use crate::store::{EventRecord, MessageRecord, NewVerificationEvent, RetryRecord, StoreError};

/// What deciding a verification's cell needs, read in one statement.
#[derive(Debug, Default)]
pub(crate) struct VerificationFacts {
    pub created_at_us: i64,
    /// Where it is counted now (`None`: not yet).
    pub cell: Option<VerificationCell>,
    /// Its events in (occurred, stored) order: id, kind, occurred, message.
    pub events: Vec<(i64, VerificationEventKind, i64, Option<String>)>,
    /// The messages its events name: status, country, provider, use case.
    pub messages: HashMap<String, (DeliveryStatus, String, String, String)>,
}

/// A registered message enters the rollups as `accepted`.
pub(crate) fn registered(tx: &mut impl WriteTx, message: &MessageRecord) {
    let counted = Counted::of_message(message);
    let state = state_of(&Summary::from(message), &counted);
    tx.rollup().message(&counted, None, state);
}

/// Callbacks that waited for this message now belong to it (registration
/// or the PATCH that gave it its provider message id): its whole timeline,
/// their repeats, and the summary they moved.
pub(crate) async fn attached(
    tx: &mut impl WriteTx,
    message: &MessageRecord,
    events: &[EventRecord],
    before: &Summary,
    after: &Summary,
) -> Result<(), StoreError> {
    let counted = Counted::of_message(message);
    for e in events {
        let fact = event_fact(&e.raw_status, e.provider_occurred_at_us, e.received_at_us);
        tx.rollup().event(&counted, fact);
    }
    if let Some(pmid) = &message.provider_message_id {
        let copies = tx.repeated_copies_of(&message.provider, pmid).await?;
        tx.rollup().duplicates(&counted, copies);
    }
    moved(tx, &counted, before, after).await
}

/// A summary was recomputed outside a batch of callbacks (attach, remap).
pub(crate) async fn moved(
    tx: &mut impl WriteTx,
    counted: &Counted,
    before: &Summary,
    after: &Summary,
) -> Result<(), StoreError> {
    let (was, now) = (state_of(before, counted), state_of(after, counted));
    tx.rollup().message(counted, Some(was), now);
    if delivery_flipped(&was, &now) && after.counted.verification_linked {
        let patched = HashMap::from([(after.id.as_str(), after.current_status)]);
        recount_verifications_naming(tx, &[after.id.as_str()], &patched).await?;
    }
    Ok(())
}

fn delivery_flipped(before: &MessageState, after: &MessageState) -> bool {
    (before.status == DeliveryStatus::Delivered) != (after.status == DeliveryStatus::Delivered)
}

/// The messages a batch of callbacks read, as they were before it.
pub(crate) struct Before {
    states: HashMap<String, (Counted, MessageState, bool)>,
}

/// Counts what a batch of callbacks attached before its plan is made: each
/// new event that found its message, and each repeated copy of a callback
/// whose message exists (the repeats of a waiting callback are counted
/// when it attaches, from `event_duplicates`). Returns the summaries' states
/// before the batch, for [`after_plan`].
pub(crate) fn before_plan(
    tx: &mut impl WriteTx,
    firsts: &[&Delivery<'_>],
    inserted: &HashMap<String, i64>,
    summaries: &[Summary],
    copies: &[(&str, i64, i64)],
) -> Before {
    let by_key: HashMap<(&str, &str), usize> = summaries
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some(((s.provider.as_str(), s.provider_message_id.as_deref()?), i)))
        .collect();
    let counted: Vec<Counted> = summaries.iter().map(Counted::of_summary).collect();
    let message_of = |d: &Delivery<'_>| {
        by_key
            .get(&(d.provider, d.report.provider_message_id.as_str()))
            .map(|&i| &counted[i])
    };
    let rollup = tx.rollup();
    for d in firsts.iter().filter(|d| inserted.contains_key(d.dedup_key)) {
        if let Some(m) = message_of(d) {
            let fact = event_fact(
                &d.report.raw_status,
                d.provider_occurred_at_us(),
                d.received_at_us,
            );
            rollup.event(m, fact);
        }
    }
    let by_dedup: HashMap<&str, &Delivery<'_>> = firsts.iter().map(|d| (d.dedup_key, *d)).collect();
    for (key, count, _) in copies {
        if let Some(d) = by_dedup.get(key)
            && !is_timeout(&d.report.raw_status)
            && let Some(m) = message_of(d)
        {
            rollup.duplicates(m, *count);
        }
    }
    let states = summaries
        .iter()
        .zip(counted)
        .map(|(s, c)| {
            let state = state_of(s, &c);
            (s.id.clone(), (c, state, s.counted.verification_linked))
        })
        .collect();
    Before { states }
}

/// Counts the summaries a batch of callbacks moved, and moves the OTP
/// verifications whose message was delivered (or no longer is) with them.
pub(crate) async fn after_plan(
    tx: &mut impl WriteTx,
    before: &Before,
    touched: &[Summary],
) -> Result<(), StoreError> {
    let mut flipped = Vec::new();
    for after in touched {
        let Some((counted, was, linked)) = before.states.get(&after.id) else {
            continue;
        };
        let now = state_of(after, counted);
        tx.rollup().message(counted, Some(*was), now);
        if *linked && delivery_flipped(was, &now) {
            flipped.push(after.id.as_str());
        }
    }
    if flipped.is_empty() {
        return Ok(());
    }
    // Their new summaries are written after this: read as they will be.
    let patched: HashMap<&str, DeliveryStatus> = touched
        .iter()
        .map(|s| (s.id.as_str(), s.current_status))
        .collect();
    recount_verifications_naming(tx, &flipped, &patched).await
}

/// Messages a verification came to name while this batch ran (another
/// writer linked them after their summaries were read): if their delivery
/// changed, their verifications are counted again now, with the new
/// summaries written and this transaction holding their rows.
pub(crate) async fn linked_meanwhile(
    tx: &mut impl WriteTx,
    before: &Before,
    touched: &[Summary],
    linked_now: &[String],
) -> Result<(), StoreError> {
    let missed: Vec<&str> = touched
        .iter()
        .filter(|after| linked_now.contains(&after.id))
        .filter(|after| {
            before
                .states
                .get(&after.id)
                .is_some_and(|(counted, was, linked)| {
                    !linked && delivery_flipped(was, &state_of(after, counted))
                })
        })
        .map(|after| after.id.as_str())
        .collect();
    if missed.is_empty() {
        return Ok(());
    }
    recount_verifications_naming(tx, &missed, &HashMap::new()).await
}

/// A retry or fallback recorded for a message.
pub(crate) async fn retry(tx: &mut impl WriteTx, record: &RetryRecord) -> Result<(), StoreError> {
    if let Some(message) = tx.message(&record.message_id).await? {
        tx.rollup()
            .retry(&Counted::of_message(&message), record.kind);
    }
    Ok(())
}

/// A verification event was stored: its message (if any) is marked as
/// named by a verification, and the verification is counted again.
pub(crate) async fn verification_event(
    tx: &mut impl WriteTx,
    event: &NewVerificationEvent,
) -> Result<(), StoreError> {
    if let Some(message_id) = &event.message_id {
        tx.link_verification(message_id).await?;
    }
    recount_verification(tx, &event.verification_id, &HashMap::new()).await
}

async fn recount_verifications_naming(
    tx: &mut impl WriteTx,
    message_ids: &[&str],
    patched: &HashMap<&str, DeliveryStatus>,
) -> Result<(), StoreError> {
    let ids: HashSet<String> = tx
        .verifications_naming(message_ids)
        .await?
        .into_iter()
        .collect();
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_unstable();
    for id in ids {
        recount_verification(tx, &id, patched).await?;
    }
    Ok(())
}

/// Decides where a verification is counted now and moves it there.
/// `patched`: statuses of messages this batch has changed but not written.
async fn recount_verification(
    tx: &mut impl WriteTx,
    id: &str,
    patched: &HashMap<&str, DeliveryStatus>,
) -> Result<(), StoreError> {
    tx.lock_verification_messages(id).await?;
    let Some(facts) = tx.verification_facts(id).await? else {
        return Ok(());
    };
    let status = |message_id: &str, stored: DeliveryStatus| {
        patched.get(message_id).copied().unwrap_or(stored)
    };
    let any_delivered = facts
        .messages
        .iter()
        .any(|(m, (stored, ..))| status(m, *stored) == DeliveryStatus::Delivered);
    let kinds: Vec<(VerificationEventKind, i64)> = facts
        .events
        .iter()
        .map(|(_, kind, at, _)| (*kind, *at))
        .collect();
    let order: Vec<(i64, i64, Option<&str>)> = facts
        .events
        .iter()
        .map(|(event_id, _, at, message)| (*event_id, *at, message.as_deref()))
        .collect();
    let (country, provider, use_case) = counted_message(&order)
        .and_then(|m| facts.messages.get(m))
        .map(|(_, country, provider, use_case)| {
            (country.clone(), provider.clone(), use_case.clone())
        })
        .unwrap_or_default();
    let after = VerificationCell {
        country,
        provider,
        use_case,
        category: otp_category(&kinds, any_delivered),
    };
    let before = tx.rollup().cells.get(id).cloned().or(facts.cell);
    tx.rollup()
        .verification(id, facts.created_at_us, before.as_ref(), after);
    Ok(())
}
