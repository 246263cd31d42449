//! Support API for the code `#[observe]` generates. Not public API: it changes without notice
//! and only the macro of the same release may call it.
//!
//! One call per function call decides everything: [`start`] (async, futures) or [`enter`]
//! (sync) check the "nothing records" flag first (one relaxed atomic load), then whether the
//! current trace is unsampled, and only for a recorded observation run the capture closure the
//! macro generated. The closures that serialize arguments and return values are never called
//! otherwise, so a disabled or unsampled call costs a load, a thread-local read and a branch.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub use crate::capture::{Json, Wrap};
pub use crate::observation::kind::{Level, ObservationType};

use crate::context::{Context, Exchanged, Parent, WithContext, exchange_current, with_current};
use crate::observation::fields::Field;
use crate::observation::{
    Begun, Finish, Handle, Observation, ObservationRef, Observed, Seed, panic_message, start_with,
};

/// The capture traits, imported by generated code as `use …::traits::*`. The names are odd on
/// purpose: a glob import never shadows the user's own names.
pub mod traits {
    pub use crate::capture::{
        CaptureDebug as __LfCaptureDebug, CaptureSerialize as __LfCaptureSerialize,
        CaptureStr as __LfCaptureStr, CaptureTypeName as __LfCaptureTypeName,
        MessageDebug as __LfMessageDebug, MessageDisplay as __LfMessageDisplay,
        MessageTypeName as __LfMessageTypeName,
    };
}

/// What one `#[observe]` function is: a `static` in the generated function body.
#[derive(Debug)]
pub struct CallSite {
    name: &'static str,
    observation_type: ObservationType,
    capture_input: Option<bool>,
    capture_output: Option<bool>,
    level: Option<Level>,
    version: Option<&'static str>,
}

impl CallSite {
    /// A call site with the client's IO-capture default and no level or version.
    pub const fn new(name: &'static str, observation_type: ObservationType) -> Self {
        Self {
            name,
            observation_type,
            capture_input: None,
            capture_output: None,
            level: None,
            version: None,
        }
    }
    /// `capture_input = …`.
    pub const fn capture_input(mut self, on: bool) -> Self {
        self.capture_input = Some(on);
        self
    }
    /// `capture_output = …`.
    pub const fn capture_output(mut self, on: bool) -> Self {
        self.capture_output = Some(on);
        self
    }
    /// `level = …`.
    pub const fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }
    /// `version = …`.
    pub const fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }
}

/// What the capture closure fills in at the start of a recorded call.
#[derive(Debug)]
pub struct Start {
    input: Option<Json>,
    metadata: Vec<(&'static str, Json)>,
}

impl Start {
    /// The input object, when input is captured.
    #[inline]
    pub fn input(&mut self) -> Option<&mut Json> {
        self.input.as_mut()
    }

    /// The value of metadata key `key`.
    pub fn metadata(&mut self, key: &'static str) -> &mut Json {
        self.metadata.push((key, Json::with_capacity(16)));
        let last = self.metadata.len() - 1;
        &mut self.metadata[last].1
    }
}

/// The capture closure of a function whose input is empty and that has no metadata.
#[inline(always)]
pub fn no_input(_: &mut Start) {}

/// The output closure of a function whose output is never recorded (`()`, `!`).
#[inline(always)]
pub fn no_output<R: ?Sized>(_: &mut Output, _: &R) {}

/// What the output closure fills in when a recorded call returns.
#[derive(Debug)]
pub struct Output {
    capture: bool,
    /// The value is the call's whole output (not an item of a sequence): a string is kept raw.
    whole_output: bool,
    value: Option<Json>,
    error: Option<String>,
}

impl Output {
    /// Where to write the return value, when output is captured.
    #[inline]
    pub fn value(&mut self) -> Option<&mut Json> {
        if !self.capture {
            return None;
        }
        let whole_output = self.whole_output;
        Some(self.value.get_or_insert_with(|| {
            if whole_output { Json::output(64) } else { Json::with_capacity(64) }
        }))
    }

