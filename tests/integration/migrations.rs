//! The two migration folders must stay mirror images: same versions, and
//! after migrating fresh databases the same tables with the same columns
//! (name, nullability, type in a common vocabulary), primary keys and
//! indexes (name, columns, uniqueness). The PostgreSQL side needs
//! SMSTRAIL_TEST_POSTGRES_URL; without it only SQLite is inspected.

use std::collections::BTreeSet;
use std::path::Path;

use sqlx::{PgPool, SqlitePool};

use crate::helpers::TestDb;

fn names(folder: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions_and_names() {
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

/// Differences that are known and kept, each with the reason. The
/// comparison fails on any other difference, and on an entry here that no
/// longer differs (so the list cannot rot). The test prints them.
const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "sessions.expiry_date integer NOT NULL",
        "sessions.expiry_date timestamp NOT NULL",
        "tower-sessions-sqlx-store reads a Unix time on SQLite and a timestamptz on PostgreSQL",
    ),
    // SQLite lets a PRIMARY KEY column other than INTEGER PRIMARY KEY hold
    // NULL unless it also says NOT NULL (a documented quirk kept for
    // compatibility). The store always supplies these keys, so no NULL gets
    // in; adding NOT NULL on SQLite means rebuilding each table (messages
    // is the largest), which a migration should only do on purpose.
    (
        "api_tokens.id text NULL",
        "api_tokens.id text NOT NULL",
        SQLITE_NULLABLE_KEY,
    ),
    (
        "messages.id text NULL",
        "messages.id text NOT NULL",
        SQLITE_NULLABLE_KEY,
    ),
    (
        "setup_tokens.digest text NULL",
        "setup_tokens.digest text NOT NULL",
        SQLITE_NULLABLE_KEY,
    ),
    (
        "users.id text NULL",
        "users.id text NOT NULL",
        SQLITE_NULLABLE_KEY,
    ),
    (
        "verifications.id text NULL",
        "verifications.id text NOT NULL",
        SQLITE_NULLABLE_KEY,
    ),
];

const SQLITE_NULLABLE_KEY: &str = "a TEXT PRIMARY KEY without NOT NULL takes NULLs on SQLite";

/// Normalizes a SQLite declared type (its affinity rules, by name) to the
/// common vocabulary.
fn sqlite_type(declared: &str) -> String {
    let upper = declared.to_ascii_uppercase();
    let common = if upper.contains("INT") {
        "integer"
    } else if upper.contains("BOOL") {
        "boolean"
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        "text"
    } else if upper.contains("BLOB") || upper.is_empty() {
        "blob"
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        "real"
    } else {
        return format!("sqlite:{declared}");
    };
    common.to_owned()
}

/// Normalizes a PostgreSQL type (`format_type`) to the common vocabulary.
/// Every integer width maps to `integer`: SQLite stores 64 bits whatever
/// the declaration.
fn postgres_type(formatted: &str) -> String {
    let common = match formatted {
        "bigint" | "integer" | "smallint" => "integer",
        "boolean" => "boolean",
        "text" => "text",
        "bytea" => "blob",
        "double precision" | "real" => "real",
        "timestamp with time zone" | "timestamp without time zone" => "timestamp",
        t if t.starts_with("character") => "text",
        other => return format!("postgres:{other}"),
    };
    common.to_owned()
}

/// One line per fact, so two schemas compare as sets and differ readably.
fn column_line(table: &str, column: &str, common_type: &str, not_null: bool) -> String {
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("{table}.{column} {common_type} {null}")
}

fn index_line(table: &str, name: &str, unique: bool, columns: &[String]) -> String {
    let kind = if unique { "UNIQUE INDEX" } else { "INDEX" };
    format!("{table}: {kind} {name} ({})", columns.join(", "))
}

/// Indexes behind a UNIQUE constraint get generated names that differ per
/// backend (`sqlite_autoindex_t_1`, `t_col_key`): they are named by what
/// they are instead.
const UNIQUE_CONSTRAINT: &str = "<unique constraint>";

