//! The rollup tables' columns, named once for everything that writes or
//! reads them: both writers, the rebuild, the recount and the dashboards.

use std::sync::LazyLock;

use crate::domain::dashboard::{BUCKETS, Counts};

pub(crate) const COUNT_KEY: [&str; 7] = [
    "span_us", "start_us", "country", "provider", "use_case", "sender", "template",
];

/// In the order of [`counts_values`]: statuses in `DeliveryStatus::ALL`
/// order, the event counters, then retries in `RetryKind::ALL` order.
pub(crate) const COUNT_VALUES: [&str; 16] = [
    "accepted",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "rejected",
    "unknown",
    "timed_out_now",
    "timeouts",
    "callbacks",
    "duplicates",
    "retries",
    "resends",
    "failovers",
    "fallbacks",
];

pub(crate) const LATENCY_KEY: [&str; 6] = [
    "span_us", "start_us", "country", "provider", "use_case", "kind",
];

/// `b00` … `b41`.
pub(crate) static LATENCY_VALUES: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..BUCKETS).map(|i| format!("b{i:02}")).collect());

pub(crate) const OTP_KEY: [&str; 5] = ["span_us", "start_us", "country", "provider", "use_case"];

/// In `OtpCategory::ALL` order.
pub(crate) const OTP_VALUES: [&str; 6] = [
    "completed",
    "not_delivered",
    "not_verified",
    "expired",
    "abandoned",
    "open",
];

pub(crate) fn counts_values(c: &Counts) -> [i64; 16] {
    let mut out = [0; 16];
    out[..8].copy_from_slice(&c.statuses);
    out[8] = c.timed_out_now;
    out[9] = c.timeouts;
    out[10] = c.callbacks;
    out[11] = c.duplicates;
    out[12..].copy_from_slice(&c.retries);
    out
}

pub(crate) fn counts_from(values: &[i64]) -> Counts {
    let at = |i: usize| values.get(i).copied().unwrap_or(0);
    let mut c = Counts {
        timed_out_now: at(8),
        timeouts: at(9),
        callbacks: at(10),
        duplicates: at(11),
        ..Counts::default()
    };
    for (i, status) in c.statuses.iter_mut().enumerate() {
        *status = at(i);
    }
    for (i, retry) in c.retries.iter_mut().enumerate() {
        *retry = at(12 + i);
    }
    c
}

/// `a, b, c`.
pub(crate) fn list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| n.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SET v = table.v + excluded.v, …` for an upsert that adds.
pub(crate) fn add_excluded<S: AsRef<str>>(
    table: &str,
    values: impl IntoIterator<Item = S>,
) -> String {
    values
        .into_iter()
        .map(|v| {
            let v = v.as_ref();
            format!("{v} = {table}.{v} + excluded.{v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a <> 0 OR b <> 0 …`: rows whose counters cancelled out to nothing are
/// the same as no row.
pub(crate) fn any_nonzero<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> String {
    values
        .into_iter()
        .map(|v| format!("{} <> 0", v.as_ref()))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DeliveryStatus;
    use crate::domain::dashboard::rollup::OtpCategory;
    use crate::domain::outbound::RetryKind;

    #[test]
    fn columns_follow_the_enums_they_count() {
        for (i, status) in DeliveryStatus::ALL.iter().enumerate() {
            assert_eq!(COUNT_VALUES[i], status.as_str());
        }
        assert_eq!(RetryKind::ALL.len(), 4);
        for (i, category) in OtpCategory::ALL.iter().enumerate() {
            assert_eq!(OTP_VALUES[i], category.as_str());
        }
        assert_eq!(LATENCY_VALUES.len(), BUCKETS);
        assert_eq!(LATENCY_VALUES[41], "b41");
    }

    #[test]
    fn counts_round_trip_through_columns() {
        let mut c = Counts::default();
        c.statuses[2] = 5;
        c.timed_out_now = 1;
        c.duplicates = 7;
        c.retries[3] = 2;
        assert_eq!(counts_from(&counts_values(&c)), c);
    }
}
