//! How a batch of delivery callbacks changes the message summaries: plain
//! Rust over rows already read, so the SQL around it stays a handful of
//! set-based statements per batch and the rules stay testable without a
//! database.

use std::collections::{HashMap, HashSet};

use crate::domain::{DeliveryReport, DeliveryStatus, StatusAt};

use super::{EventRecord, IngestOutcome, MessageRecord, SealedPayload, StoreError};

/// One delivery callback of a batch, borrowed from its `IngestItem`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delivery<'a> {
    /// Position in the batch, to put its outcome in the right place.
    pub index: usize,
    pub provider: &'a str,
    pub report: &'a DeliveryReport,
    pub dedup_key: &'a str,
    pub payload: &'a SealedPayload,
    pub received_at_us: i64,
}

impl Delivery<'_> {
    pub fn status_text(&self) -> Option<&'static str> {
        self.report.status.map(DeliveryStatus::as_str)
    }

    pub fn provider_occurred_at_us(&self) -> Option<i64> {
        self.report
            .provider_occurred_at
            .map(|t| t.timestamp_micros())
    }

    /// Provider time where given, else when we received it.
    pub fn effective_at_us(&self) -> i64 {
        self.provider_occurred_at_us()
            .unwrap_or(self.received_at_us)
    }
}

pub(super) const SUMMARY_COLUMNS: &str = "id, provider, provider_message_id, current_status, \
    current_raw_status, current_error_code, status_at_us, is_final, updated_at_us";

/// The summary columns of a message, as read and as written back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(super) struct Summary {
    pub id: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub current_status: String,
    pub current_raw_status: Option<String>,
    pub current_error_code: Option<String>,
    pub status_at_us: i64,
    pub is_final: bool,
    pub updated_at_us: i64,
}

impl From<&MessageRecord> for Summary {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.clone(),
            provider: m.provider.clone(),
            provider_message_id: m.provider_message_id.clone(),
            current_status: m.current_status.clone(),
            current_raw_status: m.current_raw_status.clone(),
            current_error_code: m.current_error_code.clone(),
            status_at_us: m.status_at_us,
            is_final: m.is_final,
            updated_at_us: m.updated_at_us,
        }
    }
}

impl Summary {
    /// Applies CONTRACT §2 precedence; returns whether the current status moved.
    pub fn apply(
        &mut self,
        status: Option<DeliveryStatus>,
        raw_status: &str,
        error_code: Option<&str>,
        at_us: i64,
    ) -> Result<bool, StoreError> {
        let Some(status) = status else {
            return Ok(false);
        };
        let current = StatusAt {
            status: self
                .current_status
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("message {}: {e}", self.id)))?,
            at: from_micros(self.status_at_us)?,
        };
        let candidate = StatusAt {
            status,
            at: from_micros(at_us)?,
        };
        if !current.is_superseded_by(&candidate) {
            return Ok(false);
        }
        self.current_status = status.as_str().to_owned();
        self.current_raw_status = Some(raw_status.to_owned());
        self.current_error_code = error_code.map(str::to_owned);
        self.status_at_us = at_us;
        self.is_final = status.is_final();
        Ok(true)
    }

    /// Replays a stored timeline (in stored order) onto this summary.
    pub fn apply_all(&mut self, events: &[EventRecord]) -> Result<(), StoreError> {
        for event in events {
            let status = event
                .status
                .as_deref()
                .map(|text| {
                    text.parse::<DeliveryStatus>()
                        .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", event.id)))
                })
                .transpose()?;
            self.apply(
                status,
                &event.raw_status,
                event.error_code.as_deref(),
                event.effective_at_us(),
            )?;
        }
        Ok(())
    }
}

fn from_micros(us: i64) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {us} out of range")))
}

/// What a batch of newly inserted delivery events leads to.
#[derive(Debug, Default)]
pub(super) struct Plan<'a> {
    pub outcomes: Vec<(usize, IngestOutcome)>,
    /// Provider message ids with callbacks but no message yet.
    pub unmatched: Vec<Delivery<'a>>,
    /// Events whose status the provider mapping does not know, with their ids.
    pub reviews: Vec<(i64, Delivery<'a>)>,
    /// Summaries to write back, in their state after the batch.
    pub touched: Vec<Summary>,
}

/// Applies the inserted events, in batch order, to the summaries read for them.
/// `inserted` maps dedup keys to new event ids; anything not in it was a duplicate.
pub(super) fn plan<'a>(
    deliveries: &[Delivery<'a>],
    mut inserted: HashMap<String, i64>,
    summaries: Vec<Summary>,
) -> Result<Plan<'a>, StoreError> {
    let mut by_key: HashMap<(String, String), Summary> = summaries
        .into_iter()
        .filter_map(|s| {
            let pmid = s.provider_message_id.clone()?;
            Some(((s.provider.clone(), pmid), s))
        })
        .collect();
    let mut touched_order = Vec::new();
    let mut touched = HashSet::new();
    let mut plan = Plan::default();
    for delivery in deliveries {
        // Taken out on first use: a second copy in the same batch is a duplicate.
        let Some(event_id) = inserted.remove(delivery.dedup_key) else {
            plan.outcomes
                .push((delivery.index, IngestOutcome::Duplicate));
            continue;
        };
        let key = (
            delivery.provider.to_owned(),
            delivery.report.provider_message_id.clone(),
        );
        let summary = by_key.get_mut(&key);
        let outcome = match (delivery.report.status, summary) {
            (None, summary) => {
                plan.reviews.push((event_id, *delivery));
                if summary.is_none() {
                    plan.unmatched.push(*delivery);
                }
                IngestOutcome::Review
            }
            (Some(_), None) => {
                plan.unmatched.push(*delivery);
                IngestOutcome::Waiting
            }
            (Some(status), Some(summary)) => {
                let changed_summary = summary.apply(
                    Some(status),
                    &delivery.report.raw_status,
                    delivery.report.error_code.as_deref(),
                    delivery.effective_at_us(),
                )?;
                summary.updated_at_us = summary.updated_at_us.max(delivery.received_at_us);
                if touched.insert(key.clone()) {
                    touched_order.push(key);
                }
                IngestOutcome::Stored { changed_summary }
            }
        };
        plan.outcomes.push((delivery.index, outcome));
    }
    plan.touched = touched_order
        .into_iter()
        .filter_map(|key| by_key.remove(&key))
        .collect();
    Ok(plan)
}
