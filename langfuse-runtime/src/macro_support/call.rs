//! One observed call: the start decision, making the observation current, ending it with the
//! output or the panic, and the future of an observed async call.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::{CallSite, Output, Start};
use crate::capture::Json;
use crate::context::{
    Exchanged, Parent, TraceContext, WithContext, exchange_current, with_current,
};
use crate::frame::Frame;
use crate::observation::fields::Field;
use crate::observation::{Finish, Observation, ObservationRef, Observed, panic_message};
use crate::record::ObservationRecord;
use crate::start::{CallSeed, start_with};
use crate::state::Tracing;

/// One call's observation, before it is made current.
#[derive(Default)]
pub struct Span(pub(super) State);

/// What one call's observation is: off (nothing records, or the call runs inside an unsampled
/// trace: nothing to do at all), an unsampled root (its context is made current so nested
/// calls skip too), or recorded.
pub(super) type State = Tracing<LiveCall, TraceContext>;

/// A recorded call.
pub(super) struct LiveCall {
    pub(super) observation: Observation,
    pub(super) capture_output: bool,
}

/// Starts the observation of one call (not yet current): for async functions and functions
/// returning futures or streams.
#[inline(always)]
pub fn start<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> Span {
    if crate::client::nothing_records() || crate::context::in_unsampled_trace() {
        return Span(Tracing::Off);
    }
    start_recording(site, capture)
}

#[inline(never)]
fn start_recording<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> Span {
    Span(begin(site, capture))
}

/// Starts the observation of a sync call and makes it current until the call returns.
#[inline(always)]
pub fn enter<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> Entered {
    if crate::client::nothing_records() || crate::context::in_unsampled_trace() {
        return Entered::OFF;
    }
    enter_recording(site, capture)
}

#[inline(never)]
fn enter_recording<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> Entered {
    let (context, capture_output) = match begin(site, capture) {
        // The handle moves into a context (no reference-count traffic), that context is
        // exchanged in place with the thread's, and both come back when the call returns.
        Tracing::Live(LiveCall { observation, capture_output }) => {
            (observation.into_context(), Some(capture_output))
        }
        Tracing::Unsampled(cx) => (cx, None),
        Tracing::Off => return Entered::OFF,
    };
    let mut entered = Entered { context, attached: false, capture_output };
    entered.attached = exchange_current(&mut entered.context);
    if !entered.attached && entered.capture_output.is_none() {
        // An unsampled context that could not be made current (thread-local storage torn
        // down or in use): nothing to do; dropping `entered` releases the context, which
        // `run` would otherwise skip on its no-drop-glue path.
        return Entered::OFF;
    }
    entered
}

