//! The first-run setup link (CONTRACT §1): with no users, each start prints
//! a fresh link valid for an hour and good for one admin account. No default
//! password exists anywhere.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{random_bytes, token_digest};
use crate::store::{Store, StoreError};

pub const SETUP_LINK_LIFETIME_US: i64 = 3_600 * 1_000_000;

/// Issues a new setup token when no user exists and returns the link.
/// Earlier unused links stop working.
pub async fn issue_link_if_needed(
    store: &Store,
    public_url: &str,
    now_us: i64,
) -> Result<Option<String>, StoreError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let bytes = random_bytes::<32>().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    store
        .issue_setup_token(
            &token_digest(&token),
            now_us,
            now_us + SETUP_LINK_LIFETIME_US,
        )
        .await?;
    Ok(Some(format!(
        "{}/setup?token={token}",
        public_url.trim_end_matches('/')
    )))
}
