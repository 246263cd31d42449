//! Observations: start, update, end, make current.
//!
//! An [`Observation`] owns an open observation and ends it when dropped; an [`ObservationRef`]
//! is a cheap, clonable, non-owning handle (what [`current_observation`] returns). Both are
//! no-ops when tracing is disabled or the trace is not sampled, so instrumented code never has
//! to check.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use crate::client::ClientInner;
use crate::clock;
use crate::context::{Context, Parent};
use crate::ids::{ObservationId, TraceId};
use crate::record::ObservationRecord;
use fields::Field;

mod builder;
pub(crate) mod fields;
mod future;
pub mod kind;

pub use builder::{ObservationBuilder, event, generation, observation, span};
pub use future::{CANCELLED_MESSAGE, Finish, NoFinish, Observed, panic_message};
use kind::{Level, ObservationType};

/// A live observation shared by its handle, the context of its children and its futures.
pub(crate) struct Frame {
    pub(crate) trace_id: TraceId,
    pub(crate) id: ObservationId,
    pub(crate) client: Arc<ClientInner>,
    /// `None` once ended: later updates are ignored, a second end is a no-op.
    record: Mutex<Option<ObservationRecord>>,
}

impl Frame {
    /// A frame for a new observation, reusing one this thread ended earlier when it can. The
    /// record is built where it will live (`seed` and `place`), not moved there: a fresh
    /// record copied into the frame right after being written costs a store-forwarding stall
    /// per cache line. The client is borrowed so that a child started under a parent of the
    /// same client (the common case) touches no reference count.
    fn fresh(
        client: Cow<'_, Arc<ClientInner>>,
        seed: Seed,
        place: impl FnOnce(&mut ObservationRecord),
    ) -> FreshFrame {
        let pooled = FRAMES.try_with(|pool| pool.try_borrow_mut().ok()?.pop()).ok().flatten();
        if let Some(frame) = pooled {
            let mut fresh = FreshFrame(frame);
            let slot = fresh.frame_mut();
            let record = slot.record.get_mut().unwrap_or_else(|e| e.into_inner());
            let record = record.insert(seed.into_record());
            place(record);
            slot.trace_id = record.trace_id;
            slot.id = record.id;
            if !Arc::ptr_eq(&slot.client, &client) {
                slot.client = client.into_owned();
            }
            return fresh;
        }
        let mut record = seed.into_record();
        place(&mut record);
        FreshFrame(Arc::new(Self {
            trace_id: record.trace_id,
            id: record.id,
            client: client.into_owned(),
            record: Mutex::new(Some(record)),
        }))
    }

    /// Ends the observation (`f` applied last, then the end time) and releases this handle.
    /// While no context, handle or task holds the frame any more (a sync call that nobody took
    /// a context out of), no lock is taken and the frame is kept for reuse.
    pub(crate) fn finish(mut frame: Arc<Self>, f: impl FnOnce(&mut ObservationRecord)) {
        let Some(unique) = Arc::get_mut(&mut frame) else {
            frame.end_at(clock::now_unix_nanos(), f);
            return;
        };
        let slot = unique.record.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(record) = slot.as_mut() {
            f(record);
            record.end_unix_nanos = clock::now_unix_nanos().max(record.start_unix_nanos);
            unique.client.submit(slot);
        }
        let _ = FRAMES.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut()
                && pool.len() < MAX_POOLED_FRAMES
            {
                pool.push(frame);
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, Option<ObservationRecord>> {
        // A panic while holding the lock cannot leave the record half-written in a way that
        // matters more than losing it, so keep going with whatever is there.
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut ObservationRecord)) {
        if let Some(record) = self.lock().as_mut() {
            f(record);
        }
    }

    pub(crate) fn end_at(&self, end_unix_nanos: u64, f: impl FnOnce(&mut ObservationRecord)) {
        let mut slot = self.lock();
        if let Some(record) = slot.as_mut() {
            f(record);
            record.end_unix_nanos = end_unix_nanos.max(record.start_unix_nanos);
            // Lock order: frame, then thread buffer, then the shared queue; nothing takes them
            // the other way round.
            self.client.submit(&mut slot);
        }
    }

    pub(crate) fn end(&self) {
        self.end_at(clock::now_unix_nanos(), |_| {});
    }
}

/// A frame that nothing else refers to yet: just built, or taken from this thread's pool. It
/// is written without a lock or an atomic operation (`Arc::get_mut` costs a locked
/// compare-exchange, ~5 ns, and an observed call used to make three of them).
pub(crate) struct FreshFrame(Arc<Frame>);

impl FreshFrame {
    #[inline]
    fn frame_mut(&mut self) -> &mut Frame {
        debug_assert!(Arc::strong_count(&self.0) == 1 && Arc::weak_count(&self.0) == 0);
        // SAFETY: this is `Arc::get_mut_unchecked`. A `FreshFrame` holds the only reference to
        // its frame: it is made from a new `Arc` or from the thread-local pool, which takes in
        // only frames `Arc::get_mut` proved unique (`Frame::finish`) and hands each out once;
        // it is not `Clone`; no `Weak<Frame>` is ever created. `Arc::as_ptr` derives from the
        // allocation's own pointer, so writing through it is allowed while no other reference
        // exists.
        unsafe { &mut *Arc::as_ptr(&self.0).cast_mut() }
    }