    /// Marks the call failed (`Err`): level ERROR with `message` as status, no output.
    pub fn error(&mut self, message: String) {
        self.error = Some(message);
    }

    /// Runs the output closure; the field it yields is applied when the call ends.
    fn collect(capture: bool, fill: impl FnOnce(&mut Output)) -> Option<Field> {
        let mut out = Output { capture, whole_output: true, value: None, error: None };
        fill(&mut out);
        match out.error {
            Some(message) => Some(Field::Error(message)),
            None => out.value.and_then(Json::into_io_text).map(|text| Field::Output(Some(text))),
        }
    }
}

/// Resolves a return type the macro saw spelled `…Result<…>` to `Ok`/`Err`.
#[diagnostic::on_unimplemented(
    message = "`#[observe]` reads a return type named `Result` as `std::result::Result`, but this one is `{Self}`",
    label = "not `std::result::Result`",
    note = "import the type under another name (`use path::Result as MyResult;`) and it is recorded as a plain value"
)]
pub trait ResultShape {
    /// `T` of `Result<T, E>`.
    type Ok: ?Sized;
    /// `E` of `Result<T, E>`.
    type Err: ?Sized;
    /// Borrows the value or the error.
    fn __lf_result(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> ResultShape for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn __lf_result(&self) -> Result<&T, &E> {
        self.as_ref()
    }
}

/// Resolves a return type the macro saw spelled `…Option<…>` to `Some`/`None`.
#[diagnostic::on_unimplemented(
    message = "`#[observe]` reads a return type named `Option` as `std::option::Option`, but this one is `{Self}`",
    label = "not `std::option::Option`",
    note = "import the type under another name (`use path::Option as MyOption;`) and it is recorded as a plain value"
)]
pub trait OptionShape {
    /// `T` of `Option<T>`.
    type Some: ?Sized;
    /// Borrows the value.
    fn __lf_option(&self) -> Option<&Self::Some>;
}

impl<T> OptionShape for Option<T> {
    type Some = T;
    #[inline]
    fn __lf_option(&self) -> Option<&T> {
        self.as_ref()
    }
}

/// One call's observation, before it is made current.
#[derive(Default)]
pub struct Span(State);

#[derive(Default)]
enum State {
    /// Nothing records, or the call runs inside an unsampled trace: nothing to do at all.
    #[default]
    Off,
    /// An unsampled root: its context is made current so nested calls skip too.
    Unsampled(Context),
    /// A recorded observation.
    Live { observation: Observation, capture_output: bool },
}

