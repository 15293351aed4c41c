//! Which instants a dashboard covers, and how that span splits into the
//! rollups' time buckets.
//!
//! Rollups count each message in a quarter-hour, an hour and a UTC day
//! (by when it was registered). Every period is a whole number of quarter
//! hours, so a reader adds whole days, then whole hours, then the few
//! quarters left at each end: a 30-day dashboard reads about 30 day rows,
//! 46 hour rows and 6 quarter rows per dimension value, not 2,880 quarters.
//! Quarter hours, not hours: some zones are 30 or 45 minutes off UTC
//! (India, Nepal), and a day in the agent's zone must start exactly.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

pub const QUARTER_US: i64 = 15 * 60 * 1_000_000;
pub const HOUR_US: i64 = 4 * QUARTER_US;
pub const DAY_US: i64 = 24 * HOUR_US;

/// The rollups' bucket sizes, finest first.
pub const SPANS_US: [i64; 3] = [QUARTER_US, HOUR_US, DAY_US];

/// The start of the bucket of each size that holds `at_us`.
pub fn bucket_starts(at_us: i64) -> [(i64, i64); 3] {
    SPANS_US.map(|span| (span, floor(at_us, span)))
}

fn floor(at_us: i64, span: i64) -> i64 {
    at_us.div_euclid(span) * span
}

fn ceil(at_us: i64, span: i64) -> i64 {
    floor(at_us + span - 1, span)
}

/// What the agent picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodChoice {
    LastHour,
    LastDay,
    Last7Days,
    Last30Days,
    /// Whole days in the agent's zone, both included.
    Days {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// The longest custom period: the page stays fast and the axis readable.
pub const MAX_CUSTOM_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("unknown period {0:?}: choose 1h, 24h, 7d, 30d or custom dates")]
    Unknown(String),
    #[error("{field}: {text:?} is not a date (YYYY-MM-DD)")]
    BadDate { field: &'static str, text: String },
    #[error("custom dates need both From and To")]
    MissingDate,
    #[error("From ({from}) is after To ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("a custom period is at most {MAX_CUSTOM_DAYS} days")]
    TooLong,
    #[error("{0} has no start in this time zone")]
    NoMidnight(NaiveDate),
}

impl PeriodChoice {
    /// From the page's `period`, `from` and `to` parameters. An empty period
    /// is the last 7 days, or the dates when both are given.
    pub fn parse(period: &str, from: &str, to: &str) -> Result<Self, PeriodError> {
        let (from, to) = (from.trim(), to.trim());
        match period.trim() {
            "1h" => Ok(Self::LastHour),
            "24h" => Ok(Self::LastDay),
            "7d" => Ok(Self::Last7Days),
            "30d" => Ok(Self::Last30Days),
            "" if from.is_empty() && to.is_empty() => Ok(Self::Last7Days),
            "custom" | "" => {
                if from.is_empty() || to.is_empty() {
                    return Err(PeriodError::MissingDate);
                }
                let date = |field, text: &str| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| PeriodError::BadDate {
                        field,
                        text: text.to_owned(),
                    })
                };
                let (from, to) = (date("From", from)?, date("To", to)?);
                if from > to {
                    return Err(PeriodError::Reversed { from, to });
                }
                if (to - from).num_days() >= MAX_CUSTOM_DAYS {
                    return Err(PeriodError::TooLong);
                }
                Ok(Self::Days { from, to })
            }
            other => Err(PeriodError::Unknown(other.to_owned())),
        }
    }

    /// The `period` parameter that picks this choice again.
    pub fn key(self) -> &'static str {
        match self {
            Self::LastHour => "1h",
            Self::LastDay => "24h",
            Self::Last7Days => "7d",
            Self::Last30Days => "30d",
            Self::Days { .. } => "custom",
        }
    }

    /// The instants covered, given the time now and the agent's zone.
    pub fn resolve(self, now_us: i64, zone: Tz) -> Result<Period, PeriodError> {
        // The quarter now runs in is included, so "the last hour" shows
        // what arrived a moment ago; it reaches back 45 to 60 minutes.
        let end = ceil(now_us + 1, QUARTER_US);
        let back = |us| Ok(Period::new(end - us, end));
        match self {
            Self::LastHour => back(HOUR_US),
            Self::LastDay => back(DAY_US),
            Self::Last7Days => back(7 * DAY_US),
            Self::Last30Days => back(30 * DAY_US),
            Self::Days { from, to } => {
                let start = local_midnight(from, zone)?;
                let after = to.succ_opt().ok_or(PeriodError::TooLong)?;
                Ok(Period::new(start, local_midnight(after, zone)?))
            }
        }
    }
}

