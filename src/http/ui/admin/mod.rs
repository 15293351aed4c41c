//! `/admin/…`: users and roles, reveal grants, API tokens, the audit log.
//! Every route takes [`Admin`], so no admin page or action is reachable by
//! another role. What the admin pages share lives here.

mod audit;
mod grants;
mod tokens;
mod users;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_csrf::CsrfToken;

use super::error::UiError;
use super::page::render;
use super::session::Admin;
use crate::app::AppState;
use crate::store::UserRecord;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(admin_home))
        .merge(users::routes())
        .merge(grants::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
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
    pub(super) fn done(notice: impl Into<String>) -> Self {
        Self {
            notice: Some(notice.into()),
            ..Self::default()
        }
    }

    pub(super) fn refused(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            error: Some(error.into()),
            ..Self::default()
        }
    }

    pub(super) fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::OK)
    }
}

/// An admin page with its outcome banner, the CSRF cookie and the status the
/// outcome asks for.
pub(in crate::http::ui) fn respond(
    status: StatusCode,
    token: CsrfToken,
    page: impl IntoResponse,
) -> Response {
    (status, render(token, page)).into_response()
}

pub(super) fn server_error(e: impl std::fmt::Display) -> UiError {
    UiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(super) async fn target_user(state: &AppState, id: &str) -> Result<UserRecord, UiError> {
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| UiError::not_found("User"))
}
