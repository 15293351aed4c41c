//! Login policy: who may sign in, and what the audit log says about every
//! attempt. Unknown emails, disabled accounts and wrong passwords look the
//! same from outside (the password is checked, against a dummy hash when
//! there is no user, in every case); only the audit detail tells them apart.

use super::{Actor, UseCaseError, now_us};
use crate::auth::password;
use crate::domain::account::{AuditAction, normalize_email};
use crate::store::{Store, UserRecord};

/// Longest email kept in the audit log: what a stranger types is not trusted.
const MAX_LOGGED_EMAIL_CHARS: usize = 254;

/// The key a login attempt is known by (throttling, lookup): the normalized
/// email, or the typed text lower-cased when it is not a valid address.
pub fn login_key(email: &str) -> String {
    normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase())
}

/// The user when the login is allowed, `None` when refused; both audited.
pub async fn login(
    store: &Store,
    email: &str,
    password: String,
    client_addr: String,
) -> Result<Option<UserRecord>, UseCaseError> {
    let email = login_key(email);
    let user = store.user_by_email(&email).await?;
    let matches = password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let actor = Actor {
        id: user.as_ref().map(|u| u.id.clone()),
        email: Some(email.chars().take(MAX_LOGGED_EMAIL_CHARS).collect()),
        client_addr: Some(client_addr),
    };
    let refusal = match &user {
        None => Some("unknown email"),
        Some(u) if !u.is_active() => Some("account disabled"),
        Some(_) if !matches => Some("wrong password"),
        Some(_) => None,
    };
    let mut entry = match refusal {
        None => actor.audit(AuditAction::Login, now_us()),
        Some(_) => actor.audit(AuditAction::LoginFailed, now_us()),
    };
    entry.detail = refusal.map(str::to_owned);
    store.append_audit(&entry).await?;
    Ok(user.filter(|_| refusal.is_none()))
}
