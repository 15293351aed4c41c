//! The accounts side of the store: users, the first-run setup token, reveal
//! grants, API tokens and the append-only audit log. Every change that must
//! be audited takes its audit entry and commits both in one transaction.

use async_trait::async_trait;

use super::{ApiTokenRecord, NewApiToken, SessionBackend, StoreError};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub role: String,
    pub password_hash: String,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub role: String,
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
    Role(String),
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

#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub at_us: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: &'static str,
    pub target: Option<String>,
    pub message_id: Option<String>,
    pub reason: Option<String>,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at_us: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
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
    pub action: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    /// Newest first; entries with a smaller id than this one.
    pub before_id: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn user_count(&self) -> Result<i64, StoreError>;

    /// `Conflict` when the email is taken.
    async fn create_user(
        &self,
        user: &NewUser,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError>;

    /// Forgets unused setup tokens and keeps this one.
    async fn issue_setup_token(
        &self,
        digest: &str,
        created_at_us: i64,
        expires_at_us: i64,
    ) -> Result<(), StoreError>;

    /// Whether a setup token is unused, unexpired and no user exists yet.
    async fn setup_token_usable(&self, digest: &str, now_us: i64) -> Result<bool, StoreError>;

    /// Uses the setup token and creates the first admin in one transaction:
    /// `NotFound` if the token is unknown, used or expired, `Conflict` if a
    /// user exists already.
    async fn create_first_admin(
        &self,
        token_digest: &str,
        user: &NewUser,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError>;

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// `email` is compared in its normalized (lower-case) form.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// `NotFound` when the user does not exist; `Conflict` when the change
    /// would leave no active admin.
    async fn update_user(
        &self,
        id: &str,
        change: &UserChange,
        audit: &NewAuditEntry,
    ) -> Result<UserRecord, StoreError>;

    /// `NotFound` when the user does not exist.
    async fn grant_reveal(
        &self,
        grant: &NewGrant,
        audit: &NewAuditEntry,
    ) -> Result<GrantRecord, StoreError>;

    /// `NotFound` when the grant does not exist or is already revoked.
    async fn revoke_grant(
        &self,
        id: i64,
        revoked_by: &str,
        audit: &NewAuditEntry,
    ) -> Result<GrantRecord, StoreError>;

    /// Every grant, newest first.
    async fn grants(&self) -> Result<Vec<GrantRecord>, StoreError>;

    /// The live grant of a user that lasts longest, if any.
    async fn live_grant(
        &self,
        user_id: &str,
        now_us: i64,
    ) -> Result<Option<GrantRecord>, StoreError>;

    async fn create_api_token(
        &self,
        token: &NewApiToken,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError>;

    /// `NotFound` when the token does not exist or is already revoked.
    async fn revoke_api_token(
        &self,
        id: &str,
        audit: &NewAuditEntry,
    ) -> Result<ApiTokenRecord, StoreError>;

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError>;

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// The tower-sessions store over this database.
    fn session_store(&self) -> SessionBackend;
}
