//! The rollups counted from scratch, in SQL over the base tables (messages,
//! events, repeats, retries, verifications): the definition the writers'
//! incremental counting must agree with. It fills the rollups once for data
//! stored before they existed, and [`Store::rollup_drift`] compares them
//! with it (the property tests do, after randomized ingest).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::schema::{
    COUNT_KEY, COUNT_VALUES, LATENCY_KEY, LATENCY_VALUES, OTP_KEY, OTP_VALUES, any_nonzero, list,
};
use crate::domain::DeliveryStatus;
use crate::domain::dashboard::buckets::EDGES_US;
use crate::domain::dashboard::period::SPANS_US;
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::domain::outbound::RetryKind;
use crate::store::db::Backend;
use crate::store::{Store, StoreError};

/// The three bucket sizes as a table of one column.
fn spans() -> String {
    let selects: Vec<String> = SPANS_US
        .iter()
        .enumerate()
        .map(|(i, span)| {
            if i == 0 {
                format!("SELECT {span} AS span_us")
            } else {
                format!("SELECT {span}")
            }
        })
        .collect();
    format!("({})", selects.join(" UNION ALL "))
}

/// The bucket index of a duration, as `buckets::bucket_of` computes it.
fn bucket_case(duration: &str) -> String {
    let whens: Vec<String> = EDGES_US
        .iter()
        .enumerate()
        .map(|(i, edge)| format!("WHEN {duration} < {edge} THEN {i}"))
        .collect();
    format!("CASE {} ELSE {} END", whens.join(" "), EDGES_US.len())
}

/// Bucket start of an instant column, per span `s.span_us`.
fn start(at: &str) -> String {
    format!("({at} / s.span_us) * s.span_us")
}

fn sum_when(condition: &str, alias: &str) -> String {
    format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT) AS {alias}")
}

/// `dash_counts` from scratch (its key columns, then its value columns).
pub(crate) fn counts_recount() -> String {
    let timeout = TIMEOUT_RAW_STATUS;
    let statuses: Vec<String> = DeliveryStatus::ALL
        .iter()
        .map(|s| sum_when(&format!("m.current_status = '{}'", s.as_str()), s.as_str()))
        .collect();
    let retry_sums: Vec<String> = RetryKind::ALL
        .iter()
        .zip(&COUNT_VALUES[12..])
        .map(|(kind, column)| {
            format!(
                "SUM(CASE WHEN kind = '{}' THEN 1 ELSE 0 END) AS {column}",
                kind.as_str()
            )
        })
        .collect();
    let retry_totals: Vec<String> = COUNT_VALUES[12..]
        .iter()
        .map(|c| format!("CAST(SUM(COALESCE(r.{c}, 0)) AS BIGINT) AS {c}"))
        .collect();
    format!(
        "SELECT s.span_us, {start} AS start_us, COALESCE(m.destination_country, '') AS country, \
         m.provider AS provider, COALESCE(m.use_case, '') AS use_case, \
         COALESCE(m.sender_identity, '') AS sender, COALESCE(m.template_key, '') AS template, \
         {statuses}, \
         {timed_out}, \
         CAST(SUM(COALESCE(ev.timeouts, 0)) AS BIGINT) AS timeouts, \
         CAST(SUM(COALESCE(ev.callbacks, 0)) AS BIGINT) AS callbacks, \
         CAST(SUM(COALESCE(ev.duplicates, 0)) AS BIGINT) AS duplicates, \
         {retry_totals} \
         FROM messages m CROSS JOIN {spans} s \
         LEFT JOIN (SELECT e.provider, e.provider_message_id, \
           SUM(CASE WHEN e.raw_status = '{timeout}' THEN 1 ELSE 0 END) AS timeouts, \
           SUM(CASE WHEN e.raw_status = '{timeout}' THEN 0 ELSE 1 END) AS callbacks, \
           SUM(CASE WHEN e.raw_status = '{timeout}' THEN 0 ELSE COALESCE(d.count, 0) END) \
             AS duplicates \
           FROM message_events e LEFT JOIN event_duplicates d ON d.event_id = e.id \
           GROUP BY e.provider, e.provider_message_id) ev \
         ON ev.provider = m.provider AND ev.provider_message_id = m.provider_message_id \
         LEFT JOIN (SELECT message_id, {retry_sums} FROM message_retries GROUP BY message_id) r \
         ON r.message_id = m.id \
         GROUP BY 1, 2, 3, 4, 5, 6, 7",
        start = start("m.created_at_us"),
        statuses = statuses.join(", "),
        timed_out = sum_when(
            &format!("m.current_raw_status = '{timeout}' AND NOT m.is_final"),
            "timed_out_now"
        ),
        retry_totals = retry_totals.join(", "),
        retry_sums = retry_sums.join(", "),
        spans = spans(),
    )
}

