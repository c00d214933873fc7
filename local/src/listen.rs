//! Serving HTTP/1.1 connections, with the limits a front door needs and
//! `axum::serve` does not offer.
//!
//! - A client gets [`HEADER_READ_TIMEOUT`] to send its request head; a
//!   connection that trickles headers (or none) is closed instead of being
//!   held forever (slowloris). hyper implements the timeout; `axum::serve`
//!   has no knob for it, hence this accept loop.
//! - Each request carries its peer address (as axum's `ConnectInfo`), so the
//!   gateway can put the real source IP into `requestContext.identity`.
//! - Shutdown stops accepting, lets requests in flight finish (each
//!   connection is told to close after its current request), then returns.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tracing::{debug, trace};

/// How long a client may take to send a request's head (line and headers).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let http = http1(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather
                    // than spin, then keep serving.
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            trace!(error = %e, "TCP_NODELAY not set");
        }
        let connection = graceful.watch(connection(&http, tcp, peer, router.clone()));
        tokio::spawn(async move {
            // Timeouts and resets end here: the client went away or was too slow.
            if let Err(e) = connection.await {
                trace!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        debug!("requests still in flight at shutdown were cut off");
    }
    Ok(())
}

/// The HTTP/1.1 settings every connection is served with.
pub fn http1(header_read_timeout: Duration) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    http
}

/// One connection from `peer` over `io`, served by `router` with `http`'s
/// settings, each request carrying `ConnectInfo(peer)`. [`serve`] runs one
/// per accepted socket; the fuzz target runs one over an in-memory pipe.
pub fn connection<I>(
    http: &http1::Builder,
    io: I,
    peer: SocketAddr,
    router: Router,
) -> impl GracefulConnection<Error = hyper::Error> + Send + 'static
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
}

/// The peer address a request came from (set by [`serve`]).
pub fn peer_of<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
