//! Reveal policy: an agent sees a recipient's number in clear only with a
//! stated reason and a live grant, and only after the audit log has the
//! reveal (no record, no reveal). Refusals for want of a grant are audited
//! too, whatever the reason field held: an attempt without a grant is what
//! an admin needs to see. With a grant, a missing reason is asked for again
//! and is not an attempt. A number the retention policy removed cannot be
//! revealed by anyone: the answer says so.

use super::{Actor, UseCaseError, now_us};
use crate::crypto::DataCipher;
use crate::domain::account::AuditAction;
use crate::store::Store;

const MAX_REASON_CHARS: usize = 500;

#[derive(Debug)]
pub enum Reveal {
    /// The number in clear.
    Revealed(String),
    /// No live grant; the attempt was audited.
    Denied,
    /// The retention policy removed the number: only its masked form is
    /// left, so nothing can be shown (and nothing is audited: nothing was seen).
    Removed,
}

pub async fn reveal(
    store: &Store,
    cipher: &DataCipher,
    message_id: &str,
    reason: &str,
    actor: &Actor,
) -> Result<Reveal, UseCaseError> {
    let reason = reason.trim();
    let reason_ok = !reason.is_empty() && reason.chars().count() <= MAX_REASON_CHARS;
    let user_id = actor.id.as_deref().unwrap_or_default();
    let grant = store.live_grant(user_id, now_us()).await?;
    let mut entry = actor.audit(AuditAction::Reveal, now_us());
    entry.message_id = Some(message_id.to_owned());
    entry.reason =
        Some(reason.chars().take(MAX_REASON_CHARS).collect()).filter(|r: &String| !r.is_empty());
    let Some(grant) = grant else {
        entry.action = AuditAction::RevealDenied;
        entry.detail = Some(if reason_ok {
            "no live reveal grant".to_owned()
        } else {
            "no live reveal grant, no usable reason".to_owned()
        });
        store.append_audit(&entry).await?;
        return Ok(Reveal::Denied);
    };
    if !reason_ok {
        return Err(UseCaseError::Invalid(format!(
            "give a reason (up to {MAX_REASON_CHARS} characters) to reveal the number"
        )));
    }
    let message = store
        .message(message_id)
        .await?
        .ok_or(UseCaseError::NotFound("Message"))?;
    if message.recipient_sealed.is_empty() {
        return Ok(Reveal::Removed);
    }
    let number = cipher.open(&message.recipient_sealed).map_err(|e| {
        tracing::error!(message = %message_id, error = %e, "cannot decrypt a recipient");
        UseCaseError::Internal(
            "the stored number cannot be decrypted with this data key".to_owned(),
        )
    })?;
    entry.detail = Some(format!("grant {}", grant.id));
    store.append_audit(&entry).await?;
    Ok(Reveal::Revealed(
        String::from_utf8_lossy(&number).into_owned(),
    ))
}