/// `dash_latency` from scratch: provider callbacks with a provider time,
/// and final messages.
pub(crate) fn latency_recount() -> String {
    let timeout = TIMEOUT_RAW_STATUS;
    let buckets: Vec<String> = LATENCY_VALUES
        .iter()
        .enumerate()
        .map(|(i, c)| sum_when(&format!("b = {i}"), c))
        .collect();
    let dims = "COALESCE(m.destination_country, '') AS country, m.provider AS provider, \
                COALESCE(m.use_case, '') AS use_case";
    format!(
        "SELECT span_us, start_us, country, provider, use_case, kind, {buckets} FROM ( \
           SELECT s.span_us, {start} AS start_us, {dims}, 'callback' AS kind, \
             {callback} AS b \
           FROM message_events e JOIN messages m ON m.provider = e.provider \
             AND m.provider_message_id = e.provider_message_id CROSS JOIN {spans} s \
           WHERE e.provider_occurred_at_us IS NOT NULL AND e.raw_status <> '{timeout}' \
           UNION ALL \
           SELECT s.span_us, {start} AS start_us, {dims}, 'final' AS kind, {to_final} AS b \
           FROM messages m CROSS JOIN {spans} s WHERE m.is_final \
         ) x GROUP BY 1, 2, 3, 4, 5, 6",
        buckets = buckets.join(", "),
        start = start("m.created_at_us"),
        callback = bucket_case("(e.received_at_us - e.provider_occurred_at_us)"),
        to_final = bucket_case("(m.status_at_us - COALESCE(m.sent_at_us, m.created_at_us))"),
        spans = spans(),
    )
}

/// Where each verification belongs: id, created_at_us, country, provider,
/// use case (of its earliest event's message) and category (as
/// `rollup::otp_category` decides it).
pub(crate) fn cells() -> String {
    "SELECT vv.id, vv.created_at_us, COALESCE(cm.destination_country, '') AS country, \
       COALESCE(cm.provider, '') AS provider, COALESCE(cm.use_case, '') AS use_case, \
       CASE WHEN vv.outcome = 'completed' THEN 'completed' \
            WHEN vv.outcome IS NULL THEN 'open' \
            WHEN vv.delivered = 0 THEN 'not_delivered' \
            WHEN vv.outcome = 'expired' THEN 'expired' \
            WHEN vv.outcome = 'abandoned' THEN 'abandoned' \
            ELSE 'not_verified' END AS category \
     FROM (SELECT v.id, v.created_at_us, \
         (SELECT e.message_id FROM verification_events e WHERE e.verification_id = v.id \
            AND e.message_id IS NOT NULL ORDER BY e.occurred_at_us, e.id LIMIT 1) AS counted_id, \
         (SELECT e.kind FROM verification_events e WHERE e.verification_id = v.id \
            AND e.kind IN ('completed', 'failed', 'expired', 'abandoned') \
            ORDER BY e.occurred_at_us DESC, e.id DESC LIMIT 1) AS outcome, \
         (SELECT COUNT(*) FROM verification_events e JOIN messages dm ON dm.id = e.message_id \
            WHERE e.verification_id = v.id AND dm.current_status = 'delivered') AS delivered \
       FROM verifications v) vv \
     LEFT JOIN messages cm ON cm.id = vv.counted_id"
        .to_owned()
}