    /// The record, for filling in what the start captured.
    #[inline]
    pub(crate) fn record_mut(&mut self) -> Option<&mut ObservationRecord> {
        self.frame_mut().record.get_mut().unwrap_or_else(|e| e.into_inner()).as_mut()
    }

    pub(crate) fn client(&self) -> &ClientInner {
        &self.0.client
    }

    /// From here on the frame may be shared (made current, cloned into contexts).
    pub(crate) fn share(self) -> Arc<Frame> {
        self.0
    }
}

/// What [`start_with`] produced.
pub(crate) enum Begun {
    /// Tracing off.
    Disabled,
    /// In a trace that is not sampled: ids for propagation, nothing recorded.
    Unsampled { trace_id: TraceId, id: ObservationId },
    /// Recorded, not shared yet.
    Live(FreshFrame),
}

impl Begun {
    pub(crate) fn into_handle(self) -> Handle {
        match self {
            Begun::Disabled => Handle::Disabled,
            Begun::Unsampled { trace_id, id } => Handle::Unsampled { trace_id, id },
            Begun::Live(fresh) => Handle::Live(fresh.share()),
        }
    }
}

/// What a start produced.
#[derive(Clone, Default)]
pub(crate) enum Handle {
    /// Tracing off: nothing recorded, no ids.
    #[default]
    Disabled,
    /// In a trace that is not sampled: ids for propagation, nothing recorded.
    Unsampled { trace_id: TraceId, id: ObservationId },
    /// Recorded.
    Live(Arc<Frame>),
}

fn global_client() -> Option<Cow<'static, Arc<ClientInner>>> {
    crate::client::global().map(Cow::Owned)
}

/// Starts an observation under `parent`: decides ids, parent and sampling, then builds the
/// record from `seed` in its frame.
pub(crate) fn start_with(parent: &Context, client: Option<Arc<ClientInner>>, seed: Seed) -> Begun {
    let client = client.map(Cow::Owned);
    let (trace_id, parent_id, client, remote_root) = match &parent.parent {
        Parent::Local(frame) => {
            (frame.trace_id, Some(frame.id), Some(Cow::Borrowed(&frame.client)), None)
        }
        Parent::Unsampled { trace_id, .. } => {
            return Begun::Unsampled { trace_id: *trace_id, id: ObservationId::random() };
        }
        Parent::Remote { trace_id, id, sampled, as_root } => {
            if !*sampled {
                return Begun::Unsampled { trace_id: *trace_id, id: ObservationId::random() };
            }
            (*trace_id, Some(*id), client.or_else(global_client), Some(*as_root))
        }
        Parent::None => (TraceId::random(), None, client.or_else(global_client), None),
    };
    let Some(client) = client.filter(|c| c.is_recording()) else {
        return Begun::Disabled;
    };
    let id = ObservationId::random();
    // Local children inherit their root's decision; every other start decides from the trace id.
    if !matches!(parent.parent, Parent::Local(_)) && !client.sampler.should_sample(trace_id) {
        return Begun::Unsampled { trace_id, id };
    }
    let place = |record: &mut ObservationRecord| {
        record.trace_id = trace_id;
        record.id = id;
        record.parent_id = parent_id;
        if let Some(as_root) = remote_root {
            record.parent_is_remote = true;
            record.as_root = as_root;
        }
        if record.trace.is_none() {
            record.trace = parent.trace_attributes.clone();
        }
    };
    Begun::Live(Frame::fresh(client, seed, place))
}

