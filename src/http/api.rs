//! The send-side JSON API of CONTRACT §4, for the product's backend.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::openapi::Endpoint;
use super::views::{MessageView, RetryView};
use crate::app::AppState;
use crate::crypto::token_digest;
use crate::domain::outbound::{self, FieldError, OutboundMessage, RegisterRequest, RetryKind};
use crate::providers::KNOWN;
use crate::store::{NewRetry, Registration};
use crate::usecase::registration;

/// The routes of this module, each with what the OpenAPI document says.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post(
            "/api/v1/messages",
            "Register an outbound message (idempotent by idempotency_key)",
            post(register),
        )
        .created("The message; 200 when the same key and body were registered before"),
        Endpoint::get(
            "/api/v1/messages",
            "Find a message by its provider message id",
            get(find_by_provider_id),
        )
        .query(&["provider_message_id"])
        .returns("The message with its timeline"),
        Endpoint::get(
            "/api/v1/messages/{id}",
            "A message's summary and delivery timeline",
            get(show),
        )
        .returns("The message with its timeline"),
        Endpoint::patch(
            "/api/v1/messages/{id}",
            "Set the provider message id once the provider answered",
            patch(set_provider_message_id),
        )
        .returns("The message"),
        Endpoint::post(
            "/api/v1/messages/{id}/retries",
            "Record a retry, resend, provider failover or channel fallback",
            post(record_retry),
        )
        .created("The recorded retry"),
    ]
}

/// A caller that presented a live API token.
pub struct ApiClient;

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <API token>"))?;
        if state.store.api_token_is_live(&token_digest(token)).await? {
            Ok(ApiClient)
        } else {
            Err(ApiError::unauthorized("unknown or revoked API token"))
        }
    }
}

/// Parses a JSON body, naming the field on a type error. Takes the body
/// extractor's result so that a body over the size limit also answers JSON.
pub(super) fn parse_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| {
        ApiError::new(rejection.status(), "bad_body", rejection.body_text())
    })?;
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        if e.inner().is_syntax() || e.inner().is_eof() {
            ApiError::bad_request(format!("the body is not valid JSON: {}", e.inner()))
        } else if path == "." {
            ApiError::bad_request(format!("the body must be a JSON object: {}", e.inner()))
        } else {
            FieldError::new(path, e.inner().to_string()).into()
        }
    })
}

pub(super) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn register(
    State(state): State<AppState>,
    _client: ApiClient,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: RegisterRequest = parse_json(body)?;
    let message = OutboundMessage::parse(request, &KNOWN)?;
    let new = registration::new_message(message, &state.cipher, &state.config.final_windows)?;
    match state.writes.register_message(new).await? {
        Registration::Created(record) => {
            Ok((StatusCode::CREATED, Json(MessageView::summary(&record)?)).into_response())
        }
        Registration::Existing {
            message,
            same_request: true,
        } => Ok((StatusCode::OK, Json(MessageView::summary(&message)?)).into_response()),
        Registration::Existing { .. } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "this idempotency_key was already used with a different request body",
        )),
    }
}

async fn show(
    State(state): State<AppState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let message = state
        .store
        .message(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(Json(MessageView::full(&state, &message).await?))
}

#[derive(Deserialize)]
struct ProviderIdQuery {
    provider_message_id: Option<String>,
}

async fn find_by_provider_id(
    State(state): State<AppState>,
    _client: ApiClient,
    query: Result<Query<ProviderIdQuery>, QueryRejection>,
) -> Result<Json<MessageView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let pmid = outbound::required("provider_message_id", query.provider_message_id)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let message = state
        .store
        .message_by_provider_id(&pmid)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(Json(MessageView::full(&state, &message).await?))
}

#[derive(Deserialize)]
struct PatchRequest {
    provider_message_id: Option<String>,
}

async fn set_provider_message_id(
    State(state): State<AppState>,
    _client: ApiClient,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<MessageView>, ApiError> {
    let request: PatchRequest = parse_json(body)?;
    let pmid = outbound::required_text("provider_message_id", request.provider_message_id)?;
    let message = state.writes.set_provider_message_id(&id, &pmid).await?;
    Ok(Json(MessageView::full(&state, &message).await?))
}

#[derive(Deserialize)]
struct RetryRequest {
    kind: Option<String>,
    new_message_id: Option<String>,
    reason: Option<String>,
}

async fn record_retry(
    State(state): State<AppState>,
    _client: ApiClient,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RetryView>), ApiError> {
    let request: RetryRequest = parse_json(body)?;
    let kinds = RetryKind::ALL.map(RetryKind::as_str);
    let kind = outbound::one_of("kind", request.kind, &kinds)?
        .and_then(|kind| RetryKind::parse(&kind))
        .ok_or_else(|| {
            FieldError::new("kind", format!("is required: one of {}", kinds.join(", ")))
        })?;
    let retry = NewRetry {
        message_id: id,
        kind,
        new_message_id: outbound::optional_text("new_message_id", request.new_message_id)?,
        reason: outbound::optional_text("reason", request.reason)?,
        created_at_us: now_us(),
    };
    let record = state.writes.record_retry(retry).await?;
    Ok((StatusCode::CREATED, Json(RetryView::from(&record))))
}
