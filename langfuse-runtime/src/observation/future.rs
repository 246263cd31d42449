//! A future that keeps its observation current on every poll, ends it on completion, records a
//! panic as ERROR, and marks the observation cancelled when dropped before completion.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::{Observation, ObservationRef};
use crate::context::{Exchanged, TraceContext};
use crate::kind::Level;

/// Status message of an observation whose future was dropped before it completed.
pub(crate) const CANCELLED_MESSAGE: &str = "cancelled: the future was dropped before it completed";

/// Called with the output just before the observation ends (the macro records output here).
pub trait Finish<T> {
    /// Records `output` on `observation`.
    fn finish(self, observation: &ObservationRef, output: &T);

    /// Whether a panic in the future is recorded as an escaping exception (level ERROR, status
    /// `"panic: message"`, an `exception` event: the manual API) rather than as `#[observe]`
    /// records it (level ERROR, the message as status).
    #[doc(hidden)]
    const PANIC_AS_EXCEPTION: bool = true;

    /// Records `output` and ends the observation. The default calls [`Finish::finish`] and
    /// then ends it; an implementation can do both in one step.
    fn finish_and_end(self, observation: Observation, output: &T)
    where
        Self: Sized,
    {
        self.finish(&observation, output);
        observation.end();
    }
}

/// Records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFinish;

impl<T> Finish<T> for NoFinish {
    fn finish(self, _: &ObservationRef, _: &T) {}
}

impl<T, F: FnOnce(&ObservationRef, &T)> Finish<T> for F {
    fn finish(self, observation: &ObservationRef, output: &T) {
        self(observation, output)
    }
}

pin_project_lite::pin_project! {
    /// Returned by [`Observation::instrument`].
    ///
    /// ```
    /// # async fn fetch() -> u32 { 7 }
    /// # async fn demo() {
    /// let n = langfuse_runtime::span("fetch").start().instrument(fetch()).await;
    /// assert_eq!(n, 7);
    /// # }
    /// ```
    pub struct Observed<F, K = NoFinish> {
        #[pin]
        future: F,
        // The observation, moved into the context its polls make current: exchanged in place
        // with the thread's on every poll, so polling touches no reference count.
        observation: Option<TraceContext>,
        finish: Option<K>,
    }

    impl<F, K> PinnedDrop for Observed<F, K> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(observation) = this.observation.take().map(Observation::from_context) {
                observation.set_level(Level::Warning).set_status_message(CANCELLED_MESSAGE);
                // Dropping the inner future happens after this, outside the context; ending
                // here keeps the observation's end time at the moment of cancellation.
                drop(observation);
            }
        }
    }
}

impl<F: Future> Observed<F, NoFinish> {
    pub(crate) fn new(observation: Observation, future: F) -> Self {
        Observed { future, observation: Some(observation.into_context()), finish: Some(NoFinish) }
    }
}

impl<F: Future, K: Finish<F::Output>> Observed<F, K> {
    /// Like [`Observation::instrument`], with `finish` called on the output before the end.
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
    /// use langfuse_runtime::{Observed, ObservationRef, span};
    /// let future = Observed::with_finish(span("fetch").start(), async { 7 }, |obs: &ObservationRef, out: &i32| {
    ///     obs.set_output(out);
    /// });
    /// assert_eq!(futures::executor::block_on(future), 7);
    /// assert_eq!(records()[0].output.as_ref().map(|p| p.as_str()), Some("7"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn with_finish(observation: Observation, future: F, finish: K) -> Self {
        Observed { future, observation: Some(observation.into_context()), finish: Some(finish) }
    }
}

impl<F: Future, K: Finish<F::Output>> Future for Observed<F, K> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(context) = this.observation.as_mut() else {
            // Polled after completion: forward, like any other future would.
            return this.future.poll(cx);
        };
        let polled = {
            let _current = Exchanged::new(context);
            let future = this.future;
            catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                // The observation is rebuilt from the frame taken out of the context in place,
                // not from the whole context moved out of the `Option`: a 40-byte value written
                // and reread in pieces of different widths stalls on store forwarding (the same
                // fix as the sync call's, `TraceContext::take_live_frame`).
                let observation = match context.take_live_frame() {
                    Some(frame) => Observation::from_parts(frame, context.trace_attributes.take()),
                    None => Observation::from_context(std::mem::take(context)),
                };
                *this.observation = None;
                if let Some(finish) = this.finish.take() {
                    finish.finish_and_end(observation, &output);
                }
                Poll::Ready(output)
            }
            Err(payload) => {
                if let Some(observation) = this.observation.take().map(Observation::from_context) {
                    if K::PANIC_AS_EXCEPTION {
                        observation.end_with(|r| super::panics::record_payload(r, &*payload));
                    } else {
                        observation.set_error(panic_message(&*payload));
                    }
                }
                resume_unwind(payload)
            }
        }
    }
}

/// The text of a panic payload (`&str` or `String`), else a generic marker.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}
