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
use axum::extract::DefaultBodyLimit;

pub use error::ApiError;
pub use openapi::routes as api_routes;
pub use ui::SESSION_IDLE;
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
        .with_state(state)
}
