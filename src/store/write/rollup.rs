//! The dashboards' rollups as the writers keep them: every change a batch
//! makes (a message registered, a summary moved, a callback attached, a
//! repeat, a retry, an OTP verification moved) is turned into counter
//! deltas here, summed in memory per rollup row, and written once per batch
//! (one upsert per row on SQLite; on PostgreSQL inside the batch's last
//! statement). Counting in the same transaction keeps the rollups exact:
//! what committed is counted, what rolled back is not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::domain::DeliveryStatus;
use crate::domain::dashboard::period::bucket_starts;
use crate::domain::dashboard::rollup::{EventFact, MessageState, OtpCategory};
use crate::domain::dashboard::{BUCKETS, Counts, buckets::bucket_of};
use crate::domain::outbound::RetryKind;
use crate::store::MessageRecord;
use crate::store::summary::Summary;

/// The dimension values a message is counted under (`""` for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Dims {
    pub country: String,
    pub provider: String,
    pub use_case: String,
    pub sender: String,
    pub template: String,
}

/// What the rollups need to know about a message besides its summary.
#[derive(Debug, Clone)]
pub(crate) struct Counted {
    pub dims: Arc<Dims>,
    pub created_at_us: i64,
    /// Sent, else registered: where its time to a final status starts.
    pub started_us: i64,
}

impl Counted {
    pub fn of_summary(s: &Summary) -> Self {
        let c = &s.counted;
        Self::new(
            &s.provider,
            [&c.country, &c.use_case, &c.sender, &c.template],
            c.created_at_us,
            c.sent_at_us,
        )
    }

    pub fn of_message(m: &MessageRecord) -> Self {
        Self::new(
            &m.provider,
            [
                &m.destination_country,
                &m.use_case,
                &m.sender_identity,
                &m.template_key,
            ],
            m.created_at_us,
            m.sent_at_us,
        )
    }

    fn new(
        provider: &str,
        [country, use_case, sender, template]: [&Option<String>; 4],
        created_at_us: i64,
        sent_at_us: Option<i64>,
    ) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            dims: Arc::new(Dims {
                country: text(country),
                provider: provider.to_owned(),
                use_case: text(use_case),
                sender: text(sender),
                template: text(template),
            }),
            created_at_us,
            started_us: sent_at_us.unwrap_or(created_at_us),
        }
    }
}

/// A summary as the outcome rollup counts it.
pub(crate) fn state_of(s: &Summary, counted: &Counted) -> MessageState {
    MessageState::of(
        s.current_status,
        s.is_final,
        s.current_raw_status.as_deref(),
        s.status_at_us,
        counted.started_us,
    )
}

/// A rollup row's key: bucket size, bucket start, dimension values.
pub(crate) type CountKey = (i64, i64, Arc<Dims>);

/// `kind` is `callback` or `final`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LatencyKey {
    pub span_us: i64,
    pub start_us: i64,
    pub country: String,
    pub provider: String,
    pub use_case: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OtpKey {
    pub span_us: i64,
    pub start_us: i64,
    pub country: String,
    pub provider: String,
    pub use_case: String,
}

/// Where one verification is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerificationCell {
    pub country: String,
    pub provider: String,
    pub use_case: String,
    pub category: OtpCategory,
}

pub(crate) const KIND_CALLBACK: &str = "callback";
pub(crate) const KIND_FINAL: &str = "final";

/// Counter deltas of one batch, summed per rollup row. Ordered maps: rows
/// are written in key order, so two PostgreSQL writers lock them in the
/// same order.
#[derive(Debug, Default)]
pub(crate) struct RollupDelta {
    pub counts: BTreeMap<CountKey, Counts>,
    pub latency: BTreeMap<LatencyKey, [i64; BUCKETS]>,
    pub otp: BTreeMap<OtpKey, [i64; 6]>,
    /// Verifications whose cell changed in this batch: written with the
    /// counters, and read back from here (not the table) until then.
    pub cells: BTreeMap<String, VerificationCell>,
}

