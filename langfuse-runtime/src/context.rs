//! The current observation: a thread-local slot that observed code makes current for its body,
//! that observed futures restore on every poll, and that the spawn helpers carry to new tasks
//! and threads.
//!
//! A [`TraceContext`] is two pointers wide. Making one current is a thread-local swap: no allocation,
//! no lock. Inside an unsampled trace the context holds the ids inline, so nested calls see
//! "not sampled" and skip all work without touching the heap.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

#[cfg(feature = "opentelemetry")]
use crate::bridge::opentelemetry::context as otel;
use crate::frame::{Frame, Handle};
use crate::ids::{ObservationId, TraceId};
use crate::record::TraceAttributes;
use crate::state::{SpanIds, Tracing};

/// A snapshot of "where we are" in a trace: the current observation (if any) and the trace
/// attributes propagated to observations started under it.
///
/// Take it with [`TraceContext::current`] and re-establish it elsewhere with [`TraceContext::attach`],
/// [`TraceContext::run`], [`TraceContext::wrap`] or the [`spawn`](crate::spawn) helpers.
///
/// ```
/// use langfuse_runtime::TraceContext;
/// let cx = TraceContext::current();
/// let handle = std::thread::spawn(move || {
///     let _guard = cx.attach();
///     // observations started here nest under the caller's observation
/// });
/// handle.join().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct TraceContext {
    pub(crate) parent: Parent,
    pub(crate) trace_attributes: Option<Arc<TraceAttributes>>,
}

/// What new observations become children of.
#[derive(Clone)]
pub(crate) enum Parent {
    /// One of ours: none (a new observation starts a new trace), an unsampled one (children
    /// skip all work but keep the ids) or a live one.
    Ours(Handle),
    /// A parent from elsewhere (W3C traceparent, explicit trace id).
    Remote(RemoteParent),
}

impl Default for Parent {
    fn default() -> Self {
        Parent::Ours(Tracing::Off)
    }
}

impl Parent {
    /// The handle of the observation this parent is, if it is one of ours.
    pub(crate) fn into_handle(self) -> Handle {
        match self {
            Parent::Ours(handle) => handle,
            Parent::Remote(_) => Tracing::Off,
        }
    }
}

/// A parent span of another process or an explicit trace context.
#[derive(Clone, Copy)]
pub(crate) struct RemoteParent {
    pub(crate) ids: SpanIds,
    pub(crate) sampled: bool,
    /// Whether observations under it are marked `langfuse.internal.as_root`.
    pub(crate) as_root: bool,
}

impl std::fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TraceContext");
        if let Some((trace, id)) = self.ids() {
            d.field("trace_id", &trace).field("observation_id", &id);
        }
        d.field("sampled", &self.is_recording()).finish()
    }
}

thread_local! {
    static CURRENT: RefCell<TraceContext> = const { RefCell::new(TraceContext::EMPTY) };
}

impl TraceContext {
    /// The live frame this context's parent is, taken out (the parent is left empty).
    #[inline(always)]
    pub(crate) fn take_live_frame(&mut self) -> Option<Arc<Frame>> {
        match &mut self.parent {
            Parent::Ours(handle @ Tracing::Live(_)) => match std::mem::take(handle) {
                Tracing::Live(frame) => Some(frame),
                _ => None,
            },
            _ => None,
        }
    }

    /// No observation, no trace attributes.
    pub(crate) const EMPTY: TraceContext =
        TraceContext { parent: Parent::Ours(Tracing::Off), trace_attributes: None };

    /// The context of the calling thread (empty outside any observation).
    ///
    /// ```
    /// use langfuse_runtime::TraceContext;
    /// // Outside any observation the context is empty.
    /// assert_eq!(TraceContext::current().ids(), None);
    /// ```
    pub fn current() -> Self {
        with_current(TraceContext::clone)
    }

    /// The trace id and observation id new children would get as parent.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, TraceContext, TraceId};
    /// let (trace, parent) = (TraceId::from_seed("order-42"), ObservationId::from_seed("step"));
    /// let cx = TraceContext::from_trace_id(trace, Some(parent));
    /// assert_eq!(cx.ids(), Some((trace, parent)));
    /// ```
    pub fn ids(&self) -> Option<(TraceId, ObservationId)> {
        match &self.parent {
            Parent::Ours(Tracing::Off) => None,
            Parent::Ours(Tracing::Live(frame)) => Some((frame.trace_id, frame.id)),
            Parent::Ours(Tracing::Unsampled(ids)) | Parent::Remote(RemoteParent { ids, .. }) => {
                Some((ids.trace_id, ids.id))
            }
        }
    }

    /// The current trace id, if inside a trace.
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// assert_eq!(cx.trace_id(), Some(TraceId::from_seed("order-42")));
    /// assert_eq!(TraceContext::default().trace_id(), None);
    /// ```
    pub fn trace_id(&self) -> Option<TraceId> {
        self.ids().map(|(t, _)| t)
    }

