//! [`LangfuseSpanProcessor`]: spans of a user's `opentelemetry_sdk` tracer provider sent to
//! Langfuse through this SDK's pipeline.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, Context, Value as OtelValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData};
use serde_json::Value;

use super::filter::{self, Predicate};
use crate::bridge::tracing::fields::{self, SpanFields};
use crate::frame::Frame;
use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::record::{ObservationRecord, TraceAttributes};

/// Most open spans the processor remembers (their start decision and parent); beyond that a
/// span is decided at its end only and counted in [`ProcessorStats::untracked`].
const MAX_OPEN_SPANS: usize = 65_536;

/// An `opentelemetry_sdk` span processor that sends the spans of the provider it is added to
/// into Langfuse through this SDK's pipeline: the installed client's batching, byte bound,
/// headers, keys and drop counters ([`Langfuse::stats`](crate::Langfuse::stats)).
///
/// Add it to an existing `SdkTracerProvider` next to its other processors:
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).init()?;
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(langfuse_runtime::opentelemetry::LangfuseSpanProcessor::new())
///     .build();
/// let tracer = provider.tracer("my-llm-lib");
/// tracer.in_span("chat", |_cx| { /* an LLM call */ });
/// provider.force_flush()?; // flushes our pipeline too
/// # drop(langfuse);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What a span becomes (the `tracing` bridge's mapping, the same for both):
/// - ids, parent, start and end time as they are; the name, or `gen_ai.tool.name` for tools;
/// - type, model, model parameters, usage (with a total), input/output messages and completion
///   start from `gen_ai.*` attributes; `langfuse.*` attributes read as the fields they name;
/// - status ERROR → level ERROR with the status description as status message;
/// - each span event → a Langfuse event under it (`exception` events at level ERROR);
/// - every other attribute → metadata, except OpenTelemetry and `tracing-opentelemetry`
///   bookkeeping (`code.*`, `thread.*`, `busy_ns`, `idle_ns`, `target`), plus the scope name as
///   `otel.scope.name`.
///
/// Which spans: first, a span of scope `langfuse-sdk` whose scope attribute `public_key`
/// names another project than this client's is left out (another Langfuse SDK on the same
/// provider, counted in [`ProcessorStats::other_project`]); then
/// [`is_default_export_span`](super::is_default_export_span) unless
/// [`export_filter`](Self::export_filter) replaces it. The filter is asked at the span's start
/// (with what is known then) and, if it said no, again at its end; a span exported at either
/// point is exported. A span not exported at its start hands its children to its nearest
/// exported ancestor, so nothing below it is orphaned.
///
/// It never blocks the thread that ends a span (the record goes into the pipeline's buffer),
/// never panics, and without a recording client counts the span in
/// [`ProcessorStats::no_client`] and drops it. The client's sampler applies to these spans
/// too (one decision per trace id), on top of the provider's own sampler.
/// [`force_flush`](opentelemetry_sdk::trace::SpanProcessor::force_flush) flushes our pipeline;
/// [`shutdown`](opentelemetry_sdk::trace::SpanProcessor::shutdown) flushes it too but does
/// not shut the client down: the [`Langfuse`](crate::Langfuse) handle owns it, and our own
/// observations keep exporting after the provider is gone.
pub struct LangfuseSpanProcessor {
    filter: Predicate,
    open: Arc<OpenSpans>,
    stats: Counters,
}

/// The spans a processor has seen start and not end yet.
type OpenSpans = Mutex<HashMap<SpanId, Open>>;

/// The open spans of every live processor. An observation of ours started inside an
/// OpenTelemetry span is placed by them as Python's single processor places a child (§8.6):
/// under the span if it is exported, else under its nearest exported ancestor, and an app
/// root only when there is none.
static PROCESSORS: Mutex<Vec<Weak<OpenSpans>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a child of the open OpenTelemetry span `span` goes, if a live
/// [`LangfuseSpanProcessor`] knows the span: under `Some(id)` (the span itself when it is
/// exported, else its nearest exported ancestor), or `None` when nothing above it is
/// exported. `None` overall when no processor has the span open (it goes elsewhere, or it is
/// remote).
pub(crate) fn exported_parent_of(span: SpanId) -> Option<Option<SpanId>> {
    // Registry, then a processor's spans: no path takes them the other way round.
    lock(&PROCESSORS).iter().filter_map(Weak::upgrade).find_map(|open| {
        let open = lock(&open);
        open.contains_key(&span).then(|| LangfuseSpanProcessor::exported_parent(&open, span))
    })
}

