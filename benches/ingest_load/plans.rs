//! `--plans`: the query plans of the statements the write path runs per
//! batch, on the database the run just used (preloaded or not), with every
//! full scan flagged. A full scan makes the cost of a batch grow with the
//! data, which the rates of a short run on a small database cannot show.
//!
//! The SQL texts are copies of what `src/store` sends, for a batch of three
//! where the store builds lists; keep them in sync when the store changes.
//! Lists of three are enough: neither planner switches to a scan for a
//! longer list of keys on a unique or selective index.

use sqlx::{Connection as _, PgConnection, Row as _, SqliteConnection};

use super::Backend;

/// One statement and the sample arguments its plan is taken with.
struct Statement {
    name: &'static str,
    sql: &'static str,
    args: fn(&Sample) -> Vec<Arg>,
}

/// A sample argument, written into the SQL as a literal (SQLite) or passed
/// to `EXECUTE` (PostgreSQL).
enum Arg {
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
    Bool(bool),
    Null,
}

impl Arg {
    fn postgres_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Int(_) => "bigint",
            Self::Bytes(_) => "bytea",
            Self::Bool(_) => "boolean",
            // The column it goes into decides, as for a bound None.
            Self::Null => "unknown",
        }
    }

    fn literal(&self, backend: Backend) -> String {
        match self {
            Self::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Self::Int(n) => n.to_string(),
            Self::Bytes(bytes) => match backend {
                Backend::Sqlite => format!("X'{}'", hex::encode(bytes)),
                Backend::Postgres => format!("'\\x{}'", hex::encode(bytes)),
            },
            Self::Bool(b) => b.to_string().to_uppercase(),
            Self::Null => "NULL".to_owned(),
        }
    }
}

/// Keys of rows that exist in the database, so the plans are taken for the
/// lookups the server really makes.
struct Sample {
    message_ids: Vec<String>,
    idempotency_keys: Vec<String>,
    provider_message_ids: Vec<String>,
    dedup_keys: Vec<String>,
    event_ids: Vec<i64>,
}

fn text(value: &str) -> Arg {
    Arg::Text(value.to_owned())
}

// The column lists are those of `src/store/sql.rs` (MESSAGE_COLUMNS,
// SUMMARY_COLUMNS, EVENT_COLUMNS), spelled out: `concat!` takes only literals.

