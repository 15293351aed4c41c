//! Outbound messages: what the product registered, with the summary of its
//! delivery timeline kept beside it. Phone numbers arrive here already
//! hashed, sealed and masked: the store never sees one in clear.

use sqlx::AnyConnection;

use super::db::Backend;
use super::query::Query;

use crate::domain::DeliveryStatus;
use crate::domain::limbo::TIMEOUT_RAW_STATUS;

use super::db::DbBool;
use super::{Store, StoreError};

pub(super) const MESSAGE_COLUMNS: &str = "id, idempotency_key, request_fingerprint, provider, \
    provider_message_id, recipient_hash, recipient_sealed, recipient_masked, destination_country, \
    sender_identity, sender_type, template_key, use_case, user_ref, product_action_kind, \
    product_action_ref, product_action_url, recipient_timezone, sent_at_us, metadata_json, \
    created_at_us, current_status, current_raw_status, current_error_code, status_at_us, \
    CAST(is_final AS INTEGER) AS is_final, updated_at_us, \
    CAST(recipient_valid AS INTEGER) AS recipient_valid";

/// A recipient (or inbound sender) number in its three stored forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedNumber {
    pub hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub masked: String,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAction {
    pub kind: Option<String>,
    pub reference: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub idempotency_key: String,
    /// Digest of the request as understood, to tell a replay from a conflict.
    pub request_fingerprint: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient: ProtectedNumber,
    /// Whether the recipient is in a known range of its country's plan
    /// (possible numbers outside one are accepted too).
    pub recipient_valid: bool,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action: ProductAction,
    pub recipient_timezone: Option<String>,
    pub sent_at_us: Option<i64>,
    pub metadata_json: Option<String>,
    pub created_at_us: i64,
    /// When the reconcile job gives up waiting for a final status: the use
    /// case's window from `sent_at`, else from registration.
    pub final_deadline_us: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum Registration {
    Created(MessageRecord),
    /// The idempotency key was used before; `same_request` says whether with
    /// the same body.
    Existing {
        message: MessageRecord,
        same_request: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: String,
    pub idempotency_key: String,
    pub request_fingerprint: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient_hash: Vec<u8>,
    pub recipient_sealed: Vec<u8>,
    pub recipient_masked: String,
    pub destination_country: Option<String>,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action_kind: Option<String>,
    pub product_action_ref: Option<String>,
    pub product_action_url: Option<String>,
    pub recipient_timezone: Option<String>,
    pub sent_at_us: Option<i64>,
    pub metadata_json: Option<String>,
    pub created_at_us: i64,
    #[sqlx(try_from = "String")]
    pub current_status: DeliveryStatus,
    pub current_raw_status: Option<String>,
    pub current_error_code: Option<String>,
    /// The effective time of the current status (provider time, else receipt).
    pub status_at_us: i64,
    #[sqlx(try_from = "DbBool")]
    pub is_final: bool,
    pub updated_at_us: i64,
    #[sqlx(try_from = "DbBool")]
    pub recipient_valid: bool,
}

/// The key a search box query resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// The keyed hash of an E.164 number: numbers are never matched in clear.
    RecipientHash(Vec<u8>),
    /// Matches a message id, a provider message id, a user ref or a product
    /// action ref exactly.
    Identifier(String),
}

#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub key: Option<SearchKey>,
    pub status: Option<String>,
    pub country: Option<String>,
    pub provider: Option<String>,
    pub sender_identity: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    /// Only messages with (`true`) or without a final status.
    pub is_final: Option<bool>,
    /// Only messages that smstrail's timeout gave up on and that still have
    /// no final status (what the dashboards count as "never final").
    pub timed_out: bool,
    /// Only messages with a retry or fallback of this kind recorded.
    pub retry: Option<String>,
    /// Created at or after.
    pub from_us: Option<i64>,
    /// Created before.
    pub to_us: Option<i64>,
    /// Keyset cursor: messages strictly older than this `(created_at_us, id)`.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl Store {
    pub async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        find_message(&mut conn, id).await
    }

    pub async fn message_by_provider_id(
        &self,
        provider_message_id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE provider_message_id = $1 \
             ORDER BY created_at_us LIMIT 1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(provider_message_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Newest first.
    pub async fn search_messages(
        &self,
        q: &MessageQuery,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut query = Query::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE TRUE"));
        match &q.key {
            Some(SearchKey::RecipientHash(hash)) => {
                query.push(" AND recipient_hash = ").bind(hash.clone());
            }
            Some(SearchKey::Identifier(text)) => {
                query.push(" AND (id = ").bind(text.clone());
                query.push(" OR provider_message_id = ").bind(text.clone());
                query.push(" OR user_ref = ").bind(text.clone());
                query.push(" OR product_action_ref = ").bind(text.clone());
                query.push(")");
            }
            None => {}
        }
        let equal = [
            ("current_status", &q.status),
            ("destination_country", &q.country),
            ("provider", &q.provider),
            ("sender_identity", &q.sender_identity),
            ("template_key", &q.template_key),
            ("use_case", &q.use_case),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                query.push(&format!(" AND {column} = ")).bind(value.clone());
            }
        }
        if let Some(is_final) = q.is_final {
            query.push(if is_final {
                " AND is_final = TRUE"
            } else {
                " AND is_final = FALSE"
            });
        }
        if q.timed_out {
            query
                .push(" AND is_final = FALSE AND current_raw_status = ")
                .bind(TIMEOUT_RAW_STATUS.to_owned());
        }
        if let Some(kind) = &q.retry {
            query.push(
                " AND EXISTS (SELECT 1 FROM message_retries r \
                        WHERE r.message_id = messages.id AND r.kind = ",
            );
            query.bind(kind.clone());
            query.push(")");
        }
        if let Some(from) = q.from_us {
            query.push(" AND created_at_us >= ").bind(from);
        }
        if let Some(to) = q.to_us {
            query.push(" AND created_at_us < ").bind(to);
        }
        if let Some((created, id)) = &q.before {
            query.push(" AND (created_at_us < ").bind(*created);
            query.push(" OR (created_at_us = ").bind(*created);
            query.push(" AND id < ").bind(id.clone());
            query.push("))");
        }
        query
            .push(" ORDER BY created_at_us DESC, id DESC LIMIT ")
            .bind(q.limit);
        let (sql, args) = query.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(self.pool())
            .await?)
    }
}