    /// The current observation id, if inside a trace.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, TraceContext, TraceId};
    /// let parent = ObservationId::from_seed("step");
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), Some(parent));
    /// assert_eq!(cx.observation_id(), Some(parent));
    /// ```
    pub fn observation_id(&self) -> Option<ObservationId> {
        self.ids().map(|(_, o)| o)
    }

    /// Whether observations started here are recorded (false outside any trace).
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// assert!(!TraceContext::default().is_recording());
    /// assert!(TraceContext::from_trace_id(TraceId::from_seed("order-42"), None).is_recording());
    /// ```
    pub fn is_recording(&self) -> bool {
        match &self.parent {
            Parent::Ours(handle) => handle.is_live(),
            Parent::Remote(remote) => remote.sampled,
        }
    }

    /// A context that continues a trace started elsewhere (another service, a stored trace id,
    /// [`TraceId::from_seed`]): Python's explicit `trace_context`.
    ///
    /// Observations started under it — manual ones through [`ObservationBuilder::parent`] or
    /// [`TraceContext::run`], `#[observe]` calls through [`TraceContext::run`] — become children
    /// of `parent` (or of a fresh synthetic id) and carry `langfuse.internal.as_root`; their
    /// own children nest as usual. Trace attributes propagated where the context is made
    /// apply to them, as they do in Python.
    ///
    /// ```
    /// use langfuse_runtime::{observe, ObservationId, TraceContext, TraceId};
    /// #[observe]
    /// fn handle(order: u32) -> u32 { order }
    ///
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// cx.run(|| handle(42)); // `handle`'s observation is in trace `from_seed("order-42")`
    /// ```
    ///
    /// [`ObservationBuilder::parent`]: crate::ObservationBuilder::parent
    pub fn from_trace_id(trace_id: TraceId, parent: Option<ObservationId>) -> Self {
        Self {
            parent: Parent::Remote(RemoteParent {
                ids: SpanIds { trace_id, id: parent.unwrap_or_else(ObservationId::random) },
                sampled: true,
                as_root: true,
            }),
            trace_attributes: with_current(|cx| cx.trace_attributes.clone()),
        }
    }

    /// Makes this context current until the guard is dropped.
    ///
    /// Guards must be dropped in reverse order of creation on the same thread; use
    /// [`TraceContext::wrap`] for futures, never a guard held across `.await`.
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// {
    ///     let _guard = cx.attach();
    ///     assert_eq!(TraceContext::current().trace_id(), Some(TraceId::from_seed("order-42")));
    /// }
    /// assert_eq!(TraceContext::current().trace_id(), None);
    /// ```
    #[must_use = "the context is current only while the guard lives"]
    pub fn attach(mut self) -> ContextGuard {
        let exchanged = exchange_current(&mut self);
        // `self` now holds the caller's context, restored when the guard drops.
        ContextGuard { previous: self, exchanged, _not_send: std::marker::PhantomData }
    }

    /// Runs `f` with this context current.
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// let inside = cx.run(|| TraceContext::current().trace_id());
    /// assert_eq!(inside, Some(TraceId::from_seed("order-42")));
    /// ```
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.attach();
        f()
    }

    /// Wraps a future so that this context is current whenever it is polled.
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// let future = cx.wrap(async { TraceContext::current().trace_id() });
    /// assert_eq!(futures::executor::block_on(future), Some(TraceId::from_seed("order-42")));
    /// ```
    pub fn wrap<F: Future>(self, future: F) -> WithContext<F> {
        WithContext { future, context: self }
    }

    pub(crate) fn frame(&self) -> Option<&Arc<Frame>> {
        match &self.parent {
            Parent::Ours(Tracing::Live(frame)) => Some(frame),
            _ => None,
        }
    }
}

/// Calls `f` with the current context; an empty one while the thread's storage is being torn
/// down (observed code running in another thread-local's destructor must not panic).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&TraceContext) -> R) -> R {
    let mut f = Some(f);
    let done = CURRENT.try_with(|c| {
        let cx = c.try_borrow().ok()?;
        f.take().map(|f| f(&cx))
    });
    match (done, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(&TraceContext::default()),
        (_, None) => unreachable!("`f` is taken only when it runs and returns"),
    }
}

/// Whether the calling thread is inside a trace that is not sampled (nested calls skip all work).
#[inline(always)]
pub(crate) fn in_unsampled_trace() -> bool {
    // `try_with`: observed code may run in another thread-local's destructor, after this
    // slot is gone; `with` would abort the process there.
    CURRENT
        .try_with(|c| {
            matches!(
                c.try_borrow().map(|c| matches!(c.parent, Parent::Ours(Tracing::Unsampled(_)))),
                Ok(true)
            )
        })
        .unwrap_or(false)
}

