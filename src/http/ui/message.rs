//! `/messages/{id}`: everything an agent needs about one message on one
//! page, and `POST /messages/{id}/reveal`, the audited way to see the number.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::error::UiError;
use super::page::{Chrome, now_us, render};
use super::reveal::RevealForm;
use super::session::{Agent, ClientAddr, CsrfForm};
use crate::app::AppState;
use crate::crypto::DataCipher;
use crate::domain::error_catalog::{CodeNote, explain_or_generic, raw_status_note};
use crate::domain::evidence::may_export;
use crate::domain::guidance::next_step;
use crate::domain::inbound_parts::{InboundText, roll_up};
use crate::domain::phone::mask_numbers_in_text;
use crate::domain::remap::applied_mapping;
use crate::domain::retention::removed_note;
use crate::domain::timeline::{TimelineEvent, annotate};
use crate::domain::timezones::{RecipientZone, format_duration_us, format_instant, recipient_zone};
use crate::domain::verification::{VerificationEventKind, outcome};
use crate::domain::{DeliveryStatus, StatusAt};
use crate::store::{EventRecord, MessageRecord, RetryRecord, StatusMapping, timeout_in};
use crate::usecase::reveal::RevealTarget;

/// One instant three ways.
pub struct Times {
    pub(super) utc: String,
    pub(super) agent: String,
    pub(super) recipient: Option<String>,
}

pub(super) struct Zones {
    pub agent: Tz,
    pub recipient: Option<Tz>,
}

impl Zones {
    pub(super) fn times(&self, us: i64) -> Times {
        Times {
            utc: format_instant(us, Tz::UTC),
            agent: format_instant(us, self.agent),
            recipient: self.recipient.map(|zone| format_instant(us, zone)),
        }
    }
}

struct Summary {
    id: String,
    provider_message_id: Option<String>,
    recipient_masked: String,
    status: String,
    raw_status: String,
    error_code: Option<String>,
    is_final: bool,
    status_note: &'static str,
    requested: Times,
    sent: Option<Times>,
    action_text: String,
    action_url: Option<String>,
    country: String,
    /// The recipient is possible for its calling code but in no known range.
    recipient_invalid: bool,
    sender: String,
    provider: String,
    template: String,
    use_case: String,
    user_ref: String,
    /// `/users/{user_ref}`, encoded.
    user_link: Option<String>,
    /// `/numbers/{ref}`: all traffic of the recipient's number.
    number_link: String,
    error: Option<CodeNote>,
    next_step: &'static str,
}

struct EventRow {
    status: String,
    raw_status: String,
    error_code: Option<String>,
    error: Option<CodeNote>,
    provider_time: Option<Times>,
    received: Times,
    latency: String,
    duplicates: i64,
    changed_summary: bool,
    out_of_order: bool,
    content_type: String,
    payload: String,
    /// The retention policy removed the raw payload; `payload` says so.
    payload_removed: bool,
    /// For smstrail's own timeout event: what it means.
    timeout_note: Option<String>,
    /// Stored after smstrail's timeout event: a late receipt.
    after_timeout: bool,
    /// An admin's mapping gave the status: which, by whom, when.
    mapping_note: Option<String>,
}

/// The summary line of a message that timed out.
struct TimeoutLine {
    reason: String,
    at: String,
    /// A final receipt came after all; the summary follows it.
    late_receipt: bool,
}

/// Where telling the product about this message stands.
struct NotifyLine {
    event_type: String,
    sent_at: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: String,
}

struct RetryRow {
    kind: String,
    linked_message_id: Option<String>,
    reason: Option<String>,
    at: String,
}

struct VerificationRow {
    id: String,
    outcome: &'static str,
    steps: Vec<(String, String)>,
}

struct InboundRow {
    at: String,
    to: String,
    keyword: Option<String>,
    body: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    m: Summary,
    revealed: Option<String>,
    reveal_error: Option<String>,
    /// Until when the agent may reveal, if they may.
    grant_until: Option<String>,
    /// The agent may download the signed evidence file.
    may_export: bool,
    /// Why not, when not.
    export_hint: &'static str,
    agent_zone: String,
    recipient_zone_known: bool,
    recipient_zone_note: String,
    events: Vec<EventRow>,
    timeout: Option<TimeoutLine>,
    /// Not final, and its country often sends no receipt (dashboards).
    receipt_note: Option<String>,
    notified: Option<NotifyLine>,
    retries: Vec<RetryRow>,
    /// The messages this one retried or replaced.
    origins: Vec<RetryRow>,
    verifications: Vec<VerificationRow>,
    inbound: Vec<InboundRow>,
}

