//! The PostgreSQL writers' statements for the dashboards' rollups. A
//! batch's counter deltas travel as arrays in data-modifying CTEs: inside
//! the batch's last statement when it writes callbacks (no extra round
//! trip), else in one statement of their own. Rows are upserted in key
//! order, so writers side by side lock them in the same order.

use std::sync::LazyLock;

use sqlx::PgConnection;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;

use super::rollup::RollupDelta;
use super::sqlite_rollup::{FACTS_SQL, FactsRow, REPEATS_SQL, facts_from_rows};
use super::tally::VerificationFacts;
use crate::domain::dashboard::BUCKETS;
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::store::StoreError;
use crate::store::dashboards::schema::{
    COUNT_KEY, COUNT_VALUES, LATENCY_KEY, LATENCY_VALUES, OTP_KEY, OTP_VALUES, add_excluded,
    counts_values, list,
};

/// One upsert CTE over arrays bound from `$first` on; the key's text
/// columns are named in `text`, every other column is a bigint.
fn upsert_cte(
    name: &str,
    table: &str,
    key: &[&str],
    values: &[String],
    text: &[&str],
    first: usize,
) -> String {
    let columns: Vec<&str> = key
        .iter()
        .copied()
        .chain(values.iter().map(String::as_str))
        .collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = if text.contains(c) { "text" } else { "bigint" };
            format!("${}::{ty}[]", first + i)
        })
        .collect();
    format!(
        "{name} AS (INSERT INTO {table} ({cols}) SELECT {cols} FROM UNNEST({arrays}) \
         WITH ORDINALITY AS u ({cols}, ord) ORDER BY ord \
         ON CONFLICT ({key}) DO UPDATE SET {set})",
        cols = list(&columns),
        arrays = list(&arrays),
        key = list(key),
        set = add_excluded(table, values),
    )
}

/// How many parameters [`rollup_ctes`] binds.
#[cfg(test)]
const ROLLUP_PARAMS: usize = COUNT_KEY.len()
    + COUNT_VALUES.len()
    + LATENCY_KEY.len()
    + BUCKETS
    + OTP_KEY.len()
    + OTP_VALUES.len()
    + 5
    + 2;

