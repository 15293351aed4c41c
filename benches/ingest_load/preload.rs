//! `--preload N`: fills a freshly migrated database with N delivered
//! messages and their three events (queued → sent → delivered), so a run can
//! show whether the write path slows down as the data grows.
//!
//! These rows are bench fixtures written straight into the tables, set-based
//! (`INSERT … SELECT` over a recursive CTE on SQLite, `generate_series` on
//! PostgreSQL): a million messages through the API would take longer than
//! the run itself. The measured traffic still goes through the real HTTP API.
//!
//! The values imitate production data where the indexes care: provider
//! message ids and idempotency keys in scattered (hash) order, ids and
//! `created_at_us` increasing over the last 90 days, recipients, users and
//! countries repeating, payloads of a realistic size.

use std::time::{Duration, Instant};

use sqlx::{Connection as _, PgConnection, SqliteConnection};

use super::Backend;

/// Rows per statement: progress every chunk, and no statement that runs for minutes.
const CHUNK: usize = 100_000;
/// The preloaded history spans the 90 days before now.
const HISTORY_US: i64 = 90 * 24 * 3600 * 1_000_000;
/// A Twilio status callback's form body is ~300 bytes before sealing.
const PAYLOAD_BYTES: usize = 300;

/// Fills the database behind `url`, which `smstrail migrate` has just created.
pub async fn fill(backend: Backend, url: &str, messages: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let now_us = chrono::Utc::now().timestamp_micros();
    // Spread over the history, oldest first, like rows that arrived over time.
    let step_us = (HISTORY_US / messages.max(1) as i64).max(1);
    let first_us = now_us - step_us * messages as i64;
    match backend {
        Backend::Sqlite => fill_sqlite(url, messages, first_us, step_us).await?,
        Backend::Postgres => fill_postgres(url, messages, first_us, step_us).await?,
    }
    count_rollups(url).await?;
    settle();
    Ok(started.elapsed())
}

/// The dashboards' rollups, counted once from the rows just written, as
/// the first start after an upgrade counts them: done here, so the measured
/// server starts as one that has run for a while (and its first reconcile
/// pass comes when the bench expects it).
async fn count_rollups(url: &str) -> Result<(), String> {
    let started = Instant::now();
    let store = smstrail::store::open(url)
        .await
        .map_err(|e| format!("opening the preloaded database: {e}"))?;
    store
        .rebuild_rollups_if_needed()
        .await
        .map_err(|e| format!("counting the rollups of the preload: {e}"))?;
    drop(store);
    eprintln!(
        "ingest_load: counted the dashboards' rollups of the preload in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The load was written without waiting for the disk, so gigabytes of it
/// may still be on their way there; flushed during the measured run, they
/// would slow every fsync of the server and charge the fixture to the data
/// size. `sync` waits until they are written.
fn settle() {
    match std::process::Command::new("sync").status() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("ingest_load: warning: sync after the preload failed ({status})"),
        Err(e) => eprintln!("ingest_load: warning: cannot run sync after the preload: {e}"),
    }
}

/// `h` scatters `i` over 32 bits (Knuth's multiplicative hash; the product
/// stays below 2^63 for any i < 2^31, so SQLite keeps it an integer): index
/// keys built from it arrive in random order, as real provider ids do.
const SQLITE_MESSAGES: &str = "\
WITH RECURSIVE seq(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $2),
     m AS (SELECT i, (i * 2654435761) % 4294967296 AS h, $3 + i * $4 AS t FROM seq)
INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, provider_message_id,
    recipient_hash, recipient_sealed, recipient_masked, destination_country, sender_identity,
    sender_type, template_key, use_case, user_ref, product_action_kind, product_action_ref,
    product_action_url, recipient_timezone, sent_at_us, metadata_json, created_at_us,
    current_status, current_raw_status, current_error_code, status_at_us, is_final, updated_at_us)
SELECT
    printf('%08x-%04x-7%03x-%04x-%012x', (t / 1000) / 65536, (t / 1000) % 65536, h % 4096,
           32768 + (h / 4096) % 16384, i),
    printf('order-%08x-%d', h, i),
    printf('v2:%032x%032x', h, i),
    'twilio',
    printf('SM%08x%024x', h, i),
    CAST(printf('%032x', (i * 7919) % 250007) AS BLOB),
    randomblob(48),
    printf('+1 415-•••-%04d', (i * 7919) % 250007 % 10000),
    CASE h % 10 WHEN 0 THEN 'GB' WHEN 1 THEN 'DE' WHEN 2 THEN 'FR' WHEN 3 THEN 'IN'
                WHEN 4 THEN 'BR' ELSE 'US' END,
    '+14155550100',
    'long_code',
    CASE h % 4 WHEN 0 THEN 'otp' WHEN 1 THEN 'receipt' WHEN 2 THEN 'reminder' ELSE 'shipping' END,
    CASE h % 4 WHEN 0 THEN 'verification' ELSE 'transactional' END,
    printf('user-%d', (h / 16) % 200000),
    CASE WHEN i % 3 = 0 THEN 'order' END,
    CASE WHEN i % 3 = 0 THEN printf('ord_%d', i) END,
    NULL, NULL,
    t, NULL, t,
    'delivered', 'delivered', NULL, t + 4000000, TRUE, t + 4000000
