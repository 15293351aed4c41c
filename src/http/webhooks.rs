//! `/webhooks/{provider}/status|inbound`: a thin adapter from HTTP to the
//! ingest pipeline.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::error::ApiError;
use crate::app::AppState;
use crate::ingest;
use crate::providers::{Route, WebhookRequest};

/// CONTRACT §3 step 1.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{provider}/{route}", any(receive))
}

async fn receive(
    State(state): State<AppState>,
    Path((provider, route)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let route = match route.as_str() {
        "status" => Route::Status,
        "inbound" => Route::Inbound,
        _ => return Err(ApiError::not_found("route")),
    };
    if method != Method::POST && method != Method::GET {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST (or GET where the provider sends GET)",
        ));
    }
    if !state.ingest.is_configured(&provider) {
        return Err(ingest::IngestError::UnknownProvider(provider).into());
    }
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        state.ingest.record_too_large(&provider);
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("callbacks are limited to {MAX_BODY_BYTES} bytes"),
        ));
    };
    let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let url = format!("{}{}", state.config.public_url, path_and_query);
    let request = WebhookRequest {
        method: &method,
        url: &url,
        headers: &headers,
        body: &body,
        now: chrono::Utc::now(),
    };
    let (_, ack) = state.ingest.handle(&provider, route, &request).await?;
    Ok(([(header::CONTENT_TYPE, ack.content_type)], ack.body).into_response())
}