/// `dash_otp` from scratch.
pub(crate) fn otp_recount() -> String {
    let categories: Vec<String> = OTP_VALUES
        .iter()
        .map(|c| sum_when(&format!("c.category = '{c}'"), c))
        .collect();
    format!(
        "SELECT s.span_us, {start} AS start_us, c.country, c.provider, c.use_case, {categories} \
         FROM ({cells}) c CROSS JOIN {spans} s GROUP BY 1, 2, 3, 4, 5",
        start = start("c.created_at_us"),
        categories = categories.join(", "),
        cells = cells(),
        spans = spans(),
    )
}

const ROLLUP_TABLES: &str = "dash_counts, dash_latency, dash_otp";

/// Makes whatever any instance cached of the buckets that hold rows stale.
/// The rebuild runs it before deleting (buckets it may empty) and after
/// inserting (buckets it may fill). Slot -1 is no writer's.
const RAISE_EVERY_VERSION: &str = "INSERT INTO dash_versions (span_us, start_us, slot, version) \
     SELECT span_us, start_us, -1, 1 FROM (SELECT span_us, start_us FROM dash_counts \
     UNION SELECT span_us, start_us FROM dash_latency \
     UNION SELECT span_us, start_us FROM dash_otp) b WHERE TRUE \
     ON CONFLICT (span_us, start_us, slot) \
     DO UPDATE SET version = dash_versions.version + 1";

