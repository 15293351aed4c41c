//! The figures a dashboard shows, computed from rollup rows already summed
//! over the period: breakdowns, rates and the countries whose receipts are
//! unreliable. Plain arithmetic over counters, so a page cannot disagree
//! with the rows it was built from.

use std::collections::BTreeMap;

use super::buckets::Histogram;
use super::rollup::OtpCategory;
use crate::domain::DeliveryStatus;
use crate::domain::outbound::RetryKind;

/// The message counters of one rollup key (or any sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Messages by current status, in [`DeliveryStatus::ALL`] order.
    pub statuses: [i64; 8],
    /// `unknown` because smstrail's timeout gave up on them (still no receipt).
    pub timed_out_now: i64,
    /// smstrail timeout events written (a late receipt may have followed).
    pub timeouts: i64,
    /// Provider callbacks stored (each distinct callback once).
    pub callbacks: i64,
    /// Repeated copies of those callbacks, ignored.
    pub duplicates: i64,
    /// Retries and fallbacks recorded, in [`RetryKind::ALL`] order.
    pub retries: [i64; 4],
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        for (mine, theirs) in self.statuses.iter_mut().zip(other.statuses) {
            *mine += theirs;
        }
        for (mine, theirs) in self.retries.iter_mut().zip(other.retries) {
            *mine += theirs;
        }
        self.timed_out_now += other.timed_out_now;
        self.timeouts += other.timeouts;
        self.callbacks += other.callbacks;
        self.duplicates += other.duplicates;
    }

    pub fn messages(&self) -> i64 {
        self.statuses.iter().sum()
    }

    pub fn of(&self, status: DeliveryStatus) -> i64 {
        DeliveryStatus::ALL
            .iter()
            .position(|s| *s == status)
            .map_or(0, |i| self.statuses[i])
    }

    pub fn final_count(&self) -> i64 {
        DeliveryStatus::ALL
            .iter()
            .zip(self.statuses)
            .filter(|(status, _)| status.is_final())
            .map(|(_, n)| n)
            .sum()
    }

    pub fn not_final(&self) -> i64 {
        self.messages() - self.final_count()
    }

    pub fn retries_of(&self, kind: RetryKind) -> i64 {
        RetryKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.retries[i])
    }

    pub fn all_retries(&self) -> i64 {
        self.retries.iter().sum()
    }

    /// Messages whose fate is known: a final status, or smstrail gave up.
    pub fn settled(&self) -> i64 {
        self.final_count() + self.timed_out_now
    }

    /// Of the settled messages, the share that never got a final receipt.
    /// Messages still inside their window are left out, so a recent period
    /// does not read as "no receipts".
    pub fn never_final_share(&self) -> Option<f64> {
        rate(self.timed_out_now, self.settled())
    }

    /// Share of messages with a final status (the provider's receipt arrived).
    pub fn receipt_coverage(&self) -> Option<f64> {
        rate(self.final_count(), self.messages())
    }

    pub fn delivered_rate(&self) -> Option<f64> {
        rate(self.of(DeliveryStatus::Delivered), self.messages())
    }

    /// Repeated copies per distinct callback.
    pub fn duplicate_rate(&self) -> Option<f64> {
        rate(self.duplicates, self.callbacks)
    }
}

/// `part / whole`, or `None` when there is nothing to divide.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// "12.5 %"; "—" when there is no rate.
pub fn percent(share: Option<f64>) -> String {
    match share {
        None => "—".to_owned(),
        Some(s) if s > 0.0 && s < 0.001 => "< 0.1 %".to_owned(),
        Some(s) => format!("{:.1} %", s * 100.0),
    }
}

/// Rows summed by the value `key` picks, largest volume first (then by
/// name, so equal volumes keep a stable order).
pub fn breakdown<R>(
    rows: &[R],
    key: impl Fn(&R) -> &str,
    counts: impl Fn(&R) -> &Counts,
) -> Vec<(String, Counts)> {
    let mut sums: BTreeMap<&str, Counts> = BTreeMap::new();
    for row in rows {
        sums.entry(key(row)).or_default().add(counts(row));
    }
    let mut out: Vec<(String, Counts)> = sums.into_iter().map(|(k, c)| (k.to_owned(), c)).collect();
    out.sort_by(|a, b| {
        b.1.messages()
            .cmp(&a.1.messages())
            .then_with(|| a.0.cmp(&b.0))
    });
    out
}