const STATEMENTS: &[Statement] = &[
    Statement {
        name: "register: insert message (ON CONFLICT idempotency_key)",
        sql: "INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
              provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
              destination_country, sender_identity, sender_type, template_key, use_case, \
              user_ref, product_action_kind, product_action_ref, product_action_url, \
              recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
              status_at_us, is_final, updated_at_us) \
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
              $17, $18, $19, $20, $21, 'accepted', $21, FALSE, $21) \
              ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        args: |_| {
            let mut args = vec![
                text("plan-new-id"),
                text("plan-new-key"),
                text("fingerprint"),
                text("twilio"),
                text("SMplan"),
                Arg::Bytes(vec![1; 32]),
                Arg::Bytes(vec![2; 48]),
                text("+1 415-•••-0000"),
                text("US"),
            ];
            args.extend((10..=20).map(|_| Arg::Null));
            args.push(Arg::Int(1_700_000_000_000_000));
            args
        },
    },
    Statement {
        name: "register: message by idempotency_key",
        sql: concat!(
            "SELECT id, idempotency_key, request_fingerprint, provider, provider_message_id, ",
            "recipient_hash, recipient_sealed, recipient_masked, destination_country, ",
            "sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, ",
            "product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, ",
            "created_at_us, current_status, current_raw_status, current_error_code, status_at_us, ",
            "is_final, updated_at_us FROM messages WHERE idempotency_key = $1"
        ),
        args: |s| vec![text(&s.idempotency_keys[0])],
    },
    Statement {
        name: "register/read: message by id",
        sql: concat!(
            "SELECT id, idempotency_key, request_fingerprint, provider, provider_message_id, ",
            "recipient_hash, recipient_sealed, recipient_masked, destination_country, ",
            "sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, ",
            "product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, ",
            "created_at_us, current_status, current_raw_status, current_error_code, status_at_us, ",
            "is_final, updated_at_us FROM messages WHERE id = $1"
        ),
        args: |s| vec![text(&s.message_ids[0])],
    },
    Statement {
        name: "register: waiting callbacks by (provider, provider_message_id)",
        sql: "DELETE FROM unmatched_callbacks WHERE provider = $1 AND provider_message_id = $2",
        args: |s| vec![text("twilio"), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "ingest: insert events (ON CONFLICT dedup_key)",
        sql: "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
              provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
              received_at_us, content_type, raw_payload_sealed) VALUES \
              ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11), \
              ($12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22), \
              ($23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) \
              ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id",
        args: |s| {
            s.dedup_keys
                .iter()
                .zip(&s.provider_message_ids)
                .flat_map(|(key, pmid)| {
                    [
                        text(key),
                        text("twilio"),
                        text(pmid),
                        Arg::Null,
                        text("sent"),
                        text("sent"),
                        Arg::Null,
                        Arg::Null,
                        Arg::Int(1_700_000_000_000_000),
                        text("application/x-www-form-urlencoded"),
                        Arg::Bytes(vec![3; 16]),
                    ]
                })
                .collect()
        },
    },
    Statement {
        name: "ingest: duplicate counts, events by dedup_key (event_duplicates upsert)",
        sql: "INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
              SELECT e.id, v.column2, v.column3 FROM (VALUES ($1, $2, $3), ($4, $5, $6), \
              ($7, $8, $9)) AS v JOIN message_events e ON e.dedup_key = v.column1 WHERE TRUE \
              ON CONFLICT (event_id) DO UPDATE SET count = event_duplicates.count + excluded.count, \
              last_received_at_us = CASE WHEN excluded.last_received_at_us > \
              event_duplicates.last_received_at_us THEN excluded.last_received_at_us \
              ELSE event_duplicates.last_received_at_us END",
        args: |s| {
            s.dedup_keys
                .iter()
                .flat_map(|key| [text(key), Arg::Int(1), Arg::Int(1_700_000_000_000_000)])
                .collect()
        },
    },
    Statement {
        name: "ingest: message summaries by provider_message_id",
        sql: "SELECT id, provider, provider_message_id, current_status, current_raw_status, \
              current_error_code, status_at_us, is_final, updated_at_us FROM messages \
              WHERE provider_message_id IN ($1, $2, $3)",
        args: |s| s.provider_message_ids.iter().map(|p| text(p)).collect(),
    },
    Statement {
        name: "ingest: unmatched callbacks (ON CONFLICT provider, provider_message_id)",
        sql: "INSERT INTO unmatched_callbacks (provider, provider_message_id, first_received_at_us) \
              VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9) ON CONFLICT DO NOTHING",
        args: |s| {
            s.provider_message_ids
                .iter()
                .flat_map(|p| [text("twilio"), text(p), Arg::Int(1_700_000_000_000_000)])
                .collect()
        },
    },
    Statement {
        name: "ingest: write summaries by id (UPDATE … FROM VALUES)",
        sql: "UPDATE messages SET current_status = v.column2, current_raw_status = v.column3, \
              current_error_code = v.column4, status_at_us = v.column5, is_final = v.column6, \
              updated_at_us = v.column7 FROM (VALUES ($1, $2, $3, $4, $5, $6, $7), \
              ($8, $9, $10, $11, $12, $13, $14), ($15, $16, $17, $18, $19, $20, $21)) AS v \
              WHERE messages.id = v.column1",
        args: |s| {
            s.message_ids
                .iter()
                .flat_map(|id| {
                    [
                        text(id),
                        text("delivered"),
                        text("delivered"),
                        Arg::Null,
                        Arg::Int(1_700_000_000_000_000),
                        Arg::Bool(true),
                        Arg::Int(1_700_000_000_000_000),
                    ]
                })
                .collect()
        },
    },
    Statement {
        name: "timeline: events by (provider, provider_message_id)",
        sql: "SELECT id, provider, provider_message_id, provider_event_id, raw_status, status, \
              error_code, provider_occurred_at_us, received_at_us, content_type, \
              raw_payload_sealed FROM message_events \
              WHERE provider = $1 AND provider_message_id = $2 ORDER BY id",
        args: |s| vec![text("twilio"), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "timeline: duplicate counts by event_id",
        sql: "SELECT event_id, count FROM event_duplicates WHERE event_id IN ($1, $2, $3)",
        args: |s| s.event_ids.iter().map(|&id| Arg::Int(id)).collect(),
    },
    Statement {
        name: "read: message by provider_message_id (oldest first)",
        sql: concat!(
            "SELECT id, idempotency_key, request_fingerprint, provider, provider_message_id, ",
            "recipient_hash, recipient_sealed, recipient_masked, destination_country, ",
            "sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, ",
            "product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, ",
            "created_at_us, current_status, current_raw_status, current_error_code, status_at_us, ",
            "is_final, updated_at_us FROM messages WHERE provider_message_id = $1 ",
            "ORDER BY created_at_us LIMIT 1"
        ),
        args: |s| vec![text(&s.provider_message_ids[0])],
    },
];

