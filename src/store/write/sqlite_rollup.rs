//! The SQLite writer's statements for the dashboards' rollups: the batch's
//! counter deltas as one upsert per row (cached statements, microseconds
//! each), and the reads that deciding an OTP verification's cell needs.

use std::sync::LazyLock;

use rusqlite::{Connection, params};

use super::rollup::{RollupDelta, VerificationCell};
use super::tally::VerificationFacts;
use crate::domain::dashboard::rollup::OtpCategory;
use crate::domain::limbo::TIMEOUT_RAW_STATUS;
use crate::store::StoreError;
use crate::store::dashboards::schema::{
    COUNT_KEY, COUNT_VALUES, LATENCY_KEY, LATENCY_VALUES, OTP_KEY, OTP_VALUES, add_excluded,
    counts_values, list,
};

fn upsert(table: &str, key: &[&str], values: &[String]) -> String {
    let columns: Vec<&str> = key
        .iter()
        .copied()
        .chain(values.iter().map(String::as_str))
        .collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        list(&columns),
        list(&placeholders),
        list(key),
        add_excluded(table, values)
    )
}

static COUNTS: LazyLock<String> =
    LazyLock::new(|| upsert("dash_counts", &COUNT_KEY, &COUNT_VALUES.map(str::to_owned)));
static LATENCY: LazyLock<String> =
    LazyLock::new(|| upsert("dash_latency", &LATENCY_KEY, &LATENCY_VALUES));
static OTP: LazyLock<String> =
    LazyLock::new(|| upsert("dash_otp", &OTP_KEY, &OTP_VALUES.map(str::to_owned)));

/// The one writer's slot is 0.
const BUMP_VERSION: &str = "INSERT INTO dash_versions (span_us, start_us, slot, version) \
     VALUES (?1, ?2, 0, 1) ON CONFLICT (span_us, start_us, slot) \
     DO UPDATE SET version = dash_versions.version + 1";

/// Writes a batch's deltas, inside its transaction.
pub(super) fn flush(conn: &Connection, delta: RollupDelta) -> Result<(), StoreError> {
    if delta.is_empty() {
        return Ok(());
    }
    let mut counts = conn.prepare_cached(&COUNTS)?;
    for ((span, start, dims), c) in &delta.counts {
        let key = params![
            span,
            start,
            dims.country,
            dims.provider,
            dims.use_case,
            dims.sender,
            dims.template
        ];
        let values = counts_values(c);
        let all: Vec<&dyn rusqlite::ToSql> = key
            .iter()
            .copied()
            .chain(values.iter().map(|v| v as &dyn rusqlite::ToSql))
            .collect();
        counts.execute(all.as_slice())?;
    }
    let mut latency = conn.prepare_cached(&LATENCY)?;
    for (k, buckets) in &delta.latency {
        let key = params![
            k.span_us, k.start_us, k.country, k.provider, k.use_case, k.kind
        ];
        let all: Vec<&dyn rusqlite::ToSql> = key
            .iter()
            .copied()
            .chain(buckets.iter().map(|v| v as &dyn rusqlite::ToSql))
            .collect();
        latency.execute(all.as_slice())?;
    }
    let mut otp = conn.prepare_cached(&OTP)?;
    for (k, values) in &delta.otp {
        let key = params![k.span_us, k.start_us, k.country, k.provider, k.use_case];
        let all: Vec<&dyn rusqlite::ToSql> = key
            .iter()
            .copied()
            .chain(values.iter().map(|v| v as &dyn rusqlite::ToSql))
            .collect();
        otp.execute(all.as_slice())?;
    }
    let mut version = conn.prepare_cached(BUMP_VERSION)?;
    for (span, start) in delta.buckets() {
        version.execute(params![span, start])?;
    }
    let mut cell = conn.prepare_cached(
        "UPDATE verifications SET rollup_country = ?2, rollup_provider = ?3, \
         rollup_use_case = ?4, rollup_category = ?5 WHERE id = ?1",
    )?;
    for (id, c) in &delta.cells {
        cell.execute(params![
            id,
            c.country,
            c.provider,
            c.use_case,
            c.category.as_str()
        ])?;
    }
    Ok(())
}

