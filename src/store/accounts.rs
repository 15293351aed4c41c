//! Accounts: users, the first-run setup token and reveal grants. Every
//! change that must be audited takes its audit entry and commits both in one
//! transaction.

use sqlx::AnyConnection;

use crate::domain::account::{AuditAction, Role};

use super::audit::insert_audit;
use super::db::conflict_or;
use super::query::Query;
use super::{NewAuditEntry, Store, StoreError};

const USER_COLUMNS: &str = "id, email, role, password_hash, timezone, \
    session_generation, disabled_at_us, created_at_us, updated_at_us";

const GRANT_SELECT: &str = "SELECT g.id, g.user_id, u.email AS user_email, \
    b.email AS granted_by_email, g.reason, g.created_at_us, g.expires_at_us, g.revoked_at_us \
    FROM reveal_grants g JOIN users u ON u.id = g.user_id JOIN users b ON b.id = g.granted_by";

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: String,
    pub timezone: String,
    pub session_generation: i64,
    pub disabled_at_us: Option<i64>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

impl UserRecord {
    pub fn is_active(&self) -> bool {
        self.disabled_at_us.is_none()
    }
}

/// One change to a user. Password changes and disabling bump the session
/// generation, which ends the user's open sessions.
#[derive(Debug, Clone)]
pub enum UserChange {
    Role(Role),
    Disabled(bool),
    PasswordHash(String),
    Timezone(String),
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub user_id: String,
    pub granted_by: String,
    pub reason: String,
    pub created_at_us: i64,
    pub expires_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRecord {
    pub id: i64,
    pub user_id: String,
    pub user_email: String,
    pub granted_by_email: String,
    pub reason: String,
    pub created_at_us: i64,
    pub expires_at_us: i64,
    pub revoked_at_us: Option<i64>,
}

impl GrantRecord {
    pub fn is_live(&self, now_us: i64) -> bool {
        self.revoked_at_us.is_none() && self.expires_at_us > now_us
    }
}

impl Store {
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?)
    }

    /// `Conflict` when the email is taken.
    pub async fn create_user(
        &self,
        user: &NewUser,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let created = insert_user(&mut tx, user).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Forgets unused setup tokens and keeps this one.
    pub async fn issue_setup_token(
        &self,
        digest: &str,
        created_at_us: i64,
        expires_at_us: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM setup_tokens WHERE used_at_us IS NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO setup_tokens (digest, created_at_us, expires_at_us) VALUES ($1, $2, $3)",
        )
        .bind(digest)
        .bind(created_at_us)
        .bind(expires_at_us)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a setup token is unused, unexpired and no user exists yet.
    pub async fn setup_token_usable(&self, digest: &str, now_us: i64) -> Result<bool, StoreError> {
        let usable: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM setup_tokens WHERE digest = $1 AND used_at_us IS NULL \
             AND expires_at_us > $2 AND NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(digest)
        .bind(now_us)
        .fetch_one(self.pool())
        .await?;
        Ok(usable > 0)
    }

    /// Uses the setup token and creates the first admin in one transaction:
    /// `NotFound` if the token is unknown, used or expired, `Conflict` if a
    /// user exists already.
    pub async fn create_first_admin(
        &self,
        token_digest: &str,
        user: &NewUser,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await?;
        if users > 0 {
            return Err(StoreError::Conflict("an account exists already".to_owned()));
        }
        let used = sqlx::query(
            "UPDATE setup_tokens SET used_at_us = $2 WHERE digest = $1 AND used_at_us IS NULL \
             AND expires_at_us > $2",
        )
        .bind(token_digest)
        .bind(user.created_at_us)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used == 0 {
            return Err(StoreError::NotFound);
        }
        let created = insert_user(&mut tx, user).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("id", id).await
    }

    /// `email` is compared in its normalized (lower-case) form.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("email", email).await
    }

    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        Ok(sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Every user, by email.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    /// `NotFound` when the user does not exist; `Conflict` when the change
    /// would leave no active admin.
    pub async fn update_user(
        &self,
        id: &str,
        change: &UserChange,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError> {
        let mut update = Query::new("UPDATE users SET ");
        match change {
            UserChange::Role(role) => update.push("role = ").bind(role.as_str()),
            UserChange::Disabled(true) => update.push("disabled_at_us = ").bind(audit.at_us),
            UserChange::Disabled(false) => update.push("disabled_at_us = NULL"),
            UserChange::PasswordHash(hash) => update.push("password_hash = ").bind(hash.clone()),
            UserChange::Timezone(zone) => update.push("timezone = ").bind(zone.clone()),
        };
        if matches!(
            change,
            UserChange::Disabled(true) | UserChange::PasswordHash(_)
        ) {
            update.push(", session_generation = session_generation + 1");
        }
        update.push(", updated_at_us = ").bind(audit.at_us);
        update.push(" WHERE id = ").bind(id.to_owned());
        update.push(&format!(" RETURNING {USER_COLUMNS}"));
        let may_remove_an_admin = matches!(change, UserChange::Disabled(true))
            || matches!(change, UserChange::Role(role) if *role != Role::Admin);
        let mut tx = self.begin_write().await?;
        if may_remove_an_admin {
            // Serializes such changes, so two admins demoting each other at
            // once cannot both see the other still in place.
            self.lock_admin_changes(&mut tx).await?;
        }
        let (sql, args) = update.finish()?;
        let updated: Option<UserRecord> = sqlx::query_as_with(&sql, args)
            .fetch_optional(&mut *tx)
            .await?;
        let updated = updated.ok_or(StoreError::NotFound)?;
        if may_remove_an_admin {
            let admins: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at_us IS NULL",
            )
            .fetch_one(&mut *tx)
            .await?;
            if admins == 0 {
                return Err(StoreError::Conflict(format!(
                    "{} is the last active admin: make someone else admin first",
                    updated.email
                )));
            }
        }
        insert_audit(&mut tx, audit).await?;
        if matches!(change, UserChange::Disabled(true)) {
            revoke_live_grants(&mut tx, id, audit).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// `NotFound` when the user does not exist.
    pub async fn grant_reveal(
        &self,
        grant: &NewGrant,
        audit: &NewAuditEntry,
    ) -> Result<GrantRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO reveal_grants (user_id, granted_by, reason, created_at_us, expires_at_us) \
             SELECT id, $2, $3, $4, $5 FROM users WHERE id = $1 RETURNING id",
        )
        .bind(&grant.user_id)
        .bind(&grant.granted_by)
        .bind(&grant.reason)
        .bind(grant.created_at_us)
        .bind(grant.expires_at_us)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound)?;
        let record = find_grant(&mut tx, id).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// `NotFound` when the grant does not exist or is already revoked.
    pub async fn revoke_grant(
        &self,
        id: i64,
        revoked_by: &str,
        audit: &NewAuditEntry,
    ) -> Result<GrantRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE reveal_grants SET revoked_at_us = $2, revoked_by = $3 \
             WHERE id = $1 AND revoked_at_us IS NULL",
        )
        .bind(id)
        .bind(audit.at_us)
        .bind(revoked_by)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            return Err(StoreError::NotFound);
        }
        let record = find_grant(&mut tx, id).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Every grant, newest first.
    pub async fn grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        let sql = format!("{GRANT_SELECT} ORDER BY g.id DESC");
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    /// The live grant of a user that lasts longest, if any.
    pub async fn live_grant(
        &self,
        user_id: &str,
        now_us: i64,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let sql = format!(
            "{GRANT_SELECT} WHERE g.user_id = $1 AND g.revoked_at_us IS NULL \
             AND g.expires_at_us > $2 ORDER BY g.expires_at_us DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(now_us)
            .fetch_optional(self.pool())
            .await?)
    }
}

