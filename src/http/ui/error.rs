//! The UI's one error type: every failure is a small HTML page with a status
//! and a sentence a person can act on; detail stays in the log.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::ui::account::capitalize;
use crate::store::StoreError;
use crate::usecase::UseCaseError;

#[derive(Debug)]
pub enum UiError {
    /// Not logged in (or the session ended): go to the login page, then back.
    LoginRequired {
        next: String,
    },
    Page {
        status: StatusCode,
        message: String,
    },
    TooManyAttempts {
        /// What was attempted too often ("sign-in attempts").
        what: &'static str,
        retry_after_secs: u64,
    },
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found."))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::LoginRequired { next } => {
                let target = if next == "/" || next.is_empty() {
                    "/login".to_owned()
                } else {
                    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                    format!("/login?next={next}")
                };
                Redirect::to(&target).into_response()
            }
            UiError::TooManyAttempts {
                what,
                retry_after_secs,
            } => {
                let message =
                    format!("Too many {what}. Wait {retry_after_secs} seconds and try again.");
                let page = ErrorPage {
                    title: "Slow down",
                    message: &message,
                };
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after_secs.to_string())],
                    page,
                )
                    .into_response()
            }
            UiError::Page { status, message } => {
                let title = status.canonical_reason().unwrap_or("Error");
                (
                    status,
                    ErrorPage {
                        title,
                        message: &message,
                    },
                )
                    .into_response()
            }
        }
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("That record was"),
            StoreError::Conflict(what) => Self::new(StatusCode::CONFLICT, what),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database did not answer. Try again in a moment.",
                )
            }
        }
    }
}

impl From<UseCaseError> for UiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, capitalize(&message))
            }
            UseCaseError::Conflict(message) => {
                Self::new(StatusCode::CONFLICT, capitalize(&message))
            }
            UseCaseError::NotFound(what) => Self::not_found(what),
            UseCaseError::Store(store) => store.into(),
            UseCaseError::Internal(message) => {
                tracing::error!(error = %message, "use case failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, capitalize(&message))
            }
        }
    }
}

impl From<tower_sessions::session::Error> for UiError {
    fn from(e: tower_sessions::session::Error) -> Self {
        tracing::error!(error = %e, "session storage failure");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The session store did not answer. Try again in a moment.",
        )
    }
}
