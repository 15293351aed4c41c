//! `/review`: the review queue. Support reads it; only admins resolve items
//! or change status mappings, and every such change is audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::admin::{Outcome, respond};
use super::error::UiError;
use super::page::{Chrome, audit_by, now_us};
use super::session::{Admin, Agent, ClientAddr, CsrfForm};
use crate::app::AppState;
use crate::domain::DeliveryStatus;
use crate::domain::account::AuditAction;
use crate::domain::payload::readable_payload;
use crate::domain::retention::removed_note;
use crate::domain::timezones::format_instant;
use crate::store::{ReviewKind, StatusMapping, StoreError, renormalize};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(review))
        .route("/review/resolve", post(resolve))
        .route("/review/mappings", post(add_mapping))
        .route("/review/mappings/remove", post(remove_mapping))
}

/// Groups shown at once: past this, resolving the top ones shows the next.
const GROUPS_SHOWN: i64 = 100;
/// How long a remap request waits for its re-normalization before leaving
/// the rest to run in the background.
const REMAP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

struct GroupRow {
    kind: &'static str,
    kind_label: &'static str,
    provider: String,
    raw_status: String,
    can_remap: bool,
    count: i64,
    first: String,
    last: String,
    example: String,
}

struct MappingRow {
    provider: String,
    raw_status: String,
    status: &'static str,
    created: String,
    created_by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "review.html")]
struct ReviewPage {
    chrome: Chrome,
    can_act: bool,
    groups: Vec<GroupRow>,
    mappings: Vec<MappingRow>,
    statuses: Vec<&'static str>,
    outcome: Outcome,
}

async fn review_page(
    state: &AppState,
    agent: &Agent,
    token: CsrfToken,
    outcome: Outcome,
) -> Result<Response, UiError> {
    let mut groups = Vec::new();
    for g in state.store.review_groups(GROUPS_SHOWN).await? {
        // The example is the raw payload with every number masked, the same
        // rendering the message page uses.
        let example = match state.store.review_item(g.example_id).await? {
            Some(item) if item.raw_payload_sealed.is_empty() => {
                let note = removed_note(state.config.retain_raw_payloads);
                format!("(the payload was {note})")
            }
            Some(item) => match state.cipher.open(&item.raw_payload_sealed) {
                Ok(body) => readable_payload(&item.content_type, &body),
                Err(_) => "(the payload cannot be decrypted with this data key)".to_owned(),
            },
            None => String::new(),
        };
        groups.push(GroupRow {
            kind: g.kind.as_str(),
            kind_label: g.kind.label(),
            can_remap: g.kind == ReviewKind::UnknownStatus && g.raw_status.is_some(),
            provider: g.provider,
            raw_status: g.raw_status.unwrap_or_default(),
            count: g.count,
            first: format_instant(g.first_at_us, agent.zone),
            last: format_instant(g.last_at_us, agent.zone),
            example,
        });
    }
    let mappings = state
        .store
        .status_mappings()
        .await?
        .into_iter()
        .map(|m| MappingRow {
            created: format_instant(m.created_at_us, agent.zone),
            created_by: m.created_by.unwrap_or_default(),
            status: m.status.as_str(),
            provider: m.provider,
            raw_status: m.raw_status,
        })
        .collect();
    let page = ReviewPage {
        chrome: Chrome::new(&token, Some(agent), "review")?,
        can_act: agent.is_admin(),
        groups,
        mappings,
        statuses: DeliveryStatus::ALL.map(DeliveryStatus::as_str).to_vec(),
        outcome,
    };
    Ok(respond(page.outcome.status(), token, page))
}

async fn review(
    State(state): State<AppState>,
    agent: Agent,
    token: CsrfToken,
) -> Result<Response, UiError> {
    review_page(&state, &agent, token, Outcome::default()).await
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    raw_status: String,
    #[serde(default)]
    note: String,
}