/// What a new observation's record starts from.
pub(crate) enum Seed {
    /// An `#[observe]` call: only the call site's constants and the start time.
    Call {
        name: &'static str,
        observation_type: ObservationType,
        level: Option<Level>,
        start_unix_nanos: u64,
    },
    /// A record the builder prepared.
    Record(ObservationRecord),
}

impl Seed {
    #[inline]
    fn into_record(self) -> ObservationRecord {
        match self {
            Seed::Call { name, observation_type, level, start_unix_nanos } => {
                let mut record = ObservationRecord::new(
                    PLACEHOLDER_TRACE,
                    PLACEHOLDER_ID,
                    None,
                    name,
                    observation_type,
                    start_unix_nanos,
                );
                record.level = level;
                record
            }
            Seed::Record(record) => record,
        }
    }
}

/// Ids a record carries until [`start_with`] places it.
const PLACEHOLDER_TRACE: TraceId = match TraceId::from_u_int(1) {
    Some(id) => id,
    None => panic!("1 is a valid trace id"),
};
const PLACEHOLDER_ID: ObservationId = match ObservationId::from_u_int(1) {
    Some(id) => id,
    None => panic!("1 is a valid observation id"),
};

impl Handle {
    pub(crate) fn context(&self, trace_attributes: Option<Arc<crate::TraceAttributes>>) -> Context {
        Context { parent: self.clone().into_parent(), trace_attributes }
    }

    /// What children of this observation see as their parent.
    fn into_parent(self) -> Parent {
        match self {
            Handle::Disabled => Parent::None,
            Handle::Unsampled { trace_id, id } => Parent::Unsampled { trace_id, id },
            Handle::Live(frame) => Parent::Local(frame),
        }
    }

    /// The observation a context's parent is, if it is one of ours.
    fn from_parent(parent: Parent) -> Self {
        match parent {
            Parent::Local(frame) => Handle::Live(frame),
            Parent::Unsampled { trace_id, id } => Handle::Unsampled { trace_id, id },
            Parent::None | Parent::Remote { .. } => Handle::Disabled,
        }
    }
}

/// A non-owning handle to an observation: update it from anywhere, it never ends on drop.
///
/// ```
/// use langfuse_runtime::{current_observation, span};
/// let root = span("handle_request").start();
/// root.run(|| {
///     current_observation().set_output(&"done");
/// });
/// root.end();
/// ```
#[derive(Clone, Default)]
pub struct ObservationRef {
    pub(crate) handle: Handle,
    /// Trace attributes children of this observation inherit.
    pub(crate) trace_attributes: Option<Arc<crate::TraceAttributes>>,
}

impl std::fmt::Debug for ObservationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservationRef")
            .field("trace_id", &self.trace_id())
            .field("id", &self.id())
            .field("recording", &self.is_recording())
            .finish()
    }
}

macro_rules! handle_setters {
    ($( $(#[$doc:meta])* $set:ident / $_b:ident $(<$g:ident>)? ( $($arg:ident : $ty:ty),* ) => $field:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $set $(<$g: Serialize + ?Sized>)? (&self, $($arg: $ty),*) -> &Self {
                self.apply(|| $field)
            }
        )*
    };
}

impl ObservationRef {
    pub(crate) fn update(&self, f: impl FnOnce(&mut ObservationRecord)) -> &Self {
        if let Handle::Live(frame) = &self.handle {
            frame.update(f);
        }
        self
    }

    /// Whether anything set on this observation will be exported.
    pub fn is_recording(&self) -> bool {
        matches!(self.handle, Handle::Live(_))
    }

    /// The trace id (also for unsampled traces); `None` when tracing is off.
    pub fn trace_id(&self) -> Option<TraceId> {
        match &self.handle {
            Handle::Disabled => None,
            Handle::Unsampled { trace_id, .. } => Some(*trace_id),
            Handle::Live(frame) => Some(frame.trace_id),
        }
    }

    /// The observation id; `None` when tracing is off.
    pub fn id(&self) -> Option<ObservationId> {
        match &self.handle {
            Handle::Disabled => None,
            Handle::Unsampled { id, .. } => Some(*id),
            Handle::Live(frame) => Some(frame.id),
        }
    }

    /// The context in which this observation is the parent of new observations.
    pub fn context(&self) -> Context {
        self.handle.context(self.trace_attributes.clone())
    }

    /// Runs `f` with this observation current: observations started inside become its children.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }

    /// Builder for a child of this observation (it need not be current).
    pub fn start_child(&self, name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
        span(name).parent(self.context())
    }

