//! Reveal policy: an agent sees a recipient's number in clear only with a
//! stated reason and a live grant, and only after the audit log has the
//! reveal (no record, no reveal). Refusals for want of a grant are audited
//! too, whatever the reason field held: an attempt without a grant is what
//! an admin needs to see. With a grant, a missing reason is asked for again
//! and is not an attempt. A number the retention policy removed cannot be
//! revealed by anyone: the answer says so.
//!
//! What is revealed is a message's recipient (`/messages/{id}`) or a number
//! by its keyed hash (`/numbers/{ref}`, for numbers that only wrote to us);
//! both go through these same rules. The audit record names the message, or
//! the number's page reference (`target`) and its masked form (`detail`).

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

/// What an agent asks to see.
#[derive(Debug, Clone, Copy)]
pub enum RevealTarget<'a> {
    /// The recipient of this message.
    Message(&'a str),
    /// The number with this keyed hash; `reference` is how the pages name
    /// it (never the number itself).
    Number { hash: &'a [u8], reference: &'a str },
}

pub async fn reveal(
    store: &Store,
    cipher: &DataCipher,
    target: RevealTarget<'_>,
    reason: &str,
    actor: &Actor,
) -> Result<Reveal, UseCaseError> {
    let reason = reason.trim();
    let reason_ok = !reason.is_empty() && reason.chars().count() <= MAX_REASON_CHARS;
    let user_id = actor.id.as_deref().unwrap_or_default();
    let grant = store.live_grant(user_id, now_us()).await?;
    let mut entry = actor.audit(AuditAction::Reveal, now_us());
    match target {
        RevealTarget::Message(id) => entry.message_id = Some(id.to_owned()),
        RevealTarget::Number { reference, .. } => {
            entry.target = Some(format!("number {reference}"));
        }
    }
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
    let (sealed, masked) = match target {
        RevealTarget::Message(id) => {
            let message = store
                .message(id)
                .await?
                .ok_or(UseCaseError::NotFound("Message"))?;
            (message.recipient_sealed, None)
        }
        RevealTarget::Number { hash, .. } => {
            let number = store
                .number_for_reveal(hash)
                .await?
                .ok_or(UseCaseError::NotFound("Number"))?;
            (number.sealed.unwrap_or_default(), Some(number.masked))
        }
    };
    if sealed.is_empty() {
        return Ok(Reveal::Removed);
    }
    let number = cipher.open(&sealed).map_err(|e| {
        let subject = match target {
            RevealTarget::Message(id) => id,
            RevealTarget::Number { reference, .. } => reference,
        };
        tracing::error!(subject, error = %e, "cannot decrypt a number");
        UseCaseError::Internal(
            "the stored number cannot be decrypted with this data key".to_owned(),
        )
    })?;
    entry.detail = Some(match masked {
        Some(masked) => format!("grant {}, number {masked}", grant.id),
        None => format!("grant {}", grant.id),
    });
    store.append_audit(&entry).await?;
    Ok(Reveal::Revealed(
        String::from_utf8_lossy(&number).into_owned(),
    ))
}
