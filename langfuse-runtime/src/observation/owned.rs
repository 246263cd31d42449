//! The owning handle: an observation that ends when dropped, or records a panic that unwinds
//! through it.

use std::sync::Arc;

use super::{ObservationRef, Observed, panics};
use crate::context::{Parent, TraceContext};
use crate::frame::Frame;
use crate::record::ObservationRecord;
use crate::state::Tracing;

/// An open observation that ends when dropped (or at [`Observation::end`]).
///
/// ```
/// use langfuse_runtime::{generation, Usage};
/// let g = generation("chat").model("gpt-4o").input(&"What is Langfuse?").start();
/// g.set_output(&"An observability tool").set_usage_details(&Usage::new(15, 60));
/// g.end();
/// ```
#[derive(Default)]
pub struct Observation {
    inner: ObservationRef,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::ops::Deref for Observation {
    type Target = ObservationRef;
    fn deref(&self) -> &ObservationRef {
        &self.inner
    }
}

impl Observation {
    pub(crate) fn from_ref(inner: ObservationRef) -> Self {
        Self { inner }
    }

    /// Ends the observation now, with `f` applied to its record first.
    ///
    /// Inlined: called out of line, the handle the caller had just taken out of its context
    /// was passed through memory and reloaded 16 bytes at a time, a store-forwarding stall
    /// that was a quarter of this function's samples (perf annotate, row A).
    #[inline(always)]
    pub(crate) fn end_with(self, f: impl FnOnce(&mut ObservationRecord)) {
        let inner = self.into_inner();
        if let Tracing::Live(frame) = inner.handle {
            Frame::finish(frame, f);
        }
    }

    /// The handle, without ending the observation.
    fn into_inner(mut self) -> ObservationRef {
        let inner = std::mem::take(&mut self.inner);
        // What is left is the empty default: skip the drop glue.
        std::mem::forget(self);
        inner
    }

    /// A non-owning handle to this observation.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
    /// # #[derive(Clone, Default)]
    /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
    /// # impl SpanExporter for Sink {
    /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    /// #         self.0.lock().unwrap().extend_from_slice(batch);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let sink = Sink::default();
    /// # let exported = sink.clone();
    /// # let langfuse = langfuse_runtime::Config::builder()
    /// #     .env_source(|_| None)
    /// #     .exporter(move || sink.clone())
    /// #     .init()?;
    /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
    /// let step = langfuse_runtime::span("step").start();
    /// let handle = step.handle(); // cheap to clone, does not end the observation
    /// std::thread::spawn(move || { handle.set_output(&"from a worker"); }).join().unwrap();
    /// drop(step);
    /// assert_eq!(records()[0].output.as_ref().map(|p| p.as_str()), Some("from a worker"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn handle(&self) -> ObservationRef {
        self.inner.clone()
    }

    /// Moves the handle into a context (no reference counting); [`Observation::from_context`]
    /// takes it back.
    pub(crate) fn into_context(self) -> TraceContext {
        let inner = self.into_inner();
        TraceContext {
            parent: Parent::Ours(inner.handle),
            trace_attributes: inner.trace_attributes,
        }
    }

    /// The recorded observation of `frame`.
    #[inline(always)]
    pub(crate) fn from_parts(
        frame: Arc<Frame>,
        trace_attributes: Option<Arc<crate::TraceAttributes>>,
    ) -> Self {
        Self { inner: ObservationRef { handle: Tracing::Live(frame), trace_attributes } }
    }

    /// The observation whose handle [`Observation::into_context`] moved into `context`.
    pub(crate) fn from_context(context: TraceContext) -> Self {
        let handle = context.parent.into_handle();
        Self { inner: ObservationRef { handle, trace_attributes: context.trace_attributes } }
    }

    /// Ends the observation now.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
    /// # #[derive(Clone, Default)]
    /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
    /// # impl SpanExporter for Sink {
    /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    /// #         self.0.lock().unwrap().extend_from_slice(batch);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let sink = Sink::default();
    /// # let exported = sink.clone();
    /// # let langfuse = langfuse_runtime::Config::builder()
    /// #     .env_source(|_| None)
    /// #     .exporter(move || sink.clone())
    /// #     .init()?;
    /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
    /// let step = langfuse_runtime::span("step").start();
    /// step.end(); // the same as dropping it
    /// assert_eq!(records().len(), 1);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn end(self) {
        // Drop does it.
    }

    /// Runs `future` with this observation current on every poll and ends the observation
    /// when it completes — or marks it cancelled if the future is dropped first.
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
    /// # #[derive(Clone, Default)]
    /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
    /// # impl SpanExporter for Sink {
    /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    /// #         self.0.lock().unwrap().extend_from_slice(batch);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # let sink = Sink::default();
    /// # let exported = sink.clone();
    /// # let langfuse = langfuse_runtime::Config::builder()
    /// #     .env_source(|_| None)
    /// #     .exporter(move || sink.clone())
    /// #     .init()?;
    /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
    /// use langfuse_runtime::{current_observation, span};
    /// let obs = span("fetch").start();
    /// let id = obs.id();
    /// let future = obs.instrument(async { current_observation().id() });
    /// assert_eq!(futures::executor::block_on(future), id); // current while polled
    /// assert_eq!(records()[0].id, id.unwrap()); // ended on completion
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn instrument<F: std::future::Future>(self, future: F) -> Observed<F> {
        Observed::new(self, future)
    }
}

/// Dropped while a panic unwinds through its scope, the observation records that panic
/// (see [`ObservationRef::run`]) unless it was already marked failed.
impl Drop for Observation {
    fn drop(&mut self) {
        if let Tracing::Live(frame) = std::mem::take(&mut self.inner.handle) {
            if std::thread::panicking() {
                Frame::finish(frame, panics::record_unwinding);
            } else {
                Frame::finish(frame, |_| {});
            }
        }
    }
}
