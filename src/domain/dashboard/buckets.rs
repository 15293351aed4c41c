//! Durations (callback latency, time to a final status) counted in fixed
//! buckets, so that a rollup row holds a histogram of plain counters that
//! add up across rows, and percentiles come from the bucket counts alone.
//!
//! The edges are the round numbers a person reads (100 ms, 1.5 s, 5 min,
//! 2 h, …), never more than 2× apart and mostly 1.3–1.5×: a percentile is
//! reported as the upper edge of its bucket ("p95 ≤ 30 s"), which is exact
//! about the bucket and honest about what the buckets cannot tell.

const MS: i64 = 1_000;
const S: i64 = 1_000 * MS;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
const D: i64 = 24 * H;

/// Upper (exclusive) edges of every bucket but the last, in microseconds.
/// Bucket 0 holds everything under 100 ms, including negative durations
/// (a provider clock running ahead of ours); the last holds 7 days and more.
pub const EDGES_US: [i64; 41] = [
    100 * MS,
    200 * MS,
    300 * MS,
    500 * MS,
    700 * MS,
    S,
    1_500 * MS,
    2 * S,
    3 * S,
    5 * S,
    7 * S,
    10 * S,
    15 * S,
    20 * S,
    30 * S,
    45 * S,
    MIN,
    90 * S,
    2 * MIN,
    3 * MIN,
    5 * MIN,
    7 * MIN,
    10 * MIN,
    15 * MIN,
    20 * MIN,
    30 * MIN,
    45 * MIN,
    H,
    90 * MIN,
    2 * H,
    3 * H,
    5 * H,
    7 * H,
    10 * H,
    15 * H,
    D,
    36 * H,
    2 * D,
    3 * D,
    4 * D,
    7 * D,
];

/// How many buckets a histogram has.
pub const BUCKETS: usize = EDGES_US.len() + 1;

/// The bucket a duration falls in.
pub fn bucket_of(duration_us: i64) -> usize {
    EDGES_US.partition_point(|&edge| edge <= duration_us)
}

/// A percentile read from bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    /// In a bucket with this upper edge: the value is below it.
    AtMost(i64),
    /// In the last, open bucket: at least this long.
    AtLeast(i64),
}

impl Percentile {
    /// "≤ 1.5 s", "< 100 ms", "≥ 7 d".
    pub fn label(self) -> String {
        match self {
            Self::AtMost(edge) if edge == EDGES_US[0] => format!("< {}", short_duration(edge)),
            Self::AtMost(edge) => format!("≤ {}", short_duration(edge)),
            Self::AtLeast(edge) => format!("≥ {}", short_duration(edge)),
        }
    }

    /// The edge the label names, for drawing.
    pub fn edge_us(self) -> i64 {
        match self {
            Self::AtMost(edge) | Self::AtLeast(edge) => edge,
        }
    }
}

/// Counts per bucket. Adding two histograms adds their counts, which is
/// what lets rollup rows of different hours or countries be summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram(pub [i64; BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Self([0; BUCKETS])
    }
}

impl Histogram {
    pub fn record(&mut self, duration_us: i64) {
        self.0[bucket_of(duration_us)] += 1;
    }

    pub fn add(&mut self, other: &Histogram) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> i64 {
        self.0.iter().sum()
    }

    /// The `p`-th percentile (`p` in 0–100): the bucket holding the value at
    /// rank ⌈p·n/100⌉ (the nearest-rank definition). `None` when empty.
    pub fn percentile(&self, p: u32) -> Option<Percentile> {
        let n = self.count();
        if n <= 0 {
            return None;
        }
        let rank = ((i64::from(p.clamp(1, 100)) * n) + 99) / 100;
        let mut seen = 0;
        for (bucket, count) in self.0.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(match EDGES_US.get(bucket) {
                    Some(&edge) => Percentile::AtMost(edge),
                    None => Percentile::AtLeast(EDGES_US[EDGES_US.len() - 1]),
                });
            }
        }
        None
    }
}

