//! Registration: how a send-API request that passed validation becomes the
//! message the store keeps.

use super::{UseCaseError, now_us};
use crate::config::FinalWindows;
use crate::crypto::DataCipher;
use crate::domain::outbound::OutboundMessage;
use crate::store::{NewMessage, ProductAction};

/// The stored form of a registration request. The fingerprint is a digest
/// of the request as understood (not as typed), keyed so that a copy of
/// the database cannot test candidate numbers against it, and a replay with
/// the same meaning is recognized; the recipient is sealed, hashed and
/// masked here.
pub fn new_message(
    message: OutboundMessage,
    cipher: &DataCipher,
    windows: &FinalWindows,
) -> Result<NewMessage, UseCaseError> {
    new_message_at(message, cipher, windows, now_us())
}

/// [`new_message`] registered at `created_at_us` (the demo's history).
pub fn new_message_at(
    message: OutboundMessage,
    cipher: &DataCipher,
    windows: &FinalWindows,
    created_at_us: i64,
) -> Result<NewMessage, UseCaseError> {
    let canonical =
        serde_json::to_vec(&message).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
    let fingerprint = cipher.request_fingerprint(&canonical);
    let recipient = cipher.protect_number(&message.to).map_err(|e| {
        tracing::error!(error = %e, "cannot seal recipient");
        UseCaseError::Internal("internal error".to_owned())
    })?;
    let sent_at_us = message.sent_at.map(|t| t.timestamp_micros());
    let window = windows.window(message.use_case.as_deref());
    let window_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    let final_deadline_us = sent_at_us
        .unwrap_or(created_at_us)
        .saturating_add(window_us);
    Ok(NewMessage {
        id: uuid::Uuid::now_v7().to_string(),
        idempotency_key: message.idempotency_key,
        request_fingerprint: fingerprint,
        provider: message.provider,
        provider_message_id: message.provider_message_id,
        recipient,
        recipient_valid: message.to.is_valid(),
        sender_identity: message.sender_identity,
        sender_type: message.sender_type,
        template_key: message.template_key,
        use_case: message.use_case,
        user_ref: message.user_ref,
        product_action: ProductAction {
            kind: message.product_action_kind,
            reference: message.product_action_ref,
            url: message.product_action_url,
        },
        recipient_timezone: message.recipient_timezone,
        sent_at_us,
        metadata_json: message.metadata.map(|m| m.to_string()),
        created_at_us,
        final_deadline_us: Some(final_deadline_us),
    })
}
