//! `/admin/…`: users and roles, reveal grants, API tokens, the audit log.
//! Every route takes [`Admin`], so no admin page or action is reachable by
//! another role.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_csrf::CsrfToken;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::account::capitalize;
use super::error::UiError;
use super::page::{Chrome, audit_by, day_bound, given, now_us, render};
use super::session::{Admin, Agent, ClientAddr, CsrfForm};
use crate::app::AppState;
use crate::auth::password;
use crate::crypto::{random_bytes, token_digest};
use crate::domain::account::{Role, audit, check_password, normalize_email};
use crate::domain::timezones::format_instant;
use crate::store::{
    AuditFilter, NewApiToken, NewGrant, NewUser, StoreError, UserChange, UserRecord,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(admin_home))
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
        .route("/admin/users/{id}/password", post(reset_password))
        .route("/admin/grants", get(grants).post(grant))
        .route("/admin/grants/{id}/revoke", post(revoke_grant))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/audit", get(audit_log))
}

async fn admin_home(Admin(_): Admin) -> axum::response::Redirect {
    axum::response::Redirect::to("/admin/users")
}

/// A page outcome shown above the list: what happened, or what was wrong.
#[derive(Default)]
pub struct Outcome {
    status: Option<StatusCode>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    fn done(notice: impl Into<String>) -> Self {
        Self {
            notice: Some(notice.into()),
            ..Self::default()
        }
    }

    fn refused(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            error: Some(error.into()),
            ..Self::default()
        }
    }

    fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::OK)
    }
}

/// An admin page with its outcome banner, the CSRF cookie and the status the
/// outcome asks for.
fn respond(status: StatusCode, token: CsrfToken, page: impl IntoResponse) -> Response {
    (status, render(token, page)).into_response()
}

fn server_error(e: impl std::fmt::Display) -> UiError {
    UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

// ---- users ---------------------------------------------------------------

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
    status: StatusCode,
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
                role: u.role,
            }
        })
        .collect();
    let page = UsersPage {
        chrome: Chrome::new(&token, Some(admin), "users")?,
        users,
        status: outcome.status(),
        outcome,
    };
    Ok(respond(page.status, token, page))
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
    let checked = normalize_email(&form.email).and_then(|email| {
        let role: Role = form.role.parse()?;
        check_password(&form.password)?;
        Ok((email, role))
    });
    let (email, role) = match checked {
        Ok(valid) => valid,
        Err(error) => {
            let outcome = Outcome::refused(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&error));
            return users_page(&state, &admin, token, outcome).await;
        }
    };
    let password_hash = password::hash(form.password).await.map_err(server_error)?;
    let user = NewUser {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.clone(),
        role: role.as_str().to_owned(),
        password_hash,
        created_at_us: now_us(),
    };
    let mut entry = audit_by(&admin, &addr, audit::USER_ADD);
    entry.target = Some(email.clone());
    entry.detail = Some(format!("role {role}"));
    let outcome = match state.store.create_user(&user, &entry).await {
        Ok(_) => Outcome::done(format!("Added {email} as {role}.")),
        Err(StoreError::Conflict(_)) => Outcome::refused(
            StatusCode::CONFLICT,
            format!("A user with email {email} exists already."),
        ),
        Err(other) => return Err(other.into()),
    };
    users_page(&state, &admin, token, outcome).await
}

async fn target_user(state: &AppState, id: &str) -> Result<UserRecord, UiError> {
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| UiError::not_found("User"))
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
    let mut entry = audit_by(&admin, &addr, audit::USER_ROLE);
    entry.target = Some(target.email.clone());
    entry.detail = Some(format!("{} → {role}", target.role));
    let change = UserChange::Role(role.as_str().to_owned());
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
    entry: crate::store::NewAuditEntry,
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
    CsrfForm { token, .. }: CsrfForm<super::account::Empty>,
) -> Result<Response, UiError> {
    let target = target_user(&state, &id).await?;
    let mut entry = audit_by(&admin, &addr, audit::USER_DISABLE);
    entry.target = Some(target.email.clone());
    let notice = format!("Disabled {}; their sessions have ended.", target.email);
    change_user(
        &state,
        &admin,
        token,
        &target,
        UserChange::Disabled(true),
        entry,
        notice,
    )
    .await
}

async fn enable_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { token, .. }: CsrfForm<super::account::Empty>,
) -> Result<Response, UiError> {
    let target = target_user(&state, &id).await?;
    let mut entry = audit_by(&admin, &addr, audit::USER_ENABLE);
    entry.target = Some(target.email.clone());
    let notice = format!("Enabled {}.", target.email);
    change_user(
        &state,
        &admin,
        token,
        &target,
        UserChange::Disabled(false),
        entry,
        notice,
    )
    .await
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
    let mut entry = audit_by(&admin, &addr, audit::USER_PASSWORD_RESET);
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

// ---- reveal grants ---------------------------------------------------------

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
    status: StatusCode,
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
        status: outcome.status(),
        outcome,
    };
    Ok(respond(page.status, token, page))
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
    let mut entry = audit_by(&admin, &addr, audit::GRANT);
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
    CsrfForm { token, .. }: CsrfForm<super::account::Empty>,
) -> Result<Response, UiError> {
    let mut entry = audit_by(&admin, &addr, audit::GRANT_REVOKE);
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

// ---- API tokens ------------------------------------------------------------

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
    status: StatusCode,
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
        status: outcome.status(),
        outcome,
    };
    Ok(respond(page.status, token, page))
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
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        let outcome = Outcome::refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The name must be 1 to 100 characters.",
        );
        return tokens_page(&state, &admin, token, outcome, None).await;
    }
    let secret = format!(
        "smst_{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>().map_err(server_error)?)
    );
    let id = uuid::Uuid::now_v7().to_string();
    let mut entry = audit_by(&admin, &addr, audit::TOKEN_CREATE);
    entry.target = Some(id.clone());
    entry.detail = Some(format!("{name:?}"));
    let new = NewApiToken {
        id,
        name: name.to_owned(),
        digest: token_digest(&secret),
        created_at_us: entry.at_us,
    };
    state.store.create_api_token(&new, &entry).await?;
    tokens_page(
        &state,
        &admin,
        token,
        Outcome::default(),
        Some((name.to_owned(), secret)),
    )
    .await
}

async fn revoke_token(
    State(state): State<AppState>,
    Admin(admin): Admin,
    addr: ClientAddr,
    Path(id): Path<String>,
    CsrfForm { token, .. }: CsrfForm<super::account::Empty>,
) -> Result<Response, UiError> {
    let mut entry = audit_by(&admin, &addr, audit::TOKEN_REVOKE);
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

// ---- audit log -------------------------------------------------------------

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
    actions: &'static [&'static str],
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
        actions: audit::ALL,
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
            action: e.action,
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
    let action = given(&Some(form.action.clone()));
    if let Some(action) = &action
        && !audit::ALL.contains(&action.as_str())
    {
        return Err(UiError::bad_request(format!("Unknown action {action:?}.")));
    }
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