/// Starts the observation of one call (not yet current): for async functions and functions
/// returning futures or streams.
#[inline(always)]
pub fn start<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> Span {
    if crate::client::nothing_records() || crate::context::in_unsampled_trace() {
        return Span(State::Off);
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
        State::Live { observation, capture_output } => {
            (observation.into_context(), Some(capture_output))
        }
        State::Unsampled(cx) => (cx, None),
        State::Off => return Entered::OFF,
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

/// Starts the observation of one call: ids, start time, input and metadata.
#[inline(always)]
fn begin<F: FnOnce(&mut Start)>(site: &'static CallSite, capture: F) -> State {
    let started = with_current(|cx| {
        if let Parent::Unsampled { .. } = cx.parent {
            return None;
        }
        let seed = Seed::Call {
            name: site.name,
            observation_type: site.observation_type,
            level: site.level,
            start_unix_nanos: crate::clock::now_unix_nanos(),
        };
        Some((start_with(cx, None, seed), cx.trace_attributes.clone()))
    });
    let Some((begun, trace_attributes)) = started else {
        return State::Off;
    };
    match begun {
        Begun::Disabled => State::Off,
        begun @ Begun::Unsampled { .. } => {
            State::Unsampled(begun.into_handle().context(trace_attributes))
        }
        Begun::Live(mut frame) => {
            let io_default = frame.client().io_capture_enabled;
            let capture_output = site.capture_output.unwrap_or(io_default);
            let mut start = Start {
                input: site.capture_input.unwrap_or(io_default).then(|| Json::object(128)),
                metadata: Vec::new(),
            };
            capture(&mut start);
            let input = start.input.map(Json::finish_object);
            if let Some(r) = frame.record_mut() {
                r.input = input;
                if let Some(version) = site.version {
                    r.set_version(Some(version.to_owned()));
                }
                for (key, value) in start.metadata {
                    r.metadata_mut().insert(key, value.into_string());
                }
            }
            let observation = Observation::from_ref(ObservationRef {
                handle: Handle::Live(frame.share()),
                trace_attributes,
            });
            State::Live { observation, capture_output }
        }
    }
}

/// A sync call's observation, current on this thread until dropped.
pub struct Entered {
    /// While attached, the caller's context (ours is the thread's); otherwise ours.
    context: Context,
    /// Whether `context` was exchanged with the thread's and has to be exchanged back.
    attached: bool,
    /// `Some` when the observation is recorded: whether its output is captured. `None` for
    /// an unsampled root, or when nothing records.
    capture_output: Option<bool>,
}

impl Entered {
    const OFF: Entered = Entered { context: Context::EMPTY, attached: false, capture_output: None };

    /// Makes the caller's context current again; returns ours.
    #[inline]
    fn detach(&mut self) -> Context {
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
            State::Off => return body(),
            State::Unsampled(cx) => cx.clone(),
            State::Live { observation, .. } => observation.context(),
        };
        let result = {
            let _current = Exchanged::new(&mut context);
            catch_unwind(AssertUnwindSafe(body))
        };
        result.unwrap_or_else(|payload| {
            if let State::Live { observation, .. } = &self.0 {
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
            State::Off => Traced::Off { future },
            State::Unsampled(cx) => Traced::Unsampled { future: cx.wrap(future) },
            State::Live { observation, capture_output } => Traced::Live {
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
        let observation = Observation::from_context(self.detach());
        std::mem::forget(self);
        match result {
            Ok(value) => {
                let field = Output::collect(capture_output, |out| finish(out, &value));
                observation.end_with(|r| field.map_or((), |f| f.apply(r)));
                value
            }
            Err(payload) => {
                let field = Field::Error(panic_message(&*payload));
                observation.end_with(|r| field.apply(r));
                resume_unwind(payload)
            }
        }
    }
}

/// Adapts the macro's output closure to [`Finish`].
pub struct Finisher<K> {
    finish: K,
    capture: bool,
}

impl<T, K: FnOnce(&mut Output, &T)> Finish<T> for Finisher<K> {
    fn finish(self, observation: &ObservationRef, output: &T) {
        let finish = self.finish;
        if let Some(field) = Output::collect(self.capture, |out| finish(out, output)) {
            observation.update(|r| field.apply(r));
        }
    }

    /// The output is applied in the same step as the end (no separate lock).
    fn finish_and_end(self, observation: Observation, output: &T) {
        let finish = self.finish;
        let field = Output::collect(self.capture, |out| finish(out, output));
        observation.end_with(|r| field.map_or((), |f| f.apply(r)));
    }
}

pin_project_lite::pin_project! {
    /// The future of an observed async call.
    #[project = TracedProj]
    pub enum Traced<F, K> {
        /// Not recorded: polls the body as is.
        Off { #[pin] future: F },
        /// In an unsampled trace: the unsampled context is current on every poll.
        Unsampled { #[pin] future: WithContext<F> },
        /// Recorded.
        Live { #[pin] future: Observed<F, Finisher<K>> },
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

mod seq;
pub use seq::{KeepItems, NoTransform, ObservedIter, ObservedStream, Transform};

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Span>();
    is_send::<Traced<std::future::Ready<u8>, fn(&mut Output, &u8)>>();
}