/// What the processor remembers about an open span.
#[derive(Clone, Copy)]
struct Open {
    /// The filter said yes at the start.
    exported_at_start: bool,
    /// The parent this span is exported under (its nearest exported ancestor); `None` for a
    /// trace root.
    parent: Option<SpanId>,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    exported: AtomicU64,
    filtered: AtomicU64,
    no_client: AtomicU64,
    unsampled: AtomicU64,
    untracked: AtomicU64,
    other_project: AtomicU64,
}

/// What a [`LangfuseSpanProcessor`] did with the spans it saw.
///
/// ```
/// let processor = langfuse_runtime::opentelemetry::LangfuseSpanProcessor::new();
/// assert_eq!(processor.stats().received, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorStats {
    /// Sampled spans that ended.
    pub received: u64,
    /// Handed to the client's pipeline (its own stats count what happens next).
    pub exported: u64,
    /// Left out by the export filter.
    pub filtered: u64,
    /// Dropped because no client was recording.
    pub no_client: u64,
    /// Left out by the client's sampler.
    pub unsampled: u64,
    /// Spans started while the processor already remembered its maximum of open spans: decided
    /// at their end only, and their children not re-parented if they are filtered out.
    pub untracked: u64,
    /// Spans of another Langfuse SDK instance sending to another project (scope
    /// `langfuse-sdk` with a `public_key` other than this client's), left out as the official
    /// SDKs leave them out, before the export filter.
    pub other_project: u64,
}

