//! Users and roles: add, change role, disable and enable, reset password.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::{Outcome, respond, server_error, target_user};
use crate::app::AppState;
use crate::auth::password;
use crate::domain::account::{AuditAction, Role, check_password, normalize_email};
use crate::domain::timezones::format_instant;
use crate::http::ui::account::capitalize;
use crate::http::ui::error::UiError;
use crate::http::ui::page::{Chrome, actor, audit_by, now_us};
use crate::http::ui::session::{Admin, Agent, ClientAddr, CsrfForm};
use crate::store::{NewAuditEntry, StoreError, UserChange, UserRecord};
use crate::usecase::UseCaseError;
use crate::usecase::accounts::{self, NewAccount};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
        .route("/admin/users/{id}/password", post(reset_password))
}

struct UserRow {
    id: String,
    email: String,
    role: String,
    active: bool,
    is_self: bool,
    reveal: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    outcome: Outcome,
}

async fn users_page(
    state: &AppState,
    admin: &Agent,
    token: CsrfToken,
    outcome: Outcome,
) -> Result<Response, UiError> {
    let now = now_us();
    let grants = state.store.grants().await?;
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| {
            let live = grants
                .iter()
                .filter(|g| g.user_id == u.id && g.is_live(now))
                .map(|g| g.expires_at_us)
                .max();
            UserRow {
                reveal: live
                    .map(|until| format!("until {}", format_instant(until, admin.zone)))
                    .unwrap_or_else(|| "—".to_owned()),
                is_self: u.id == admin.user.id,
                active: u.is_active(),
                id: u.id,
                email: u.email,
                role: u.role.as_str().to_owned(),
            }
        })
        .collect();
    let page = UsersPage {
        chrome: Chrome::new(&token, Some(admin), "users")?,
        users,
        outcome,
    };
    Ok(respond(page.outcome.status(), token, page))
}

async fn users(
    State(state): State<AppState>,
    Admin(admin): Admin,
    token: CsrfToken,
) -> Result<Response, UiError> {
    users_page(&state, &admin, token, Outcome::default()).await
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<NewUserForm>,
) -> Result<Response, UiError> {
    let parsed = normalize_email(&form.email).and_then(|email| {
        let role: Role = form.role.parse()?;
        Ok(NewAccount {
            email,
            role,
            password: form.password,
        })
    });
    let outcome = match parsed {
        Err(error) => Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&error)),
        Ok(account) => {
            let done = format!("Added {} as {}.", account.email, account.role);
            match accounts::add_user(&state.store, account, &actor(&admin, &addr)).await {
                Ok(_) => Outcome::done(done),
                Err(UseCaseError::Invalid(error)) => {
                    Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&error))
                }
                Err(UseCaseError::Conflict(error)) => {
                    Outcome::refused(StatusCode::CONFLICT, capitalize(&error))
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    users_page(&state, &admin, token, outcome).await
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { form, token }: CsrfForm<RoleForm>,
) -> Result<Response, UiError> {
    let target = target_user(&state, &id).await?;
    let role: Role = match form.role.parse() {
        Ok(role) => role,
        Err(error) => {
            return users_page(
                &state,
                &admin,
                token,
                Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&error)),
            )
            .await;
        }
    };
    let mut entry = audit_by(&admin, &addr, AuditAction::UserRole);
    entry.target = Some(target.email.clone());
    entry.detail = Some(format!("{} → {role}", target.role));
    let change = UserChange::Role(role);
    let notice = format!("{} is now {role}.", target.email);
    change_user(&state, &admin, token, &target, change, entry, notice).await
}

/// Applies a change and shows the users page with what happened; a change
/// that would leave no active admin is refused by the store.
async fn change_user(
    state: &AppState,
    admin: &Agent,
    token: CsrfToken,
    target: &UserRecord,
    change: UserChange,
    entry: NewAuditEntry,
    notice: String,
) -> Result<Response, UiError> {
    let outcome = match state.store.update_user(&target.id, &change, &entry).await {
        Ok(_) => Outcome::done(notice),
        Err(StoreError::Conflict(why)) => Outcome::refused(StatusCode::CONFLICT, capitalize(&why)),
        Err(other) => return Err(other.into()),
    };
    users_page(state, admin, token, outcome).await
}

async fn disable_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { token, .. }: CsrfForm<crate::http::ui::account::Empty>,
) -> Result<Response, UiError> {
    set_disabled(&state, &admin, &addr, &id, token, true).await
}

async fn enable_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { token, .. }: CsrfForm<crate::http::ui::account::Empty>,
) -> Result<Response, UiError> {
    set_disabled(&state, &admin, &addr, &id, token, false).await
}

async fn set_disabled(
    state: &AppState,
    admin: &Agent,
    addr: &ClientAddr,
    id: &str,
    token: CsrfToken,
    disabled: bool,
) -> Result<Response, UiError> {
    let target = target_user(state, id).await?;
    let (action, notice) = if disabled {
        (
            AuditAction::UserDisable,
            format!("Disabled {}; their sessions have ended.", target.email),
        )
    } else {
        (
            AuditAction::UserEnable,
            format!("Enabled {}.", target.email),
        )
    };
    let mut entry = audit_by(admin, addr, action);
    entry.target = Some(target.email.clone());
    let change = UserChange::Disabled(disabled);
    change_user(state, admin, token, &target, change, entry, notice).await
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { form, token }: CsrfForm<ResetForm>,
) -> Result<Response, UiError> {
    let target = target_user(&state, &id).await?;
    if let Err(error) = check_password(&form.password) {
        return users_page(
            &state,
            &admin,
            token,
            Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&error)),
        )
        .await;
    }
    let hash = password::hash(form.password).await.map_err(server_error)?;
    let mut entry = audit_by(&admin, &addr, AuditAction::UserPasswordReset);
    entry.target = Some(target.email.clone());
    let notice = if target.id == admin.user.id {
        "Your password was reset: log in again.".to_owned()
    } else {
        format!(
            "Password of {} reset; their sessions have ended.",
            target.email
        )
    };
    change_user(
        &state,
        &admin,
        token,
        &target,
        UserChange::PasswordHash(hash),
        entry,
        notice,
    )
    .await
}
