//! Adding accounts: from the command line, the admin users page, and the
//! first-run setup link.

use super::{Actor, UseCaseError, now_us};
use crate::auth::password;
use crate::domain::account::{AuditAction, Role, check_password};
use crate::store::{NewUser, Store, StoreError, UserRecord};

/// A user to add; `email` already normalized.
#[derive(Debug)]
pub struct NewAccount {
    pub email: String,
    pub role: Role,
    pub password: String,
}

/// Adds a user and audits it. `Conflict` when the email is taken.
pub async fn add_user(
    store: &Store,
    account: NewAccount,
    actor: &Actor,
) -> Result<UserRecord, UseCaseError> {
    let role = account.role;
    let email = account.email.clone();
    let user = prepare(account).await?;
    let mut entry = actor.audit(AuditAction::UserAdd, user.created_at_us);
    entry.target = Some(email.clone());
    entry.detail = Some(actor.detail(format!("role {role}")));
    match store.create_user(&user, &entry).await {
        Ok(created) => Ok(created),
        Err(StoreError::Conflict(_)) => Err(UseCaseError::Conflict(format!(
            "a user with email {email} exists already"
        ))),
        Err(other) => Err(other.into()),
    }
}

/// Checks the password and hashes it (off the async threads) into a user
/// ready to store.
pub async fn prepare(account: NewAccount) -> Result<NewUser, UseCaseError> {
    check_password(&account.password).map_err(UseCaseError::Invalid)?;
    let password_hash = password::hash(account.password)
        .await
        .map_err(|e| UseCaseError::Internal(e.to_string()))?;
    Ok(NewUser {
        id: uuid::Uuid::now_v7().to_string(),
        email: account.email,
        role: account.role,
        password_hash,
        created_at_us: now_us(),
    })
}
