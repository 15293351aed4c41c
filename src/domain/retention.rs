//! How the retention policy is told to people: where a ciphertext was
//! removed, the page says so, with the period in force.

use std::time::Duration;

/// `removed after 90 days by the retention policy`; without a period in
/// force any more (the setting was unset since), just that it was removed.
pub fn removed_note(period: Option<Duration>) -> String {
    match period {
        Some(period) => format!(
            "removed after {} by the retention policy",
            describe_period(period)
        ),
        None => "removed by the retention policy".to_owned(),
    }
}

/// `90 days`, `1 day`, `12 hours`, `10 minutes`, `30 seconds`: the largest
/// whole unit.
pub fn describe_period(period: Duration) -> String {
    let seconds = period.as_secs();
    let (count, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| seconds >= *size && seconds.is_multiple_of(*size))
        .map(|(size, unit)| (seconds / size, unit))
        .unwrap_or((seconds, "second"));
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

/// The cutoff for a period at `now_us`: what is older goes.
pub fn cutoff_us(period: Duration, now_us: i64) -> i64 {
    now_us.saturating_sub(i64::try_from(period.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_in_their_largest_whole_unit() {
        let note = removed_note(Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(note, "removed after 90 days by the retention policy");
        assert_eq!(describe_period(Duration::from_secs(86_400)), "1 day");
        assert_eq!(describe_period(Duration::from_secs(36 * 3600)), "36 hours");
        assert_eq!(describe_period(Duration::from_secs(600)), "10 minutes");
        assert_eq!(describe_period(Duration::from_secs(90)), "90 seconds");
        assert_eq!(removed_note(None), "removed by the retention policy");
        assert_eq!(cutoff_us(Duration::from_secs(1), 5_000_000), 4_000_000);
        assert_eq!(cutoff_us(Duration::MAX, 5), i64::MIN + 6, "no overflow");
    }
}