/// A bucket edge as written on an axis: `100 ms`, `1.5 s`, `90 s`, `2 h`, `7 d`.
pub fn short_duration(us: i64) -> String {
    let (value, unit) = if us < S {
        (us as f64 / MS as f64, "ms")
    } else if us < 2 * MIN {
        (us as f64 / S as f64, "s")
    } else if us < 2 * H {
        (us as f64 / MIN as f64, "min")
    } else if us < 2 * D {
        (us as f64 / H as f64, "h")
    } else {
        (us as f64 / D as f64, "d")
    };
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// A label for bucket `index`: "100–200 ms", "< 100 ms", "≥ 7 d".
pub fn bucket_label(index: usize) -> String {
    match (
        index.checked_sub(1).and_then(|i| EDGES_US.get(i)),
        EDGES_US.get(index),
    ) {
        (None, Some(&upper)) => format!("< {}", short_duration(upper)),
        (Some(&lower), Some(&upper)) => {
            format!("{} – {}", short_duration(lower), short_duration(upper))
        }
        (Some(&lower), None) => format!("≥ {}", short_duration(lower)),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_rise_and_are_never_more_than_twice_apart() {
        for pair in EDGES_US.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
            assert!(pair[1] <= 2 * pair[0], "{pair:?}");
        }
        assert_eq!(BUCKETS, 42);
    }

    #[test]
    fn a_duration_falls_in_the_bucket_below_its_upper_edge() {
        assert_eq!(bucket_of(-5 * S), 0, "provider clock ahead");
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(99_999), 0);
        assert_eq!(
            bucket_of(100 * MS),
            1,
            "an edge belongs to the bucket above it"
        );
        assert_eq!(bucket_of(1_499 * MS), 6);
        assert_eq!(bucket_of(1_500 * MS), 7);
        assert_eq!(bucket_of(7 * D - 1), 40);
        assert_eq!(bucket_of(7 * D), 41);
        assert_eq!(bucket_of(i64::MAX), 41);
    }

    #[test]
    fn percentiles_come_from_the_cumulative_counts() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50), None, "no data, no percentile");
        // 50 callbacks at 1.2 s, 45 at 4 s, 4 at 40 s, 1 at 2 h.
        for _ in 0..50 {
            h.record(1_200 * MS);
        }
        for _ in 0..45 {
            h.record(4 * S);
        }
        for _ in 0..4 {
            h.record(40 * S);
        }
        h.record(2 * H);
        assert_eq!(h.count(), 100);
        assert_eq!(h.percentile(50), Some(Percentile::AtMost(1_500 * MS)));
        assert_eq!(h.percentile(51), Some(Percentile::AtMost(5 * S)));
        assert_eq!(h.percentile(95), Some(Percentile::AtMost(5 * S)));
        assert_eq!(h.percentile(99), Some(Percentile::AtMost(45 * S)));
        assert_eq!(h.percentile(100), Some(Percentile::AtMost(3 * H)));
        assert_eq!(
            h.percentile(50).map(Percentile::label).as_deref(),
            Some("≤ 1.5 s")
        );
    }

    #[test]
    fn one_value_is_every_percentile_and_the_open_bucket_says_at_least() {
        let mut h = Histogram::default();
        h.record(30 * D);
        assert_eq!(h.percentile(1), Some(Percentile::AtLeast(7 * D)));
        assert_eq!(
            h.percentile(99).map(Percentile::label).as_deref(),
            Some("≥ 7 d")
        );
        let mut fast = Histogram::default();
        fast.record(20 * MS);
        assert_eq!(
            fast.percentile(50).map(Percentile::label).as_deref(),
            Some("< 100 ms")
        );
    }

    #[test]
    fn histograms_add_bucket_by_bucket() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(S);
        b.record(S);
        b.record(3 * H);
        a.add(&b);
        assert_eq!(a.0[bucket_of(S)], 2);
        assert_eq!(a.0[bucket_of(3 * H)], 1);
        assert_eq!(a.count(), 3);
    }

    #[test]
    fn edges_read_as_people_write_them() {
        assert_eq!(short_duration(100 * MS), "100 ms");
        assert_eq!(short_duration(1_500 * MS), "1.5 s");
        assert_eq!(short_duration(90 * S), "90 s");
        assert_eq!(short_duration(90 * MIN), "90 min");
        assert_eq!(short_duration(36 * H), "36 h");
        assert_eq!(short_duration(7 * D), "7 d");
        assert_eq!(bucket_label(0), "< 100 ms");
        assert_eq!(bucket_label(1), "100 ms – 200 ms");
        assert_eq!(bucket_label(41), "≥ 7 d");
    }
}
