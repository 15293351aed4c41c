//! The OTP verification timeline of CONTRACT §4: the product's backend says
//! what happened to a code, each step linked to the message that carried it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::api::{ApiClient, now_us, parse_json};
use super::error::ApiError;
use super::openapi::Endpoint;
use super::views::rfc3339;
use crate::app::AppState;
use crate::domain::outbound::{self, FieldError};
use crate::domain::verification::{VerificationEventKind, outcome};
use crate::store::{NewVerification, NewVerificationEvent, StoreError};

/// The routes of this module, each with what the OpenAPI document says.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post(
            "/api/v1/verifications",
            "Start an OTP verification timeline",
            post(create),
        )
        .created("The verification"),
        Endpoint::get(
            "/api/v1/verifications/{id}",
            "A verification with its steps and outcome",
            get(show),
        )
        .returns("The verification"),
        Endpoint::post(
            "/api/v1/verifications/{id}/events",
            "Add a step (requested, resent, checked, completed, failed, expired, abandoned)",
            post(add_event),
        )
        .created("The verification"),
    ]
}

#[derive(Deserialize)]
struct CreateRequest {
    user_ref: Option<String>,
    message_id: Option<String>,
    occurred_at: Option<String>,
}

#[derive(Deserialize)]
struct EventRequest {
    kind: Option<String>,
    message_id: Option<String>,
    occurred_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerificationView {
    id: String,
    user_ref: Option<String>,
    /// `pending`, or how it ended: `completed`, `failed`, `expired`, `abandoned`.
    outcome: &'static str,
    created_at: Option<String>,
    events: Vec<VerificationEventView>,
}

#[derive(Debug, Serialize)]
struct VerificationEventView {
    kind: VerificationEventKind,
    message_id: Option<String>,
    occurred_at: Option<String>,
    recorded_at: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    _client: ApiClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<VerificationView>), ApiError> {
    let request: CreateRequest = parse_json(body)?;
    let id = uuid::Uuid::now_v7().to_string();
    let first_event = new_event(
        &state,
        &id,
        VerificationEventKind::Requested,
        request.message_id,
        request.occurred_at,
    )
    .await?;
    let verification = NewVerification {
        id: id.clone(),
        user_ref: outbound::optional_text("user_ref", request.user_ref)?,
        created_at_us: first_event.recorded_at_us,
        first_event,
    };
    state.writes.create_verification(verification).await?;
    Ok((StatusCode::CREATED, Json(load(&state, &id).await?)))
}

async fn add_event(
    State(state): State<AppState>,
    _client: ApiClient,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<VerificationView>), ApiError> {
    let request: EventRequest = parse_json(body)?;
    let kinds: Vec<&str> = VerificationEventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let kind = outbound::required("kind", request.kind)?;
    let kind = VerificationEventKind::parse(&kind)
        .ok_or_else(|| FieldError::new("kind", format!("must be one of {}", kinds.join(", "))))?;
    let event = new_event(&state, &id, kind, request.message_id, request.occurred_at).await?;
    state
        .writes
        .add_verification_event(event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("verification"),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(load(&state, &id).await?)))
}

async fn show(
    State(state): State<AppState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<VerificationView>, ApiError> {
    Ok(Json(load(&state, &id).await?))
}

/// Validates an event's fields; a linked message must exist.
async fn new_event(
    state: &AppState,
    verification_id: &str,
    kind: VerificationEventKind,
    message_id: Option<String>,
    occurred_at: Option<String>,
) -> Result<NewVerificationEvent, ApiError> {
    let message_id = outbound::optional_text("message_id", message_id)?;
    if let Some(message_id) = &message_id
        && state.store.message(message_id).await?.is_none()
    {
        return Err(FieldError::new("message_id", "no message has this id").into());
    }
    let recorded_at_us = now_us();
    let occurred_at_us = outbound::instant("occurred_at", occurred_at)?
        .map(|t| t.timestamp_micros())
        .unwrap_or(recorded_at_us);
    Ok(NewVerificationEvent {
        verification_id: verification_id.to_owned(),
        kind,
        message_id,
        occurred_at_us,
        recorded_at_us,
    })
}

async fn load(state: &AppState, id: &str) -> Result<VerificationView, ApiError> {
    let (verification, events) = state
        .store
        .verification(id)
        .await?
        .ok_or_else(|| ApiError::not_found("verification"))?;
    let steps: Vec<(VerificationEventKind, i64)> =
        events.iter().map(|e| (e.kind, e.occurred_at_us)).collect();
    Ok(VerificationView {
        id: verification.id,
        user_ref: verification.user_ref,
        outcome: outcome(&steps),
        created_at: rfc3339(verification.created_at_us),
        events: events
            .into_iter()
            .map(|e| VerificationEventView {
                occurred_at: rfc3339(e.occurred_at_us),
                recorded_at: rfc3339(e.recorded_at_us),
                kind: e.kind,
                message_id: e.message_id,
            })
            .collect(),
    })
}