    fn apply(&self, field: impl FnOnce() -> Field) -> &Self {
        // Encoding happens only for recorded observations, and outside the lock.
        if let Handle::Live(frame) = &self.handle {
            let field = field();
            frame.update(|r| field.apply(r));
        }
        self
    }

    /// Renames the observation.
    pub fn set_name(&self, name: impl Into<Cow<'static, str>>) -> &Self {
        self.apply(|| Field::Name(name.into()))
    }

    /// Sets one metadata key (JSON-encoded value).
    pub fn add_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> &Self {
        self.apply(|| Field::metadata_key(key, value))
    }

    /// Marks the observation as failed: level ERROR with `message` as status.
    pub fn set_error(&self, message: impl Into<String>) -> &Self {
        self.apply(|| Field::Error(message.into()))
    }

    /// Records now as the completion start time (time to first token).
    pub fn mark_completion_start(&self) -> &Self {
        self.set_completion_start_time(SystemTime::now())
    }

    /// Makes the whole trace public (`langfuse.trace.public`).
    pub fn set_trace_public(&self) -> &Self {
        self.apply(|| Field::TracePublic)
    }

    fields::field_setters!(handle_setters);

    /// Ends the observation now. Later updates and ends are ignored.
    pub fn end(&self) {
        if let Handle::Live(frame) = &self.handle {
            frame.end();
        }
    }
}

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
    pub(crate) fn end_with(self, f: impl FnOnce(&mut ObservationRecord)) {
        let inner = self.into_inner();
        if let Handle::Live(frame) = inner.handle {
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
    pub fn as_ref(&self) -> ObservationRef {
        self.inner.clone()
    }

    /// Moves the handle into a context (no reference counting); [`Observation::from_context`]
    /// takes it back.
    pub(crate) fn into_context(self) -> Context {
        let inner = self.into_inner();
        Context { parent: inner.handle.into_parent(), trace_attributes: inner.trace_attributes }
    }

    /// The observation whose handle [`Observation::into_context`] moved into `context`.
    pub(crate) fn from_context(context: Context) -> Self {
        let handle = Handle::from_parent(context.parent);
        Self { inner: ObservationRef { handle, trace_attributes: context.trace_attributes } }
    }

    /// Ends the observation now.
    pub fn end(self) {
        // Drop does it.
    }

    /// Runs `future` with this observation current on every poll and ends the observation
    /// when it completes — or marks it cancelled if the future is dropped first.
    pub fn instrument<F: std::future::Future>(self, future: F) -> Observed<F> {
        Observed::new(self, future)
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if let Handle::Live(frame) = std::mem::take(&mut self.inner.handle) {
            Frame::finish(frame, |_| {});
        }
    }
}

/// Most ended frames a thread keeps for reuse.
const MAX_POOLED_FRAMES: usize = 32;

thread_local! {
    /// Ended frames nobody else refers to, reused by the next observation on this thread
    /// instead of a fresh allocation.
    static FRAMES: std::cell::RefCell<Vec<Arc<Frame>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The observation current on this thread (a no-op handle outside any observation).
///
/// ```
/// langfuse_runtime::current_observation().add_metadata("cache", &"hit");
/// ```
pub fn current_observation() -> ObservationRef {
    crate::context::with_current(|cx| ObservationRef {
        handle: Handle::from_parent(cx.parent.clone()),
        trace_attributes: cx.trace_attributes.clone(),
    })
}

/// The current observation as a generation: like [`current_observation`], but a span-like
/// observation is turned into a `generation`, as Python's `update_current_generation` does.
pub fn current_generation() -> ObservationRef {
    let current = current_observation();
    current.update(|r| {
        if !r.observation_type.is_generation_like() {
            r.observation_type = ObservationType::Generation;
        }
    });
    current
}

/// The current trace id as 32 hex characters, if inside a trace.
pub fn current_trace_id() -> Option<TraceId> {
    crate::context::with_current(|cx| cx.trace_id())
}

/// The current observation id as 16 hex characters, if inside a trace.
pub fn current_observation_id() -> Option<ObservationId> {
    crate::context::with_current(|cx| cx.observation_id())
}

/// Token usage of a generation, serialized as OpenAI's
/// `{"prompt_tokens", "completion_tokens", "total_tokens"}` (Langfuse maps these to
/// input/output/total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
    /// Total tokens (sent only when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

impl Usage {
    /// Usage with prompt and completion tokens; the total is their sum.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: Some(prompt_tokens + completion_tokens),
        }
    }
}
