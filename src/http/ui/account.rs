//! Setup, login, logout and the user's own settings.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use serde::Deserialize;
use tower_sessions::Session;

use super::error::UiError;
use super::page::{Chrome, audit_by, now_us, render};
use super::session::{Agent, ClientAddr, CsrfForm, start_session};
use crate::app::AppState;
use crate::auth::password;
use crate::crypto::token_digest;
use crate::domain::account::{AuditAction, Role, check_password, normalize_email};
use crate::store::{NewAuditEntry, StoreError, UserChange};
use crate::usecase::accounts::{self, NewAccount};
use crate::usecase::login;

/// Said for an unknown email, a wrong password and a disabled account alike.
const LOGIN_REFUSED: &str = "That email and password do not match an active account.";

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only our own paths: `//evil.example` and absolute URLs are dropped.
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    // A control character would make the Location header unbuildable.
    if local && !next.chars().any(char::is_control) {
        next
    } else {
        "/"
    }
}

pub async fn login_page(
    token: CsrfToken,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Result<Response, UiError> {
    let page = LoginPage {
        chrome: Chrome::for_session(&token, &session, "login").await?,
        email: String::new(),
        next: safe_next(query.next.as_deref().unwrap_or("/")).to_owned(),
        error: None,
    };
    Ok(render(token, page))
}

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<LoginForm>,
) -> Result<Response, UiError> {
    if let Err(wait) = state.login_limiter.check(&form.email, addr.0) {
        // Not audited: the throttle exists because of floods, and a flood
        // must not be able to fill the audit log.
        tracing::warn!(client = %addr.0, "login throttled");
        return Err(UiError::TooManyAttempts {
            what: "sign-in attempts",
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let allowed =
        login::login(&state.store, &form.email, form.password, addr.0.to_string()).await?;
    match allowed {
        Some(user) => {
            start_session(&session, &user).await?;
            Ok(Redirect::to(safe_next(&form.next)).into_response())
        }
        None => {
            let page = LoginPage {
                chrome: Chrome::for_session(&token, &session, "login").await?,
                email: form.email.chars().take(254).collect(),
                next: safe_next(&form.next).to_owned(),
                error: Some(LOGIN_REFUSED.to_owned()),
            };
            Ok((StatusCode::UNAUTHORIZED, render(token, page)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    State(state): State<AppState>,
    agent: Agent,
    addr: ClientAddr,
    CsrfForm { form: Empty {}, .. }: CsrfForm<Empty>,
) -> Result<Response, UiError> {
    state
        .store
        .append_audit(&audit_by(&agent, &addr, AuditAction::Logout))
        .await?;
    agent.session.flush().await?;
    Ok(Redirect::to("/login").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    token: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn setup_link_unusable() -> UiError {
    UiError::not_found(
        "This setup link is unknown, used or expired, or an account exists already. \
         While no account exists, restarting smstrail prints a new link. The setup link",
    )
}

pub async fn setup_page(
    State(state): State<AppState>,
    token: CsrfToken,
    session: Session,
    Query(query): Query<SetupQuery>,
) -> Result<Response, UiError> {
    let setup_token = query.token.unwrap_or_default();
    if !state
        .store
        .setup_token_usable(&token_digest(&setup_token), now_us())
        .await?
    {
        return Err(setup_link_unusable());
    }
    let page = SetupPage {
        chrome: Chrome::for_session(&token, &session, "setup").await?,
        token: setup_token,
        email: String::new(),
        error: None,
    };
    Ok(render(token, page))
}

pub async fn setup(
    State(state): State<AppState>,
    session: Session,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<SetupForm>,
) -> Result<Response, UiError> {
    let digest = token_digest(&form.token);
    if !state.store.setup_token_usable(&digest, now_us()).await? {
        return Err(setup_link_unusable());
    }
    let checked = normalize_email(&form.email).and_then(|email| {
        check_password(&form.password)?;
        if form.password != form.password_confirm {
            return Err("the two passwords differ".to_owned());
        }
        Ok(email)
    });
    let email = match checked {
        Ok(email) => email,
        Err(error) => {
            let page = SetupPage {
                chrome: Chrome::for_session(&token, &session, "setup").await?,
                token: form.token,
                email: form.email,
                error: Some(capitalize(&error)),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(token, page)).into_response());
        }
    };
    let account = NewAccount {
        email: email.clone(),
        role: Role::Admin,
        password: form.password,
    };
    let user = accounts::prepare(account).await?;
    let entry = NewAuditEntry {
        at_us: user.created_at_us,
        actor_id: Some(user.id.clone()),
        actor_email: Some(email.clone()),
        target: Some(email),
        client_addr: Some(addr.0.to_string()),
        detail: Some("first admin, through the setup link".to_owned()),
        ..NewAuditEntry::new(AuditAction::Setup)
    };
    let created = match state.store.create_first_admin(&digest, &user, &entry).await {
        Ok(created) => created,
        Err(StoreError::NotFound | StoreError::Conflict(_)) => return Err(setup_link_unusable()),
        Err(other) => return Err(other.into()),
    };
    start_session(&session, &created).await?;
    Ok(Redirect::to("/admin/users").into_response())
}

pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    timezone: String,
    zones: Vec<&'static str>,
    notice: Option<String>,
    error: Option<String>,
}

fn settings_page(
    token: CsrfToken,
    agent: &Agent,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, UiError> {
    let page = SettingsPage {
        chrome: Chrome::new(&token, Some(agent), "settings")?,
        timezone: agent.user.timezone.clone(),
        zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        notice,
        error,
    };
    Ok((status, render(token, page)).into_response())
}

pub async fn settings(agent: Agent, token: CsrfToken) -> Result<Response, UiError> {
    settings_page(token, &agent, StatusCode::OK, None, None)
}

#[derive(Deserialize)]
pub struct TimezoneForm {
    #[serde(default)]
    timezone: String,
}

pub async fn set_timezone(
    State(state): State<AppState>,
    mut agent: Agent,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<TimezoneForm>,
) -> Result<Response, UiError> {
    let Some(zone) = crate::domain::timezones::parse_zone(&form.timezone) else {
        let error = format!(
            "{:?} is not an IANA time zone name (e.g. Europe/Berlin).",
            form.timezone.trim()
        );
        return settings_page(
            token,
            &agent,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
        );
    };
    let mut entry = audit_by(&agent, &addr, AuditAction::TimezoneChange);
    entry.detail = Some(zone.name().to_owned());
    agent.user = state
        .store
        .update_user(
            &agent.user.id,
            &UserChange::Timezone(zone.name().to_owned()),
            &entry,
        )
        .await?;
    agent.zone = zone;
    settings_page(
        token,
        &agent,
        StatusCode::OK,
        Some(format!("Time zone set to {}.", zone.name())),
        None,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    mut agent: Agent,
    addr: ClientAddr,
    CsrfForm { form, token }: CsrfForm<PasswordForm>,
) -> Result<Response, UiError> {
    let refuse = |token, agent: &Agent, error: &str| {
        settings_page(
            token,
            agent,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error.to_owned()),
        )
    };
    if !password::verify(
        form.current_password,
        Some(agent.user.password_hash.clone()),
    )
    .await
    {
        return refuse(token, &agent, "The current password is wrong.");
    }
    if let Err(error) = check_password(&form.new_password) {
        return refuse(token, &agent, &capitalize(&error));
    }
    if form.new_password != form.new_password_confirm {
        return refuse(token, &agent, "The two new passwords differ.");
    }
    let hash = password::hash(form.new_password)
        .await
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let entry = audit_by(&agent, &addr, AuditAction::PasswordChange);
    agent.user = state
        .store
        .update_user(&agent.user.id, &UserChange::PasswordHash(hash), &entry)
        .await?;
    // The change moved the session generation: every other session is now
    // dead; this one continues under a new id and the new generation.
    agent.csrf_binding = start_session(&agent.session, &agent.user).await?;
    settings_page(
        token,
        &agent,
        StatusCode::OK,
        Some("Password changed. Your other sessions have been logged out.".to_owned()),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/messages/1?x=2"), "/messages/1?x=2");
        for hostile in [
            "/\r\nSet-Cookie: x=1",
            "/\n",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(hostile), "/", "{hostile}");
        }
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(capitalize("email is required"), "Email is required.");
        assert_eq!(capitalize(""), "");
    }
}
