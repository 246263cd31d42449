//! A tower [`Layer`] that runs every request's handler in the trace its headers continue
//! (feature `tower`): the one line an axum service needs to join its callers' traces.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::http::{continue_headers, continue_headers_and_baggage};
use crate::context::WithContext;

/// Runs each request's service call in the context [`continue_headers`] returns for its
/// headers (or [`continue_headers_and_baggage`], after [`ContinueTraceLayer::with_baggage`]):
/// the caller's trace when it sent a valid `traceparent`, the first observation of the
/// handler marked as a continued root; otherwise a new trace.
///
/// ```
/// use langfuse_runtime::{observe, w3c::ContinueTraceLayer};
///
/// #[observe]
/// async fn answer() -> &'static str {
///     "42"
/// }
///
/// let app: axum::Router = axum::Router::new()
///     .route("/answer", axum::routing::get(answer))
///     .layer(ContinueTraceLayer::new());
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ContinueTraceLayer {
    baggage: bool,
}

impl ContinueTraceLayer {
    /// Continues the callers' traces; baggage is not read.
    ///
    /// ```
    /// let layer = langfuse_runtime::w3c::ContinueTraceLayer::new();
    /// # let _ = layer;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Also takes the trace attributes (user, session, tags, …) callers send as `langfuse_*`
    /// baggage members. Only for services whose callers are trusted: they choose the ids.
    ///
    /// ```
    /// let layer = langfuse_runtime::w3c::ContinueTraceLayer::new().with_baggage();
    /// # let _ = layer;
    /// ```
    pub fn with_baggage(mut self) -> Self {
        self.baggage = true;
        self
    }
}

impl<S> Layer<S> for ContinueTraceLayer {
    type Service = ContinueTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContinueTrace { inner, baggage: self.baggage }
    }
}

/// The service [`ContinueTraceLayer`] wraps around another.
///
/// ```
/// use langfuse_runtime::w3c::{ContinueTrace, ContinueTraceLayer};
/// use tower_layer::Layer as _;
/// let service: ContinueTrace<()> = ContinueTraceLayer::new().layer(());
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct ContinueTrace<S> {
    inner: S,
    baggage: bool,
}

impl<S, B> Service<http::Request<B>> for ContinueTrace<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let cx = if self.baggage {
            continue_headers_and_baggage(request.headers())
        } else {
            continue_headers(request.headers())
        };
        // The call itself may start work before returning its future: in the context too.
        let future = cx.clone().run(|| self.inner.call(request));
        cx.wrap(future)
    }
}