async fn resolve(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<ResolveForm>,
) -> Result<Response, UiError> {
    let kind = ReviewKind::try_from(form.kind.clone())
        .map_err(|_| UiError::bad_request(format!("{:?} is not a review kind.", form.kind)))?;
    let note = form.note.trim();
    let refusal = match (note.is_empty(), note.chars().count() > 500) {
        (true, _) => Some("A note is required."),
        (_, true) => Some("The note is longer than 500 characters."),
        _ => None,
    };
    if let Some(error) = refusal {
        let outcome = Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, error);
        return review_page(&state, &admin, token, outcome).await;
    }
    let raw_status = Some(form.raw_status.as_str()).filter(|r| !r.is_empty());
    let group = format!(
        "{} {}{}",
        form.provider,
        kind.label(),
        raw_status.map(|r| format!(" {r:?}")).unwrap_or_default()
    );
    let mut entry = audit_by(&admin, &addr, AuditAction::ReviewResolve);
    entry.target = Some(group.clone());
    entry.reason = Some(note.to_owned());
    let resolved = state
        .store
        .resolve_review_group(kind, &form.provider, raw_status, note, now_us(), &entry)
        .await;
    let outcome = match resolved {
        Ok(count) => Outcome::done(format!("Resolved {count} item(s) of {group}.")),
        Err(StoreError::NotFound) => Outcome::refused(
            StatusCode::NOT_FOUND,
            format!("No open items of {group} are left."),
        ),
        Err(other) => return Err(other.into()),
    };
    review_page(&state, &admin, token, outcome).await
}

#[derive(Deserialize)]
struct MappingForm {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    raw_status: String,
    #[serde(default)]
    status: String,
}

async fn add_mapping(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<MappingForm>,
) -> Result<Response, UiError> {
    let provider = form.provider.trim();
    let raw_status = form.raw_status.as_str();
    let status = form.status.parse::<DeliveryStatus>().ok();
    let refusal = match status {
        _ if !crate::providers::KNOWN.contains(&provider) => {
            Some(format!("{provider:?} is not a provider."))
        }
        _ if raw_status.is_empty() || raw_status.chars().count() > 200 => {
            Some("The raw status must be 1 to 200 characters.".to_owned())
        }
        None => Some(format!("{:?} is not a normalized status.", form.status)),
        Some(_) => None,
    };
    let (Some(status), None) = (status, refusal.clone()) else {
        let error = refusal.unwrap_or_default();
        let outcome = Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, error);
        return review_page(&state, &admin, token, outcome).await;
    };
    let now = now_us();
    let mut entry = audit_by(&admin, &addr, AuditAction::MappingAdd);
    entry.target = Some(format!("{provider} {raw_status:?}"));
    entry.detail = Some(format!("now means {status}"));
    let mapping = StatusMapping {
        provider: provider.to_owned(),
        raw_status: raw_status.to_owned(),
        status,
        created_at_us: now,
        created_by: Some(admin.user.email.clone()),
    };
    let resolved = match state.store.add_status_mapping(&mapping, &entry).await {
        Ok(resolved) => resolved,
        Err(StoreError::Conflict(why)) => {
            let outcome = Outcome::refused(StatusCode::CONFLICT, format!("{why}."));
            return review_page(&state, &admin, token, outcome).await;
        }
        Err(other) => return Err(other.into()),
    };
    // The history is re-normalized in a task of its own: a large one keeps
    // going after this answer, chunk by chunk between the callbacks.
    let (store, writes) = (state.store.clone(), state.writes.clone());
    let (p, r) = (mapping.provider.clone(), mapping.raw_status.clone());
    let job = tokio::spawn(async move {
        let done = renormalize(&store, &writes, &p, &r, Some(status), now).await;
        if let Err(error) = &done {
            tracing::error!(%error, provider = p, raw_status = r, "re-normalization stopped");
        }
        done
    });
    let notice = match tokio::time::timeout(REMAP_WAIT, job).await {
        Ok(Ok(Ok((events, changed)))) => format!(
            "{provider} {raw_status:?} now means {status}: {events} stored event(s) \
             re-normalized, {changed} message summary(ies) changed, {resolved} review \
             item(s) resolved."
        ),
        Ok(_) => format!(
            "{provider} {raw_status:?} now means {status} for new callbacks, but \
             re-normalizing the stored events failed; see the log."
        ),
        Err(_) => format!(
            "{provider} {raw_status:?} now means {status}; the stored events are being \
             re-normalized in the background."
        ),
    };
    review_page(&state, &admin, token, Outcome::done(notice)).await
}

async fn remove_mapping(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<MappingForm>,
) -> Result<Response, UiError> {
    let mut entry = audit_by(&admin, &addr, AuditAction::MappingRemove);
    entry.target = Some(format!("{} {:?}", form.provider, form.raw_status));
    let outcome = match state
        .store
        .remove_status_mapping(&form.provider, &form.raw_status, &entry)
        .await
    {
        Ok(()) => Outcome::done(format!(
            "Removed the mapping of {} {:?}; stored events keep their status.",
            form.provider, form.raw_status
        )),
        Err(StoreError::NotFound) => {
            Outcome::refused(StatusCode::NOT_FOUND, "There is no such mapping.")
        }
        Err(other) => return Err(other.into()),
    };
    review_page(&state, &admin, token, outcome).await
}
