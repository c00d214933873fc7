//! The Lambda runtime as both functions run it: every line an invocation
//! causes carries its ids, the runtime's own lines included.
//!
//! The handler sets the invocation's ids around its own work (with API
//! Gateway's request id, which only the event holds), but the runtime logs
//! outside the handler too: an event that does not deserialize, a Runtime
//! API call that fails. [`InvocationIds`] is a layer over the runtime's own
//! service that makes the Lambda request id and trace id current for all of
//! it:
//!
//! ```no_run
//! # async fn run() -> Result<(), lambda_runtime::Error> {
//! use lambda_runtime::{Diagnostic, LambdaEvent, Runtime, service_fn};
//!
//! Runtime::new(service_fn(|_: LambdaEvent<serde_json::Value>| async {
//!     Ok::<_, Diagnostic>(())
//! }))
//! .layer(telemetry::runtime::InvocationIds)
//! .run()
//! .await
//! # }
//! ```
//!
//! The runtime's panic layer also logs every error a handler returns, at
//! ERROR and outside any invocation; for the authorizer each refusal is
//! such an error, so that line is turned off ([`crate::log::init`]) and
//! faults are logged by the functions themselves.

use std::task::{Context, Poll};

use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use tokio::task::futures::TaskLocalFuture;

use crate::Invocation;

/// The layer (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct InvocationIds;

impl<S> Layer<S> for InvocationIds {
    type Service = WithInvocationIds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithInvocationIds { inner }
    }
}

/// The runtime's service with the invocation's ids current.
#[derive(Debug, Clone)]
pub struct WithInvocationIds<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for WithInvocationIds<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Invocation, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: LambdaInvocation) -> Self::Future {
        let ids = Invocation {
            request_id: request.context.request_id.clone(),
            api_request_id: None,
            trace_id: request.context.xray_trace_id.clone(),
        };
        // The runtime reads the event in `call` itself (and logs there if
        // it cannot), then in the future it returns.
        let future = ids.clone().sync_scope(|| self.inner.call(request));
        ids.scoped(future)
    }
}