/// What one statement's plan says.
pub struct Plan {
    pub name: &'static str,
    pub lines: Vec<String>,
    /// The lines that read a whole table or index.
    pub scans: Vec<String>,
    /// SQLite: scans of a child table that a multi-row INSERT into its
    /// parent compiles in to settle pending foreign-key violations. They sit
    /// behind `OP_FkIfZero` and do not run unless the statement has a
    /// pending violation, which an insert into the parent never creates, so
    /// they do not count as full scans (measured: a 3-row insert into a
    /// parent whose child holds 3 M rows takes no longer than into an
    /// empty one).
    pub fk_checks: Vec<String>,
}

/// The tables the statements read, whose sizes the plans depend on.
const TABLES: [&str; 5] = [
    "messages",
    "message_events",
    "event_duplicates",
    "unmatched_callbacks",
    "review_items",
];

/// Rows per table, printed above the plans: a scan of a table that holds a
/// handful of rows is the planner's right choice today and a problem later.
pub async fn table_sizes(backend: Backend, url: &str) -> Result<Vec<(&'static str, i64)>, String> {
    let mut sizes = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT count(*) FROM {table}");
        let counted = match backend {
            Backend::Sqlite => match SqliteConnection::connect(url).await {
                Ok(mut conn) => sqlx::query_scalar(&sql).fetch_one(&mut conn).await,
                Err(e) => Err(e),
            },
            Backend::Postgres => match PgConnection::connect(url).await {
                Ok(mut conn) => sqlx::query_scalar(&sql).fetch_one(&mut conn).await,
                Err(e) => Err(e),
            },
        };
        sizes.push((table, counted.map_err(|e| format!("plans: {sql}: {e}"))?));
    }
    Ok(sizes)
}

