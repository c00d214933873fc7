//! Serving HTTP/1.1 connections, with the limits a front door needs and
//! `axum::serve` does not offer.
//!
//! - A client gets [`HEADER_READ_TIMEOUT`] to send its request head; a
//!   connection that trickles headers (or none) is closed instead of being
//!   held forever (slowloris). hyper implements the timeout; `axum::serve`
//!   has no knob for it, hence this accept loop.
//! - Once the head is read, a body that stops arriving is timed out too:
//!   when no byte of it has come for [`BODY_IDLE_TIMEOUT`], the request is
//!   answered 408 and the connection closed ([`IdleTimeoutBody`]), whoever
//!   was reading it. hyper has no such timeout at all.
//! - Each request carries its peer address (as axum's `ConnectInfo`), so the
//!   gateway can put the real source IP into `requestContext.identity`.
//! - Shutdown stops accepting, lets requests in flight finish (each
//!   connection is told to close after its current request), then returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::time::Sleep;
use tower::ServiceExt;
use tracing::{debug, trace};

/// How long a client may take to send a request's head (line and headers).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may go without a byte arriving.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` with `http`'s settings until `shutdown`
/// resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: Http1,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
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
#[derive(Debug, Clone)]
pub struct Http1 {
    builder: http1::Builder,
    body_idle_timeout: Duration,
}

impl Http1 {
    /// How long a request body may go without a byte (default
    /// [`BODY_IDLE_TIMEOUT`]).
    pub fn body_idle_timeout(mut self, timeout: Duration) -> Self {
        self.body_idle_timeout = timeout;
        self
    }
}

/// The settings with this header-read timeout and the default body one.
pub fn http1(header_read_timeout: Duration) -> Http1 {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    Http1 {
        builder,
        body_idle_timeout: BODY_IDLE_TIMEOUT,
    }
}

/// One connection from `peer` over `io`, served by `router` with `http`'s
/// settings, each request carrying `ConnectInfo(peer)` and its body timed
/// out when idle. [`serve`] runs one per accepted socket; the fuzz target
/// runs one over an in-memory pipe.
pub fn connection<I>(
    http: &Http1,
    io: I,
    peer: SocketAddr,
    router: Router,
) -> impl GracefulConnection<Error = hyper::Error> + Send + 'static
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let idle = http.body_idle_timeout;
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        let timed_out = Arc::new(AtomicBool::new(false));
        let body = IdleTimeoutBody::new(body, idle, Arc::clone(&timed_out));
        let answer = router
            .clone()
            .oneshot(http::Request::from_parts(parts, body));
        async move {
            let response = answer.await?;
            // Whatever the handler made of the failed read (a 413, a 400),
            // the client gets a 408 and the connection is closed.
            Ok::<_, Infallible>(if timed_out.load(Ordering::Relaxed) {
                request_timeout(idle)
            } else {
                response
            })
        }
    });
    http.builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
}

/// 408, `Connection: close` (the rest of the body is never read).
fn request_timeout(idle: Duration) -> http::Response<axum::body::Body> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Request Timeout",
        "status": 408,
        "detail": format!("no byte of the request body arrived for {} ms", idle.as_millis()),
    });
    let mut response = http::Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// The body stopped arriving.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no byte of the request body arrived for {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// A request body that fails with [`BodyTimedOut`] when no byte of it has
/// arrived for its timeout (the clock restarts with every frame), and
/// records that it did for the connection to answer 408.
#[derive(Debug)]
pub struct IdleTimeoutBody<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl<B> IdleTimeoutBody<B> {
    /// `inner`, timed out after `timeout` without a frame; `timed_out` is
    /// set when it is.
    pub fn new(inner: B, timeout: Duration, timed_out: Arc<AtomicBool>) -> Self {
        IdleTimeoutBody {
            inner,
            timeout,
            sleep: None,
            timed_out,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // A byte came (or the end): the clock starts again.
                this.sleep = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The peer address a request came from (set by [`serve`]).
pub fn peer_of<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