/// The rollup CTEs with parameters `$first` … `$first + ROLLUP_PARAMS - 1`,
/// bound by [`bind_rollup`] in the same order.
pub(super) fn rollup_ctes(first: usize) -> String {
    let texts = [
        "country", "provider", "use_case", "sender", "template", "kind",
    ];
    let counts = upsert_cte(
        "dash_counts_delta",
        "dash_counts",
        &COUNT_KEY,
        &COUNT_VALUES.map(str::to_owned),
        &texts,
        first,
    );
    let first = first + COUNT_KEY.len() + COUNT_VALUES.len();
    let latency = upsert_cte(
        "dash_latency_delta",
        "dash_latency",
        &LATENCY_KEY,
        &LATENCY_VALUES,
        &texts,
        first,
    );
    let first = first + LATENCY_KEY.len() + BUCKETS;
    let otp = upsert_cte(
        "dash_otp_delta",
        "dash_otp",
        &OTP_KEY,
        &OTP_VALUES.map(str::to_owned),
        &texts,
        first,
    );
    let first = first + OTP_KEY.len() + OTP_VALUES.len();
    let cells = format!(
        "dash_cells AS (UPDATE verifications v SET rollup_country = u.country, \
         rollup_provider = u.provider, rollup_use_case = u.use_case, \
         rollup_category = u.category FROM UNNEST(${}::text[], ${}::text[], ${}::text[], \
         ${}::text[], ${}::text[]) AS u (id, country, provider, use_case, category) \
         WHERE v.id = u.id)",
        first,
        first + 1,
        first + 2,
        first + 3,
        first + 4
    );
    let first = first + 5;
    // The connection's own slot: writers side by side never wait for each
    // other on a bucket's version (see migration 0016).
    let versions = format!(
        "dash_versions_raised AS (INSERT INTO dash_versions (span_us, start_us, slot, version) \
         SELECT u.span_us, u.start_us, pg_backend_pid(), 1 \
         FROM UNNEST(${}::bigint[], ${}::bigint[]) AS u (span_us, start_us) \
         ON CONFLICT (span_us, start_us, slot) \
         DO UPDATE SET version = dash_versions.version + 1)",
        first,
        first + 1
    );
    format!("{counts}, {latency}, {otp}, {cells}, {versions}")
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Binds a delta's arrays in the order of [`rollup_ctes`].
pub(super) fn bind_rollup<'q>(mut query: PgQuery<'q>, d: &'q RollupDelta) -> PgQuery<'q> {
    let counts: Vec<_> = d.counts.iter().collect();
    query = query
        .bind(
            counts
                .iter()
                .map(|((span, _, _), _)| *span)
                .collect::<Vec<i64>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, start, _), _)| *start)
                .collect::<Vec<i64>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, _, m), _)| m.country.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, _, m), _)| m.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, _, m), _)| m.use_case.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, _, m), _)| m.sender.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            counts
                .iter()
                .map(|((_, _, m), _)| m.template.as_str())
                .collect::<Vec<_>>(),
        );
    let values: Vec<[i64; 16]> = counts.iter().map(|(_, c)| counts_values(c)).collect();
    for column in 0..COUNT_VALUES.len() {
        query = query.bind(values.iter().map(|v| v[column]).collect::<Vec<i64>>());
    }
    let latency: Vec<_> = d.latency.iter().collect();
    query = query
        .bind(latency.iter().map(|(k, _)| k.span_us).collect::<Vec<i64>>())
        .bind(
            latency
                .iter()
                .map(|(k, _)| k.start_us)
                .collect::<Vec<i64>>(),
        )
        .bind(
            latency
                .iter()
                .map(|(k, _)| k.country.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            latency
                .iter()
                .map(|(k, _)| k.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            latency
                .iter()
                .map(|(k, _)| k.use_case.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(latency.iter().map(|(k, _)| k.kind).collect::<Vec<&str>>());
    for bucket in 0..BUCKETS {
        query = query.bind(latency.iter().map(|(_, h)| h[bucket]).collect::<Vec<i64>>());
    }
    let otp: Vec<_> = d.otp.iter().collect();
    query = query
        .bind(otp.iter().map(|(k, _)| k.span_us).collect::<Vec<i64>>())
        .bind(otp.iter().map(|(k, _)| k.start_us).collect::<Vec<i64>>())
        .bind(
            otp.iter()
                .map(|(k, _)| k.country.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            otp.iter()
                .map(|(k, _)| k.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            otp.iter()
                .map(|(k, _)| k.use_case.as_str())
                .collect::<Vec<_>>(),
        );
    for category in 0..OTP_VALUES.len() {
        query = query.bind(otp.iter().map(|(_, v)| v[category]).collect::<Vec<i64>>());
    }
    let cells: Vec<_> = d.cells.iter().collect();
    let buckets: Vec<(i64, i64)> = d.buckets().into_iter().collect();
    query
        .bind(cells.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
        .bind(
            cells
                .iter()
                .map(|(_, c)| c.country.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            cells
                .iter()
                .map(|(_, c)| c.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            cells
                .iter()
                .map(|(_, c)| c.use_case.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            cells
                .iter()
                .map(|(_, c)| c.category.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(buckets.iter().map(|b| b.0).collect::<Vec<i64>>())
        .bind(buckets.iter().map(|b| b.1).collect::<Vec<i64>>())
}

static FLUSH: LazyLock<String> = LazyLock::new(|| format!("WITH {} SELECT 1", rollup_ctes(1)));

/// Writes a delta in a statement of its own (a batch without callbacks, or
/// what was counted after its callbacks were written).
pub(super) async fn flush(conn: &mut PgConnection, delta: RollupDelta) -> Result<(), StoreError> {
    if delta.is_empty() {
        return Ok(());
    }
    bind_rollup(sqlx::query(&FLUSH), &delta)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks the rows of every message a verification names, in id order, and
/// waits for the writers that hold them: a writer changes a message's
/// delivery under its row lock, so the facts read next are current and no
/// other writer can move them before this transaction ends.
pub(super) async fn lock_verification_messages(
    conn: &mut PgConnection,
    verification_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT id FROM messages WHERE id IN (SELECT message_id FROM verification_events \
         WHERE verification_id = $1) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(verification_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn link_verification(
    conn: &mut PgConnection,
    message_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE messages SET verification_linked = TRUE WHERE id = $1")
        .bind(message_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn verifications_naming(
    conn: &mut PgConnection,
    message_ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT verification_id FROM verification_events \
         WHERE message_id = ANY($1::text[])",
    )
    .bind(message_ids)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) async fn verification_facts(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<VerificationFacts>, StoreError> {
    let rows: Vec<FactsRow> = sqlx::query_as(FACTS_SQL)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    facts_from_rows(rows)
}

pub(super) async fn repeated_copies_of(
    conn: &mut PgConnection,
    provider: &str,
    pmid: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(REPEATS_SQL)
        .bind(provider)
        .bind(pmid)
        .bind(TIMEOUT_RAW_STATUS)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ctes_use_every_parameter_once_in_order() {
        let text = rollup_ctes(29);
        for n in 29..29 + ROLLUP_PARAMS {
            assert!(text.contains(&format!("${n}::")), "${n} missing");
        }
        assert!(!text.contains(&format!("${}::", 29 + ROLLUP_PARAMS)));
    }
}