/// Takes every statement's plan on the database behind `url`.
pub async fn explain_all(backend: Backend, url: &str) -> Result<Vec<Plan>, String> {
    match backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(url)
                .await
                .map_err(|e| format!("plans: cannot open {url}: {e}"))?;
            let sample = sample_sqlite(&mut conn).await?;
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| format!("plans: {e}"))?;
            // (child, parent) of every foreign key.
            let references: Vec<(String, String)> = sqlx::query_as(
                "SELECT m.name, f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table'",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| format!("plans: {e}"))?;
            let mut plans = Vec::new();
            for statement in STATEMENTS {
                let sql = with_literals(statement.sql, &(statement.args)(&sample), backend);
                let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| format!("plans: {}: {e}", statement.name))?;
                let lines: Vec<String> = rows
                    .iter()
                    .map(|row| row.get::<String, _>("detail"))
                    .collect();
                let target = inserted_table(statement.sql);
                let (fk_checks, scans) = lines
                    .iter()
                    .filter_map(|line| Some((line, sqlite_scanned_table(line, &tables)?)))
                    .partition::<Vec<_>, _>(|(_, table)| {
                        references.iter().any(|(child, parent)| {
                            child == table && Some(parent.as_str()) == target
                        })
                    });
                plans.push(Plan {
                    name: statement.name,
                    scans: scans.into_iter().map(|(line, _)| line.clone()).collect(),
                    fk_checks: fk_checks
                        .into_iter()
                        .map(|(line, _)| line.clone())
                        .collect(),
                    lines,
                });
            }
            let _ = conn.close().await;
            Ok(plans)
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(url)
                .await
                .map_err(|e| format!("plans: cannot connect: {e}"))?;
            let sample = sample_postgres(&mut conn).await?;
            let mut plans = Vec::new();
            for statement in STATEMENTS {
                // The server's statements are prepared and run many times:
                // PostgreSQL plans the first five for their values (custom
                // plans), then keeps the generic plan if it does not look
                // dearer. Both are shown when they differ, and a scan in
                // either counts.
                let generic =
                    explain_postgres(&mut conn, statement, &sample, "force_generic_plan").await?;
                let custom =
                    explain_postgres(&mut conn, statement, &sample, "force_custom_plan").await?;
                let mut scans = postgres_scans(&generic);
                let lines = if shape(&generic) == shape(&custom) {
                    generic
                } else {
                    scans.extend(postgres_scans(&custom));
                    let mut both = vec!["[generic plan]".to_owned()];
                    both.extend(generic);
                    both.push("[custom plan, for the sample values]".to_owned());
                    both.extend(custom);
                    both
                };
                plans.push(Plan {
                    name: statement.name,
                    lines,
                    scans,
                    fk_checks: Vec::new(),
                });
            }
            let _ = conn.close().await;
            Ok(plans)
        }
    }
}

/// The plan's nodes without costs and conditions: a generic and a custom
/// plan of the same shape differ only in `$1` against its value.
fn shape(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|line| line.split("  (cost=").next().unwrap_or_default())
        .filter(|node| !node.contains(':'))
        .collect()
}

/// `EXPLAIN EXECUTE` of the statement prepared with its parameters typed,
/// under the given `plan_cache_mode`.
async fn explain_postgres(
    conn: &mut PgConnection,
    statement: &Statement,
    sample: &Sample,
    plan_cache_mode: &str,
) -> Result<Vec<String>, String> {
    let args = (statement.args)(sample);
    let literals: Vec<String> = args
        .iter()
        .map(|arg| arg.literal(Backend::Postgres))
        .collect();
    // Typed like sqlx binds them: PostgreSQL would otherwise take an
    // untyped parameter in a VALUES list for text.
    let types: Vec<&str> = args.iter().map(Arg::postgres_type).collect();
    // raw_sql: PREPARE/EXECUTE by name, outside sqlx's own statement cache.
    let script = format!(
        "SET plan_cache_mode = {plan_cache_mode}; \
         PREPARE bench_plan ({}) AS {}; EXPLAIN EXECUTE bench_plan({});",
        types.join(", "),
        statement.sql,
        literals.join(", ")
    );
    let rows = sqlx::raw_sql(&script).fetch_all(&mut *conn).await;
    let _ = sqlx::raw_sql("DEALLOCATE bench_plan; RESET plan_cache_mode")
        .execute(&mut *conn)
        .await;
    let rows = rows.map_err(|e| format!("plans: {}: {e}", statement.name))?;
    Ok(rows.iter().map(|row| row.get::<String, _>(0)).collect())
}

/// The table an `INSERT INTO t …` writes to.
fn inserted_table(sql: &str) -> Option<&str> {
    sql.trim()
        .strip_prefix("INSERT INTO ")?
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
}

/// SQLite: `SCAN t` reads the whole table, `SCAN t USING [COVERING] INDEX i`
/// the whole index; both grow with the data. `SEARCH` is a keyed lookup.
/// Scans of the statement's own VALUES lists, subqueries and CTEs read only
/// the batch, so only real tables count. Returns the scanned table.
fn sqlite_scanned_table<'a>(line: &str, tables: &'a [String]) -> Option<&'a str> {
    let rest = line.trim().strip_prefix("SCAN ")?;
    // Before 3.36 the line read `SCAN TABLE t`.
    let rest = rest.strip_prefix("TABLE ").unwrap_or(rest);
    let name = rest.split_whitespace().next().unwrap_or_default();
    tables
        .iter()
        .find(|table| *table == name)
        .map(String::as_str)
}

