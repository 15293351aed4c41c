//! The dashboards' reads: the rollup buckets of a period (cached per bucket
//! until its version moves, [`cache`]), summed per dimension value for the
//! page to turn into figures. And the rollups' upkeep outside the writers: the
//! rebuild from the base tables and the recount that proves them equal
//! ([`recount`]).

mod cache;
pub mod recount;
pub(crate) mod schema;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use sqlx::Row;
use sqlx::any::AnyRow;

pub use self::cache::BucketCache;
use self::cache::{BucketRows, ReadRow};
use self::schema::{
    COUNT_KEY, COUNT_VALUES, LATENCY_KEY, LATENCY_VALUES, OTP_KEY, OTP_VALUES, counts_from, list,
};
use super::query::Query;
use super::{Store, StoreError};
use crate::domain::dashboard::{Counts, Histogram, OtpCounts, Period, SpanRange};

/// What every view is filtered by besides the period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardFilter {
    pub country: Option<String>,
    pub provider: Option<String>,
    pub use_case: Option<String>,
}

/// Messages of one combination of dimension values (`""`: none given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub country: String,
    pub provider: String,
    pub use_case: String,
    pub sender: String,
    pub template: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Each provider callback: received minus the provider's time.
    Callback,
    /// Each final message: from sent (else registered) to its final status.
    ToFinal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyRow {
    pub country: String,
    pub provider: String,
    pub kind: LatencyKind,
    pub histogram: Histogram,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpRow {
    pub country: String,
    pub provider: String,
    pub counts: OtpCounts,
}

/// Everything a dashboard shows, summed over its period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardData {
    pub counts: Vec<CountRow>,
    pub latency: Vec<LatencyRow>,
    pub otp: Vec<OtpRow>,
}

/// A rollup table as the dashboards read it: its text key columns (after
/// the bucket's size and start; country, provider and use case first in
/// every table) and its counters.
struct Table {
    name: &'static str,
    keys: &'static [&'static str],
    values: Vec<String>,
}

static COUNTS: LazyLock<Table> = LazyLock::new(|| Table {
    name: "dash_counts",
    keys: &COUNT_KEY[2..],
    values: COUNT_VALUES.map(str::to_owned).to_vec(),
});
static LATENCY: LazyLock<Table> = LazyLock::new(|| Table {
    name: "dash_latency",
    keys: &LATENCY_KEY[2..],
    values: LATENCY_VALUES.clone(),
});
static OTP: LazyLock<Table> = LazyLock::new(|| Table {
    name: "dash_otp",
    keys: &OTP_KEY[2..],
    values: OTP_VALUES.map(str::to_owned).to_vec(),
});

impl DashboardFilter {
    /// Whether a row keyed (country, provider, use case, …) is in.
    fn keeps(&self, key: &[String]) -> bool {
        [&self.country, &self.provider, &self.use_case]
            .iter()
            .enumerate()
            .all(|(i, wanted)| {
                wanted
                    .as_ref()
                    .is_none_or(|w| key.get(i).is_some_and(|k| k == w))
            })
    }
}

impl Store {
    /// The rollups of `period`, filtered, summed per dimension value: the
    /// buckets' rows come from the cache unless their version moved.
    pub async fn dashboard(
        &self,
        period: &Period,
        filter: &DashboardFilter,
    ) -> Result<DashboardData, StoreError> {
        let ranges = period.ranges();
        if ranges.is_empty() {
            return Ok(DashboardData::default());
        }
        let versions = self.bucket_versions(&ranges).await?;
        let (counts, latency, otp) = tokio::try_join!(
            self.bucket_rows(&COUNTS, &ranges, &versions),
            self.bucket_rows(&LATENCY, &ranges, &versions),
            self.bucket_rows(&OTP, &ranges, &versions),
        )?;
        let keep = |key: &[String]| filter.keeps(key);
        Ok(DashboardData {
            counts: count_rows(&counts, keep),
            latency: cache::sum(&latency, keep, &[0, 1, 3])
                .into_iter()
                .map(|(key, values)| {
                    let mut histogram = Histogram::default();
                    for (bucket, n) in histogram.0.iter_mut().zip(values) {
                        *bucket = n;
                    }
                    let [country, provider, kind] = three(key);
                    LatencyRow {
                        country,
                        provider,
                        kind: if kind == "final" {
                            LatencyKind::ToFinal
                        } else {
                            LatencyKind::Callback
                        },
                        histogram,
                    }
                })
                .collect(),
            otp: cache::sum(&otp, keep, &[0, 1])
                .into_iter()
                .map(|(key, values)| {
                    let mut counts = OtpCounts::default();
                    for (category, n) in counts.0.iter_mut().zip(values) {
                        *category = n;
                    }
                    let [country, provider, _] = three(key);
                    OtpRow {
                        country,
                        provider,
                        counts,
                    }
                })
                .collect(),
        })
    }