impl Store {
    /// Counts the rollups from the base tables when they never were (the
    /// first start after the migration that made them, over whatever data
    /// was there). One transaction that blocks writes meanwhile: on
    /// PostgreSQL the tables are locked, on SQLite the write lock is held.
    /// Returns whether it ran.
    pub async fn rebuild_rollups_if_needed(&self) -> Result<bool, StoreError> {
        let built: Option<i64> = sqlx::query_scalar("SELECT rebuilt_at_us FROM dash_rollup_state")
            .fetch_optional(self.pool())
            .await?;
        if built.is_some() {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            // A count over millions of rows runs longer than the pool's
            // statement timeout (meant for a database gone away), and a
            // first start that gives up half-way would retry forever.
            sqlx::query("SET LOCAL statement_timeout = 0")
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "LOCK TABLE dash_rollup_state, messages, message_events, event_duplicates, \
                 message_retries, verifications, verification_events, {ROLLUP_TABLES} \
                 IN EXCLUSIVE MODE"
            ))
            .execute(&mut *tx)
            .await?;
        }
        let built: Option<i64> = sqlx::query_scalar("SELECT rebuilt_at_us FROM dash_rollup_state")
            .fetch_optional(&mut *tx)
            .await?;
        if built.is_some() {
            return Ok(false); // another instance did it meanwhile
        }
        let latency_columns: Vec<&str> = LATENCY_VALUES.iter().map(String::as_str).collect();
        let statements = [
            RAISE_EVERY_VERSION.to_owned(),
            "DELETE FROM dash_counts".to_owned(),
            "DELETE FROM dash_latency".to_owned(),
            "DELETE FROM dash_otp".to_owned(),
            format!(
                "INSERT INTO dash_counts ({}, {}) {}",
                list(COUNT_KEY),
                list(COUNT_VALUES),
                counts_recount()
            ),
            format!(
                "INSERT INTO dash_latency ({}, {}) {}",
                list(LATENCY_KEY),
                list(&latency_columns),
                latency_recount()
            ),
            format!(
                "UPDATE verifications SET rollup_country = x.country, \
                 rollup_provider = x.provider, rollup_use_case = x.use_case, \
                 rollup_category = x.category FROM ({}) x WHERE verifications.id = x.id",
                cells()
            ),
            format!(
                "INSERT INTO dash_otp ({}, {}) {}",
                list(OTP_KEY),
                list(OTP_VALUES),
                otp_recount()
            ),
            RAISE_EVERY_VERSION.to_owned(),
        ];
        for statement in &statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO dash_rollup_state (singleton, rebuilt_at_us) VALUES (1, $1)")
            .bind(chrono::Utc::now().timestamp_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every difference between the rollups as kept and as recounted from
    /// the base tables, one line each; empty when they agree. Rows whose
    /// counters are all zero count as absent. Reads everything: for tests
    /// and checks, not for pages.
    pub async fn rollup_drift(&self) -> Result<Vec<String>, StoreError> {
        let latency_columns: Vec<&str> = LATENCY_VALUES.iter().map(String::as_str).collect();
        let tables: [(&str, &[&str], &[&str], String); 3] = [
            ("dash_counts", &COUNT_KEY, &COUNT_VALUES, counts_recount()),
            (
                "dash_latency",
                &LATENCY_KEY,
                &latency_columns,
                latency_recount(),
            ),
            ("dash_otp", &OTP_KEY, &OTP_VALUES, otp_recount()),
        ];
        let mut drift = Vec::new();
        for (table, key, values, recount) in tables {
            let kept = self
                .keyed_rows(
                    &format!(
                        "SELECT {}, {} FROM {table} WHERE {}",
                        list(key),
                        list(values),
                        any_nonzero(values)
                    ),
                    key.len(),
                )
                .await?;
            let counted = self.keyed_rows(&recount, key.len()).await?;
            compare(table, &kept, &counted, &mut drift);
        }
        let kept = self
            .keyed_rows(
                "SELECT id, COALESCE(rollup_country, '-'), COALESCE(rollup_provider, '-'), \
                 COALESCE(rollup_use_case, '-'), COALESCE(rollup_category, '-') FROM verifications",
                1,
            )
            .await?;
        let counted = self
            .keyed_rows(
                &format!(
                    "SELECT id, country, provider, use_case, category FROM ({}) c",
                    cells()
                ),
                1,
            )
            .await?;
        compare("verifications (cells)", &kept, &counted, &mut drift);
        Ok(drift)
    }

    async fn keyed_rows(
        &self,
        sql: &str,
        key_len: usize,
    ) -> Result<BTreeMap<Vec<String>, Vec<String>>, StoreError> {
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let mut cells = texts(row);
                let values = cells.split_off(key_len.min(cells.len()));
                (cells, values)
            })
            .collect())
    }
}

/// Every column as text, whatever its type.
fn texts(row: &AnyRow) -> Vec<String> {
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<i64>, _>(i)
                .map(|v| v.map_or_else(|| "NULL".to_owned(), |v| v.to_string()))
                .or_else(|_| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_default())
                })
                .unwrap_or_else(|e| format!("<{e}>"))
        })
        .collect()
}

fn compare(
    table: &str,
    kept: &BTreeMap<Vec<String>, Vec<String>>,
    counted: &BTreeMap<Vec<String>, Vec<String>>,
    drift: &mut Vec<String>,
) {
    for (key, values) in kept {
        match counted.get(key) {
            Some(expected) if expected == values => {}
            Some(expected) => drift.push(format!(
                "{table} {key:?}: kept {values:?}, recounted {expected:?}"
            )),
            None => drift.push(format!(
                "{table} {key:?}: kept {values:?}, recounted nothing"
            )),
        }
    }
    for (key, expected) in counted {
        if !kept.contains_key(key) {
            drift.push(format!(
                "{table} {key:?}: kept nothing, recounted {expected:?}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_bucket_case_matches_bucket_of() {
        let case = bucket_case("d");
        assert!(case.starts_with("CASE WHEN d < 100000 THEN 0 WHEN d < 200000 THEN 1"));
        assert!(case.ends_with("ELSE 41 END"));
        assert_eq!(
            spans(),
            "(SELECT 900000000 AS span_us UNION ALL SELECT 3600000000 UNION ALL SELECT 86400000000)"
        );
    }
}