async fn sqlite_schema(pool: &SqlitePool) -> BTreeSet<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut lines = BTreeSet::new();
    for table in tables {
        lines.insert(format!("table {table}"));
        let columns: Vec<(String, String, bool, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        for (name, declared, not_null, pk) in columns {
            let common = sqlite_type(&declared);
            // An INTEGER PRIMARY KEY is the rowid, which is never NULL even
            // though table_info says nullable. Any other primary key column
            // takes NULLs on SQLite unless declared NOT NULL, so it is
            // compared as declared.
            let rowid = pk > 0 && declared.eq_ignore_ascii_case("INTEGER");
            lines.insert(column_line(&table, &name, &common, not_null || rowid));
            if pk > 0 {
                primary_key.push((pk, name));
            }
        }
        primary_key.sort();
        let primary_key: Vec<String> = primary_key.into_iter().map(|(_, name)| name).collect();
        if !primary_key.is_empty() {
            lines.insert(format!("{table}: PRIMARY KEY ({})", primary_key.join(", ")));
        }

        let indexes: Vec<(String, bool, String)> = sqlx::query_as(
            "SELECT name, \"unique\", origin FROM pragma_index_list($1) ORDER BY name",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        for (name, unique, origin) in indexes {
            // The primary key is compared above; its index is SQLite's business.
            if origin == "pk" {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let name = if origin == "u" {
                UNIQUE_CONSTRAINT
            } else {
                &name
            };
            lines.insert(index_line(&table, name, unique, &columns));
        }
    }
    lines
}

async fn postgres_schema(pool: &PgPool) -> BTreeSet<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
         AND tablename <> '_sqlx_migrations' ORDER BY tablename",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut lines = BTreeSet::new();
    for table in tables {
        lines.insert(format!("table {table}"));
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        for (name, formatted, not_null) in columns {
            lines.insert(column_line(
                &table,
                &name,
                &postgres_type(&formatted),
                not_null,
            ));
        }

        // Columns in index order; `conindid` tells the indexes that back a
        // UNIQUE constraint from those made by CREATE [UNIQUE] INDEX.
        let indexes: Vec<(String, bool, bool, bool, Vec<String>)> = sqlx::query_as(
            "SELECT c.relname::text, i.indisunique, i.indisprimary, \
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                            AND k.contype = 'u'), \
                    ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS u(attnum, n) \
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum \
                          ORDER BY u.n) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = $1::regclass ORDER BY c.relname",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        for (name, unique, primary, constraint, columns) in indexes {
            if primary {
                lines.insert(format!("{table}: PRIMARY KEY ({})", columns.join(", ")));
                continue;
            }
            let name = if constraint { UNIQUE_CONSTRAINT } else { &name };
            lines.insert(index_line(&table, name, unique, &columns));
        }
    }
    lines
}

fn assert_sees_schema(backend: &str, schema: &BTreeSet<String>) {
    for expected in [
        "table messages",
        "messages.provider_message_id text NULL",
        "messages.is_final boolean NOT NULL",
        "messages: PRIMARY KEY (id)",
        "messages: UNIQUE INDEX messages_provider_message (provider, provider_message_id)",
        "messages: UNIQUE INDEX <unique constraint> (idempotency_key)",
        "messages: INDEX messages_created (created_at_us, id)",
        "unmatched_callbacks: PRIMARY KEY (provider, provider_message_id)",
    ] {
        assert!(
            schema.contains(expected),
            "{backend}: the introspection does not see {expected:?}"
        );
    }
}

async fn migrated_sqlite() -> (SqlitePool, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/schema.db?mode=rwc", dir.path().display());
    let pool = SqlitePool::connect(&url).await.expect("open SQLite");
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .expect("migrate SQLite");
    (pool, dir)
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_create_the_same_schema() {
    let (sqlite_pool, _dir) = migrated_sqlite().await;
    let sqlite = sqlite_schema(&sqlite_pool).await;
    sqlite_pool.close().await;
    // The SQLite half is checked even without PostgreSQL: every type must
    // fall into the common vocabulary.
    let unmapped: Vec<&String> = sqlite.iter().filter(|l| l.contains("sqlite:")).collect();
    assert!(unmapped.is_empty(), "unmapped SQLite types: {unmapped:#?}");
    // The introspection itself must see the schema, or an empty comparison
    // would pass.
    assert_sees_schema("SQLite", &sqlite);

    let db = TestDb::fresh().await;
    if !db.is_postgres() {
        eprintln!("SMSTRAIL_TEST_POSTGRES_URL unset: the PostgreSQL schema is not compared");
        return;
    }
    let pg_pool = PgPool::connect(&db.url).await.expect("connect");
    sqlx::migrate!("./migrations/postgres")
        .run(&pg_pool)
        .await
        .expect("migrate PostgreSQL");
    let postgres = postgres_schema(&pg_pool).await;
    pg_pool.close().await;
    assert_sees_schema("PostgreSQL", &postgres);

    let mut only_sqlite: BTreeSet<&String> = sqlite.difference(&postgres).collect();
    let mut only_postgres: BTreeSet<&String> = postgres.difference(&sqlite).collect();
    let mut stale = Vec::new();
    for (on_sqlite, on_postgres, why) in ACCEPTED {
        let known = only_sqlite.iter().any(|l| l.as_str() == *on_sqlite)
            && only_postgres.iter().any(|l| l.as_str() == *on_postgres);
        if known {
            eprintln!("accepted difference: {on_sqlite} / {on_postgres}: {why}");
            only_sqlite.retain(|l| l.as_str() != *on_sqlite);
            only_postgres.retain(|l| l.as_str() != *on_postgres);
        } else {
            stale.push(format!("{on_sqlite} / {on_postgres} ({why})"));
        }
    }
    let mut report = String::new();
    for line in &only_sqlite {
        report += &format!("\n  only on SQLite:     {line}");
    }
    for line in &only_postgres {
        report += &format!("\n  only on PostgreSQL: {line}");
    }
    for entry in &stale {
        report +=
            &format!("\n  accepted difference no longer there, remove it from ACCEPTED: {entry}");
    }
    assert!(
        report.is_empty(),
        "migrations/sqlite and migrations/postgres differ:{report}"
    );
}