/// How many inbound messages of the number the page lists.
const INBOUND_SHOWN: i64 = 50;

pub async fn message(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let page = load_page(&state, &agent, &token, &id).await?;
    Ok(render(token, page))
}

pub async fn reveal(
    State(state): State<AppState>,
    agent: Agent,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { form, token }: CsrfForm<RevealForm>,
) -> Result<Response, UiError> {
    let mut page = load_page(&state, &agent, &token, &id).await?;
    let target = RevealTarget::Message(&id);
    let answer = super::reveal::answer(&state, &agent, &addr, target, &form.reason).await?;
    page.revealed = answer.revealed;
    page.reveal_error = answer.error;
    Ok((answer.status, render(token, page)).into_response())
}

async fn load_page(
    state: &AppState,
    agent: &Agent,
    token: &CsrfToken,
    id: &str,
) -> Result<MessagePage, UiError> {
    let store = &state.store;
    let message = store
        .message(id)
        .await?
        .ok_or_else(|| UiError::not_found("Message"))?;
    let events = store.events(&message).await?;
    let event_ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let duplicates = store.duplicate_counts(&event_ids).await?;
    let retries = store.retries(&message.id).await?;
    let origins = store.retries_into(&message.id).await?;
    let verifications = store.verifications_of_message(&message.id).await?;
    let inbound = store
        .inbound_from(&message.recipient_hash, INBOUND_SHOWN)
        .await?;
    let grant = store.live_grant(&agent.user.id, now_us()).await?;
    let notified = store.notify_state(&message.id).await?.map(|n| NotifyLine {
        event_type: n.event_type,
        sent_at: n.sent_at_us.map(|at| format_instant(at, agent.zone)),
        attempts: n.attempts,
        last_error: n.last_error,
        next_attempt_at: format_instant(n.next_attempt_at_us, agent.zone),
    });

    let receipt_note = match (&message.destination_country, message.is_final) {
        (Some(country), false) => state.receipt_notes.note(store, country).await?,
        _ => None,
    };
    let (recipient, recipient_zone_note) = recipient_zone_of(&message, &state.cipher).shown();
    let zones = Zones {
        agent: agent.zone,
        recipient,
    };
    let payload_removed = removed_note(state.config.retain_raw_payloads);
    let mappings = store.status_mappings_of(&message.provider).await?;
    let rows = event_rows(
        &message,
        &events,
        &duplicates,
        &mappings,
        &zones,
        &state.cipher,
        &payload_removed,
    );
    let timeout = timeout_in(&message, &events).map(|t| TimeoutLine {
        reason: t.reason.clone(),
        at: format_instant(t.received_at_us, agent.zone),
        late_receipt: t.late_receipt,
    });
    Ok(MessagePage {
        chrome: Chrome::new(token, Some(agent), "search")?,
        m: summary(&message, &zones),
        revealed: None,
        reveal_error: None,
        may_export: may_export(agent.is_admin(), grant.is_some()),
        export_hint: super::evidence::NEEDS_GRANT,
        grant_until: grant.map(|g| format_instant(g.expires_at_us, agent.zone)),
        agent_zone: agent.zone.name().to_owned(),
        recipient_zone_known: recipient.is_some(),
        recipient_zone_note,
        events: rows,
        timeout,
        receipt_note,
        notified,
        retries: retries
            .into_iter()
            .map(|r| retry_row(r, agent.zone, false))
            .collect(),
        origins: origins
            .into_iter()
            .map(|r| retry_row(r, agent.zone, true))
            .collect(),
        verifications: verifications
            .into_iter()
            .map(|(v, events)| {
                let kinds: Vec<(VerificationEventKind, i64)> =
                    events.iter().map(|e| (e.kind, e.occurred_at_us)).collect();
                VerificationRow {
                    id: v.id,
                    outcome: outcome(&kinds),
                    steps: events
                        .into_iter()
                        .map(|e| {
                            (
                                e.kind.as_str().to_owned(),
                                format_instant(e.occurred_at_us, agent.zone),
                            )
                        })
                        .collect(),
                }
            })
            .collect(),
        inbound: roll_up(
            inbound
                .into_iter()
                .map(|i| InboundText {
                    part: i.part(),
                    provider: i.provider,
                    sender_hash: i.sender_hash,
                    to: i.recipient_identity,
                    at_us: i.provider_occurred_at_us.unwrap_or(i.received_at_us),
                    keyword: i.keyword,
                    body: if i.body_sealed.is_empty() {
                        format!("({payload_removed})")
                    } else {
                        open_masked(&state.cipher, &i.body_sealed)
                    },
                })
                .collect(),
        )
        .into_iter()
        .map(|i| InboundRow {
            at: format_instant(i.at_us, agent.zone),
            to: i.to,
            keyword: i.keyword,
            body: i.body,
        })
        .collect(),
    })
}

