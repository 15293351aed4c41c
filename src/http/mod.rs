//! HTTP adapters: each feature owns its router; they are merged here.

mod api;
mod error;
mod health;
mod ui;
mod verifications;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::ApiError;
pub use ui::SESSION_IDLE;
pub use webhooks::MAX_BODY_BYTES;

use crate::app::AppState;

pub fn build_router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(api::router())
        .merge(verifications::router())
        .merge(health::router())
        .merge(ui::router(&state))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