/// The first instant of `day` in `zone`. Where a clock change skips
/// midnight (America/Santiago in September), the day starts at its first
/// local time that exists, found in quarter-hour steps. Rounded down to the
/// quarter hour, which changes nothing in any zone in use today.
pub fn local_midnight(day: NaiveDate, zone: Tz) -> Result<i64, PeriodError> {
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .ok_or(PeriodError::NoMidnight(day))?;
    (0..=48)
        .find_map(|quarter| {
            let local = midnight + chrono::Duration::minutes(15 * quarter);
            zone.from_local_datetime(&local).earliest()
        })
        .map(|at| floor(at.timestamp_micros(), QUARTER_US))
        .ok_or(PeriodError::NoMidnight(day))
}

/// `[from_us, to_us)`, both on quarter-hour boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from_us: i64,
    pub to_us: i64,
}

/// Buckets of one size whose starts lie in `[from_us, to_us)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRange {
    pub span_us: i64,
    pub from_us: i64,
    pub to_us: i64,
}

impl SpanRange {
    /// Each bucket of the range: (size, start).
    pub fn starts(&self) -> impl Iterator<Item = (i64, i64)> + use<> {
        let span_us = self.span_us.max(1);
        let count = (self.to_us - self.from_us).max(0) / span_us;
        let from_us = self.from_us;
        (0..count).map(move |i| (span_us, from_us + i * span_us))
    }
}

impl Period {
    fn new(from_us: i64, to_us: i64) -> Self {
        let from_us = floor(from_us, QUARTER_US);
        Self {
            from_us,
            to_us: floor(to_us, QUARTER_US).max(from_us),
        }
    }

    /// The fewest rollup buckets that cover the period exactly: whole UTC
    /// days in the middle, whole hours beside them, quarter hours at the
    /// ends. At most five ranges.
    pub fn ranges(&self) -> Vec<SpanRange> {
        let mut ranges = Vec::with_capacity(5);
        let (first_day, last_day) = (ceil(self.from_us, DAY_US), floor(self.to_us, DAY_US));
        if first_day < last_day {
            hours_and_quarters(self.from_us, first_day, &mut ranges);
            ranges.push(SpanRange {
                span_us: DAY_US,
                from_us: first_day,
                to_us: last_day,
            });
            hours_and_quarters(last_day, self.to_us, &mut ranges);
        } else {
            hours_and_quarters(self.from_us, self.to_us, &mut ranges);
        }
        ranges
    }
}

