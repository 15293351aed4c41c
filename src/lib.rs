//! smstrail: receives SMS providers' delivery callbacks, verifies and
//! normalizes them, and keeps every one exactly once in an append-only
//! timeline per message.
//!
//! Layers: `http` (thin adapters) → `ingest` (the callback pipeline) →
//! `providers` (one module per wire format) and `domain` (pure rules) →
//! `store` (the only place with SQL). `usecase` holds the rules the CLI and
//! the web pages share.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod providers;
pub mod reconcile;
pub mod server;
pub mod store;
pub mod usecase;

use std::future::Future;

use tokio::net::TcpListener;

pub use app::AppState;
pub use http::build_router;

/// Serves the app on `listener` until `shutdown` completes, then stops
/// accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = server::Limits {
        header_read_timeout: state.config.header_read_timeout,
        body_read_timeout: state.config.body_read_timeout,
        max_connections: state.config.max_connections,
    };
    server::serve(listener, build_router(state), limits, shutdown).await
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
