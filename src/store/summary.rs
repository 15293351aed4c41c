//! How a batch of delivery callbacks changes the message summaries: plain
//! Rust over rows already read, so the SQL around it stays a handful of
//! set-based statements per batch and the rules stay testable without a
//! database.

use std::collections::{HashMap, HashSet};

use crate::domain::{DeliveryReport, DeliveryStatus, StatusAt};

use super::{EventRecord, IngestOutcome, MessageRecord, SealedPayload, StoreError};

/// One delivery callback of a batch, borrowed from its `IngestItem`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery<'a> {
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

pub(crate) const SUMMARY_COLUMNS: &str = "id, provider, provider_message_id, current_status, \
    current_raw_status, current_error_code, status_at_us, CAST(is_final AS INTEGER) AS is_final, \
    updated_at_us, destination_country, use_case, sender_identity, template_key, created_at_us, \
    sent_at_us, CAST(verification_linked AS INTEGER) AS verification_linked";

/// What the dashboards' rollups count a message under, read with its
/// summary (never written back: none of it changes after registration,
/// but for `verification_linked`, which only verifications set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SummaryCounted {
    pub country: Option<String>,
    pub use_case: Option<String>,
    pub sender: Option<String>,
    pub template: Option<String>,
    pub created_at_us: i64,
    pub sent_at_us: Option<i64>,
    /// An OTP verification names this message: a change of its delivery
    /// can move that verification in the rollups.
    pub verification_linked: bool,
}

/// The summary columns of a message, as read and as written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub id: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub current_status: DeliveryStatus,
    pub current_raw_status: Option<String>,
    pub current_error_code: Option<String>,
    pub status_at_us: i64,
    pub is_final: bool,
    pub updated_at_us: i64,
    pub counted: SummaryCounted,
}

impl From<&MessageRecord> for Summary {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.clone(),
            provider: m.provider.clone(),
            provider_message_id: m.provider_message_id.clone(),
            current_status: m.current_status,
            current_raw_status: m.current_raw_status.clone(),
            current_error_code: m.current_error_code.clone(),
            status_at_us: m.status_at_us,
            is_final: m.is_final,
            updated_at_us: m.updated_at_us,
            counted: SummaryCounted {
                country: m.destination_country.clone(),
                use_case: m.use_case.clone(),
                sender: m.sender_identity.clone(),
                template: m.template_key.clone(),
                created_at_us: m.created_at_us,
                sent_at_us: m.sent_at_us,
                // Not among a message record's columns: assume it may be,
                // so a change of delivery is checked against verifications.
                verification_linked: true,
            },
        }
    }
}