fn hours_and_quarters(from_us: i64, to_us: i64, ranges: &mut Vec<SpanRange>) {
    let mut push = |span_us, from_us, to_us| {
        if from_us < to_us {
            ranges.push(SpanRange {
                span_us,
                from_us,
                to_us,
            });
        }
    };
    let (first_hour, last_hour) = (ceil(from_us, HOUR_US), floor(to_us, HOUR_US));
    if first_hour < last_hour {
        push(QUARTER_US, from_us, first_hour);
        push(HOUR_US, first_hour, last_hour);
        push(QUARTER_US, last_hour, to_us);
    } else {
        push(QUARTER_US, from_us, to_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;
    /// 2026-03-10T14:07:00Z.
    const NOW: i64 = 1_773_151_620_000_000;

    fn covered(period: &Period) -> i64 {
        period
            .ranges()
            .iter()
            .map(|r| {
                assert_eq!(r.from_us % r.span_us, 0, "{r:?} starts on its bucket");
                assert_eq!(r.to_us % r.span_us, 0, "{r:?} ends on its bucket");
                r.to_us - r.from_us
            })
            .sum()
    }

    #[test]
    fn a_range_lists_each_of_its_buckets_once() {
        let range = SpanRange {
            span_us: HOUR_US,
            from_us: 3 * HOUR_US,
            to_us: 6 * HOUR_US,
        };
        assert_eq!(
            range.starts().collect::<Vec<_>>(),
            vec![
                (HOUR_US, 3 * HOUR_US),
                (HOUR_US, 4 * HOUR_US),
                (HOUR_US, 5 * HOUR_US)
            ]
        );
        let empty = SpanRange {
            to_us: 3 * HOUR_US,
            ..range
        };
        assert_eq!(empty.starts().count(), 0);
        let period = PeriodChoice::Last30Days.resolve(NOW, Tz::UTC).unwrap();
        let buckets: i64 = period
            .ranges()
            .iter()
            .flat_map(SpanRange::starts)
            .map(|(span, _)| span)
            .sum();
        assert_eq!(
            buckets,
            period.to_us - period.from_us,
            "they tile the period"
        );
    }

    #[test]
    fn every_message_time_has_one_bucket_of_each_size() {
        let [(q, qs), (h, hs), (d, ds)] = bucket_starts(NOW);
        assert_eq!((q, h, d), (QUARTER_US, HOUR_US, DAY_US));
        assert_eq!(NOW - qs, 7 * MIN);
        assert_eq!(NOW - hs, 7 * MIN);
        assert_eq!(NOW - ds, (14 * 60 + 7) * MIN);
    }

    #[test]
    fn the_last_hour_includes_the_running_quarter() {
        let period = PeriodChoice::LastHour.resolve(NOW, Tz::UTC).unwrap();
        assert_eq!(period.to_us, NOW + 8 * MIN, "up to 14:15");
        assert_eq!(period.from_us, NOW - 52 * MIN, "from 13:15");
        // No whole hour fits between 13:15 and 14:15: four quarters.
        assert_eq!(
            period.ranges(),
            vec![SpanRange {
                span_us: QUARTER_US,
                from_us: period.from_us,
                to_us: period.to_us
            }]
        );
    }

    #[test]
    fn thirty_days_read_days_hours_and_few_quarters() {
        let period = PeriodChoice::Last30Days.resolve(NOW, Tz::UTC).unwrap();
        assert_eq!(period.to_us - period.from_us, 30 * DAY_US);
        let ranges = period.ranges();
        assert_eq!(
            covered(&period),
            30 * DAY_US,
            "no gap, no overlap: {ranges:?}"
        );
        let days = ranges.iter().find(|r| r.span_us == DAY_US).unwrap();
        assert_eq!((days.to_us - days.from_us) / DAY_US, 29);
        let quarters: i64 = ranges
            .iter()
            .filter(|r| r.span_us == QUARTER_US)
            .map(|r| (r.to_us - r.from_us) / QUARTER_US)
            .sum();
        assert!(quarters <= 6, "{quarters} quarters");
        assert!(ranges.len() <= 5);
    }

    #[test]
    fn custom_days_start_at_midnight_in_the_agents_zone() {
        let choice = PeriodChoice::parse("custom", "2026-03-01", "2026-03-02").unwrap();
        let kolkata = chrono_tz::Asia::Kolkata;
        let period = choice.resolve(NOW, kolkata).unwrap();
        // Midnight in Kolkata (UTC+5:30) is 18:30Z the day before.
        assert_eq!(period.from_us, 1_772_303_400_000_000);
        assert_eq!(period.to_us - period.from_us, 2 * DAY_US);
        assert_eq!(covered(&period), 2 * DAY_US);
        let kathmandu = choice.resolve(NOW, chrono_tz::Asia::Kathmandu).unwrap();
        assert_eq!(
            kathmandu.from_us % QUARTER_US,
            0,
            "UTC+5:45 is whole quarters"
        );
        assert_eq!(covered(&kathmandu), 2 * DAY_US);
    }

    #[test]
    fn a_day_of_a_clock_change_is_as_long_as_it_is() {
        let choice = PeriodChoice::parse("", "2026-03-08", "2026-03-08").unwrap();
        let period = choice.resolve(NOW, chrono_tz::America::New_York).unwrap();
        assert_eq!(period.to_us - period.from_us, 23 * HOUR_US);
        assert_eq!(covered(&period), 23 * HOUR_US);
    }

    #[test]
    fn choices_parse_and_bad_ones_say_why() {
        assert_eq!(
            PeriodChoice::parse("", "", "").unwrap(),
            PeriodChoice::Last7Days
        );
        assert_eq!(
            PeriodChoice::parse("30d", "x", "y").unwrap(),
            PeriodChoice::Last30Days
        );
        assert_eq!(PeriodChoice::parse("24h", "", "").unwrap().key(), "24h");
        assert!(matches!(
            PeriodChoice::parse("2w", "", ""),
            Err(PeriodError::Unknown(_))
        ));
        assert!(matches!(
            PeriodChoice::parse("custom", "2026-03-01", ""),
            Err(PeriodError::MissingDate)
        ));
        assert!(matches!(
            PeriodChoice::parse("custom", "2026-03-05", "2026-03-01"),
            Err(PeriodError::Reversed { .. })
        ));
        assert!(matches!(
            PeriodChoice::parse("custom", "2024-01-01", "2026-01-01"),
            Err(PeriodError::TooLong)
        ));
        assert!(matches!(
            PeriodChoice::parse("custom", "2026-02-30", "2026-03-01"),
            Err(PeriodError::BadDate { field: "From", .. })
        ));
    }

    #[test]
    fn an_aligned_period_reads_no_quarters() {
        let period = Period::new(0, 3 * DAY_US + 2 * HOUR_US);
        assert_eq!(
            period.ranges(),
            vec![
                SpanRange {
                    span_us: DAY_US,
                    from_us: 0,
                    to_us: 3 * DAY_US
                },
                SpanRange {
                    span_us: HOUR_US,
                    from_us: 3 * DAY_US,
                    to_us: 3 * DAY_US + 2 * HOUR_US
                },
            ]
        );
        assert!(Period::new(5 * HOUR_US, 5 * HOUR_US).ranges().is_empty());
    }
}
