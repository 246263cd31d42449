//! Observations: start, update, end, make current.
//!
//! An [`Observation`] owns an open observation and ends it when dropped; an [`ObservationRef`]
//! is a cheap, clonable, non-owning handle (what [`current_observation`] returns). Both are
//! no-ops when tracing is disabled or the trace is not sampled, so instrumented code never has
//! to check.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::context::{Parent, TraceContext};
use crate::frame::Handle;
use crate::ids::{ObservationId, TraceId};
use crate::record::ObservationRecord;
use crate::state::Tracing;
use fields::Field;

mod builder;
pub(crate) mod fields;
mod future;
mod owned;
mod panics;
mod score;

use crate::kind::{Level, ObservationType};
pub(crate) use builder::start_span;
pub use builder::{ObservationBuilder, event, generation, observation, span};
pub use future::Observed;
pub(crate) use future::{Finish, panic_message};
pub use owned::Observation;
pub use score::{score, score_current_observation, score_current_trace};

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
        if let Tracing::Live(frame) = &self.handle {
            frame.update(f);
        }
        self
    }

    /// Whether anything set on this observation will be exported.
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
    /// let obs = langfuse_runtime::span("step").start();
    /// assert!(obs.is_recording()); // a client is installed (see `init`)
    /// # let _ = records;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn is_recording(&self) -> bool {
        self.handle.is_live()
    }

    /// The trace id (also for unsampled traces); `None` when tracing is off.
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
    /// let obs = span("checkout").parent(TraceContext::from_trace_id(trace, None)).start();
    /// assert_eq!(obs.trace_id(), Some(trace));
    /// # let _ = records;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn trace_id(&self) -> Option<TraceId> {
        match &self.handle {
            Tracing::Off => None,
            Tracing::Unsampled(ids) => Some(ids.trace_id),
            Tracing::Live(frame) => Some(frame.trace_id),
        }
    }

    /// The observation id; `None` when tracing is off.
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
    /// let obs = langfuse_runtime::span("step").start();
    /// let id = obs.id();
    /// obs.end();
    /// assert_eq!(Some(records()[0].id), id);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn id(&self) -> Option<ObservationId> {
        match &self.handle {
            Tracing::Off => None,
            Tracing::Unsampled(ids) => Some(ids.id),
            Tracing::Live(frame) => Some(frame.id),
        }
    }

    /// The context in which this observation is the parent of new observations.
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
    /// let parent = langfuse_runtime::span("request").start();
    /// let parent_id = parent.id();
    /// // Hand the context to another thread: observations started there become children.
    /// let cx = parent.context();
    /// std::thread::spawn(move || cx.run(|| langfuse_runtime::span("worker").start().end()))
    ///     .join()
    ///     .unwrap();
    /// parent.end();
    /// let records = records();
    /// assert_eq!(records[0].parent_id, parent_id);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn context(&self) -> TraceContext {
        TraceContext {
            parent: Parent::Ours(self.handle.clone()),
            trace_attributes: self.trace_attributes.clone(),
        }
    }

    /// Runs `f` with this observation current: observations started inside become its children.
    ///
    /// A panic escaping `f` is recorded on this observation as Python records an exception
    /// escaping a context manager — level ERROR, status `"panic: <message>"` and an OTel
    /// `exception` event with the message and, where known, the stack trace — and then
    /// continues unchanged. `run` does not end the observation.
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
    /// let parent = span("request").start();
    /// let inner_id = parent.run(|| current_observation().id());
    /// assert_eq!(inner_id, parent.id());
    /// assert!(inner_id.is_some());
    /// # let _ = records;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let result = self.context().run(|| catch_unwind(AssertUnwindSafe(f)));
        result.unwrap_or_else(|payload| {
            self.update(|r| panics::record_payload(r, &*payload));
            resume_unwind(payload)
        })
    }

    /// Builder for a child of this observation (it need not be current).
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
    /// let parent = langfuse_runtime::span("request").start();
    /// let child = parent.start_child("parse").start();
    /// child.end();
    /// assert_eq!(records()[0].parent_id, parent.id());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn start_child(&self, name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
        span(name).parent(self.context())
    }

    /// Builder for an event (a zero-duration observation) under this observation, even when
    /// another one is current — Python 5.2.0's `span.create_event` /
    /// `span.start_observation(as_type="event")`. Finish it with
    /// [`emit`](ObservationBuilder::emit); events cannot be updated afterwards.
    ///
    /// ```
    /// use langfuse_runtime::span;
    /// let request = span("request").start();
    /// let retrieval = span("retrieval").start();
    /// retrieval.run(|| {
    ///     // Under `request`, not under the current `retrieval`.
    ///     request.event("cache_miss").input(&"key-42").emit();
    /// });
    /// ```
    pub fn event(&self, name: impl Into<Cow<'static, str>>) -> ObservationBuilder {
        event(name).parent(self.context())
    }

    fn apply(&self, field: impl FnOnce() -> Field) -> &Self {
        // Encoding happens only for recorded observations, and outside the lock.
        if let Tracing::Live(frame) = &self.handle {
            let field = field();
            frame.update(|r| field.apply(r));
        }
        self
    }

    /// Renames the observation.
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
    /// step.set_name("parse_invoice");
    /// step.end();
    /// assert_eq!(records()[0].name, "parse_invoice");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn set_name(&self, name: impl Into<Cow<'static, str>>) -> &Self {
        self.apply(|| Field::Name(name.into()))
    }

    /// Sets one metadata key (JSON-encoded value).
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
    /// let query = langfuse_runtime::span("db_query").start();
    /// query.add_metadata("rows_returned", &42);
    /// query.end();
    /// assert_eq!(records()[0].metadata().get("rows_returned").map(|v| v.as_str()), Some("42"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn add_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> &Self {
        self.apply(|| Field::metadata_key(key, value))
    }

    /// Marks the observation as failed: level ERROR with `message` as status.
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
    /// let call = langfuse_runtime::span("call_api").start();
    /// call.set_error("HTTP 503");
    /// call.end();
    /// let records = records();
    /// let r = &records[0];
    /// assert!(r.is_error());
    /// assert_eq!(r.status_message(), Some("HTTP 503"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn set_error(&self, message: impl Into<String>) -> &Self {
        self.apply(|| Field::Error(message.into()))
    }

    /// Records now as the completion start time (time to first token).
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
    /// let llm = langfuse_runtime::generation("chat").start();
    /// // ... when the first streamed chunk arrives:
    /// llm.mark_completion_start();
    /// llm.end();
    /// assert!(records()[0].generation().and_then(|g| g.completion_start_time).is_some());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn mark_completion_start(&self) -> &Self {
        self.set_completion_start_time(SystemTime::now())
    }

    /// Makes the whole trace public (`langfuse.trace.public`).
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
    /// let root = langfuse_runtime::span("shared_demo").start();
    /// root.set_trace_public();
    /// root.end();
    /// assert!(records()[0].trace_public);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn set_trace_public(&self) -> &Self {
        self.apply(|| Field::TracePublic)
    }

    fields::field_setters!(handle_setters);

    /// Ends the observation now. Later updates and ends are ignored.
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
    /// let handle = step.handle();
    /// handle.end();
    /// handle.set_output(&"ignored: already ended");
    /// drop(step);
    /// let records = records();
    /// assert_eq!(records.len(), 1);
    /// assert!(records[0].output.is_none());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn end(&self) {
        if let Tracing::Live(frame) = &self.handle {
            frame.end();
        }
    }
}