/// The metadata a call captured, under its static key names (no key is allocated). Out of
/// line: inlined, this loop that most calls skip cost the common path 8 instructions of
/// register spills (row A, callgrind).
#[inline(never)]
fn add_metadata(r: &mut ObservationRecord, metadata: Vec<(&'static str, Json)>) {
    for (key, value) in metadata {
        r.metadata_mut().insert_key(std::borrow::Cow::Borrowed(key), value.into_json_text());
    }
}

/// Starts the observation of one call: ids, start time, input and metadata.
#[inline(always)]
fn begin<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> State {
    let started = with_current(|cx| {
        if let Parent::Ours(Tracing::Unsampled(_)) = cx.parent {
            return None;
        }
        let seed = CallSeed {
            name: site.name,
            observation_type: site.observation_type,
            level: site.level,
            start_unix_nanos: crate::clock::now_unix_nanos(),
        };
        Some((start_with(cx, None, seed), cx.trace_attributes.clone()))
    });
    let Some((begun, trace_attributes)) = started else {
        return Tracing::Off;
    };
    match begun {
        Tracing::Off => Tracing::Off,
        Tracing::Unsampled(ids) => Tracing::Unsampled(TraceContext {
            parent: Parent::Ours(Tracing::Unsampled(ids)),
            trace_attributes,
        }),
        Tracing::Live(mut frame) => {
            let io_default = frame.client().io_capture_enabled;
            let capture_output = site.capture_output.unwrap_or(io_default);
            let mut start = Start {
                input: site.capture_input.unwrap_or(io_default).then(Json::object),
                metadata: Vec::new(),
            };
            capture(&mut start);
            if let Some(r) = frame.record_mut() {
                if let Some(input) = &mut start.input {
                    input.finish_object_into(&mut r.input);
                }
                if let Some(version) = site.version {
                    r.set_version(Some(version.to_owned()));
                }
                // Most calls capture no metadata: skip the empty vector's iterator and drop.
                if !start.metadata.is_empty() {
                    add_metadata(r, start.metadata);
                }
                crate::observation::fields::mask_call_start(r);
            }
            let observation = Observation::from_ref(ObservationRef {
                handle: Tracing::Live(frame.share()),
                trace_attributes,
            });
            Tracing::Live(LiveCall { observation, capture_output })
        }
    }
}

/// A sync call's observation, current on this thread until dropped.
pub struct Entered {
    /// While attached, the caller's context (ours is the thread's); otherwise ours.
    context: TraceContext,
    /// Whether `context` was exchanged with the thread's and has to be exchanged back.
    attached: bool,
    /// `Some` when the observation is recorded: whether its output is captured. `None` for
    /// an unsampled root, or when nothing records.
    capture_output: Option<bool>,
}

impl Entered {
    const OFF: Entered =
        Entered { context: TraceContext::EMPTY, attached: false, capture_output: None };

    /// Makes the caller's context current again; returns ours.
    #[inline]
    fn detach(&mut self) -> TraceContext {
        if std::mem::take(&mut self.attached) {
            exchange_current(&mut self.context);
        }
        std::mem::take(&mut self.context)
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        let ours = self.detach();
        if self.capture_output.is_some() {
            drop(Observation::from_context(ours));
        }
    }
}

impl Span {
    /// Runs the body of a function returning a future or stream — the part that runs before
    /// the value is returned (a closure, so that `return` inside it is seen) — with the
    /// observation current: calls made there nest under it. A panic there is recorded as ERROR
    /// and resumed.
    #[inline]
    pub fn call<R>(&self, body: impl FnOnce() -> R) -> R {
        let mut context = match &self.0 {
            Tracing::Off => return body(),
            Tracing::Unsampled(cx) => cx.clone(),
            Tracing::Live(LiveCall { observation, .. }) => observation.context(),
        };
        let result = {
            let _current = Exchanged::new(&mut context);
            catch_unwind(AssertUnwindSafe(body))
        };
        result.unwrap_or_else(|payload| {
            if let Tracing::Live(LiveCall { observation, .. }) = &self.0 {
                observation.set_error(panic_message(&*payload));
            }
            resume_unwind(payload)
        })
    }

    /// Runs `future` with the observation current on every poll; `finish` records its output.
    /// A panic is recorded as ERROR and resumed; dropping the future before it completes marks
    /// the observation cancelled (WARNING).
    #[inline]
    pub fn instrument<F, K>(self, future: F, finish: K) -> Traced<F, K>
    where
        F: Future,
        K: FnOnce(&mut Output, &F::Output),
    {
        match self.0 {
            Tracing::Off => Traced::Off { future },
            Tracing::Unsampled(cx) => Traced::Unsampled { future: cx.wrap(future) },
            Tracing::Live(LiveCall { observation, capture_output }) => Traced::Live {
                future: Observed::with_finish(
                    observation,
                    future,
                    Finisher { finish, capture: capture_output },
                ),
            },
        }
    }
}

impl Entered {
    /// Runs the function body (a closure, so that `return` and `?` end up here), records its
    /// output or its panic, and restores the caller's context.
    #[inline(always)]
    pub fn run<R>(self, body: impl FnOnce() -> R, finish: impl FnOnce(&mut Output, &R)) -> R {
        if !self.attached && self.capture_output.is_none() {
            // Nothing to restore or end: skip the drop glue so the off path stays a branch.
            std::mem::forget(self);
            return body();
        }
        self.run_recording(body, finish)
    }

    #[inline(never)]
    fn run_recording<R>(
        mut self,
        body: impl FnOnce() -> R,
        finish: impl FnOnce(&mut Output, &R),
    ) -> R {
        let Some(capture_output) = self.capture_output else {
            // Unsampled: the context is current; `self` restores the caller's when dropped.
            return body();
        };
        let result = catch_unwind(AssertUnwindSafe(body));
        if std::mem::take(&mut self.attached) {
            exchange_current(&mut self.context);
        }
        // Only the frame is needed to end the call: taken out of the context where it lies,
        // instead of the whole context being moved into an `Observation` (a 40-byte value
        // written and reread in pieces of different widths: a store-forwarding stall that was
        // a fifth of this function's samples, perf annotate).
        let frame = self.context.take_live_frame();
        let context = std::mem::take(&mut self.context);
        std::mem::forget(self);
        match result {
            Ok(value) => {
                let mut out = Output::new(capture_output);
                finish(&mut out, &value);
                if let Some(frame) = frame {
                    if out.is_plain() {
                        Frame::finish(frame, |r| out.write_into(r));
                    } else {
                        let field = out.into_field();
                        Frame::finish(frame, |r| apply_output(field, r));
                    }
                }
                drop(context);
                value
            }
            Err(payload) => {
                if let Some(frame) = frame {
                    let field = Field::Error(panic_message(&*payload));
                    Frame::finish(frame, |r| field.apply(r));
                }
                drop(context);
                resume_unwind(payload)
            }
        }
    }
}

/// Adapts the macro's output closure to the observed future's `Finish` hook.
pub struct Finisher<K> {
    finish: K,
    capture: bool,
}

impl<T, K: FnOnce(&mut Output, &T)> Finish<T> for Finisher<K> {
    const PANIC_AS_EXCEPTION: bool = false;

    fn finish(self, observation: &ObservationRef, output: &T) {
        let finish = self.finish;
        if let Some(field) = Output::collect(self.capture, |out| finish(out, output)) {
            observation.update(|r| field.apply(r));
        }
    }

    /// The output is applied in the same step as the end (no separate lock). Inlined into the
    /// poll, so that the observation it is handed does not go through memory (a
    /// store-forwarding stall on reading it back, perf annotate, row F).
    #[inline(always)]
    fn finish_and_end(self, observation: Observation, output: &T) {
        let mut out = Output::new(self.capture);
        (self.finish)(&mut out, output);
        // Written into the record in place, as the sync call does.
        if out.is_plain() {
            observation.end_with(|r| out.write_into(r));
        } else {
            let field = out.into_field();
            observation.end_with(|r| apply_output(field, r));
        }
    }
}

/// Applies what the output closure yielded: the output itself (the common case) inline, the
/// rest through [`Field::apply`], which is out of line.
#[inline(always)]
fn apply_output(field: Option<Field>, r: &mut ObservationRecord) {
    match field {
        Some(Field::Output(output)) => r.output = output,
        Some(other) => other.apply(r),
        None => {}
    }
}

pin_project_lite::pin_project! {
    /// The future of an observed async call.
    // The variants' one field is the body, as the variant docs say.
    #[allow(missing_docs)]
    #[project = TracedProj]
    pub enum Traced<F, K> {
        /// Not recorded: polls the body as is.
        Off {
            #[pin] future: F,
        },
        /// In an unsampled trace: the unsampled context is current on every poll.
        Unsampled {
            #[pin] future: WithContext<F>,
        },
        /// Recorded.
        Live {
            #[pin] future: Observed<F, Finisher<K>>,
        },
    }
}

impl<F, K> Future for Traced<F, K>
where
    F: Future,
    K: FnOnce(&mut Output, &F::Output),
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        match self.project() {
            TracedProj::Off { future } => future.poll(cx),
            TracedProj::Unsampled { future } => future.poll(cx),
            TracedProj::Live { future } => future.poll(cx),
        }
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Span>();
    is_send::<Traced<std::future::Ready<u8>, fn(&mut Output, &u8)>>();
}