/// Histograms summed by the value `key` picks, largest first.
pub fn histogram_breakdown<R>(
    rows: &[R],
    key: impl Fn(&R) -> &str,
    histogram: impl Fn(&R) -> &Histogram,
) -> Vec<(String, Histogram)> {
    let mut sums: BTreeMap<&str, Histogram> = BTreeMap::new();
    for row in rows {
        sums.entry(key(row)).or_default().add(histogram(row));
    }
    let mut out: Vec<(String, Histogram)> =
        sums.into_iter().map(|(k, h)| (k.to_owned(), h)).collect();
    out.sort_by(|a, b| b.1.count().cmp(&a.1.count()).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Verifications per category, in [`OtpCategory::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtpCounts(pub [i64; 6]);

impl OtpCounts {
    pub fn add(&mut self, other: &OtpCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub fn of(&self, category: OtpCategory) -> i64 {
        OtpCategory::ALL
            .iter()
            .position(|c| *c == category)
            .map_or(0, |i| self.0[i])
    }

    /// Every verification requested.
    pub fn requested(&self) -> i64 {
        self.0.iter().sum()
    }

    /// Completed / requested.
    pub fn completion_rate(&self) -> Option<f64> {
        rate(self.of(OtpCategory::Completed), self.requested())
    }
}

/// A country needs this many settled messages before its receipts are judged.
pub const RECEIPT_MIN_SETTLED: i64 = 20;
/// …and is said to rarely send receipts when at least this share never got one.
pub const RECEIPT_UNRELIABLE_SHARE: f64 = 0.2;

/// Whether a country's receipts are unreliable, from its counts.
pub fn rarely_sends_receipts(counts: &Counts) -> bool {
    counts.settled() >= RECEIPT_MIN_SETTLED
        && counts
            .never_final_share()
            .is_some_and(|share| share >= RECEIPT_UNRELIABLE_SHARE)
}

/// What the message page says about a message that has no final status yet
/// when its country often sends none (`counts`: that country's messages over
/// the recent past): a missing receipt is then no sign of failure.
pub fn missing_receipt_note(country: &str, counts: &Counts, days: i64) -> Option<String> {
    if !rarely_sends_receipts(counts) {
        return None;
    }
    Some(format!(
        "This country often sends no receipt: {} of {} settled messages to {country} in the \
         last {days} days ({}) never got a final status. No receipt here does not mean the \
         SMS failed.",
        counts.timed_out_now,
        counts.settled(),
        percent(counts.never_final_share()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(delivered: i64, failed: i64, sent: i64, timed_out: i64) -> Counts {
        let mut c = Counts::default();
        c.statuses[2] = delivered;
        c.statuses[4] = failed;
        c.statuses[1] = sent;
        c.statuses[7] = timed_out;
        c.timed_out_now = timed_out;
        c.timeouts = timed_out;
        c
    }

    #[test]
    fn rates_and_shares_count_what_they_say() {
        let c = counts(70, 10, 5, 15);
        assert_eq!(c.messages(), 100);
        assert_eq!(c.final_count(), 80);
        assert_eq!(c.not_final(), 20);
        assert_eq!(c.delivered_rate(), Some(0.7));
        assert_eq!(c.receipt_coverage(), Some(0.8));
        assert_eq!(c.settled(), 95);
        assert_eq!(c.never_final_share(), Some(15.0 / 95.0));
        assert_eq!(
            Counts::default().delivered_rate(),
            None,
            "empty is no rate, not 0 %"
        );
        assert_eq!(percent(Some(0.125)), "12.5 %");
        assert_eq!(percent(Some(0.0004)), "< 0.1 %");
        assert_eq!(percent(None), "—");
    }

    #[test]
    fn breakdowns_sum_by_key_largest_first() {
        let rows = [
            ("US", counts(5, 0, 0, 0)),
            ("FR", counts(9, 1, 0, 0)),
            ("US", counts(6, 0, 0, 0)),
        ];
        let by = breakdown(&rows, |r| r.0, |r| &r.1);
        assert_eq!(by.len(), 2);
        assert_eq!(by[0].0, "US");
        assert_eq!(by[0].1.messages(), 11);
        assert_eq!(by[1].0, "FR");
    }

    #[test]
    fn a_country_rarely_sends_receipts_past_a_share_and_a_volume() {
        assert!(
            !rarely_sends_receipts(&counts(10, 0, 0, 9)),
            "19 settled: too few to judge"
        );
        assert!(rarely_sends_receipts(&counts(16, 0, 0, 4)), "20 %");
        assert!(
            !rarely_sends_receipts(&counts(17, 0, 50, 3)),
            "in flight does not count"
        );
        let note = missing_receipt_note("IN", &counts(60, 0, 0, 40), 30).unwrap();
        assert!(
            note.starts_with("This country often sends no receipt: 40 of 100"),
            "{note}"
        );
        assert!(note.contains("(40.0 %)"));
        assert_eq!(missing_receipt_note("US", &counts(99, 0, 0, 1), 30), None);
    }

    #[test]
    fn otp_completion_is_completed_over_requested() {
        let otp = OtpCounts([6, 2, 1, 1, 0, 2]);
        assert_eq!(otp.requested(), 12);
        assert_eq!(otp.completion_rate(), Some(0.5));
        assert_eq!(OtpCounts::default().completion_rate(), None);
    }
}