FROM m";

/// Three events per message; `dedup_key` in the server's length-prefixed form.
const SQLITE_EVENTS: &str = "\
WITH RECURSIVE seq(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $2),
     m AS (SELECT i, printf('SM%08x%024x', (i * 2654435761) % 4294967296, i) AS sid,
                  $3 + i * $4 AS t FROM seq),
     s(k, raw, status) AS (VALUES (0, 'queued', 'accepted'), (1, 'sent', 'sent'),
                                  (2, 'delivered', 'delivered'))
INSERT INTO message_events (dedup_key, provider, provider_message_id, provider_event_id,
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type,
    raw_payload_sealed)
SELECT
    printf('twilio|%d:%s|%d:%s|%s|', length(sid), sid, length(raw), raw,
           CASE WHEN k = 2 THEN printf('%d:%d', length(t + 3000000), t + 3000000) ELSE '0:' END),
    'twilio', sid, NULL, raw, status, NULL,
    CASE WHEN k = 2 THEN t + 3000000 END,
    t + 1000000 * (k + 1) + 500000,
    'application/x-www-form-urlencoded',
    randomblob($5)
FROM m CROSS JOIN s ORDER BY i, k";

/// One stored event in ten was delivered again (the run's duplicate rate):
/// the duplicate counts the timeline reads are a table of their own.
const DUPLICATES: &str = "\
INSERT INTO event_duplicates (event_id, count, last_received_at_us)
SELECT id, 1 + (id / 10) % 3, received_at_us + 2000000 FROM message_events WHERE id % 10 = 7";

/// Callbacks for messages that were never registered (~0.4 %), waiting in
/// unmatched_callbacks; `u` is no hex digit, so no run's id collides.
const UNMATCHED: &str = "\
INSERT INTO unmatched_callbacks (provider, provider_message_id, first_received_at_us)
SELECT provider, 'SMu' || substr(provider_message_id, 3), created_at_us FROM messages
WHERE substr(provider_message_id, 33, 2) = '00'";

async fn fill_sqlite(
    url: &str,
    messages: usize,
    first_us: i64,
    step_us: i64,
) -> Result<(), String> {
    let mut conn = SqliteConnection::connect(url)
        .await
        .map_err(|e| format!("preload: cannot open {url}: {e}"))?;
    // Fixture loading only: the server opens the file afresh with its own
    // settings (WAL, synchronous=FULL). A big page cache keeps the randomly
    // ordered index inserts in memory instead of re-reading pages.
    for pragma in [
        "PRAGMA synchronous = OFF",
        "PRAGMA cache_size = -2000000",
        "PRAGMA temp_store = MEMORY",
    ] {
        sqlx::query(pragma)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("preload: {pragma}: {e}"))?;
    }
    let mut tx = conn.begin().await.map_err(|e| format!("preload: {e}"))?;
    for (lo, hi) in chunks(messages) {
        for (what, sql) in [("messages", SQLITE_MESSAGES), ("events", SQLITE_EVENTS)] {
            sqlx::query(sql)
                .bind(lo as i64)
                .bind(hi as i64)
                .bind(first_us)
                .bind(step_us)
                .bind(PAYLOAD_BYTES as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("preload: inserting {what} {lo}..{hi}: {e}"))?;
        }
        progress(hi, messages);
    }
    for sql in [DUPLICATES, UNMATCHED] {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("preload: {sql}: {e}"))?;
    }
    tx.commit()
        .await
        .map_err(|e| format!("preload: commit: {e}"))?;
    // Leave the file as the server would: everything in the main file, an
    // empty WAL.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("preload: checkpoint: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

const POSTGRES_MESSAGES: &str = "\
INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, provider_message_id,
    recipient_hash, recipient_sealed, recipient_masked, destination_country, sender_identity,
    sender_type, template_key, use_case, user_ref, product_action_kind, product_action_ref,
    product_action_url, recipient_timezone, sent_at_us, metadata_json, created_at_us,
    current_status, current_raw_status, current_error_code, status_at_us, is_final, updated_at_us)