impl Summary {
    /// The summary a message had when it was registered, before any
    /// callback: the start of a replay of its whole timeline.
    pub fn registered(m: &MessageRecord) -> Self {
        Self {
            current_status: DeliveryStatus::Accepted,
            current_raw_status: None,
            current_error_code: None,
            status_at_us: m.created_at_us,
            is_final: false,
            ..Self::from(m)
        }
    }

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
            status: self.current_status,
            at: from_micros(self.status_at_us)?,
        };
        let candidate = StatusAt {
            status,
            at: from_micros(at_us)?,
        };
        if !current.is_superseded_by(&candidate) {
            return Ok(false);
        }
        self.current_status = status;
        self.current_raw_status = Some(raw_status.to_owned());
        self.current_error_code = error_code.map(str::to_owned);
        self.status_at_us = at_us;
        self.is_final = status.is_final();
        Ok(true)
    }

    /// Replays a stored timeline (in stored order) onto this summary.
    pub fn apply_all(&mut self, events: &[EventRecord]) -> Result<(), StoreError> {
        for event in events {
            self.apply(
                event.status,
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
pub(crate) struct Plan<'a> {
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
pub(crate) fn plan<'a>(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pmid: &str, raw: &str, status: Option<DeliveryStatus>) -> DeliveryReport {
        DeliveryReport {
            provider_message_id: pmid.to_owned(),
            raw_status: raw.to_owned(),
            status,
            error_code: None,
            provider_event_id: None,
            provider_occurred_at: None,
        }
    }

    fn entry(
        pmid: &str,
        raw: &str,
        status: Option<DeliveryStatus>,
        key: &str,
    ) -> (DeliveryReport, String) {
        (report(pmid, raw, status), key.to_owned())
    }

    fn summary(id: &str, pmid: &str) -> Summary {
        Summary {
            id: id.to_owned(),
            provider: "twilio".to_owned(),
            provider_message_id: Some(pmid.to_owned()),
            current_status: DeliveryStatus::Accepted,
            current_raw_status: None,
            current_error_code: None,
            status_at_us: 0,
            is_final: false,
            updated_at_us: 0,
            counted: SummaryCounted {
                country: None,
                use_case: None,
                sender: None,
                template: None,
                created_at_us: 0,
                sent_at_us: None,
                verification_linked: false,
            },
        }
    }

    static PAYLOAD: SealedPayload = SealedPayload {
        content_type: String::new(),
        sealed: Vec::new(),
    };

    fn deliveries<'a>(reports: &'a [(DeliveryReport, String)]) -> Vec<Delivery<'a>> {
        reports
            .iter()
            .enumerate()
            .map(|(index, (report, key))| Delivery {
                index,
                provider: "twilio",
                report,
                dedup_key: key,
                payload: &PAYLOAD,
                received_at_us: 1_000 + index as i64,
            })
            .collect()
    }

    fn inserted(keys: &[&str]) -> HashMap<String, i64> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), i as i64 + 1))
            .collect()
    }

    #[test]
    fn events_of_one_message_apply_in_batch_order() {
        let reports = [
            entry("SM1", "sent", Some(DeliveryStatus::Sent), "a"),
            entry("SM1", "delivered", Some(DeliveryStatus::Delivered), "b"),
            entry("SM1", "sent", Some(DeliveryStatus::Sent), "c"),
        ];
        let batch = deliveries(&reports);
        let plan = plan(
            &batch,
            inserted(&["a", "b", "c"]),
            vec![summary("m1", "SM1")],
        )
        .unwrap();
        assert_eq!(
            plan.outcomes,
            vec![
                (
                    0,
                    IngestOutcome::Stored {
                        changed_summary: true
                    }
                ),
                (
                    1,
                    IngestOutcome::Stored {
                        changed_summary: true
                    }
                ),
                (
                    2,
                    IngestOutcome::Stored {
                        changed_summary: false
                    }
                ),
            ]
        );
        assert_eq!(
            plan.touched.len(),
            1,
            "one write per message, whatever the events"
        );
        let written = &plan.touched[0];
        assert_eq!(written.current_status, DeliveryStatus::Delivered);
        assert!(written.is_final);
        assert_eq!(written.updated_at_us, 1_002);
    }

    #[test]
    fn a_second_copy_in_the_same_batch_is_a_duplicate() {
        let reports = [
            entry("SM1", "delivered", Some(DeliveryStatus::Delivered), "k"),
            entry("SM1", "delivered", Some(DeliveryStatus::Delivered), "k"),
        ];
        let batch = deliveries(&reports);
        let plan = plan(&batch, inserted(&["k"]), vec![summary("m1", "SM1")]).unwrap();
        assert_eq!(plan.outcomes[1], (1, IngestOutcome::Duplicate));
    }

    #[test]
    fn not_inserted_means_duplicate_and_touches_nothing() {
        let reports = [entry("SM1", "sent", Some(DeliveryStatus::Sent), "old")];
        let batch = deliveries(&reports);
        let plan = plan(&batch, inserted(&[]), vec![summary("m1", "SM1")]).unwrap();
        assert_eq!(plan.outcomes, vec![(0, IngestOutcome::Duplicate)]);
        assert!(plan.touched.is_empty() && plan.unmatched.is_empty());
    }

    #[test]
    fn unknown_messages_wait_and_unknown_statuses_go_to_review() {
        let reports = [
            entry("SM-none", "sent", Some(DeliveryStatus::Sent), "a"),
            entry("SM1", "teleported", None, "b"),
            entry("SM-none", "teleported", None, "c"),
        ];
        let batch = deliveries(&reports);
        let plan = plan(
            &batch,
            inserted(&["a", "b", "c"]),
            vec![summary("m1", "SM1")],
        )
        .unwrap();
        assert_eq!(
            plan.outcomes,
            vec![
                (0, IngestOutcome::Waiting),
                (1, IngestOutcome::Review),
                (2, IngestOutcome::Review),
            ]
        );
        assert_eq!(
            plan.reviews.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(plan.unmatched.len(), 2);
        assert!(
            plan.touched.is_empty(),
            "an unknown status leaves the summary"
        );
    }
}