/// PostgreSQL: a `Seq Scan` reads the whole table; an index scan without an
/// `Index Cond` reads the whole index.
fn postgres_scans(lines: &[String]) -> Vec<String> {
    let mut scans = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        if line.contains("Seq Scan") {
            scans.push(line.clone());
        } else if line.contains("Index Scan") || line.contains("Index Only Scan") {
            // Its details are the following lines up to the next plan node.
            let keyed = lines[at + 1..]
                .iter()
                .take_while(|detail| !detail.contains("->"))
                .any(|detail| detail.contains("Index Cond"));
            if !keyed {
                scans.push(line.clone());
            }
        }
    }
    scans
}

/// Replaces `$n` with the n-th literal, so SQLite plans the statement with
/// the same constants the server would bind.
fn with_literals(sql: &str, args: &[Arg], backend: Backend) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(&(_, d)) = chars.peek() {
            if !d.is_ascii_digit() {
                break;
            }
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) if (1..=args.len()).contains(&n) => out.push_str(&args[n - 1].literal(backend)),
            _ => {
                out.push('$');
                out.push_str(&digits);
            }
        }
    }
    out
}

async fn sample_sqlite(conn: &mut SqliteConnection) -> Result<Sample, String> {
    // The newest rows: those the live traffic touches.
    let messages: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, idempotency_key, provider_message_id FROM messages ORDER BY rowid DESC LIMIT 3",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("plans: sampling messages: {e}"))?;
    let events: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, dedup_key FROM message_events ORDER BY id DESC LIMIT 3")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| format!("plans: sampling events: {e}"))?;
    Sample::from_rows(messages, events)
}

async fn sample_postgres(conn: &mut PgConnection) -> Result<Sample, String> {
    let messages: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, idempotency_key, provider_message_id FROM messages \
         ORDER BY created_at_us DESC, id DESC LIMIT 3",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("plans: sampling messages: {e}"))?;
    let events: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, dedup_key FROM message_events ORDER BY id DESC LIMIT 3")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| format!("plans: sampling events: {e}"))?;
    Sample::from_rows(messages, events)
}

impl Sample {
    fn from_rows(
        messages: Vec<(String, String, Option<String>)>,
        events: Vec<(i64, String)>,
    ) -> Result<Self, String> {
        if messages.len() < 3 || events.len() < 3 {
            return Err("plans: the database holds fewer than 3 messages or events".to_owned());
        }
        Ok(Self {
            message_ids: messages.iter().map(|m| m.0.clone()).collect(),
            idempotency_keys: messages.iter().map(|m| m.1.clone()).collect(),
            provider_message_ids: messages
                .iter()
                .map(|m| m.2.clone().unwrap_or_default())
                .collect(),
            dedup_keys: events.iter().map(|e| e.1.clone()).collect(),
            event_ids: events.iter().map(|e| e.0).collect(),
        })
    }
}

/// Prints every plan, each full scan marked.
pub fn print(backend: Backend, sizes: &[(&str, i64)], plans: &[Plan]) {
    let how = match backend {
        Backend::Sqlite => "EXPLAIN QUERY PLAN",
        Backend::Postgres => "EXPLAIN EXECUTE, generic and custom plan",
    };
    let sizes: Vec<String> = sizes.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("\nRows: {}", sizes.join(", "));
    println!("\nQuery plans ({}, {how}):", backend.name());
    for plan in plans {
        println!("\n{}:", plan.name);
        for line in &plan.lines {
            let flag = if plan.scans.contains(line) {
                "   <-- FULL SCAN"
            } else if plan.fk_checks.contains(line) {
                "   <-- foreign-key check: compiled in, skipped at run time unless a violation is pending"
            } else {
                ""
            };
            println!("    {line}{flag}");
        }
    }
    let scanning: Vec<&str> = plans
        .iter()
        .filter(|p| !p.scans.is_empty())
        .map(|p| p.name)
        .collect();
    if scanning.is_empty() {
        println!("\nno full scans");
    } else {
        println!("\nFULL SCANS in: {}", scanning.join("; "));
    }
}