SELECT
    lpad(to_hex((t / 1000) / 65536), 8, '0') || '-' || lpad(to_hex((t / 1000) % 65536), 4, '0')
        || '-7' || lpad(to_hex(h % 4096), 3, '0') || '-' || to_hex(32768 + (h / 4096) % 16384)
        || '-' || lpad(to_hex(i), 12, '0'),
    'order-' || lpad(to_hex(h), 8, '0') || '-' || i,
    'v2:' || md5(h::text) || md5(i::text),
    'twilio',
    'SM' || lpad(to_hex(h), 8, '0') || lpad(to_hex(i), 24, '0'),
    sha256(('r' || (i * 7919) % 250007)::bytea),
    decode(md5(i::text) || md5(h::text) || md5(t::text), 'hex'),
    '+1 415-•••-' || lpad(((i * 7919) % 250007 % 10000)::text, 4, '0'),
    CASE h % 10 WHEN 0 THEN 'GB' WHEN 1 THEN 'DE' WHEN 2 THEN 'FR' WHEN 3 THEN 'IN'
                WHEN 4 THEN 'BR' ELSE 'US' END,
    '+14155550100',
    'long_code',
    CASE h % 4 WHEN 0 THEN 'otp' WHEN 1 THEN 'receipt' WHEN 2 THEN 'reminder' ELSE 'shipping' END,
    CASE h % 4 WHEN 0 THEN 'verification' ELSE 'transactional' END,
    'user-' || (h / 16) % 200000,
    CASE WHEN i % 3 = 0 THEN 'order' END,
    CASE WHEN i % 3 = 0 THEN 'ord_' || i END,
    NULL, NULL,
    t, NULL, t,
    'delivered', 'delivered', NULL, t + 4000000, TRUE, t + 4000000
FROM (SELECT i, (i * 2654435761) % 4294967296 AS h, $3::bigint + i * $4::bigint AS t
      FROM generate_series($1::bigint, $2::bigint - 1) AS i) AS m";

const POSTGRES_EVENTS: &str = "\
INSERT INTO message_events (dedup_key, provider, provider_message_id, provider_event_id,
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type,
    raw_payload_sealed)
SELECT
    'twilio|' || length(sid) || ':' || sid || '|' || length(raw) || ':' || raw || '|'
        || CASE WHEN k = 2 THEN length((t + 3000000)::text) || ':' || (t + 3000000) ELSE '0:' END
        || '|',
    'twilio', sid, NULL, raw, status, NULL,
    CASE WHEN k = 2 THEN t + 3000000 END,
    t + 1000000 * (k + 1) + 500000,
    'application/x-www-form-urlencoded',
    substr(decode(repeat(md5(sid || k), $5::int / 16 + 1), 'hex'), 1, $5::int)
FROM (SELECT i, 'SM' || lpad(to_hex((i * 2654435761) % 4294967296), 8, '0')
                     || lpad(to_hex(i), 24, '0') AS sid,
             $3::bigint + i * $4::bigint AS t
      FROM generate_series($1::bigint, $2::bigint - 1) AS i) AS m
CROSS JOIN (VALUES (0, 'queued', 'accepted'), (1, 'sent', 'sent'),
                   (2, 'delivered', 'delivered')) AS s(k, raw, status)
ORDER BY i, k";

async fn fill_postgres(
    url: &str,
    messages: usize,
    first_us: i64,
    step_us: i64,
) -> Result<(), String> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| format!("preload: cannot connect: {e}"))?;
    // Fixture loading only; the server's own sessions keep the defaults.
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("preload: {e}"))?;
    for (lo, hi) in chunks(messages) {
        for (what, sql) in [("messages", POSTGRES_MESSAGES), ("events", POSTGRES_EVENTS)] {
            sqlx::query(sql)
                .bind(lo as i64)
                .bind(hi as i64)
                .bind(first_us)
                .bind(step_us)
                .bind(PAYLOAD_BYTES as i32)
                .execute(&mut conn)
                .await
                .map_err(|e| format!("preload: inserting {what} {lo}..{hi}: {e}"))?;
        }
        progress(hi, messages);
    }
    for sql in [DUPLICATES, UNMATCHED] {
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .map_err(|e| format!("preload: {sql}: {e}"))?;
    }
    // A production database of this size has been analyzed by autovacuum
    // long ago; without statistics the planner would guess, and the plans
    // and rates would describe a database nobody runs.
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("preload: VACUUM ANALYZE: {e}"))?;
    // Written out now rather than by the checkpointer during the measured
    // run (needs superuser or pg_checkpoint; without, the run is merely noisier).
    if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut conn).await {
        eprintln!("ingest_load: warning: CHECKPOINT after the preload failed: {e}");
    }
    let _ = conn.close().await;
    Ok(())
}

fn chunks(messages: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..messages)
        .step_by(CHUNK)
        .map(move |lo| (lo, (lo + CHUNK).min(messages)))
}

fn progress(done: usize, total: usize) {
    eprintln!("ingest_load: preloaded {done}/{total} messages");
}
