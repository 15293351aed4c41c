//! HTTP adapters: each feature owns its router; they are merged here.

mod api;
mod error;
mod health;
mod openapi;
mod ui;
mod verifications;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

pub use error::ApiError;
pub use openapi::routes as api_routes;
pub use ui::SESSION_IDLE;
pub use ui::dashboards::ReceiptNotes;
pub use webhooks::MAX_BODY_BYTES;

use crate::app::AppState;

pub fn build_router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(openapi::router())
        .merge(health::router())
        .merge(ui::router(&state))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // `Router::layer` wraps each route (and the fallback) after routing,
        // so the matched route template is known here.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .with_state(state)
}

/// Counts and times every answered request by its route template: raw paths
/// carry message ids and would make one series per message.
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::metrics::UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    state.metrics.record_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
