//! Evidence export policy: an admin, or an agent with a live reveal grant,
//! may download one message's timeline and the audit records about it as a
//! signed file ([`crate::domain::evidence`]) to escalate to a provider.
//!
//! The export is audited before the file is built, so the file lists its
//! own export and every later export lists the earlier ones. A refusal is
//! not audited: nothing was shown, and the file holds masked data only.
//! The recipient's number never enters the file; phone numbers in raw
//! payloads and in audit reasons are masked.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Actor, UseCaseError, now_us};
use crate::crypto::DataCipher;
use crate::domain::DeliveryStatus;
use crate::domain::account::AuditAction;
use crate::domain::error_catalog::explain_or_generic;
use crate::domain::evidence::{
    self, AuditEvidence, EventEvidence, EvidenceDocument, MessageEvidence,
};
use crate::domain::phone::mask_numbers_in_text;
use crate::domain::remap::applied_mapping;
use crate::store::{AuditRecord, EventRecord, MessageRecord, StatusMapping, Store, timeout_in};

/// Who asks, and what the file says where a payload was removed.
pub struct ExportRequest<'a> {
    pub actor: &'a Actor,
    /// Admins export without a grant.
    pub is_admin: bool,
    /// How the retention policy's removal of raw payloads reads.
    pub payload_removed: &'a str,
}

#[derive(Debug)]
pub enum Export {
    /// The signed file.
    File(Vec<u8>),
    /// Neither an admin nor a live grant.
    Denied,
}

/// Whether `actor` may export now ([`evidence::may_export`]).
async fn may_export(store: &Store, actor: &Actor, is_admin: bool) -> Result<bool, UseCaseError> {
    if is_admin {
        return Ok(true);
    }
    let user_id = actor.id.as_deref().unwrap_or_default();
    let grant = store.live_grant(user_id, now_us()).await?;
    Ok(evidence::may_export(is_admin, grant.is_some()))
}

pub async fn export(
    store: &Store,
    cipher: &DataCipher,
    message_id: &str,
    request: &ExportRequest<'_>,
) -> Result<Export, UseCaseError> {
    let message = store
        .message(message_id)
        .await?
        .ok_or(UseCaseError::NotFound("Message"))?;
    if !may_export(store, request.actor, request.is_admin).await? {
        return Ok(Export::Denied);
    }
    let events = store.events(&message).await?;
    let mappings = store.status_mappings_of(&message.provider).await?;
    let key = cipher.evidence_key();
    let exported_at_us = now_us();
    let mut entry = request
        .actor
        .audit(AuditAction::EvidenceExport, exported_at_us);
    entry.message_id = Some(message.id.clone());
    entry.detail = Some(format!("signed evidence file, key id {}", key.key_id()));
    store.append_audit(&entry).await?;
    let audit = store.audit_of_message(&message.id).await?;

    let document = EvidenceDocument {
        format: evidence::FORMAT.to_owned(),
        exported_at: instant(exported_at_us),
        exported_by: request.actor.email.clone().unwrap_or_default(),
        message: message_evidence(&message),
        timeline: timeline(
            &message,
            &events,
            &mappings,
            cipher,
            request.payload_removed,
        ),
        audit: audit.into_iter().map(audit_evidence).collect(),
    };
    let file = evidence::sign(key, &document)
        .map_err(|e| UseCaseError::Internal(format!("cannot write the evidence file: {e}")))?;
    Ok(Export::File(file))
}

/// RFC 3339 in UTC, to the microsecond when there are any.
fn instant(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn message_evidence(m: &MessageRecord) -> MessageEvidence {
    MessageEvidence {
        id: m.id.clone(),
        provider: m.provider.clone(),
        provider_message_id: m.provider_message_id.clone(),
        recipient_masked: m.recipient_masked.clone(),
        destination_country: m.destination_country.clone(),
        sender_identity: m.sender_identity.clone(),
        sender_type: m.sender_type.clone(),
        template: m.template_key.clone(),
        use_case: m.use_case.clone(),
        status: m.current_status.as_str().to_owned(),
        raw_status: m.current_raw_status.clone(),
        error_code: m.current_error_code.clone(),
        is_final: m.is_final,
        registered_at: instant(m.created_at_us),
        sent_at: m.sent_at_us.map(instant),
        status_at: instant(m.status_at_us),
    }
}

fn timeline(
    m: &MessageRecord,
    events: &[EventRecord],
    mappings: &[StatusMapping],
    cipher: &DataCipher,
    payload_removed: &str,
) -> Vec<EventEvidence> {
    let timeout = timeout_in(m, events);
    events
        .iter()
        .map(|e| {
            let (raw_payload, payload_note) = if e.raw_payload_sealed.is_empty() {
                (None, Some(format!("raw payload {payload_removed}")))
            } else {
                match cipher.open_readable(&e.content_type, &e.raw_payload_sealed) {
                    Ok(text) => (Some(text), None),
                    Err(error) => (None, Some(error.to_string())),
                }
            };
            EventEvidence {
                id: e.id,
                status: e
                    .status
                    .map_or("unmapped", DeliveryStatus::as_str)
                    .to_owned(),
                raw_status: e.raw_status.clone(),
                error_code: e.error_code.clone(),
                error_note: e
                    .error_code
                    .as_deref()
                    .and_then(|code| explain_or_generic(&e.provider, code))
                    .map(|note| format!("{}: {}", note.official_name, note.meaning)),
                provider_event_id: e.provider_event_id.clone(),
                occurred_at: e.provider_occurred_at_us.map(instant),
                received_at: instant(e.received_at_us),
                mapping: applied_mapping(
                    e.status,
                    e.received_at_us,
                    StatusMapping::rule_for(mappings, &e.raw_status),
                )
                .map(|applied| applied.note(&e.raw_status, &instant(applied.added_at_us))),
                note: timeout
                    .as_ref()
                    .filter(|t| t.event_id == e.id)
                    .map(|t| format!("written by smstrail, not the provider: {}", t.reason)),
                content_type: e.content_type.clone(),
                raw_payload,
                payload_note,
            }
        })
        .collect()
}

/// Free text an agent typed may hold a number: masked like a payload.
fn audit_evidence(r: AuditRecord) -> AuditEvidence {
    AuditEvidence {
        id: r.id,
        at: instant(r.at_us),
        action: r.action.as_str().to_owned(),
        actor_email: r.actor_email,
        client_addr: r.client_addr,
        reason: r.reason.as_deref().map(mask_numbers_in_text),
        detail: r.detail.as_deref().map(mask_numbers_in_text),
    }
}
