//! JSON shapes of the API's answers. The recipient is always masked.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::error::ApiError;
use crate::app::AppState;
use crate::domain::DeliveryStatus;
use crate::domain::limbo::is_timeout;
use crate::domain::remap::applied_mapping;
use crate::store::{
    EventRecord, MessageRecord, RetryRecord, StatusMapping, StoreError, timeout_in,
};

pub(super) fn rfc3339(us: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[derive(Debug, Serialize)]
pub struct ProductActionView {
    pub kind: Option<String>,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: String,
    pub idempotency_key: String,
    pub current_status: DeliveryStatus,
    pub current_raw_status: Option<String>,
    pub current_error_code: Option<String>,
    pub is_final: bool,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub recipient_masked: String,
    pub destination_country: Option<String>,
    /// `false` when the number is possible for its calling code but in no
    /// range of that country's plan that we know of.
    pub recipient_valid: bool,
    pub sender_identity: Option<String>,
    pub sender_type: Option<String>,
    pub template_key: Option<String>,
    pub use_case: Option<String>,
    pub user_ref: Option<String>,
    pub product_action: Option<ProductActionView>,
    pub recipient_timezone: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// Set once smstrail gave up waiting for a final receipt: when, and why
    /// in plain words; `late_receipt` says a final one arrived after all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<Vec<RetryView>>,
}

impl MessageView {
    pub fn summary(m: &MessageRecord) -> Result<Self, ApiError> {
        let metadata = match &m.metadata_json {
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("message {} metadata: {e}", m.id)))?,
            ),
            None => None,
        };
        let has_action = m.product_action_kind.is_some()
            || m.product_action_ref.is_some()
            || m.product_action_url.is_some();
        Ok(Self {
            id: m.id.clone(),
            idempotency_key: m.idempotency_key.clone(),
            current_status: m.current_status,
            current_raw_status: m.current_raw_status.clone(),
            current_error_code: m.current_error_code.clone(),
            is_final: m.is_final,
            provider: m.provider.clone(),
            provider_message_id: m.provider_message_id.clone(),
            recipient_masked: m.recipient_masked.clone(),
            destination_country: m.destination_country.clone(),
            recipient_valid: m.recipient_valid,
            sender_identity: m.sender_identity.clone(),
            sender_type: m.sender_type.clone(),
            template_key: m.template_key.clone(),
            use_case: m.use_case.clone(),
            user_ref: m.user_ref.clone(),
            product_action: has_action.then(|| ProductActionView {
                kind: m.product_action_kind.clone(),
                reference: m.product_action_ref.clone(),
                url: m.product_action_url.clone(),
            }),
            recipient_timezone: m.recipient_timezone.clone(),
            sent_at: m.sent_at_us.and_then(rfc3339),
            created_at: rfc3339(m.created_at_us),
            updated_at: rfc3339(m.updated_at_us),
            metadata,
            timeout: None,
            events: None,
            retries: None,
        })
    }

    /// The summary with its delivery timeline and recorded retries.
    pub async fn full(state: &AppState, m: &MessageRecord) -> Result<Self, ApiError> {
        let mut view = Self::summary(m)?;
        let events = state.store.events(m).await?;
        let timeout = timeout_in(m, &events);
        let mappings = state.store.status_mappings_of(&m.provider).await?;
        let mut views: Vec<EventView> = events
            .iter()
            .map(|e| EventView::new(e, &mappings))
            .collect();
        if let Some(timeout) = &timeout {
            for (view, e) in views.iter_mut().zip(&events) {
                if e.id == timeout.event_id {
                    view.note = Some(format!("smstrail's own timeout: {}", timeout.reason));
                } else if timeout.came_before(e.id) {
                    view.after_timeout = true;
                    view.note = Some("arrived after smstrail's timeout".to_owned());
                }
            }
            view.timeout = Some(TimeoutView {
                at: rfc3339(timeout.received_at_us),
                reason: timeout.reason.clone(),
                late_receipt: timeout.late_receipt,
            });
        }
        view.events = Some(views);
        view.retries = Some(
            state
                .store
                .retries(&m.id)
                .await?
                .iter()
                .map(RetryView::from)
                .collect(),
        );
        Ok(view)
    }
}

#[derive(Debug, Serialize)]
pub struct TimeoutView {
    /// When smstrail wrote its timeout event.
    pub at: Option<String>,
    /// E.g. "no final receipt within 10 minutes".
    pub reason: String,
    /// A final receipt arrived after the timeout (and the summary follows it).
    pub late_receipt: bool,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: i64,
    /// Normalized; `null` when the provider's status is not in its mapping.
    pub status: Option<DeliveryStatus>,
    pub raw_status: String,
    pub error_code: Option<String>,
    pub provider_event_id: Option<String>,
    pub provider_occurred_at: Option<String>,
    pub received_at: Option<String>,
    /// `smstrail` for the reconcile job's own timeout event, else `provider`.
    pub source: &'static str,
    /// Stored after smstrail's timeout event: a late receipt.
    pub after_timeout: bool,
    /// What the event means, in plain words, where there is more to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set when an admin's mapping gave `status` (the provider's word is not
    /// in our vocabulary): which mapping, who added it and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingView>,
    /// The retention policy removed the raw payload (the event stays).
    pub raw_payload_removed: bool,
}

#[derive(Debug, Serialize)]
pub struct MappingView {
    pub status: DeliveryStatus,
    pub added_by: String,
    pub added_at: Option<String>,
    /// The event arrived before the mapping and was re-normalized by it.
    pub renormalized: bool,
}

impl EventView {
    fn new(e: &EventRecord, mappings: &[StatusMapping]) -> Self {
        let rule = StatusMapping::rule_for(mappings, &e.raw_status);
        Self {
            id: e.id,
            status: e.status,
            raw_status: e.raw_status.clone(),
            error_code: e.error_code.clone(),
            provider_event_id: e.provider_event_id.clone(),
            provider_occurred_at: e.provider_occurred_at_us.and_then(rfc3339),
            received_at: rfc3339(e.received_at_us),
            source: if is_timeout(&e.raw_status) {
                "smstrail"
            } else {
                "provider"
            },
            after_timeout: false,
            note: None,
            mapping: applied_mapping(e.status, e.received_at_us, rule).map(|m| MappingView {
                status: m.status,
                added_by: m.added_by,
                added_at: rfc3339(m.added_at_us),
                renormalized: m.renormalized,
            }),
            raw_payload_removed: e.raw_payload_sealed.is_empty(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RetryView {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub new_message_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: Option<String>,
}

impl From<&RetryRecord> for RetryView {
    fn from(r: &RetryRecord) -> Self {
        Self {
            id: r.id,
            message_id: r.message_id.clone(),
            kind: r.kind.as_str().to_owned(),
            new_message_id: r.new_message_id.clone(),
            reason: r.reason.clone(),
            created_at: rfc3339(r.created_at_us),
        }
    }
}
