//! API tokens: minted from the command line or the admin tokens page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Actor, UseCaseError, now_us};
use crate::crypto::{random_bytes, token_digest};
use crate::domain::account::AuditAction;
use crate::store::{NewApiToken, Store};

const MAX_NAME_CHARS: usize = 100;

/// A new token. `secret` is shown once and never stored: only its digest is.
#[derive(Debug)]
pub struct MintedToken {
    pub id: String,
    pub name: String,
    pub secret: String,
}

/// The trimmed name, or why it is refused.
pub fn check_name(name: &str) -> Result<&str, UseCaseError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(UseCaseError::Invalid(format!(
            "the name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name)
}

pub async fn mint(store: &Store, name: &str, actor: &Actor) -> Result<MintedToken, UseCaseError> {
    let name = check_name(name)?;
    let bytes = random_bytes::<32>().map_err(|e| UseCaseError::Internal(e.to_string()))?;
    let secret = format!("smst_{}", URL_SAFE_NO_PAD.encode(bytes));
    let id = uuid::Uuid::now_v7().to_string();
    let mut entry = actor.audit(AuditAction::TokenCreate, now_us());
    entry.target = Some(id.clone());
    entry.detail = Some(actor.detail(format!("{name:?}")));
    let token = NewApiToken {
        id: id.clone(),
        name: name.to_owned(),
        digest: token_digest(&secret),
        created_at_us: entry.at_us,
    };
    store.create_api_token(&token, &entry).await?;
    Ok(MintedToken {
        id,
        name: name.to_owned(),
        secret,
    })
}
