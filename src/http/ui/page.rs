//! What every page shares: the header (who is logged in, the admin links)
//! and the CSRF token its forms carry, plus small helpers for audit entries
//! and time input.

use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use tower_sessions::Session;

use super::error::UiError;
use super::session::{Agent, ClientAddr, csrf_binding, form_token};
use crate::domain::account::AuditAction;
use crate::store::NewAuditEntry;
use crate::usecase::Actor;

pub struct Chrome {
    pub csrf: String,
    pub email: Option<String>,
    pub is_admin: bool,
    /// Which navigation link is current.
    pub nav: &'static str,
}

impl Chrome {
    pub fn new(
        token: &CsrfToken,
        agent: Option<&Agent>,
        nav: &'static str,
    ) -> Result<Self, UiError> {
        let binding = agent.map(|a| a.csrf_binding.as_str()).unwrap_or_default();
        Ok(Self {
            csrf: form_token(token, binding)?,
            email: agent.map(|a| a.user.email.clone()),
            is_admin: agent.is_some_and(Agent::is_admin),
            nav,
        })
    }

    /// For the pages anyone may see (login, setup): their forms are bound to
    /// whatever login the session holds, if any.
    pub async fn for_session(
        token: &CsrfToken,
        session: &Session,
        nav: &'static str,
    ) -> Result<Self, UiError> {
        Ok(Self {
            csrf: form_token(token, &csrf_binding(session).await?)?,
            email: None,
            is_admin: false,
            nav,
        })
    }
}

/// The page with the CSRF cookie set alongside.
pub fn render(token: CsrfToken, page: impl IntoResponse) -> Response {
    (token, page).into_response()
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// An audit entry by `agent` from `addr`, to be completed by the caller.
pub fn audit_by(agent: &Agent, addr: &ClientAddr, action: AuditAction) -> NewAuditEntry {
    actor(agent, addr).audit(action, now_us())
}

/// The signed-in agent as the use cases and the audit log see them.
pub fn actor(agent: &Agent, addr: &ClientAddr) -> Actor {
    Actor {
        id: Some(agent.user.id.clone()),
        email: Some(agent.user.email.clone()),
        client_addr: Some(addr.0.to_string()),
    }
}

/// A `YYYY-MM-DD` date box: the start of that day in `zone`, or of the next
/// day when `end` (date ranges are inclusive of their last day). Empty is
/// no bound.
pub fn day_bound(
    text: Option<&str>,
    zone: Tz,
    end: bool,
    field: &str,
) -> Result<Option<i64>, UiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        UiError::bad_request(format!("{field}: {text:?} is not a date (YYYY-MM-DD)."))
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Where a clock change skips midnight (America/Santiago in September),
    // the day starts at its first local time that exists.
    let instant = (0..=48)
        .find_map(|quarter| {
            let local = midnight + chrono::Duration::minutes(15 * quarter);
            zone.from_local_datetime(&local).earliest()
        })
        .ok_or_else(|| {
            UiError::bad_request(format!("{field}: {text:?} has no start in {zone}."))
        })?;
    Ok(Some(instant.timestamp_micros()))
}

/// A date box, or an exact instant: `YYYY-MM-DD` is a whole day in `zone`
/// (as [`day_bound`]); an RFC 3339 instant (`2026-03-10T13:15:00Z`, what a
/// dashboard figure links with) is that instant, `end` or not.
pub fn time_bound(
    text: Option<&str>,
    zone: Tz,
    end: bool,
    field: &str,
) -> Result<Option<i64>, UiError> {
    match text.map(str::trim) {
        Some(t) if t.contains('T') => chrono::DateTime::parse_from_rfc3339(t)
            .map(|at| Some(at.timestamp_micros()))
            .map_err(|_| {
                UiError::bad_request(format!(
                    "{field}: {t:?} is neither a date (YYYY-MM-DD) nor an instant \
                     (2026-03-10T13:15:00Z)."
                ))
            }),
        _ => day_bound(text, zone, end, field),
    }
}

/// Whether a filter value is a plain date (the date box can show it) rather
/// than an exact instant.
pub fn is_plain_date(text: &str) -> bool {
    !text.contains('T')
}

/// Empty form fields and query parameters mean "not given".
pub fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