async fn insert_user(conn: &mut AnyConnection, user: &NewUser) -> Result<UserRecord, StoreError> {
    let sql = format!(
        "INSERT INTO users (id, email, role, password_hash, created_at_us, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.created_at_us)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, "a user with this email exists already"))
}

/// Ends every live reveal grant of a user being disabled, each with its own
/// `grant_revoke` audit row by the same actor. Without this a grant would
/// outlive the disable and come back with a later enable, which no admin
/// would expect of "disable".
async fn revoke_live_grants(
    conn: &mut AnyConnection,
    user_id: &str,
    disable: &NewAuditEntry,
) -> Result<(), StoreError> {
    let revoked: Vec<i64> = sqlx::query_scalar(
        "UPDATE reveal_grants SET revoked_at_us = $2, revoked_by = $3 \
         WHERE user_id = $1 AND revoked_at_us IS NULL AND expires_at_us > $2 RETURNING id",
    )
    .bind(user_id)
    .bind(disable.at_us)
    .bind(&disable.actor_id)
    .fetch_all(&mut *conn)
    .await?;
    for id in revoked {
        let entry = NewAuditEntry {
            action: AuditAction::GrantRevoke,
            target: Some(format!("grant {id}")),
            detail: Some("revoked because the user was disabled".to_owned()),
            ..disable.clone()
        };
        insert_audit(conn, &entry).await?;
    }
    Ok(())
}

async fn find_grant(conn: &mut AnyConnection, id: i64) -> Result<GrantRecord, StoreError> {
    let sql = format!("{GRANT_SELECT} WHERE g.id = $1");
    let found: Option<GrantRecord> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found.ok_or(StoreError::NotFound)
}