impl Default for LangfuseSpanProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LangfuseSpanProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangfuseSpanProcessor")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LangfuseSpanProcessor {
    /// A processor with the default export filter.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// let provider = SdkTracerProvider::builder()
    ///     .with_span_processor(langfuse_runtime::opentelemetry::LangfuseSpanProcessor::new())
    ///     .build();
    /// # drop(provider);
    /// ```
    pub fn new() -> Self {
        let open = Arc::new(Mutex::new(HashMap::new()));
        let mut processors = lock(&PROCESSORS);
        processors.retain(|p| p.strong_count() > 0);
        processors.push(Arc::downgrade(&open));
        Self { filter: Arc::new(filter::is_default_export_span), open, stats: Counters::default() }
    }

    /// Replaces the default export rule: spans for which `predicate` returns true go to
    /// Langfuse. A predicate that panics exports nothing.
    ///
    /// ```
    /// use langfuse_runtime::opentelemetry::{LangfuseSpanProcessor, is_default_export_span};
    /// // Also the spans of the app's own tracer.
    /// let processor = LangfuseSpanProcessor::new().export_filter(|span| {
    ///     is_default_export_span(span) || span.instrumentation_scope.name() == "my-app"
    /// });
    /// # drop(processor);
    /// ```
    pub fn export_filter(
        mut self,
        predicate: impl Fn(&SpanData) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Arc::new(predicate);
        self
    }

    /// The counters so far.
    ///
    /// ```
    /// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// let processor = langfuse_runtime::opentelemetry::LangfuseSpanProcessor::new();
    /// let stats = processor.stats();
    /// assert_eq!((stats.received, stats.no_client), (0, 0));
    /// ```
    pub fn stats(&self) -> ProcessorStats {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProcessorStats {
            received: get(&s.received),
            exported: get(&s.exported),
            filtered: get(&s.filtered),
            no_client: get(&s.no_client),
            unsampled: get(&s.unsampled),
            untracked: get(&s.untracked),
            other_project: get(&s.other_project),
        }
    }

    fn exports(&self, span: &SpanData) -> bool {
        catch_unwind(AssertUnwindSafe(|| (self.filter)(span))).unwrap_or(false)
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<SpanId, Open>> {
        lock(&self.open)
    }

    /// The parent `parent` is exported under: itself, or for a span not exported at its start
    /// the ancestor it resolved to.
    fn exported_parent(open: &HashMap<SpanId, Open>, parent: SpanId) -> Option<SpanId> {
        match open.get(&parent) {
            Some(Open { exported_at_start: false, parent }) => *parent,
            _ => Some(parent),
        }
    }

    fn submit(&self, span: SpanData, parent: Option<SpanId>) {
        let Some(client) = crate::client::global().filter(|c| c.is_recording()) else {
            self.stats.no_client.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let sc = &span.span_context;
        let (Some(trace_id), Some(id)) = (
            TraceId::from_bytes(sc.trace_id().to_bytes()),
            ObservationId::from_bytes(sc.span_id().to_bytes()),
        ) else {
            return;
        };
        if !client.sampler.should_sample(trace_id) {
            self.stats.unsampled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let parent_id = parent.and_then(|p| ObservationId::from_bytes(p.to_bytes()));
        let start = unix_nanos(span.start_time);
        let end = unix_nanos(span.end_time).max(start);
        let scope = span.instrumentation_scope.name().to_owned();
        let mut values = SpanFields::default();
        let mut target: Option<String> = None;
        let mut trace = TraceAttributes::default();
        let mut trace_public = false;
        for kv in &span.attributes {
            let key = kv.key.as_str();
            if key == "target" {
                // `tracing-opentelemetry`'s copy of the `tracing` target: it picks the type
                // rules of known crates, it is not user data.
                target = Some(kv.value.as_str().into_owned());
                continue;
            }
            if trace_attribute(&mut trace, &mut trace_public, key, &kv.value) {
                continue;
            }
            values.set(key.to_owned(), json(&kv.value));
        }
        if let Status::Error { description } = &span.status {
            values.set("otel.status_code", "ERROR".into());
            if !description.is_empty() {
                values.set("otel.status_message", description.to_string().into());
            }
        }
        values.set("otel.scope.name", scope.clone().into());
        let target = target.unwrap_or(scope);
        let observation_type = fields::observation_type(&span.name, &target, &values);
        let mut record = ObservationRecord::new(
            trace_id,
            id,
            parent_id,
            span.name.clone(),
            observation_type,
            start,
        );
        // A parent of another process, or none exported by us: the application's root here.
        record.is_app_root = parent_id.is_none() || span.parent_span_is_remote;
        record.parent_is_remote = span.parent_span_is_remote && parent_id.is_some();
        record.trace_public = trace_public;
        if trace != TraceAttributes::default() {
            record.trace = Some(Arc::new(trace));
        }
        let mut mapped = fields::map(&span.name, &target, start, observation_type, &mut values);
        let frame = Frame::fresh(Cow::Owned(client.clone()), || record, |_| {}).share();
        for event in span.events.iter() {
            submit_event(&client, trace_id, id, event);
        }
        frame.end_at(end, |r| mapped.write(r));
        self.stats.exported.fetch_add(1, Ordering::Relaxed);
    }
}

/// A span of another Langfuse SDK instance on the same provider whose project differs from
/// this client's (§8.5 step 1: multi-project isolation). Without a key of our own there is
/// nothing to compare, and the span is judged by the filter alone.
fn of_another_project(span: &SpanData) -> bool {
    let scope = &span.instrumentation_scope;
    if scope.name() != "langfuse-sdk" {
        return false;
    }
    let Some(theirs) = scope.attributes().find(|kv| kv.key.as_str() == "public_key") else {
        return false;
    };
    let client = crate::client::global();
    let ours = client.as_ref().and_then(|c| c.public_key.as_deref());
    ours.is_some_and(|ours| theirs.value.as_str() != ours)
}

/// Reads a trace-level attribute (the keys the server lifts to the trace, §9.3) into `trace`;
/// false for any other key.
fn trace_attribute(
    trace: &mut TraceAttributes,
    public: &mut bool,
    key: &str,
    value: &OtelValue,
) -> bool {
    let text = || Some(value.as_str().into_owned()).filter(|s| !s.is_empty());
    match key {
        "langfuse.trace.name" => trace.name = text(),
        "langfuse.user.id" | "user.id" => trace.user_id = trace.user_id.take().or_else(text),
        "langfuse.session.id" | "session.id" => {
            trace.session_id = trace.session_id.take().or_else(text)
        }
        "langfuse.version" => trace.version = text(),
        "langfuse.environment" => trace.environment = text(),
        "langfuse.trace.public" | "langfuse.public" => {
            *public = matches!(value, OtelValue::Bool(true)) || value.as_str() == "true"
        }
        "langfuse.trace.tags" | "langfuse.tags" => {
            trace.tags = match value {
                OtelValue::Array(Array::String(tags)) => {
                    tags.iter().map(|t| t.as_str().to_owned()).collect()
                }
                other => {
                    let s = other.as_str();
                    serde_json::from_str::<Vec<String>>(&s).unwrap_or_else(|_| {
                        s.split(',')
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                }
            }
        }
        _ => {
            let Some(k) = key.strip_prefix("langfuse.trace.metadata.") else { return false };
            if let Some(text) = json_text(value) {
                trace.metadata.insert(k.to_owned(), text);
            }
        }
    }
    true
}

/// An OpenTelemetry span event as a Langfuse event under its span.
fn submit_event(
    client: &crate::client::ClientInner,
    trace_id: TraceId,
    parent: ObservationId,
    event: &opentelemetry::trace::Event,
) {
    let at = unix_nanos(event.timestamp);
    let mut record = ObservationRecord::new(
        trace_id,
        ObservationId::random(),
        Some(parent),
        event.name.clone(),
        ObservationType::Event,
        at,
    );
    if event.name == "exception" {
        record.level = Some(Level::Error);
        let message = event.attributes.iter().find(|kv| kv.key.as_str() == "exception.message");
        record.set_status_message(message.map(|kv| kv.value.as_str().into_owned()));
    }
    for kv in &event.attributes {
        if let Some(text) = json_text(&kv.value) {
            record.metadata_mut().insert(kv.key.as_str().to_owned(), text);
        }
    }
    client.submit(&mut Some(record));
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
        .try_into()
        .unwrap_or(u64::MAX)
}

/// An attribute value as JSON text (metadata values).
fn json_text(value: &OtelValue) -> Option<crate::payload::JsonText> {
    serde_json::to_string(&json(value)).ok()?.parse().ok()
}

/// An attribute value as the JSON value the field mapping reads.
fn json(value: &OtelValue) -> Value {
    fn number(f: f64) -> Value {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
    match value {
        OtelValue::Bool(b) => Value::Bool(*b),
        OtelValue::I64(i) => Value::from(*i),
        OtelValue::F64(f) => number(*f),
        OtelValue::String(s) => Value::String(s.as_str().to_owned()),
        OtelValue::Array(Array::Bool(v)) => v.iter().map(|b| Value::Bool(*b)).collect(),
        OtelValue::Array(Array::I64(v)) => v.iter().map(|i| Value::from(*i)).collect(),
        OtelValue::Array(Array::F64(v)) => v.iter().map(|f| number(*f)).collect(),
        OtelValue::Array(Array::String(v)) => {
            v.iter().map(|s| Value::String(s.as_str().to_owned())).collect()
        }
        other => Value::String(other.as_str().into_owned()),
    }
}

impl opentelemetry_sdk::trace::SpanProcessor for LangfuseSpanProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        if crate::client::nothing_records() {
            return;
        }
        // What is known at the start: the attributes given to the span builder, the scope.
        let Some(data) = span.exported_data() else { return };
        let exported_at_start = self.exports(&data);
        let parent = (data.parent_span_id != SpanId::INVALID).then_some(data.parent_span_id);
        let mut open = self.open();
        let parent = parent.and_then(|p| Self::exported_parent(&open, p));
        if open.len() >= MAX_OPEN_SPANS {
            self.stats.untracked.fetch_add(1, Ordering::Relaxed);
            return;
        }
        open.insert(data.span_context.span_id(), Open { exported_at_start, parent });
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let remembered = self.open().remove(&span.span_context.span_id());
        if of_another_project(&span) {
            self.stats.other_project.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (exported, parent) = match remembered {
            Some(Open { exported_at_start: true, parent }) => (true, parent),
            Some(Open { exported_at_start: false, parent }) => (self.exports(&span), parent),
            None => {
                let parent =
                    (span.parent_span_id != SpanId::INVALID).then_some(span.parent_span_id);
                let parent = parent.and_then(|p| Self::exported_parent(&self.open(), p));
                (self.exports(&span), parent)
            }
        };
        if !exported {
            self.stats.filtered.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let submitted = catch_unwind(AssertUnwindSafe(|| self.submit(span, parent)));
        if submitted.is_err() {
            crate::diag::warn(format_args!(
                "an OpenTelemetry span could not be converted; dropped"
            ));
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        if let Some(client) = crate::client::global() {
            client.flush_spans();
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Flush, not shut down: the `Langfuse` handle owns the client.
        self.force_flush()
    }
}
