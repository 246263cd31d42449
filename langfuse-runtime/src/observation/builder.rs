//! Starting observations by hand: `span("name").input(..).start()`.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::Serialize;

use super::fields::{Field, field_setters};
use super::{Observation, ObservationRef};
use crate::clock;
use crate::context::Parent;
use crate::context::TraceContext;
use crate::frame::FreshFrame;
use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::start::{CallSeed, start_with};
use crate::state::Tracing;

use crate::record::ObservationRecord;

/// Configures an observation before it starts. Created by [`span`], [`generation`], [`event`]
/// or [`observation`]; nothing is recorded until [`ObservationBuilder::start`].
///
/// ```
/// use langfuse_runtime::{Level, generation};
/// let llm = generation("chat")
///     .model("gpt-4o-mini")
///     .input(&serde_json::json!([{"role": "user", "content": "Hi"}]))
///     .level(Level::Default)
///     .start();
/// llm.set_output(&"Hello!");
/// llm.end();
/// ```
#[must_use = "nothing is recorded until `.start()`"]
pub struct ObservationBuilder {
    record: ObservationRecord,
    parent: Option<TraceContext>,
    start_time: Option<u64>,
}

/// Starts building an observation of type `span`.
///
/// ```
/// let obs = langfuse_runtime::span("db_query").metadata(&serde_json::json!({"sql": "SELECT 1"})).start();
/// obs.add_metadata("rows_returned", &42);
/// ```
pub fn span(name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
    observation(name, ObservationType::Span)
}

/// Starts building an observation of type `generation` (an LLM call).
///
/// ```
/// use langfuse_runtime::{Usage, generation};
/// let llm = generation("chat").model("gpt-4o-mini").start();
/// llm.set_usage_details(&Usage::new(12, 3));
/// ```
pub fn generation(name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
    observation(name, ObservationType::Generation)
}

/// Starts building an event: a zero-duration observation, ended as soon as it starts
/// (Python's `create_event`). Its parent is the current observation (a new trace when there
/// is none), or what [`ObservationBuilder::parent`] names; [`ObservationRef::event`] puts it
/// under a given observation.
///
/// ```
/// langfuse_runtime::event("cache_miss").input(&"key-42").emit();
/// ```
pub fn event(name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
    observation(name, ObservationType::Event)
}

/// Starts building an observation of any type.
///
/// ```
/// use langfuse_runtime::{ObservationType, observation};
/// let docs = observation("search_docs", ObservationType::Retriever).input(&"rust").start();
/// docs.set_output(&["doc-1", "doc-2"]);
/// ```
pub fn observation(
    name: impl Into<Cow<'static, str>>,
    observation_type: ObservationType,
) -> ObservationBuilder {
    // Ids and times are placeholders until `start()` knows the parent.
    let record = ObservationRecord::new(
        TraceId::from_u128(1).unwrap_or_else(TraceId::random),
        ObservationId::from_u64(1).unwrap_or_else(ObservationId::random),
        None,
        name,
        observation_type,
        0,
    );
    ObservationBuilder { record, parent: None, start_time: None }
}

macro_rules! builder_setters {
    ($( $(#[$doc:meta])* $_s:ident / $name:ident $(<$g:ident>)? ( $($arg:ident : $ty:ty),* ) => $field:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name $(<$g: Serialize + ?Sized>)? (mut self, $($arg: $ty),*) -> Self {
                $field.apply(&mut self.record);
                self
            }
        )*
    };
}

impl ObservationBuilder {
    field_setters!(builder_setters);

    /// Parent context (default: the current one).
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
    /// use langfuse_runtime::{TraceContext, TraceId, span};
    /// let trace = TraceId::from_seed("order-42");
    /// span("ship").parent(TraceContext::from_trace_id(trace, None)).start().end();
    /// assert_eq!(records()[0].trace_id, trace);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn parent(mut self, parent: TraceContext) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Start time (default: now).
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
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let queued_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// langfuse_runtime::span("queued_job").start_time(queued_at).start().end();
    /// assert_eq!(records()[0].start_unix_nanos, 1_700_000_000_000_000_000);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn start_time(mut self, at: SystemTime) -> Self {
        self.start_time =
            Some(at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
        self
    }

    /// Starts the observation. It becomes current only inside [`ObservationRef::run`] or
    /// [`Observation::instrument`].
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
    /// let step = langfuse_runtime::span("step").input(&"x").start();
    /// assert!(step.is_recording());
    /// drop(step); // ends it
    /// assert_eq!(records()[0].name, "step");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn start(self) -> Observation {
        let mut record = self.record;
        let parent = self.parent.unwrap_or_else(TraceContext::current);
        let start = self.start_time.unwrap_or_else(clock::now_unix_nanos);
        record.start_unix_nanos = start;
        record.end_unix_nanos = start;
        let is_event = record.observation_type == ObservationType::Event;
        let handle = start_with(&parent, None, record).map_live(FreshFrame::share);
        let observation = Observation::from_ref(ObservationRef {
            handle,
            trace_attributes: parent.trace_attributes.clone(),
        });
        if let Tracing::Live(frame) = &observation.handle {
            if is_event {
                frame.end_at(start, |_| {});
            } else {
                // Only now can a panic escape a manual observation's scope.
                super::panics::watch();
            }
        }
        observation
    }

    /// Starts and immediately ends the observation (for events).
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
    /// use langfuse_runtime::ObservationType;
    /// langfuse_runtime::event("cache_miss").input(&"key-42").emit();
    /// let records = records();
    /// let r = &records[0];
    /// assert_eq!(r.observation_type, ObservationType::Event);
    /// assert_eq!(r.start_unix_nanos, r.end_unix_nanos);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn emit(self) -> ObservationRef {
        let observation = self.start();
        let handle = observation.handle();
        drop(observation);
        handle
    }

    /// Starts the observation, runs `f` with it current, and ends it.
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
    /// use langfuse_runtime::span;
    /// let n = span("count").run(|obs| {
    ///     obs.set_output(&3);
    ///     span("inner").start().end(); // a child of `count`
    ///     3
    /// });
    /// assert_eq!(n, 3);
    /// let records = records();
    /// assert_eq!(records.len(), 2);
    /// assert_eq!(records[0].parent_id, Some(records[1].id));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn run<R>(self, f: impl FnOnce(&ObservationRef) -> R) -> R {
        let observation = self.start();
        observation.run(|| f(&observation))
    }
}

/// Starts the observation of a bridged span at `start_unix_nanos` under `parent`, and returns
/// the context its children start under (which also ends it, through
/// [`Observation::from_context`]). What `observation(..).parent(..).start_time(..).start()`
/// does, minus the builder: the name is the span's static one, so the record is built in its
/// frame from a [`CallSeed`] like an `#[observe]` call's, with no `SystemTime` round trip and no
/// second handle. Events end as they start, so they take the builder's path.
pub(crate) fn start_span(
    name: &'static str,
    observation_type: ObservationType,
    parent: TraceContext,
    start_unix_nanos: u64,
) -> TraceContext {
    if observation_type == ObservationType::Event {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(start_unix_nanos);
        return observation(name, observation_type)
            .parent(parent)
            .start_time(at)
            .start()
            .into_context();
    }
    let seed = CallSeed { name, observation_type, level: None, start_unix_nanos };
    let handle = start_with(&parent, None, seed).map_live(FreshFrame::share);
    if handle.is_live() {
        // Only now can a panic escape the observation's scope.
        super::panics::watch();
    }
    TraceContext { parent: Parent::Ours(handle), trace_attributes: parent.trace_attributes }
}