impl RollupDelta {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
            && self.latency.is_empty()
            && self.otp.is_empty()
            && self.cells.is_empty()
    }

    /// Every bucket (size, start) this delta changes, in order: their
    /// versions are raised with the counters (see `dash_versions`).
    pub fn buckets(&self) -> BTreeSet<(i64, i64)> {
        let counts = self.counts.keys().map(|(span, start, _)| (*span, *start));
        let latency = self.latency.keys().map(|k| (k.span_us, k.start_us));
        let otp = self.otp.keys().map(|k| (k.span_us, k.start_us));
        counts.chain(latency).chain(otp).collect()
    }

    /// Leaves this delta empty and returns what it held, without rows whose
    /// changes cancelled out (a message that moved and moved back).
    pub fn take(&mut self) -> RollupDelta {
        let mut taken = std::mem::take(self);
        taken.counts.retain(|_, c| *c != Counts::default());
        taken.latency.retain(|_, h| h.iter().any(|n| *n != 0));
        taken.otp.retain(|_, o| o.iter().any(|n| *n != 0));
        taken
    }

    fn counts_of(&mut self, m: &Counted, mut change: impl FnMut(&mut Counts)) {
        for (span_us, start_us) in bucket_starts(m.created_at_us) {
            change(
                self.counts
                    .entry((span_us, start_us, Arc::clone(&m.dims)))
                    .or_default(),
            );
        }
    }

    fn latency_of(&mut self, m: &Counted, kind: &'static str, bucket: usize, delta: i64) {
        for (span_us, start_us) in bucket_starts(m.created_at_us) {
            let key = LatencyKey {
                span_us,
                start_us,
                country: m.dims.country.clone(),
                provider: m.dims.provider.clone(),
                use_case: m.dims.use_case.clone(),
                kind,
            };
            self.latency.entry(key).or_insert([0; BUCKETS])[bucket] += delta;
        }
    }

    /// A message enters (`before: None`), or its summary moves.
    pub fn message(&mut self, m: &Counted, before: Option<MessageState>, after: MessageState) {
        if before == Some(after) {
            return;
        }
        let index = |status: DeliveryStatus| {
            DeliveryStatus::ALL
                .iter()
                .position(|s| *s == status)
                .unwrap_or(0)
        };
        self.counts_of(m, |c| {
            if let Some(before) = before {
                c.statuses[index(before.status)] -= 1;
                c.timed_out_now -= i64::from(before.timed_out_now);
            }
            c.statuses[index(after.status)] += 1;
            c.timed_out_now += i64::from(after.timed_out_now);
        });
        if let Some(bucket) = before.and_then(|b| b.to_final_bucket) {
            self.latency_of(m, KIND_FINAL, bucket, -1);
        }
        if let Some(bucket) = after.to_final_bucket {
            self.latency_of(m, KIND_FINAL, bucket, 1);
        }
    }

    /// A stored event now belongs to this message.
    pub fn event(&mut self, m: &Counted, fact: EventFact) {
        match fact {
            EventFact::Timeout => self.counts_of(m, |c| c.timeouts += 1),
            EventFact::Callback { latency_us } => {
                self.counts_of(m, |c| c.callbacks += 1);
                if let Some(latency_us) = latency_us {
                    self.latency_of(m, KIND_CALLBACK, bucket_of(latency_us), 1);
                }
            }
        }
    }

    /// Repeated copies of this message's provider callbacks.
    pub fn duplicates(&mut self, m: &Counted, copies: i64) {
        if copies != 0 {
            self.counts_of(m, |c| c.duplicates += copies);
        }
    }

    pub fn retry(&mut self, m: &Counted, kind: RetryKind) {
        let index = RetryKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.counts_of(m, |c| c.retries[index] += 1);
    }

    /// A verification moves from the cell it was counted in (if any) to
    /// another.
    pub fn verification(
        &mut self,
        id: &str,
        created_at_us: i64,
        before: Option<&VerificationCell>,
        after: VerificationCell,
    ) {
        if before == Some(&after) {
            return;
        }
        let mut count = |cell: &VerificationCell, delta: i64| {
            let index = OtpCategory::ALL
                .iter()
                .position(|c| *c == cell.category)
                .unwrap_or(0);
            for (span_us, start_us) in bucket_starts(created_at_us) {
                let key = OtpKey {
                    span_us,
                    start_us,
                    country: cell.country.clone(),
                    provider: cell.provider.clone(),
                    use_case: cell.use_case.clone(),
                };
                self.otp.entry(key).or_insert([0; 6])[index] += delta;
            }
        };
        if let Some(before) = before {
            count(before, -1);
        }
        count(&after, 1);
        self.cells.insert(id.to_owned(), after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dashboard::period::{DAY_US, HOUR_US, QUARTER_US};

    fn counted() -> Counted {
        Counted {
            dims: Arc::new(Dims {
                country: "US".into(),
                provider: "twilio".into(),
                use_case: "otp".into(),
                sender: String::new(),
                template: "login".into(),
            }),
            created_at_us: DAY_US + HOUR_US + QUARTER_US + 5,
            started_us: DAY_US + HOUR_US + QUARTER_US + 5,
        }
    }

    fn state(status: DeliveryStatus, final_after_us: Option<i64>) -> MessageState {
        MessageState {
            status,
            timed_out_now: false,
            to_final_bucket: final_after_us.map(bucket_of),
        }
    }

    #[test]
    fn a_message_counts_in_a_quarter_an_hour_and_a_day() {
        let mut delta = RollupDelta::default();
        let m = counted();
        delta.message(&m, None, state(DeliveryStatus::Accepted, None));
        let starts: Vec<(i64, i64)> = delta.counts.keys().map(|(s, t, _)| (*s, *t)).collect();
        assert_eq!(
            starts,
            vec![
                (QUARTER_US, DAY_US + HOUR_US + QUARTER_US),
                (HOUR_US, DAY_US + HOUR_US),
                (DAY_US, DAY_US),
            ]
        );
        assert!(delta.counts.values().all(|c| c.messages() == 1));
    }

    #[test]
    fn a_move_takes_from_one_status_and_gives_to_another() {
        let mut delta = RollupDelta::default();
        let m = counted();
        delta.message(&m, None, state(DeliveryStatus::Accepted, None));
        delta.message(
            &m,
            Some(state(DeliveryStatus::Accepted, None)),
            state(DeliveryStatus::Delivered, Some(2_000_000)),
        );
        let day = &delta.counts[&(DAY_US, DAY_US, Arc::clone(&m.dims))];
        assert_eq!(day.of(DeliveryStatus::Accepted), 0);
        assert_eq!(day.of(DeliveryStatus::Delivered), 1);
        let finals: i64 = delta
            .latency
            .iter()
            .filter(|(k, _)| k.kind == KIND_FINAL && k.span_us == DAY_US)
            .map(|(_, h)| h.iter().sum::<i64>())
            .sum();
        assert_eq!(finals, 1);
    }

    #[test]
    fn cancelled_changes_leave_no_rows_to_write() {
        let mut delta = RollupDelta::default();
        let m = counted();
        let (sent, delivered) = (
            state(DeliveryStatus::Sent, None),
            state(DeliveryStatus::Delivered, Some(1)),
        );
        delta.message(&m, Some(sent), delivered);
        delta.message(&m, Some(delivered), sent);
        assert!(!delta.is_empty());
        assert!(delta.take().is_empty());
        assert!(delta.is_empty(), "take leaves it empty");
    }

    #[test]
    fn a_verification_moves_between_cells_and_is_remembered() {
        let mut delta = RollupDelta::default();
        let cell = |category| VerificationCell {
            country: "FR".into(),
            provider: "twilio".into(),
            use_case: "otp".into(),
            category,
        };
        delta.verification("v1", 0, None, cell(OtpCategory::Open));
        let open = cell(OtpCategory::Open);
        delta.verification("v1", 0, Some(&open), cell(OtpCategory::Completed));
        let totals: [i64; 6] = delta.otp.iter().filter(|(k, _)| k.span_us == DAY_US).fold(
            [0; 6],
            |mut acc, (_, v)| {
                for (a, b) in acc.iter_mut().zip(v) {
                    *a += b;
                }
                acc
            },
        );
        assert_eq!(totals, [1, 0, 0, 0, 0, 0]);
        assert_eq!(delta.cells["v1"].category, OtpCategory::Completed);
    }
}