/// `origin`: the row links to the earlier message instead of the new one.
fn retry_row(r: RetryRecord, zone: Tz, origin: bool) -> RetryRow {
    RetryRow {
        kind: r.kind.as_str().replace('_', " "),
        linked_message_id: if origin {
            Some(r.message_id)
        } else {
            r.new_message_id
        },
        reason: r.reason,
        at: format_instant(r.created_at_us, zone),
    }
}

/// The recipient's zone. Their number is decrypted here, only to read its
/// prefix: it goes no further than this function, onto no page and into no
/// log. A number the retention policy removed leaves the country to go by.
fn recipient_zone_of(m: &MessageRecord, cipher: &DataCipher) -> RecipientZone {
    let number = (!m.recipient_sealed.is_empty())
        .then(|| cipher.open(&m.recipient_sealed).ok())
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    recipient_zone(
        m.recipient_timezone.as_deref(),
        number.as_deref(),
        m.destination_country.as_deref(),
    )
}

fn text_or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".to_owned())
}

fn summary(m: &MessageRecord, zones: &Zones) -> Summary {
    let status = m.current_status;
    let error = m
        .current_error_code
        .as_deref()
        .and_then(|code| explain_or_generic(&m.provider, code));
    let action_text = match (&m.product_action_kind, &m.product_action_ref) {
        (None, None) => "—".to_owned(),
        (kind, reference) => format!(
            "{} {}",
            kind.as_deref().unwrap_or("action"),
            reference.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned(),
    };
    // Only web links: a javascript: or data: URL must never become clickable.
    let action_url = m
        .product_action_url
        .clone()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Summary {
        id: m.id.clone(),
        provider_message_id: m.provider_message_id.clone(),
        recipient_masked: m.recipient_masked.clone(),
        status: m.current_status.as_str().to_owned(),
        raw_status: m
            .current_raw_status
            .clone()
            .unwrap_or_else(|| "none yet".to_owned()),
        error_code: m.current_error_code.clone(),
        is_final: m.is_final,
        status_note: raw_status_note(&m.provider, m.current_raw_status.as_deref(), status),
        requested: zones.times(m.created_at_us),
        sent: m.sent_at_us.map(|us| zones.times(us)),
        action_text,
        action_url,
        country: text_or_dash(&m.destination_country),
        recipient_invalid: !m.recipient_valid,
        sender: match (&m.sender_identity, &m.sender_type) {
            (Some(identity), Some(kind)) => format!("{identity} ({kind})"),
            (identity, _) => text_or_dash(identity),
        },
        provider: m.provider.clone(),
        template: text_or_dash(&m.template_key),
        use_case: text_or_dash(&m.use_case),
        user_ref: text_or_dash(&m.user_ref),
        user_link: m.user_ref.as_deref().map(super::users::user_path),
        number_link: super::numbers::number_path(&m.recipient_hash),
        next_step: next_step(
            status,
            error.as_ref().and_then(|note| note.entry),
            m.current_error_code.is_some(),
            now_us() - m.status_at_us,
        ),
        error,
    }
}

fn event_rows(
    m: &MessageRecord,
    events: &[EventRecord],
    duplicates: &std::collections::HashMap<i64, i64>,
    mappings: &[StatusMapping],
    zones: &Zones,
    cipher: &DataCipher,
    payload_removed: &str,
) -> Vec<EventRow> {
    let timeline: Vec<TimelineEvent> = events
        .iter()
        .map(|e| TimelineEvent {
            id: e.id,
            status: e.status,
            provider_at_us: e.provider_occurred_at_us,
            received_at_us: e.received_at_us,
        })
        .collect();
    let created = DateTime::<Utc>::from_timestamp_micros(m.created_at_us).unwrap_or_default();
    let initial = StatusAt {
        status: DeliveryStatus::Accepted,
        at: created,
    };
    let notes = annotate(initial, &timeline);
    let timeout = timeout_in(m, events);
    events
        .iter()
        .zip(notes)
        .map(|(e, note)| EventRow {
            timeout_note: timeout
                .as_ref()
                .filter(|t| t.event_id == e.id)
                .map(|t| format!("Written by smstrail, not the provider: {}.", t.reason)),
            after_timeout: timeout.as_ref().is_some_and(|t| t.came_before(e.id)),
            mapping_note: applied_mapping(
                e.status,
                e.received_at_us,
                StatusMapping::rule_for(mappings, &e.raw_status),
            )
            .map(|m| m.note(&e.raw_status, &format_instant(m.added_at_us, zones.agent))),
            status: e
                .status
                .map_or("unmapped", DeliveryStatus::as_str)
                .to_owned(),
            raw_status: e.raw_status.clone(),
            error_code: e.error_code.clone(),
            error: e
                .error_code
                .as_deref()
                .and_then(|code| explain_or_generic(&e.provider, code)),
            provider_time: e.provider_occurred_at_us.map(|us| zones.times(us)),
            received: zones.times(e.received_at_us),
            latency: note
                .latency_us
                .map(format_duration_us)
                .unwrap_or_else(|| "—".to_owned()),
            duplicates: duplicates.get(&e.id).copied().unwrap_or(0),
            changed_summary: note.changed_summary,
            out_of_order: note.arrived_out_of_order,
            content_type: e.content_type.clone(),
            payload_removed: e.raw_payload_sealed.is_empty(),
            payload: if e.raw_payload_sealed.is_empty() {
                payload_removed.to_owned()
            } else {
                cipher
                    .open_readable(&e.content_type, &e.raw_payload_sealed)
                    .unwrap_or_else(|_| UNDECRYPTABLE.to_owned())
            },
        })
        .collect()
}

const UNDECRYPTABLE: &str = "(cannot be decrypted with this data key)";

/// Decrypts stored text and masks every phone number in it.
pub(super) fn open_masked(cipher: &DataCipher, sealed: &[u8]) -> String {
    match cipher.open(sealed) {
        Ok(bytes) => mask_numbers_in_text(&String::from_utf8_lossy(&bytes)),
        Err(_) => UNDECRYPTABLE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_zone_is_named_or_its_absence_explained() {
        let mut m = MessageRecord {
            id: "m".into(),
            idempotency_key: "k".into(),
            request_fingerprint: "f".into(),
            provider: "twilio".into(),
            provider_message_id: None,
            recipient_hash: vec![],
            recipient_sealed: vec![],
            recipient_masked: "+91 •••• ••3210".into(),
            destination_country: Some("IN".into()),
            sender_identity: None,
            sender_type: None,
            template_key: None,
            use_case: None,
            user_ref: None,
            product_action_kind: None,
            product_action_ref: None,
            product_action_url: Some("javascript:alert(1)".into()),
            recipient_timezone: None,
            sent_at_us: None,
            metadata_json: None,
            created_at_us: 0,
            current_status: DeliveryStatus::Accepted,
            current_raw_status: None,
            current_error_code: None,
            status_at_us: 0,
            is_final: false,
            updated_at_us: 0,
            recipient_valid: true,
        };
        let cipher = DataCipher::new(&crate::config::DataKey::from_bytes([3; 32]));
        let zone_of = |m: &MessageRecord| recipient_zone_of(m, &cipher).shown();
        let (zone, note) = zone_of(&m);
        assert_eq!(zone, Some(chrono_tz::Asia::Kolkata));
        assert!(note.contains("only one"), "{note}");
        m.destination_country = Some("US".into());
        let (zone, note) = zone_of(&m);
        assert_eq!(zone, None);
        assert!(note.contains("time zones"), "{note}");
        // The sealed number's area code settles what the country cannot.
        m.recipient_sealed = cipher
            .seal(b"+14155550100")
            .unwrap_or_else(|e| panic!("{e}"));
        let (zone, note) = zone_of(&m);
        assert_eq!(zone, Some(chrono_tz::America::Los_Angeles));
        assert!(note.contains("leading digits"), "{note}");
        assert!(!note.contains("415"), "no digits of the number: {note}");
        // A number sealed under another key is no number: the country decides.
        let other = DataCipher::new(&crate::config::DataKey::from_bytes([4; 32]));
        m.recipient_sealed = other
            .seal(b"+14155550100")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(zone_of(&m).0, None);
        let zones = Zones {
            agent: Tz::UTC,
            recipient: None,
        };
        assert_eq!(
            summary(&m, &zones).action_url,
            None,
            "a javascript: URL must not be linked"
        );
    }
}
