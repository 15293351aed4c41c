//! `--plans`: the query plans of the statements the write path sends, on
//! the database the run just used (preloaded or not), with every full scan
//! flagged. A full scan makes the cost of a batch grow with the data, which
//! the rates of a short run on a small database cannot show.
//!
//! The SQL texts are verbatim copies of what the writers send, with the
//! column lists (`MESSAGE_COLUMNS` of src/store/messages.rs,
//! `SUMMARY_COLUMNS` of src/store/summary.rs, `EVENT_COLUMNS` of
//! src/store/events.rs) spelled out, since `concat!` takes only literals.
//! Keep them in sync when the store changes:
//!
//! - SQLite ([`SQLITE_STATEMENTS`]): the `prepare_cached` texts of
//!   `impl WriteTx for SqliteTx` in src/store/write/sqlite.rs: `insert_events`
//!   (two statements), `write_outcome` (two), `insert_review`,
//!   `write_summary`, `insert_inbound`, `insert_message`, `take_waiting`,
//!   `message`, `message_by_key`, `set_provider_message_id`, `timeline`,
//!   `insert_retry`, `insert_verification`, `insert_verification_event`.
//!   They run one row at a time (`?N` placeholders), so each is planned for
//!   one row. `BEGIN IMMEDIATE` and the savepoints have no plan.
//! - PostgreSQL ([`POSTGRES_STATEMENTS`]): the texts of src/store/write/
//!   postgres.rs: the lock statement of `begin_and_lock` (for three keys;
//!   the `BEGIN` before it has no plan), and those of `impl WriteTx for
//!   PgTx`: `insert_events`, `write_outcome`, `insert_inbound`,
//!   `insert_review`, `insert_message`, `message`, `message_by_key`,
//!   `set_provider_message_id`, `take_waiting`, `timeline`, `write_summary`,
//!   `insert_retry`, `insert_verification`, `insert_verification_event`.
//!   The set-based ones take arrays, given here with three elements:
//!   neither planner switches to a scan for a longer list of keys on a
//!   unique or selective index.

use sqlx::{Connection as _, PgConnection, Row as _, SqliteConnection};

use super::Backend;