/// Exchanges `cx` with the thread's current context in place: no clone, no reference counting,
/// nothing moved but the two slots. False, with nothing exchanged, while the thread's storage
/// is torn down or the slot is in use.
#[inline]
pub(crate) fn exchange_current(cx: &mut TraceContext) -> bool {
    CURRENT
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut slot) => {
                std::mem::swap(&mut *slot, cx);
                // OpenTelemetry's current span follows ours (after our slot is released).
                #[cfg(feature = "opentelemetry")]
                {
                    let (entered, left) = (otel::ids_of(&slot), otel::ids_of(cx));
                    drop(slot);
                    otel::on_exchange(entered, left);
                }
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// Keeps a borrowed context current until dropped, then puts it back where it came from
/// (panic-safe: the exchange is undone during unwinding too).
pub(crate) struct Exchanged<'a> {
    cx: &'a mut TraceContext,
    exchanged: bool,
}

impl<'a> Exchanged<'a> {
    #[inline]
    pub(crate) fn new(cx: &'a mut TraceContext) -> Self {
        let exchanged = exchange_current(cx);
        Exchanged { cx, exchanged }
    }
}

impl Drop for Exchanged<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.exchanged {
            exchange_current(self.cx);
        }
    }
}

/// Restores the previous context when dropped. Not `Send`: it belongs to the thread it was made on.
///
/// ```
/// use langfuse_runtime::{TraceContext, TraceId};
/// let trace = TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736).unwrap();
/// let guard = TraceContext::from_trace_id(trace, None).attach();
/// assert_eq!(langfuse_runtime::current_trace_id(), Some(trace));
/// drop(guard);
/// assert_eq!(langfuse_runtime::current_trace_id(), None);
/// ```
pub struct ContextGuard {
    previous: TraceContext,
    /// False when the context could not be made current (thread-local storage re-entered or
    /// torn down): then there is nothing to restore either.
    exchanged: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if self.exchanged {
            exchange_current(&mut self.previous);
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with a [`TraceContext`] current on every poll (see [`TraceContext::wrap`]).
    ///
    /// ```
    /// use langfuse_runtime::{TraceContext, TraceId};
    /// # async fn demo() {
    /// let trace = TraceId::random();
    /// let seen = TraceContext::from_trace_id(trace, None)
    ///     .wrap(async { langfuse_runtime::current_trace_id() })
    ///     .await;
    /// assert_eq!(seen, Some(trace));
    /// # }
    /// ```
    pub struct WithContext<F> {
        #[pin]
        future: F,
        context: TraceContext,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _current = Exchanged::new(this.context);
        this.future.poll(cx)
    }
}

/// Extension methods that carry the current context into futures.
///
/// ```
/// use langfuse_runtime::FutureContextExt as _;
/// # async fn work() {}
/// # async fn demo() {
/// // In a tokio app: tokio::spawn(work().in_current_context());
/// let future = work().in_current_context();
/// future.await;
/// # }
/// ```
pub trait FutureContextExt: Future + Sized {
    /// Captures the caller's context now and makes it current on every poll.
    ///
    /// ```
    /// use langfuse_runtime::{FutureContextExt as _, TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// let future = cx.run(|| async { TraceContext::current().trace_id() }.in_current_context());
    /// // Polled outside `run`, the future still sees the context it was made in.
    /// assert_eq!(futures::executor::block_on(future), Some(TraceId::from_seed("order-42")));
    /// ```
    fn in_current_context(self) -> WithContext<Self> {
        TraceContext::current().wrap(self)
    }

    /// Makes `context` current on every poll.
    ///
    /// ```
    /// use langfuse_runtime::{FutureContextExt as _, TraceContext, TraceId};
    /// let cx = TraceContext::from_trace_id(TraceId::from_seed("order-42"), None);
    /// let future = async { TraceContext::current().trace_id() }.with_langfuse_context(cx);
    /// assert_eq!(futures::executor::block_on(future), Some(TraceId::from_seed("order-42")));
    /// ```
    fn with_langfuse_context(self, context: TraceContext) -> WithContext<Self> {
        context.wrap(self)
    }
}

impl<F: Future> FutureContextExt for F {}

/// Runs `f` on a new OS thread with the caller's context current, like `std::thread::spawn`.
///
/// ```
/// use langfuse_runtime::{TraceContext, TraceId};
/// let trace = TraceId::random();
/// let seen = TraceContext::from_trace_id(trace, None)
///     .run(|| langfuse_runtime::spawn_thread(langfuse_runtime::current_trace_id))
///     .join()
///     .unwrap();
/// assert_eq!(seen, Some(trace));
/// ```
pub fn spawn_thread<F, R>(f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let cx = TraceContext::current();
    std::thread::spawn(move || cx.run(f))
}

/// Wraps a closure so it runs with the caller's context, for any executor or thread pool
/// (`rayon::spawn`, `tokio::task::spawn_blocking`, …).
///
/// ```
/// use langfuse_runtime::{TraceContext, TraceId};
/// let trace = TraceId::random();
/// let job = TraceContext::from_trace_id(trace, None).run(|| langfuse_runtime::bind(langfuse_runtime::current_trace_id));
/// // Run anywhere, later: the context comes along.
/// assert_eq!(std::thread::spawn(job).join().unwrap(), Some(trace));
/// ```
pub fn bind<F, R>(f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    let cx = TraceContext::current();
    move || cx.run(f)
}
