//! The HTTP server loop. `axum::serve` runs without timers, so a client that
//! sends its headers or body a byte at a time holds a connection (and up to
//! the body limit) forever. Here hyper's own header-read timeout, tower-http's
//! body deadline and a cap on open connections bound what one client can hold.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;

/// What one client may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the first byte of a request to its last header line.
    pub header_read_timeout: Duration,
    /// From the headers to the last byte of the body.
    pub body_read_timeout: Duration,
    /// Connections open at once; beyond it, new ones wait in the kernel's
    /// accept queue.
    pub max_connections: usize,
}

/// Serves `router` until `shutdown` completes, then stops accepting and lets
/// the connections finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        let service = ServiceBuilder::new()
            .layer(RequestBodyDeadlineLayer::new(limits.body_read_timeout))
            .layer(axum::Extension(ConnectInfo(peer)))
            .service(router.clone());
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Waits for a free slot, then for a connection. Accept errors (a client
/// that reset before we took it, or out of file descriptors) are logged and
/// retried after a pause rather than ending the server.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, peer, slot))
        }
        Err(error) => {
            tracing::warn!(%error, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}
