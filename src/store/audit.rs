//! The append-only audit log. Changes that must be audited write their entry
//! in the same transaction as the change, through [`insert_audit`].

use sqlx::AnyConnection;

use crate::domain::account::AuditAction;

use super::query::Query;

use super::{Store, StoreError};

const AUDIT_COLUMNS: &str = "id, at_us, actor_id, actor_email, action, target, \
    message_id, reason, client_addr, detail";

#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub at_us: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: AuditAction,
    pub target: Option<String>,
    pub message_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

impl NewAuditEntry {
    /// An entry for `action` with nothing else filled in yet.
    pub fn new(action: AuditAction) -> Self {
        Self {
            at_us: 0,
            actor_id: None,
            actor_email: None,
            action,
            target: None,
            message_id: None,
            reason: None,
            client_addr: None,
            detail: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at_us: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    #[sqlx(try_from = "String")]
    pub action: AuditAction,
    pub target: Option<String>,
    pub message_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Matches the actor's email exactly (case-insensitive).
    pub actor_email: Option<String>,
    pub action: Option<AuditAction>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    /// Newest first; entries with a smaller id than this one.
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Records an event that changes nothing else (a login, a reveal).
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_audit(&mut conn, entry).await
    }

    /// The records about one message (reveals, refused reveals, evidence
    /// exports), oldest first.
    pub async fn audit_of_message(&self, message_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE message_id = $1 ORDER BY id");
        Ok(sqlx::query_as(&sql)
            .bind(message_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Newest first.
    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut query = Query::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE TRUE"));
        if let Some(actor) = &f.actor_email {
            query.push(" AND actor_email = ").bind(actor.clone());
        }
        if let Some(action) = &f.action {
            query.push(" AND action = ").bind(action.as_str());
        }
        if let Some(from) = f.from_us {
            query.push(" AND at_us >= ").bind(from);
        }
        if let Some(to) = f.to_us {
            query.push(" AND at_us < ").bind(to);
        }
        if let Some(before) = f.before_id {
            query.push(" AND id < ").bind(before);
        }
        query.push(" ORDER BY id DESC LIMIT ").bind(f.limit);
        let (sql, args) = query.finish()?;
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(self.pool())
            .await?)
    }
}

pub(super) async fn insert_audit(
    conn: &mut AnyConnection,
    e: &NewAuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at_us, actor_id, actor_email, action, target, message_id, \
         reason, client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.at_us)
    .bind(&e.actor_id)
    .bind(&e.actor_email)
    .bind(e.action.as_str())
    .bind(&e.target)
    .bind(&e.message_id)
    .bind(&e.reason)
    .bind(&e.client_addr)
    .bind(&e.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