/// One statement and the sample arguments its plan is taken with.
struct Statement {
    /// The writer's function that sends it, and what it does.
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
    /// PostgreSQL array parameters (`$n::text[]` …), as the writers bind
    /// a column of a batch.
    TextArray(Vec<Option<String>>),
    IntArray(Vec<Option<i64>>),
    BytesArray(Vec<Vec<u8>>),
    BoolArray(Vec<bool>),
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
            Self::TextArray(_) => "text[]",
            Self::IntArray(_) => "bigint[]",
            Self::BytesArray(_) => "bytea[]",
            Self::BoolArray(_) => "boolean[]",
        }
    }

    fn literal(&self, backend: Backend) -> String {
        match self {
            Self::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Self::Int(n) => n.to_string(),
            Self::Bytes(bytes) => match backend {
                Backend::Sqlite => format!("X'{}'", hex::encode(bytes)),
                Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
            },
            Self::Bool(b) => b.to_string().to_uppercase(),
            Self::Null => "NULL".to_owned(),
            // Arrays exist only on PostgreSQL: `ARRAY[…]::type[]`.
            Self::TextArray(items) => self.array(
                items.iter().map(|t| t.as_deref().map_or(Self::Null, text)),
                backend,
            ),
            Self::IntArray(items) => self.array(
                items.iter().map(|n| n.map_or(Self::Null, Self::Int)),
                backend,
            ),
            Self::BytesArray(items) => {
                self.array(items.iter().map(|b| Self::Bytes(b.clone())), backend)
            }
            Self::BoolArray(items) => self.array(items.iter().map(|&b| Self::Bool(b)), backend),
        }
    }

    fn array(&self, elements: impl Iterator<Item = Arg>, backend: Backend) -> String {
        let elements: Vec<String> = elements.map(|e| e.literal(backend)).collect();
        format!("ARRAY[{}]::{}", elements.join(", "), self.postgres_type())
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

const PROVIDER: &str = "twilio";
const NOW_US: i64 = 1_700_000_000_000_000;

fn text(value: &str) -> Arg {
    Arg::Text(value.to_owned())
}

/// A text array of the given values.
fn texts(values: &[String]) -> Arg {
    Arg::TextArray(values.iter().cloned().map(Some).collect())
}

/// A text array of `n` copies of `value` (`None`: NULLs).
fn text_n(value: Option<&str>, n: usize) -> Arg {
    Arg::TextArray(vec![value.map(str::to_owned); n])
}

/// A bigint array of `n` copies of `value` (`None`: NULLs).
fn int_n(value: Option<i64>, n: usize) -> Arg {
    Arg::IntArray(vec![value; n])
}

/// The 21 arguments of `insert_message` on either backend.
fn new_message_args(_: &Sample) -> Vec<Arg> {
    let mut args = vec![
        text("plan-new-id"),
        text("plan-new-key"),
        text("fingerprint"),
        text(PROVIDER),
        text("SMplan"),
        Arg::Bytes(vec![1; 32]),
        Arg::Bytes(vec![2; 48]),
        text("+1 415-•••-0000"),
        text("US"),
    ];
    args.extend((10..=20).map(|_| Arg::Null));
    args.push(Arg::Int(NOW_US));
    args
}

/// The 14 arguments of `insert_inbound` on either backend.
fn inbound_args(_: &Sample) -> Vec<Arg> {
    vec![
        text("plan-inbound-dedup"),
        text(PROVIDER),
        text("SMinbound"),
        Arg::Bytes(vec![1; 32]),
        Arg::Bytes(vec![2; 48]),
        text("+1 415-•••-0000"),
        text("US"),
        text("+14155550000"),
        Arg::Bytes(vec![4; 32]),
        text("STOP"),
        Arg::Null,
        Arg::Int(NOW_US),
        text("application/x-www-form-urlencoded"),
        Arg::Bytes(vec![3; 16]),
    ]
}

/// The 8 arguments of `insert_review` on either backend.
fn review_args(s: &Sample) -> Vec<Arg> {
    vec![
        text(PROVIDER),
        text("status"),
        text("unknown_status"),
        text("plan sample"),
        Arg::Int(s.event_ids[0]),
        text("application/x-www-form-urlencoded"),
        Arg::Bytes(vec![3; 16]),
        Arg::Int(NOW_US),
    ]
}

/// The 7 arguments of `write_summary` on either backend.
fn summary_args(s: &Sample) -> Vec<Arg> {
    vec![
        text(&s.message_ids[0]),
        text("delivered"),
        text("delivered"),
        Arg::Null,
        Arg::Int(NOW_US),
        Arg::Bool(true),
        Arg::Int(NOW_US),
    ]
}

fn retry_args(s: &Sample) -> Vec<Arg> {
    vec![
        text(&s.message_ids[0]),
        text("resend"),
        text("plan-new-id"),
        text("plan sample"),
        Arg::Int(NOW_US),
    ]
}

fn verification_event_args(s: &Sample) -> Vec<Arg> {
    vec![
        text("plan-verification"),
        text("sent"),
        text(&s.message_ids[0]),
        Arg::Int(NOW_US),
        Arg::Int(NOW_US),
    ]
}

/// src/store/write/sqlite.rs, `impl WriteTx for SqliteTx`.
const SQLITE_STATEMENTS: &[Statement] = &[
    Statement {
        name: "insert_events: insert one event (ON CONFLICT dedup_key)",
        sql: "INSERT INTO message_events (dedup_key, provider, provider_message_id, \
             provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
             received_at_us, content_type, raw_payload_sealed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        args: |s| {
            vec![
                text(&s.dedup_keys[0]),
                text(PROVIDER),
                text(&s.provider_message_ids[0]),
                Arg::Null,
                text("sent"),
                text("sent"),
                Arg::Null,
                Arg::Null,
                Arg::Int(NOW_US),
                text("application/x-www-form-urlencoded"),
                Arg::Bytes(vec![3; 16]),
            ]
        },
    },
    Statement {
        name: "insert_events: summary of one message by (provider, provider_message_id)",
        sql: "SELECT id, provider, provider_message_id, current_status, \
              current_raw_status, current_error_code, status_at_us, CAST(is_final AS INTEGER) AS is_final, \
              updated_at_us FROM messages \
              WHERE provider = ?1 AND provider_message_id = ?2",
        args: |s| vec![text(PROVIDER), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "write_outcome: repeat count of one event by dedup_key (event_duplicates upsert)",
        sql: "INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
             SELECT id, ?2, ?3 FROM message_events WHERE dedup_key = ?1 \
             ON CONFLICT (event_id) DO UPDATE SET count = event_duplicates.count + excluded.count, \
             last_received_at_us = max(event_duplicates.last_received_at_us, \
             excluded.last_received_at_us)",
        args: |s| vec![text(&s.dedup_keys[0]), Arg::Int(1), Arg::Int(NOW_US)],
    },
    Statement {
        name: "write_outcome: one waiting mark (unmatched_callbacks, ON CONFLICT DO NOTHING)",
        sql: "INSERT INTO unmatched_callbacks (provider, provider_message_id, \
             first_received_at_us) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args: |s| {
            vec![
                text(PROVIDER),
                text(&s.provider_message_ids[0]),
                Arg::Int(NOW_US),
            ]
        },
    },
    Statement {
        name: "insert_review (from write_outcome and the flows): one review item",
        sql: "INSERT INTO review_items (provider, route, kind, reason, event_id, \
                 content_type, raw_payload_sealed, received_at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args: review_args,
    },
    Statement {
        name: "write_summary (from write_outcome and the flows): one summary by id",
        sql: "UPDATE messages SET current_status = ?2, current_raw_status = ?3, \
                 current_error_code = ?4, status_at_us = ?5, is_final = ?6, updated_at_us = ?7 \
                 WHERE id = ?1",
        args: summary_args,
    },
    Statement {
        name: "insert_inbound: one inbound message (ON CONFLICT dedup_key)",
        sql: "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
                 sender_hash, sender_sealed, sender_masked, sender_country, \
                 recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
                 received_at_us, content_type, raw_payload_sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                 ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        args: inbound_args,
    },
    Statement {
        name: "insert_message: register (ON CONFLICT idempotency_key)",
        sql: concat!(
            "INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
                 provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
                 destination_country, sender_identity, sender_type, template_key, use_case, \
                 user_ref, product_action_kind, product_action_ref, product_action_url, \
                 recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
                 status_at_us, is_final, updated_at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                 ?16, ?17, ?18, ?19, ?20, ?21, 'accepted', ?21, FALSE, ?21) \
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us"
        ),
        args: new_message_args,
    },
    Statement {
        name: "take_waiting (from insert_message and the flows): waiting marks of one message",
        sql: "DELETE FROM unmatched_callbacks WHERE provider = ?1 AND provider_message_id = ?2",
        args: |s| vec![text(PROVIDER), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "message: message by id",
        sql: concat!(
            "SELECT ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us",
            " FROM messages WHERE id = ?1"
        ),
        args: |s| vec![text(&s.message_ids[0])],
    },
    Statement {
        name: "message_by_key: message by idempotency_key",
        sql: concat!(
            "SELECT ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us",
            " FROM messages WHERE idempotency_key = ?1"
        ),
        args: |s| vec![text(&s.idempotency_keys[0])],
    },
    Statement {
        name: "set_provider_message_id: by id",
        sql: "UPDATE messages SET provider_message_id = ?2 WHERE id = ?1",
        args: |s| vec![text(&s.message_ids[0]), text("SMplan")],
    },
    Statement {
        name: "timeline: events by (provider, provider_message_id)",
        sql: concat!(
            "SELECT ",
            "id, provider, provider_message_id, provider_event_id, \
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type, \
    raw_payload_sealed",
            " FROM message_events \
                 WHERE provider = ?1 AND provider_message_id = ?2 ORDER BY id"
        ),
        args: |s| vec![text(PROVIDER), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "insert_retry: retry of a message by id",
        sql: "INSERT INTO message_retries (message_id, kind, new_message_id, reason, \
                 created_at_us) SELECT id, ?2, ?3, ?4, ?5 FROM messages WHERE id = ?1 \
                 RETURNING id, message_id, kind, new_message_id, reason, created_at_us",
        args: retry_args,
    },
    Statement {
        name: "insert_verification",
        sql: "INSERT INTO verifications (id, user_ref, created_at_us) VALUES (?1, ?2, ?3)",
        args: |_| {
            vec![
                text("plan-verification"),
                text("user-plan"),
                Arg::Int(NOW_US),
            ]
        },
    },
    Statement {
        name: "insert_verification_event: of a verification by id",
        sql: "INSERT INTO verification_events (verification_id, kind, message_id, \
                 occurred_at_us, recorded_at_us) \
                 SELECT id, ?2, ?3, ?4, ?5 FROM verifications WHERE id = ?1",
        args: verification_event_args,
    },
];

/// src/store/write/postgres.rs: `begin_and_lock`, then
/// `impl WriteTx for PgTx`.
const POSTGRES_STATEMENTS: &[Statement] = &[
    Statement {
        name: "begin_and_lock: advisory locks of the batch (after BEGIN, same round trip; \
               keys written into the text, three here)",
        sql: "SELECT pg_advisory_xact_lock(k) FROM unnest('{-8070450532247928832,17,\
              4611686018427387904}'::bigint[]) AS k",
        args: |_| Vec::new(),
    },
    Statement {
        name: "insert_events: insert the events (UNNEST, ON CONFLICT dedup_key) and read \
               the summaries of their messages (UNION ALL)",
        sql: concat!(
            "WITH inserted AS ( \
               INSERT INTO message_events (dedup_key, provider, provider_message_id, \
               provider_event_id, raw_status, status, error_code, provider_occurred_at_us, \
               received_at_us, content_type, raw_payload_sealed) \
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
               $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[], \
               $11::bytea[]) \
               ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key, id) \
             SELECT dedup_key, id AS event_id, NULL AS id, NULL AS provider, \
             NULL AS provider_message_id, NULL AS current_status, NULL AS current_raw_status, \
             NULL AS current_error_code, NULL::bigint AS status_at_us, NULL::int AS is_final, \
             NULL::bigint AS updated_at_us FROM inserted \
             UNION ALL \
             SELECT NULL, NULL, ",
            "id, provider, provider_message_id, current_status, \
    current_raw_status, current_error_code, status_at_us, CAST(is_final AS INTEGER) AS is_final, \
    updated_at_us",
            " FROM messages \
             WHERE (provider, provider_message_id) IN \
             (SELECT * FROM UNNEST($2::text[], $3::text[]))"
        ),
        args: |s| {
            let n = s.dedup_keys.len();
            vec![
                texts(&s.dedup_keys),
                text_n(Some(PROVIDER), n),
                texts(&s.provider_message_ids),
                text_n(None, n),
                text_n(Some("sent"), n),
                text_n(Some("sent"), n),
                text_n(None, n),
                int_n(None, n),
                int_n(Some(NOW_US), n),
                text_n(Some("application/x-www-form-urlencoded"), n),
                Arg::BytesArray(vec![vec![3; 16]; n]),
            ]
        },
    },
    Statement {
        name: "write_outcome: repeat counts joined on dedup_key, waiting marks, review items \
               and summaries by id (data-modifying CTEs)",
        sql: "WITH repeats AS ( \
               INSERT INTO event_duplicates (event_id, count, last_received_at_us) \
               SELECT e.id, v.count, v.last \
               FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS v (dedup_key, count, last) \
               JOIN message_events e ON e.dedup_key = v.dedup_key \
               ON CONFLICT (event_id) DO UPDATE \
               SET count = event_duplicates.count + excluded.count, \
               last_received_at_us = GREATEST(event_duplicates.last_received_at_us, \
               excluded.last_received_at_us)), \
             waiting AS ( \
               INSERT INTO unmatched_callbacks (provider, provider_message_id, \
               first_received_at_us) \
               SELECT * FROM UNNEST($4::text[], $5::text[], $6::bigint[]) \
               ON CONFLICT DO NOTHING), \
             review AS ( \
               INSERT INTO review_items (provider, route, kind, reason, event_id, \
               content_type, raw_payload_sealed, received_at_us) \
               SELECT * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::text[], \
               $11::bigint[], $12::text[], $13::bytea[], $14::bigint[])) \
             UPDATE messages SET current_status = v.status, current_raw_status = v.raw_status, \
             current_error_code = v.error_code, status_at_us = v.status_at_us, \
             is_final = v.is_final, updated_at_us = v.updated_at_us \
             FROM UNNEST($15::text[], $16::text[], $17::text[], $18::text[], $19::bigint[], \
             $20::boolean[], $21::bigint[]) \
             AS v (id, status, raw_status, error_code, status_at_us, is_final, updated_at_us) \
             WHERE messages.id = v.id",
        args: |s| {
            let n = s.dedup_keys.len();
            vec![
                texts(&s.dedup_keys),
                int_n(Some(1), n),
                int_n(Some(NOW_US), n),
                text_n(Some(PROVIDER), n),
                texts(&s.provider_message_ids),
                int_n(Some(NOW_US), n),
                text_n(Some(PROVIDER), 1),
                text_n(Some("status"), 1),
                text_n(Some("unknown_status"), 1),
                text_n(Some("plan sample"), 1),
                Arg::IntArray(vec![Some(s.event_ids[0])]),
                text_n(Some("application/x-www-form-urlencoded"), 1),
                Arg::BytesArray(vec![vec![3; 16]]),
                int_n(Some(NOW_US), 1),
                texts(&s.message_ids),
                text_n(Some("delivered"), n),
                text_n(Some("delivered"), n),
                text_n(None, n),
                int_n(Some(NOW_US), n),
                Arg::BoolArray(vec![true; n]),
                int_n(Some(NOW_US), n),
            ]
        },
    },
    Statement {
        name: "insert_inbound: one inbound message (ON CONFLICT dedup_key)",
        sql: "INSERT INTO inbound_messages (dedup_key, provider, provider_message_id, \
             sender_hash, sender_sealed, sender_masked, sender_country, \
             recipient_identity, body_sealed, keyword, provider_occurred_at_us, \
             received_at_us, content_type, raw_payload_sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        args: inbound_args,
    },
    Statement {
        name: "insert_review (from the flows): one review item",
        sql: "INSERT INTO review_items (provider, route, kind, reason, event_id, content_type, \
             raw_payload_sealed, received_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args: review_args,
    },
    Statement {
        name: "insert_message: register (ON CONFLICT idempotency_key) and clear its waiting \
               marks (data-modifying CTEs)",
        sql: concat!(
            "WITH inserted AS ( \
               INSERT INTO messages (id, idempotency_key, request_fingerprint, provider, \
               provider_message_id, recipient_hash, recipient_sealed, recipient_masked, \
               destination_country, sender_identity, sender_type, template_key, use_case, \
               user_ref, product_action_kind, product_action_ref, product_action_url, \
               recipient_timezone, sent_at_us, metadata_json, created_at_us, current_status, \
               status_at_us, is_final, updated_at_us) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
               $17, $18, $19, $20, $21, 'accepted', $21, FALSE, $21) \
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us",
            "), \
             waiting AS ( \
               DELETE FROM unmatched_callbacks u USING inserted i \
               WHERE u.provider = i.provider AND u.provider_message_id = i.provider_message_id \
               RETURNING 1) \
             SELECT inserted.*, EXISTS (SELECT 1 FROM waiting) AS waiting FROM inserted"
        ),
        args: new_message_args,
    },
    Statement {
        name: "message: message by id",
        sql: concat!(
            "SELECT ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us",
            " FROM messages WHERE id = $1"
        ),
        args: |s| vec![text(&s.message_ids[0])],
    },
    Statement {
        name: "message_by_key: message by idempotency_key",
        sql: concat!(
            "SELECT ",
            "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us",
            " FROM messages WHERE idempotency_key = $1"
        ),
        args: |s| vec![text(&s.idempotency_keys[0])],
    },
    Statement {
        name: "set_provider_message_id: by id",
        sql: "UPDATE messages SET provider_message_id = $2 WHERE id = $1",
        args: |s| vec![text(&s.message_ids[0]), text("SMplan")],
    },
    Statement {
        name: "take_waiting (from the flows): waiting marks of one message",
        sql: "DELETE FROM unmatched_callbacks WHERE provider = $1 AND provider_message_id = $2",
        args: |s| vec![text(PROVIDER), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "timeline: events by (provider, provider_message_id)",
        sql: concat!(
            "SELECT ",
            "id, provider, provider_message_id, provider_event_id, \
    raw_status, status, error_code, provider_occurred_at_us, received_at_us, content_type, \
    raw_payload_sealed",
            " FROM message_events \
             WHERE provider = $1 AND provider_message_id = $2 ORDER BY id"
        ),
        args: |s| vec![text(PROVIDER), text(&s.provider_message_ids[0])],
    },
    Statement {
        name: "write_summary (from the flows): one summary by id",
        sql: "UPDATE messages SET current_status = $2, current_raw_status = $3, \
             current_error_code = $4, status_at_us = $5, is_final = $6, updated_at_us = $7 \
             WHERE id = $1",
        args: summary_args,
    },
    Statement {
        name: "insert_retry: retry of a message by id",
        sql: "INSERT INTO message_retries (message_id, kind, new_message_id, reason, created_at_us) \
             SELECT id, $2, $3, $4, $5 FROM messages WHERE id = $1 \
             RETURNING id, message_id, kind, new_message_id, reason, created_at_us",
        args: retry_args,
    },
    Statement {
        name: "insert_verification",
        sql: "INSERT INTO verifications (id, user_ref, created_at_us) VALUES ($1, $2, $3)",
        args: |_| {
            vec![
                text("plan-verification"),
                text("user-plan"),
                Arg::Int(NOW_US),
            ]
        },
    },
    Statement {
        name: "insert_verification_event: of a verification by id",
        sql: "INSERT INTO verification_events (verification_id, kind, message_id, \
             occurred_at_us, recorded_at_us) SELECT id, $2, $3, $4, $5 FROM verifications \
             WHERE id = $1",
        args: verification_event_args,
    },
];

fn statements(backend: Backend) -> &'static [Statement] {
    match backend {
        Backend::Sqlite => SQLITE_STATEMENTS,
        Backend::Postgres => POSTGRES_STATEMENTS,
    }
}

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
const TABLES: [&str; 9] = [
    "messages",
    "message_events",
    "event_duplicates",
    "unmatched_callbacks",
    "review_items",
    "inbound_messages",
    "message_retries",
    "verifications",
    "verification_events",
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
            for statement in statements(backend) {
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
            for statement in statements(backend) {
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
    // A statement without parameters (the advisory locks) takes no list.
    let (types, literals) = if args.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("({})", types.join(", ")),
            format!("({})", literals.join(", ")),
        )
    };
    let script = format!(
        "SET plan_cache_mode = {plan_cache_mode}; \
         PREPARE bench_plan {types} AS {}; EXPLAIN EXECUTE bench_plan{literals};",
        statement.sql,
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

/// Replaces `$n` and `?n` with the n-th literal, so SQLite plans the
/// statement with the same constants the server would bind. The literals
/// are not scanned again.
fn with_literals(sql: &str, args: &[Arg], backend: Backend) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' && c != '?' {
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
                out.push(c);
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