impl Store {
    /// Refreshes the planner's statistics after a bulk load. PostgreSQL
    /// plans with them, and a table filled faster than autovacuum analyzes
    /// it is planned as if it were empty: a phone search over a freshly
    /// played million-message demo walked the whole table backwards by
    /// date (1.2 s instead of 0.1 ms). SQLite's plans here need none.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("ANALYZE").execute(self.pool()).await?;
        }
        Ok(())
    }

    /// How many messages have an idempotency key not starting with `prefix`
    /// (the demo's test for data that is not its own).
    pub async fn messages_without_key_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE idempotency_key NOT LIKE $1")
                .bind(format!("{prefix}%"))
                .fetch_one(self.pool())
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Rewrites every request fingerprint not yet in the form that starts
    /// with `prefix`, through `upgrade` (which must give that form). Safe to
    /// run from several processes at once: a row changes only if it still
    /// holds the value read. Returns how many rows it rewrote. Once a run
    /// finds nothing left it records so in `maintenance_done`, and later
    /// starts skip the scan.
    pub async fn upgrade_fingerprints(
        &self,
        prefix: &str,
        upgrade: impl Fn(&str) -> String,
    ) -> Result<u64, StoreError> {
        const BATCH: i64 = 500;
        const DONE: &str = "request_fingerprints_keyed";
        let done: Option<i64> =
            sqlx::query_scalar("SELECT done_at_us FROM maintenance_done WHERE name = $1")
                .bind(DONE)
                .fetch_optional(self.pool())
                .await?;
        if done.is_some() {
            return Ok(0);
        }
        let pattern = format!("{prefix}%");
        let mut upgraded = 0;
        // Keyset by id: each batch starts where the last one ended, so the
        // walk reads the table once instead of re-skipping the rows it has
        // already upgraded (quadratic at millions of messages).
        let mut after = String::new();
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT id, request_fingerprint FROM messages \
                 WHERE id > $3 AND request_fingerprint NOT LIKE $1 ORDER BY id LIMIT $2",
            )
            .bind(&pattern)
            .bind(BATCH)
            .bind(&after)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                // Every writer of this version stores the keyed form, so
                // once none is left none comes back.
                sqlx::query(
                    "INSERT INTO maintenance_done (name, done_at_us) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(DONE)
                .bind(chrono::Utc::now().timestamp_micros())
                .execute(self.pool())
                .await?;
                return Ok(upgraded);
            }
            if let Some((last, _)) = rows.last() {
                after.clone_from(last);
            }
            let mut tx = self.begin_write().await?;
            for (id, old) in &rows {
                let new = upgrade(old);
                if !new.starts_with(prefix) {
                    // Writing it would select the row again, forever.
                    return Err(StoreError::Corrupt(
                        "an upgraded fingerprint lacks its prefix".to_owned(),
                    ));
                }
                upgraded += sqlx::query(
                    "UPDATE messages SET request_fingerprint = $3 \
                     WHERE id = $1 AND request_fingerprint = $2",
                )
                .bind(id)
                .bind(old)
                .bind(&new)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        }
    }
}

pub(super) async fn find_message(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<MessageRecord>, StoreError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}