    /// The message counters alone (what the message page needs to say
    /// whether a country often sends no receipt).
    pub async fn dashboard_counts(
        &self,
        period: &Period,
        filter: &DashboardFilter,
    ) -> Result<Vec<CountRow>, StoreError> {
        let ranges = period.ranges();
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let versions = self.bucket_versions(&ranges).await?;
        let counts = self.bucket_rows(&COUNTS, &ranges, &versions).await?;
        Ok(count_rows(&counts, |key| filter.keeps(key)))
    }

    /// Each bucket's version (the sum of its writers' slots; 0 if never
    /// written since versions were kept).
    async fn bucket_versions(
        &self,
        ranges: &[SpanRange],
    ) -> Result<HashMap<(i64, i64), i64>, StoreError> {
        let mut query = Query::new(
            "SELECT span_us, start_us, CAST(SUM(version) AS BIGINT) FROM dash_versions WHERE ",
        );
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                query.push(" OR ");
            }
            query.push("(span_us = ").bind(range.span_us);
            query.push(" AND start_us >= ").bind(range.from_us);
            query.push(" AND start_us < ").bind(range.to_us);
            query.push(")");
        }
        query.push(" GROUP BY span_us, start_us");
        let (sql, args) = query.finish()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The rows of every bucket of `ranges` in `table`: cached ones as
    /// they are, the others read in one query (after their versions were)
    /// and cached.
    async fn bucket_rows(
        &self,
        table: &Table,
        ranges: &[SpanRange],
        versions: &HashMap<(i64, i64), i64>,
    ) -> Result<Vec<Arc<BucketRows>>, StoreError> {
        let cache = self.dashboard_cache();
        let mut found = Vec::new();
        let mut missing: Vec<(i64, i64)> = Vec::new();
        for bucket in ranges.iter().flat_map(SpanRange::starts) {
            let version = versions.get(&bucket).copied().unwrap_or(0);
            match cache.get((table.name, bucket.0, bucket.1), version) {
                Some(rows) => found.push(rows),
                None => missing.push(bucket),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let mut read: HashMap<(i64, i64), Vec<ReadRow>> =
            missing.iter().map(|b| (*b, Vec::new())).collect();
        let mut query = Query::new(format!(
            "SELECT span_us, start_us, {}, {} FROM {} WHERE ",
            list(table.keys),
            list(&table.values),
            table.name
        ));
        for (i, (span, start)) in missing.iter().enumerate() {
            if i > 0 {
                query.push(" OR ");
            }
            query.push("(span_us = ").bind(*span);
            query.push(" AND start_us = ").bind(*start);
            query.push(")");
        }
        let (sql, args) = query.finish()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(self.pool()).await?;
        let first_value = 2 + table.keys.len();
        for row in &rows {
            let bucket: (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let key = (2..first_value)
                .map(|i| row.try_get::<String, _>(i))
                .collect::<Result<Vec<_>, _>>()?;
            let values = integers(row, first_value, table.values.len())?;
            if let Some(bucket_rows) = read.get_mut(&bucket) {
                bucket_rows.push((key, values));
            }
        }
        for (bucket, rows) in read {
            let version = versions.get(&bucket).copied().unwrap_or(0);
            found.push(cache.put((table.name, bucket.0, bucket.1), version, rows));
        }
        Ok(found)
    }
}

fn count_rows(buckets: &[Arc<BucketRows>], keep: impl Fn(&[String]) -> bool) -> Vec<CountRow> {
    cache::sum(buckets, keep, &[0, 1, 2, 3, 4])
        .into_iter()
        .map(|(key, values)| {
            let mut key = key.into_iter();
            let mut next = || key.next().unwrap_or_default();
            CountRow {
                country: next(),
                provider: next(),
                use_case: next(),
                sender: next(),
                template: next(),
                counts: counts_from(&values),
            }
        })
        .collect()
}

fn three(key: Vec<String>) -> [String; 3] {
    let mut key = key.into_iter();
    std::array::from_fn(|_| key.next().unwrap_or_default())
}

fn integers(row: &AnyRow, first: usize, count: usize) -> Result<Vec<i64>, sqlx::Error> {
    (first..first + count)
        .map(|i| Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0)))
        .collect()
}
