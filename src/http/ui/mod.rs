//! The support UI (CONTRACT §5): server-rendered pages, sessions in the
//! database, a CSRF check on every POST, and headers that keep personal data
//! out of caches and other sites' frames.

mod account;
mod admin;
mod assets;
pub(crate) mod dashboards;
mod error;
mod evidence;
mod message;
mod numbers;
mod page;
mod reveal;
mod review;
mod search;
mod security;
mod session;
mod users;

use axum::Router;
use axum::routing::{get, post};
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::AppState;

/// Sessions end after this long without a request.
pub const SESSION_IDLE: Duration = Duration::hours(8);
pub const SESSION_COOKIE: &str = "smstrail_session";

pub fn router(state: &AppState) -> Router<AppState> {
    let sessions = SessionManagerLayer::new(state.store.session_store())
        .with_name(SESSION_COOKIE)
        .with_same_site(tower_sessions::cookie::SameSite::Strict)
        .with_http_only(true)
        .with_secure(state.config.uses_https())
        .with_expiry(Expiry::OnInactivity(SESSION_IDLE))
        // Without it the stored expiry is only pushed back when the session
        // changes, and an active agent would be logged out 8 hours after login.
        .with_always_save(true);
    let pages = Router::new()
        .route("/", get(search::search).post(search::search_post))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route("/setup", get(account::setup_page).post(account::setup))
        .route("/settings", get(account::settings))
        .route("/settings/timezone", post(account::set_timezone))
        .route("/settings/password", post(account::change_password))
        .route("/dashboards", get(dashboards::dashboards))
        .route("/messages/{id}", get(message::message))
        .route("/messages/{id}/reveal", post(message::reveal))
        .route("/messages/{id}/evidence", get(evidence::evidence))
        .merge(numbers::routes())
        .merge(users::routes())
        .merge(review::routes())
        .merge(admin::router())
        .layer(sessions)
        .layer(axum::middleware::from_fn(security::page_headers));
    Router::new()
        .merge(pages)
        .merge(assets::router().layer(axum::middleware::from_fn(security::asset_headers)))
}
