//! Reveal grants: who may see full numbers, until when; revocation.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::{Outcome, respond, target_user};
use crate::app::AppState;
use crate::domain::account::AuditAction;
use crate::domain::timezones::format_instant;
use crate::http::ui::error::UiError;
use crate::http::ui::page::{Chrome, audit_by, now_us};
use crate::http::ui::session::{Admin, Agent, ClientAddr, CsrfForm};
use crate::store::{NewGrant, StoreError, UserRecord};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/grants", get(grants).post(grant))
        .route("/admin/grants/{id}/revoke", post(revoke_grant))
}

struct GrantRow {
    id: i64,
    user_email: String,
    granted_by: String,
    reason: String,
    created: String,
    expires: String,
    state: String,
    live: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_grants.html")]
struct GrantsPage {
    chrome: Chrome,
    users: Vec<(String, String)>,
    grants: Vec<GrantRow>,
    outcome: Outcome,
}

async fn grants_page(
    state: &AppState,
    admin: &Agent,
    token: CsrfToken,
    outcome: Outcome,
) -> Result<Response, UiError> {
    let now = now_us();
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .filter(UserRecord::is_active)
        .map(|u| (u.id, u.email))
        .collect();
    let grants = state
        .store
        .grants()
        .await?
        .into_iter()
        .map(|g| GrantRow {
            state: match g.revoked_at_us {
                Some(at) => format!("revoked {}", format_instant(at, admin.zone)),
                None if g.expires_at_us <= now => "expired".to_owned(),
                None => "live".to_owned(),
            },
            live: g.is_live(now),
            id: g.id,
            created: format_instant(g.created_at_us, admin.zone),
            expires: format_instant(g.expires_at_us, admin.zone),
            user_email: g.user_email,
            granted_by: g.granted_by_email,
            reason: g.reason,
        })
        .collect();
    let page = GrantsPage {
        chrome: Chrome::new(&token, Some(admin), "grants")?,
        users,
        grants,
        outcome,
    };
    Ok(respond(page.outcome.status(), token, page))
}

async fn grants(
    State(state): State<AppState>,
    Admin(admin): Admin,
    token: CsrfToken,
) -> Result<Response, UiError> {
    grants_page(&state, &admin, token, Outcome::default()).await
}

/// Grants last at most 90 days: reveal is meant to be occasional.
const MAX_GRANT_HOURS: i64 = 90 * 24;

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    reason: String,
}

async fn grant(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<GrantForm>,
) -> Result<Response, UiError> {
    let hours = form
        .hours
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|h| (1..=MAX_GRANT_HOURS).contains(h));
    let reason = form.reason.trim();
    let refusal = match (&hours, reason.is_empty(), reason.chars().count() > 500) {
        (None, _, _) => Some(format!(
            "Duration must be a whole number of hours from 1 to {MAX_GRANT_HOURS}."
        )),
        (_, true, _) => Some("A reason is required.".to_owned()),
        (_, _, true) => Some("The reason is longer than 500 characters.".to_owned()),
        _ => None,
    };
    if let Some(error) = refusal {
        return grants_page(
            &state,
            &admin,
            token,
            Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, error),
        )
        .await;
    }
    let target = target_user(&state, &form.user_id).await?;
    if !target.is_active() {
        let outcome = Outcome::refused(
            StatusCode::CONFLICT,
            format!("{} is disabled.", target.email),
        );
        return grants_page(&state, &admin, token, outcome).await;
    }
    let now = now_us();
    let expires = now + hours.unwrap_or(1) * 3_600_000_000;
    let mut entry = audit_by(&admin, &addr, AuditAction::Grant);
    entry.target = Some(target.email.clone());
    entry.reason = Some(reason.to_owned());
    entry.detail = Some(format!(
        "until {}",
        format_instant(expires, chrono_tz::Tz::UTC)
    ));
    let grant = NewGrant {
        user_id: target.id.clone(),
        granted_by: admin.user.id.clone(),
        reason: reason.to_owned(),
        created_at_us: now,
        expires_at_us: expires,
    };
    state.store.grant_reveal(&grant, &entry).await?;
    let notice = format!(
        "{} may reveal numbers until {}.",
        target.email,
        format_instant(expires, admin.zone)
    );
    grants_page(&state, &admin, token, Outcome::done(notice)).await
}

async fn revoke_grant(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<i64>,
    CsrfForm { token, .. }: CsrfForm<crate::http::ui::account::Empty>,
) -> Result<Response, UiError> {
    let mut entry = audit_by(&admin, &addr, AuditAction::GrantRevoke);
    entry.target = Some(format!("grant {id}"));
    match state.store.revoke_grant(id, &admin.user.id, &entry).await {
        Ok(grant) => {
            let notice = format!("Revoked the reveal grant of {}.", grant.user_email);
            grants_page(&state, &admin, token, Outcome::done(notice)).await
        }
        Err(StoreError::NotFound) => Err(UiError::not_found("A live grant with this id was")),
        Err(other) => Err(other.into()),
    }
}