/// The observation current on this thread (a no-op handle outside any observation).
///
/// ```
/// langfuse_runtime::current_observation().add_metadata("cache", &"hit");
/// ```
pub fn current_observation() -> ObservationRef {
    crate::context::with_current(|cx| ObservationRef {
        handle: cx.parent.clone().into_handle(),
        trace_attributes: cx.trace_attributes.clone(),
    })
}

/// The current observation as a generation: like [`current_observation`], but a span-like
/// observation is turned into a `generation`, as Python's `update_current_generation` does.
///
/// ```
/// use langfuse_runtime::{Usage, current_generation, observe};
/// #[observe]
/// fn call_model(prompt: &str) -> String {
///     current_generation().set_model("gpt-4o-mini").set_usage_details(&Usage::new(5, 1));
///     format!("echo: {prompt}")
/// }
/// call_model("hi");
/// ```
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
///
/// ```
/// use langfuse_runtime::{TraceContext, TraceId, current_trace_id};
/// assert_eq!(current_trace_id(), None);
/// let trace = TraceId::random();
/// assert_eq!(TraceContext::from_trace_id(trace, None).run(current_trace_id), Some(trace));
/// ```
pub fn current_trace_id() -> Option<TraceId> {
    crate::context::with_current(|cx| cx.trace_id())
}

/// The current observation id as 16 hex characters, if inside a trace.
///
/// ```
/// use langfuse_runtime::{ObservationId, TraceContext, TraceId, current_observation_id};
/// let parent = ObservationId::random();
/// let cx = TraceContext::from_trace_id(TraceId::random(), Some(parent));
/// assert_eq!(cx.run(current_observation_id), Some(parent));
/// ```
pub fn current_observation_id() -> Option<ObservationId> {
    crate::context::with_current(|cx| cx.observation_id())
}

/// Token usage of a generation, serialized as OpenAI's
/// `{"prompt_tokens", "completion_tokens", "total_tokens"}` (Langfuse maps these to
/// input/output/total).
///
/// ```
/// use langfuse_runtime::Usage;
/// let usage = Usage::new(12, 3);
/// assert_eq!(usage.total_tokens, Some(15));
/// assert_eq!(
///     serde_json::to_string(&usage).unwrap(),
///     r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"#
/// );
/// ```
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
    ///
    /// ```
    /// use langfuse_runtime::Usage;
    /// let usage = Usage::new(15, 60);
    /// assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (15, 60, Some(75)));
    /// ```
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: Some(prompt_tokens + completion_tokens),
        }
    }
}
