//! The dashboards' reads: the rollup rows of a period, summed per
//! dimension value in SQL (a few thousand rows at most), for the page to
//! turn into figures. And the rollups' upkeep outside the writers: the
//! rebuild from the base tables and the recount that proves them equal
//! ([`recount`]).

pub mod recount;
pub(crate) mod schema;

use sqlx::Row;
use sqlx::any::AnyRow;

use self::schema::{COUNT_VALUES, LATENCY_VALUES, OTP_VALUES, counts_from, list};
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

impl Store {
    /// The rollups of `period`, filtered, summed per dimension value. The
    /// three reads run side by side on pool connections.
    pub async fn dashboard(
        &self,
        period: &Period,
        filter: &DashboardFilter,
    ) -> Result<DashboardData, StoreError> {
        let ranges = period.ranges();
        if ranges.is_empty() {
            return Ok(DashboardData::default());
        }
        let sum = |columns: &[&str]| {
            list(
                columns
                    .iter()
                    .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}")),
            )
        };
        let latency_values: Vec<&str> = LATENCY_VALUES.iter().map(String::as_str).collect();
        let counts = self.dashboard_counts(period, filter);
        let latency = self.sum_rollup(
            "dash_latency",
            "country, provider, kind",
            sum(&latency_values),
            &ranges,
            filter,
        );
        let otp = self.sum_rollup(
            "dash_otp",
            "country, provider",
            sum(&OTP_VALUES),
            &ranges,
            filter,
        );
        let (counts, latency, otp) = tokio::try_join!(counts, latency, otp)?;
        Ok(DashboardData {
            counts,
            latency: latency
                .iter()
                .map(|row| {
                    let kind: String = row.try_get(2)?;
                    let mut histogram = Histogram::default();
                    for (bucket, n) in integers(row, 3, histogram.0.len())?.into_iter().enumerate()
                    {
                        histogram.0[bucket] = n;
                    }
                    Ok(LatencyRow {
                        country: row.try_get(0)?,
                        provider: row.try_get(1)?,
                        kind: if kind == "final" {
                            LatencyKind::ToFinal
                        } else {
                            LatencyKind::Callback
                        },
                        histogram,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
            otp: otp
                .iter()
                .map(|row| {
                    let mut counts = OtpCounts::default();
                    for (i, n) in integers(row, 2, counts.0.len())?.into_iter().enumerate() {
                        counts.0[i] = n;
                    }
                    Ok(OtpRow {
                        country: row.try_get(0)?,
                        provider: row.try_get(1)?,
                        counts,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
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
        let sums = list(
            COUNT_VALUES
                .iter()
                .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}")),
        );
        let rows = self
            .sum_rollup(
                "dash_counts",
                "country, provider, use_case, sender, template",
                sums,
                &ranges,
                filter,
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(CountRow {
                    country: row.try_get(0)?,
                    provider: row.try_get(1)?,
                    use_case: row.try_get(2)?,
                    sender: row.try_get(3)?,
                    template: row.try_get(4)?,
                    counts: counts_from(&integers(row, 5, COUNT_VALUES.len())?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// `SELECT group, sums FROM (the rows of each range, filtered, UNION ALL)
    /// GROUP BY group`: each range reads its bucket size's rows by primary
    /// key prefix (span, start).
    async fn sum_rollup(
        &self,
        table: &str,
        group: &str,
        sums: String,
        ranges: &[SpanRange],
        filter: &DashboardFilter,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let mut query = Query::new(format!("SELECT {group}, {sums} FROM ("));
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                query.push(" UNION ALL ");
            }
            query.push(&format!("SELECT * FROM {table} WHERE span_us = "));
            query.bind(range.span_us);
            query.push(" AND start_us >= ").bind(range.from_us);
            query.push(" AND start_us < ").bind(range.to_us);
            for (column, value) in [
                ("country", &filter.country),
                ("provider", &filter.provider),
                ("use_case", &filter.use_case),
            ] {
                if let Some(value) = value {
                    query.push(&format!(" AND {column} = ")).bind(value.clone());
                }
            }
        }
        query.push(&format!(") t GROUP BY {group}"));
        let (sql, args) = query.finish()?;
        Ok(sqlx::query_with(&sql, args).fetch_all(self.pool()).await?)
    }
}

fn integers(row: &AnyRow, first: usize, count: usize) -> Result<Vec<i64>, sqlx::Error> {
    (first..first + count)
        .map(|i| Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0)))
        .collect()
}
