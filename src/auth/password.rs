//! argon2id password hashes. Hashing is CPU-heavy by design, so it runs on
//! the blocking pool and never stalls the async workers.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// A hash of a random password, verified against when the account does not
/// exist so that an unknown email costs the same time as a wrong password.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| {
    let secret = crate::crypto::random_bytes::<24>().ok()?;
    hash_blocking(&hex::encode(secret)).ok()
});

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's
/// recommended minimum).
fn hash_blocking(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

fn verify_blocking(password: &str, stored: Option<&str>) -> bool {
    let decoy = DECOY.as_deref();
    let Some(hash) = stored.or(decoy) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok();
    matches && stored.is_some()
}

pub async fn hash(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| HashError(e.to_string()))?
}

/// Whether `password` matches `stored`; with no stored hash (unknown user)
/// the same work is done and the answer is no.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

/// Computes the decoy hash now, so the first login for an unknown email does
/// not take longer than the others.
pub async fn warm_up() {
    let _ = tokio::task::spawn_blocking(|| DECOY.is_some()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let first = hash("correct horse battery staple".into()).await.unwrap();
        let second = hash("correct horse battery staple".into()).await.unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second);
        assert!(verify("correct horse battery staple".into(), Some(first.clone())).await);
        assert!(!verify("correct horse battery stapler".into(), Some(first)).await);
    }

    #[tokio::test]
    async fn unknown_users_and_garbage_hashes_never_verify() {
        assert!(!verify("anything at all".into(), None).await);
        assert!(!verify("anything at all".into(), Some("not a hash".into())).await);
    }
}