pub(super) fn link_verification(conn: &Connection, message_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE messages SET verification_linked = TRUE \
         WHERE id = ?1 AND verification_linked = FALSE",
    )?
    .execute(params![message_id])?;
    Ok(())
}

pub(super) fn verifications_naming(
    conn: &Connection,
    message_ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT DISTINCT verification_id FROM verification_events WHERE message_id = ?1",
    )?;
    let mut ids = Vec::new();
    for message_id in message_ids {
        let found = select
            .query_map(params![message_id], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.extend(found);
    }
    Ok(ids)
}

/// One row per event (one row of NULLs when there is none), oldest first.
pub(crate) const FACTS_SQL: &str = "SELECT v.created_at_us, v.rollup_country, \
    v.rollup_provider, v.rollup_use_case, v.rollup_category, e.id, e.kind, e.occurred_at_us, \
    e.message_id, m.current_status, m.destination_country, m.provider, m.use_case \
    FROM verifications v LEFT JOIN verification_events e ON e.verification_id = v.id \
    LEFT JOIN messages m ON m.id = e.message_id WHERE v.id = $1 \
    ORDER BY e.occurred_at_us, e.id";

/// A row of [`FACTS_SQL`], as both backends read it.
pub(crate) type FactsRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn verification_facts(
    conn: &Connection,
    id: &str,
) -> Result<Option<VerificationFacts>, StoreError> {
    let rows: Vec<FactsRow> = conn
        .prepare_cached(FACTS_SQL)?
        .query_map(params![id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    facts_from_rows(rows)
}

/// Assembles the facts from [`FACTS_SQL`]'s rows (shared with PostgreSQL).
pub(crate) fn facts_from_rows(
    rows: Vec<FactsRow>,
) -> Result<Option<VerificationFacts>, StoreError> {
    let mut facts: Option<VerificationFacts> = None;
    for row in rows {
        let (created, country, provider, use_case, category, event, kind, at, message, status) = (
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
        );
        let facts = facts.get_or_insert_with(|| VerificationFacts {
            created_at_us: created,
            cell: category
                .as_deref()
                .and_then(OtpCategory::parse)
                .map(|category| VerificationCell {
                    country: country.clone().unwrap_or_default(),
                    provider: provider.clone().unwrap_or_default(),
                    use_case: use_case.clone().unwrap_or_default(),
                    category,
                }),
            ..VerificationFacts::default()
        });
        let (Some(event), Some(kind), Some(at)) = (event, kind, at) else {
            continue;
        };
        let kind = crate::domain::verification::VerificationEventKind::try_from(kind)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let (Some(message), Some(status)) = (&message, status) {
            let status = status
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("stored status: {e}")))?;
            facts.messages.insert(
                message.clone(),
                (
                    status,
                    row.10.unwrap_or_default(),
                    row.11.unwrap_or_default(),
                    row.12.unwrap_or_default(),
                ),
            );
        }
        facts.events.push((event, kind, at, message));
    }
    Ok(facts)
}

pub(super) fn repeated_copies_of(
    conn: &Connection,
    provider: &str,
    pmid: &str,
) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(REPEATS_SQL)?
        .query_row(params![provider, pmid, TIMEOUT_RAW_STATUS], |row| {
            row.get(0)
        })?)
}

/// The repeats of one provider message id's callbacks.
pub(crate) const REPEATS_SQL: &str = "SELECT CAST(COALESCE(SUM(d.count), 0) AS BIGINT) \
    FROM event_duplicates d JOIN message_events e ON e.id = d.event_id \
    WHERE e.provider = $1 AND e.provider_message_id = $2 AND e.raw_status <> $3";
