//! The one error type of the HTTP layer: every failure maps to a status and a
//! JSON body `{"error": {"code", "message"}}`; internal detail stays in the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::outbound::FieldError;
use crate::ingest::IngestError;
use crate::store::StoreError;
use crate::usecase::UseCaseError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the database could not store this request; retry later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(message) => Self::bad_request(message),
            UseCaseError::NotFound(what) => Self::not_found(&what.to_lowercase()),
            UseCaseError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            UseCaseError::Store(store) => store.into(),
            UseCaseError::Internal(message) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("message"),
            StoreError::Conflict(what) => Self::new(StatusCode::CONFLICT, "conflict", what),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::unavailable()
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::UnknownProvider(p) => Self::new(
                StatusCode::NOT_FOUND,
                "provider_not_configured",
                format!("provider {p:?} is not configured on this server"),
            ),
            IngestError::Unauthorized(reason) => {
                refused_log::warn(&reason);
                Self::unauthorized(format!("signature verification failed: {reason}"))
            }
            other => {
                tracing::error!(error = %other, "callback not stored");
                Self::unavailable()
            }
        }
    }
}

/// Under attack every forged callback is refused: one warn line per refusal
/// would flood the log. At most one line per interval, counting the ones
/// folded into it. Process-wide, like the log it protects.
mod refused_log {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    const INTERVAL: Duration = Duration::from_secs(10);

    struct Window {
        logged_at: Option<Instant>,
        suppressed: u64,
    }

    static WINDOW: Mutex<Window> = Mutex::new(Window {
        logged_at: None,
        suppressed: 0,
    });

    pub(super) fn warn(reason: &dyn std::fmt::Display) {
        let Ok(mut window) = WINDOW.lock() else {
            return;
        };
        let now = Instant::now();
        if window
            .logged_at
            .is_some_and(|at| now.duration_since(at) < INTERVAL)
        {
            window.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut window.suppressed);
        window.logged_at = Some(now);
        drop(window);
        tracing::warn!(
            %reason,
            suppressed,
            "callback refused (at most one line per 10 s; `suppressed` counts the others since \
             the last line, all are in smstrail_callbacks_total)"
        );
    }
}
