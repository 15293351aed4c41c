//! The audit log, filtered by actor, action and date, newest first.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_csrf::CsrfToken;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::account::AuditAction;
use crate::domain::timezones::format_instant;
use crate::http::ui::error::UiError;
use crate::http::ui::page::{Chrome, day_bound, given, render};
use crate::http::ui::session::Admin;
use crate::store::AuditFilter;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(audit_log))
}

const AUDIT_PAGE: i64 = 100;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
struct AuditForm {
    actor: String,
    action: String,
    from: String,
    to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    before: String,
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    message_id: Option<String>,
    reason: String,
    client_addr: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    form: AuditForm,
    actions: [&'static str; AuditAction::ALL.len()],
    zone: String,
    entries: Vec<AuditRow>,
    error: Option<String>,
    next_page: Option<String>,
}

async fn audit_log(
    State(state): State<AppState>,
    Admin(admin): Admin,
    token: CsrfToken,
    Query(form): Query<AuditForm>,
) -> Result<Response, UiError> {
    let mut page = AuditPage {
        chrome: Chrome::new(&token, Some(&admin), "audit")?,
        actions: AuditAction::ALL.map(AuditAction::as_str),
        zone: admin.zone.name().to_owned(),
        entries: Vec::new(),
        error: None,
        next_page: None,
        form,
    };
    let filter = match audit_filter(&page.form, admin.zone) {
        Ok(filter) => filter,
        Err(UiError::Page { message, status }) => {
            page.error = Some(message);
            return Ok((status, render(token, page)).into_response());
        }
        Err(other) => return Err(other),
    };
    let mut entries = state.store.audit_log(&filter).await?;
    if entries.len() as i64 > AUDIT_PAGE {
        entries.truncate(AUDIT_PAGE as usize);
        if let Some(last) = entries.last() {
            let mut next = page.form.clone();
            next.before = last.id.to_string();
            page.next_page = serde_urlencoded::to_string(&next)
                .ok()
                .map(|q| format!("/admin/audit?{q}"));
        }
    }
    let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
    page.entries = entries
        .into_iter()
        .map(|e| AuditRow {
            at: format_instant(e.at_us, admin.zone),
            actor: e.actor_email.unwrap_or_else(|| "command line".to_owned()),
            action: e.action.as_str().to_owned(),
            target: dash(e.target),
            message_id: e.message_id,
            reason: dash(e.reason),
            client_addr: dash(e.client_addr),
            detail: dash(e.detail),
        })
        .collect();
    Ok(render(token, page))
}

fn audit_filter(form: &AuditForm, zone: chrono_tz::Tz) -> Result<AuditFilter, UiError> {
    let action = match given(&Some(form.action.clone())) {
        Some(text) => Some(
            AuditAction::parse(&text)
                .ok_or_else(|| UiError::bad_request(format!("Unknown action {text:?}.")))?,
        ),
        None => None,
    };
    let before_id = match given(&Some(form.before.clone())) {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| UiError::bad_request("The page link is damaged: filter again."))?,
        ),
        None => None,
    };
    Ok(AuditFilter {
        actor_email: given(&Some(form.actor.clone())).map(|a| a.to_lowercase()),
        action,
        from_us: day_bound(Some(&form.from), zone, false, "From")?,
        to_us: day_bound(Some(&form.to), zone, true, "To")?,
        before_id,
        limit: AUDIT_PAGE + 1,
    })
}
