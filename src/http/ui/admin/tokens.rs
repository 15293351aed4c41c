//! API tokens for the send-side API: created and shown once, listed, revoked.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::{Outcome, respond};
use crate::app::AppState;
use crate::domain::account::AuditAction;
use crate::domain::timezones::format_instant;
use crate::http::ui::account::capitalize;
use crate::http::ui::error::UiError;
use crate::http::ui::page::{Chrome, actor, audit_by};
use crate::http::ui::session::{Admin, Agent, ClientAddr, CsrfForm};
use crate::store::StoreError;
use crate::usecase::{UseCaseError, tokens};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

struct TokenRow {
    id: String,
    name: String,
    created: String,
    state: String,
    active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    /// (name, token) right after creation: the only time the token is shown.
    created: Option<(String, String)>,
    outcome: Outcome,
}

async fn tokens_page(
    state: &AppState,
    admin: &Agent,
    token: CsrfToken,
    outcome: Outcome,
    created: Option<(String, String)>,
) -> Result<Response, UiError> {
    let tokens = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .map(|t| TokenRow {
            state: match t.revoked_at_us {
                Some(at) => format!("revoked {}", format_instant(at, admin.zone)),
                None => "active".to_owned(),
            },
            active: t.revoked_at_us.is_none(),
            created: format_instant(t.created_at_us, admin.zone),
            id: t.id,
            name: t.name,
        })
        .collect();
    let page = TokensPage {
        chrome: Chrome::new(&token, Some(admin), "tokens")?,
        tokens,
        created,
        outcome,
    };
    Ok(respond(page.outcome.status(), token, page))
}

async fn tokens(
    State(state): State<AppState>,
    Admin(admin): Admin,
    token: CsrfToken,
) -> Result<Response, UiError> {
    tokens_page(&state, &admin, token, Outcome::default(), None).await
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<TokenForm>,
) -> Result<Response, UiError> {
    match tokens::mint(&state.store, &form.name, &actor(&admin, &addr)).await {
        Ok(minted) => {
            let shown = Some((minted.name, minted.secret));
            tokens_page(&state, &admin, token, Outcome::default(), shown).await
        }
        Err(UseCaseError::Invalid(message)) => {
            let outcome = Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&message));
            tokens_page(&state, &admin, token, outcome, None).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { token, .. }: CsrfForm<crate::http::ui::account::Empty>,
) -> Result<Response, UiError> {
    let mut entry = audit_by(&admin, &addr, AuditAction::TokenRevoke);
    entry.target = Some(id.clone());
    match state.store.revoke_api_token(&id, &entry).await {
        Ok(revoked) => {
            let notice = format!(
                "Revoked token {:?}: requests with it now get 401.",
                revoked.name
            );
            tokens_page(&state, &admin, token, Outcome::done(notice), None).await
        }
        Err(StoreError::NotFound) => Err(UiError::not_found("An active token with this id was")),
        Err(other) => Err(other.into()),
    }
}
