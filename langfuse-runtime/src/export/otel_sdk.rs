//! Our observations to any `opentelemetry_sdk` span exporter (`opentelemetry-otlp` to a
//! Collector, Tempo, Jaeger, an in-memory test exporter), next to Langfuse.
//!
//! Each record becomes a `SpanData` with exactly what our own OTLP encoder writes: the
//! attributes come from the same table ([`crate::attributes::for_each_attribute`], same keys,
//! order, encodings and count limit), the resource from the same list, the scope is
//! `langfuse-sdk` with the `public_key` attribute, kind INTERNAL, ERROR status with the status
//! message, the `exception` event of an escaped panic.
//!
//! Each destination runs its exporter on a thread of its own, behind a bounded queue: an
//! exporter that blocks (a blocking HTTP client waiting for a dead host) or hangs cannot
//! delay the built-in exporter's batches by a millisecond; its batches queue up to the bound
//! and are then dropped and counted for that destination only.

use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as SdkSpanExporter, SpanLinks};

use super::destination::{DestinationHandle, DestinationSetup};
use super::otlp::for_each_resource_attribute;
use super::pipeline::record_bytes;
use super::{ExportError, ExportResource, SpanExporter};
use crate::attributes::{
    AttrKey, AttrValue, for_each_attribute, for_each_exception_attribute, keys,
};
use crate::config::{DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_QUEUE_SIZE};
use crate::diag;
use crate::record::ObservationRecord;

/// Default deadline of one export, flush or shutdown of the wrapped exporter.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

type Filter = Arc<dyn Fn(&ObservationRecord) -> bool + Send + Sync>;
/// Starts the destination's thread with the exporter it owns.
type Start = Box<dyn FnOnce(Resource, Worker) -> std::io::Result<()> + Send>;

/// Sends our observations to an `opentelemetry_sdk` span exporter as well, with its own filter,
/// queue and counts. Install it with
/// [`ConfigBuilder::otel_exporter`](crate::ConfigBuilder::otel_exporter), which gives it the
/// client's resource (service name, environment, release), public key, timeout and queue
/// bounds and reports its counts; through the generic
/// [`ConfigBuilder::exporter`](crate::ConfigBuilder::exporter) it would export with default
/// ones and its counts would be nowhere.
///
/// The exporter runs on a thread of this destination's own, with no async runtime: its
/// `export` future is driven by a small `block_on` there. Exporters whose futures need a tokio
/// reactor (`opentelemetry-otlp` with tonic or the async `reqwest` client) panic without one;
/// build them with a blocking client (`opentelemetry-otlp` with its `reqwest-blocking-client`
/// feature and `.with_http()`). A panic, an error or an export that takes longer than the
/// [timeout](Self::timeout) fails that batch, counted in
/// [`DestinationCounts::failed`](crate::export::DestinationCounts::failed); a hanging exporter
/// fills its own queue (the pipeline's bounds in count and bytes), and further batches are
/// dropped and counted. The built-in exporter never waits for a destination, except
/// [`Langfuse::flush`](crate::Langfuse::flush) and shutdown, which give each destination at
/// most its timeout to drain.
///
/// ```
/// use langfuse_runtime::export::OtelExporter;
/// use langfuse_runtime::{Config, ObservationType};
/// # #[derive(Debug)]
/// # struct MyExporter;
/// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
/// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
/// # }
/// # fn make_otlp_exporter() -> MyExporter { MyExporter }
///
/// // e.g. opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(…).build()?
/// let config = Config::builder()
///     .env_source(|_| None)
///     .otel_exporter(|| {
///         OtelExporter::new(make_otlp_exporter())
///             .name("tempo")
///             // Tempo gets generations only:
///             .filter(|r| r.observation_type == ObservationType::Generation)
///     })
///     .build()?;
/// # let _ = config;
/// # Ok::<(), langfuse_runtime::ConfigError>(())
/// ```
pub struct OtelExporter {
    name: Cow<'static, str>,
    filter: Option<Filter>,
    timeout: Option<Duration>,
    setup: Option<DestinationSetup>,
    handle: DestinationHandle,
    start: Option<Start>,
    running: Option<Running>,
    /// Built once: every span of the destination carries a clone.
    scope: Option<InstrumentationScope>,
    shut_down: bool,
}

impl std::fmt::Debug for OtelExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelExporter")
            .field("name", &self.name)
            .field("filter", &self.filter.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OtelExporter {
    /// Wraps `exporter`. Nothing runs until the client is created; the thread starts with the
    /// first batch.
    ///
    /// ```
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let destination = langfuse_runtime::export::OtelExporter::new(MyExporter);
    /// # drop(destination);
    /// ```
    pub fn new<E: SdkSpanExporter + 'static>(exporter: E) -> Self {
        let start: Start = Box::new(move |resource, worker| {
            let mut exporter = exporter;
            exporter.set_resource(&resource);
            thread::Builder::new()
                .name(format!("langfuse-export-{}", worker.handle.name))
                .spawn(move || worker.run(&exporter))
                .map(drop)
        });
        Self {
            name: Cow::Borrowed("otel"),
            filter: None,
            timeout: None,
            setup: None,
            handle: DestinationHandle::new("otel"),
            start: Some(start),
            running: None,
            scope: None,
            shut_down: false,
        }
    }

    /// The destination's name in logs and in
    /// [`Langfuse::destination_stats`](crate::Langfuse::destination_stats); default `otel`.
    ///
    /// ```
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let tempo = langfuse_runtime::export::OtelExporter::new(MyExporter).name("tempo");
    /// assert!(format!("{tempo:?}").contains("tempo"));
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self.handle = DestinationHandle::new(&self.name);
        self
    }

    /// Sends only the observations `predicate` accepts (default: all). Left-out ones are
    /// counted in [`filtered_out`](crate::export::DestinationCounts::filtered_out); a
    /// predicate that panics leaves the observation out. Runs on the export thread, so keep
    /// it cheap. Filtering does not re-parent: an exported child of a left-out parent keeps
    /// its parent id.
    ///
    /// ```
    /// use langfuse_runtime::ObservationType;
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let llm_calls = langfuse_runtime::export::OtelExporter::new(MyExporter)
    ///     .filter(|r| matches!(r.observation_type, ObservationType::Generation | ObservationType::Embedding));
    /// # drop(llm_calls);
    /// ```
    pub fn filter(
        mut self,
        predicate: impl Fn(&ObservationRecord) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(Arc::new(predicate));
        self
    }

    /// Deadline of one export, of a flush and of the shutdown of the wrapped exporter
    /// (default: the client's [`timeout`](crate::Config::timeout), 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let quick = langfuse_runtime::export::OtelExporter::new(MyExporter).timeout(Duration::from_secs(2));
    /// # drop(quick);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Takes the client's resource, timeout and queue bounds (called by the client at init).
    pub(crate) fn install(
        mut self,
        setup: &DestinationSetup,
    ) -> (Box<dyn SpanExporter>, DestinationHandle) {
        self.setup = Some(setup.clone());
        let handle = self.handle.clone();
        (Box::new(self), handle)
    }

    fn setup(&mut self) -> &DestinationSetup {
        self.setup.get_or_insert_with(|| DestinationSetup {
            resource: ExportResource::new("unknown_service", ""),
            timeout: DEFAULT_TIMEOUT,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
        })
    }

    fn effective_timeout(&mut self) -> Duration {
        let timeout = self.timeout;
        timeout.unwrap_or_else(|| self.setup().timeout).max(Duration::from_millis(1))
    }

    /// Starts the thread on first use; `None` when it could not start (counted by the caller).
    fn running(&mut self) -> Option<&Running> {
        if let Some(start) = self.start.take() {
            let timeout = self.effective_timeout();
            let resource = otel_resource(&self.setup().resource);
            let (sender, receiver) = mpsc::channel();
            let worker = Worker { receiver, handle: self.handle.clone(), timeout };
            match start(resource, worker) {
                Ok(()) => self.running = Some(Running { sender }),
                Err(e) => diag::error(format_args!(
                    "destination {}: could not start its export thread: {e}",
                    self.name
                )),
            }
        }
        self.running.as_ref()
    }

    fn scope(&mut self) -> InstrumentationScope {
        if self.scope.is_none() {
            let resource = &self.setup().resource;
            let scope = InstrumentationScope::builder(keys::SCOPE_NAME)
                .with_version(resource.sdk_version)
                .with_attributes([KeyValue::new(
                    keys::SCOPE_PUBLIC_KEY,
                    resource.public_key.clone(),
                )])
                .build();
            self.scope = Some(scope);
        }
        self.scope
            .clone()
            .unwrap_or_else(|| InstrumentationScope::builder(keys::SCOPE_NAME).build())
    }

    /// Sends `message` and waits for its acknowledgement for at most the timeout.
    fn round_trip(&mut self, make: impl FnOnce(mpsc::Sender<()>) -> Message) -> bool {
        let timeout = self.effective_timeout();
        let Some(running) = self.running.as_ref() else { return true };
        let (ack, done) = mpsc::channel();
        running.sender.send(make(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }
}

impl SpanExporter for OtelExporter {
    /// Filters and converts the batch and queues it for the destination's thread; never
    /// waits for the wrapped exporter and never fails (the outcome is the destination's own,
    /// in its counts).
    ///
    /// ```
    /// use langfuse_runtime::export::{OtelExporter, SpanExporter};
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let record = ObservationRecord::new(
    ///     TraceId::random(), ObservationId::random(), None, "chat", ObservationType::Generation, 0,
    /// );
    /// let mut destination = OtelExporter::new(MyExporter);
    /// destination.export(&[record])?;
    /// destination.shutdown()?;
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        let filter = self.filter.clone();
        let selected: Vec<&ObservationRecord> = match &filter {
            None => batch.iter().collect(),
            Some(keep) => batch
                .iter()
                .filter(|r| catch_unwind(AssertUnwindSafe(|| keep(r))).unwrap_or(false))
                .collect(),
        };
        let kept = selected.len() as u64;
        let (max_records, max_bytes) = {
            let setup = self.setup();
            (setup.max_queue_size as u64, setup.max_queue_bytes)
        };
        let handle = self.handle.clone();
        {
            let mut ledger = handle.lock();
            ledger.counts.offered += n;
            ledger.counts.filtered_out += n - kept;
            if kept == 0 {
                return Ok(());
            }
            // Full already: drop without paying for the conversion.
            if self.shut_down
                || ledger.abandoned
                || ledger.counts.queued + kept > max_records
                || ledger.queued_bytes >= max_bytes
            {
                ledger.counts.dropped += kept;
                drop(ledger);
                self.log_drop();
                return Ok(());
            }
        }
        let scope = self.scope();
        let defaults = self.setup().resource.span_defaults.clone();
        let mut bytes = 0;
        let spans: Vec<SpanData> = selected
            .iter()
            .map(|r| {
                bytes += record_bytes(r);
                span_data(r, &defaults, scope.clone())
            })
            .collect();
        let queued = {
            let mut ledger = handle.lock();
            if ledger.queued_bytes + bytes > max_bytes {
                ledger.counts.dropped += kept;
                false
            } else {
                ledger.counts.queued += kept;
                ledger.queued_bytes += bytes;
                true
            }
        };
        if !queued {
            self.log_drop();
            return Ok(());
        }
        let sent = match self.running() {
            Some(running) => running.sender.send(Message::Batch { spans, bytes }).is_ok(),
            None => false,
        };
        if !sent {
            let mut ledger = handle.lock();
            ledger.counts.queued -= kept;
            ledger.queued_bytes -= bytes;
            ledger.counts.dropped += kept;
        }
        Ok(())
    }

    /// Waits until the destination exported what was queued and flushed the wrapped exporter,
    /// for at most its timeout.
    ///
    /// ```
    /// use langfuse_runtime::export::{OtelExporter, SpanExporter};
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let mut destination = OtelExporter::new(MyExporter);
    /// destination.force_flush()?; // nothing queued: returns at once
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    fn force_flush(&mut self) -> Result<(), ExportError> {
        if self.running.is_some() && !self.round_trip(Message::Flush) {
            let timeout = self.effective_timeout();
            diag::warn(format_args!(
                "destination {}: not flushed within {timeout:?}; its exporter is slow or hanging",
                self.name,
            ));
        }
        Ok(())
    }

    /// Exports what is queued, shuts the wrapped exporter down and stops the thread, waiting
    /// at most the timeout; what is still queued then is counted as lost at shutdown.
    ///
    /// ```
    /// use langfuse_runtime::export::{OtelExporter, SpanExporter};
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let mut destination = OtelExporter::new(MyExporter);
    /// destination.shutdown()?;
    /// # Ok::<(), langfuse_runtime::export::ExportError>(())
    /// ```
    fn shutdown(&mut self) -> Result<(), ExportError> {
        if std::mem::replace(&mut self.shut_down, true) {
            return Ok(());
        }
        self.start = None;
        if self.running.is_some() && !self.round_trip(Message::Shutdown) {
            let mut ledger = self.handle.lock();
            ledger.abandoned = true;
            let queued = std::mem::take(&mut ledger.counts.queued);
            ledger.counts.lost_at_shutdown += queued;
            ledger.queued_bytes = 0;
            drop(ledger);
            let timeout = self.effective_timeout();
            diag::warn(format_args!(
                "destination {}: shutdown gave up after {timeout:?}; {queued} observations lost",
                self.name,
            ));
        }
        // The thread ends when it sees the channel close (or stays behind a hung exporter,
        // detached: nothing waits for it).
        self.running = None;
        Ok(())
    }
}

impl OtelExporter {
    fn log_drop(&self) {
        let counts = self.handle.lock().counts;
        // Once per power of two, so a long outage does not flood the log.
        if counts.dropped.is_power_of_two() || counts.dropped < 2 {
            diag::warn(format_args!(
                "destination {}: {} observations dropped so far (its queue is full or it is \
                 shut down); the built-in exporter is not affected",
                self.name, counts.dropped
            ));
        }
    }
}

impl Drop for OtelExporter {
    fn drop(&mut self) {
        let _ = SpanExporter::shutdown(self);
    }
}

enum Message {
    Batch { spans: Vec<SpanData>, bytes: usize },
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

struct Running {
    sender: mpsc::Sender<Message>,
}

/// The destination's thread: exports batches in order, counts each outcome.
struct Worker {
    receiver: mpsc::Receiver<Message>,
    handle: DestinationHandle,
    timeout: Duration,
}

impl Worker {
    fn run<E: SdkSpanExporter>(self, exporter: &E) {
        while let Ok(message) = self.receiver.recv() {
            match message {
                Message::Batch { spans, bytes } => self.export(exporter, spans, bytes),
                Message::Flush(ack) => {
                    let result = catch_unwind(AssertUnwindSafe(|| exporter.force_flush()));
                    self.log_result("flush", result.map(Some));
                    let _ = ack.send(());
                }
                Message::Shutdown(ack) => {
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        exporter.shutdown_with_timeout(self.timeout)
                    }));
                    self.log_result("shutdown", result.map(Some));
                    let _ = ack.send(());
                    return;
                }
            }
        }
    }

    fn export<E: SdkSpanExporter>(&self, exporter: &E, spans: Vec<SpanData>, bytes: usize) {
        let n = spans.len() as u64;
        let deadline = Instant::now() + self.timeout;
        let result = catch_unwind(AssertUnwindSafe(|| block_on(exporter.export(spans), deadline)));
        let ok = matches!(result, Ok(Some(Ok(()))));
        if !ok {
            self.log_result("export", result);
        }
        let mut ledger = self.handle.lock();
        if ledger.abandoned {
            // Shutdown already counted it lost.
            return;
        }
        ledger.counts.queued = ledger.counts.queued.saturating_sub(n);
        ledger.queued_bytes = ledger.queued_bytes.saturating_sub(bytes);
        if ok {
            ledger.counts.exported += n;
        } else {
            ledger.counts.failed += n;
        }
    }

    fn log_result(
        &self,
        what: &str,
        result: std::thread::Result<Option<opentelemetry_sdk::error::OTelSdkResult>>,
    ) {
        let name = &self.handle.name;
        match result {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => diag::error(format_args!("destination {name}: {what} failed: {e}")),
            Ok(None) => diag::error(format_args!(
                "destination {name}: {what} did not finish within {:?}",
                self.timeout
            )),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                diag::error(format_args!(
                    "destination {name}: {what} panicked: {message} (an exporter that needs a \
                     tokio reactor must be built with a blocking client)"
                ));
            }
        }
    }
}

/// Wakes the thread that polls.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it completes or `deadline` passes (`None`; the future
/// is dropped, which cancels it). No runtime: a future waiting on a tokio reactor panics.
fn block_on<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        // A wake before the park makes it return at once; a spurious return only polls again.
        thread::park_timeout(left);
    }
}

fn key(key: AttrKey<'_>) -> Key {
    if key.suffix.is_empty() {
        Key::from_static_str(key.prefix)
    } else {
        Key::from(key.to_string())
    }
}

fn value(value: AttrValue<'_>) -> Value {
    match value {
        AttrValue::Str(s) => Value::String(StringValue::from(s.to_owned())),
        AttrValue::Bool(b) => Value::Bool(b),
        AttrValue::Int(i) => Value::I64(i),
        AttrValue::StrArray(items) => Value::Array(Array::String(
            items.iter().map(|s| StringValue::from(s.clone())).collect(),
        )),
    }
}

fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// The resource our encoder writes, as an `opentelemetry_sdk` resource (no detectors: the
/// same attributes, nothing added).
pub(crate) fn otel_resource(resource: &ExportResource) -> Resource {
    let mut attributes = Vec::new();
    for_each_resource_attribute(resource, |k, v| attributes.push(KeyValue::new(key(k), value(v))));
    Resource::builder_empty().with_attributes(attributes).build()
}

/// One record as the span our encoder writes for it.
pub(crate) fn span_data(
    record: &ObservationRecord,
    defaults: &crate::attributes::SpanDefaults,
    scope: InstrumentationScope,
) -> SpanData {
    let mut attributes = Vec::with_capacity(16);
    let dropped = for_each_attribute(record, defaults, |k, v| {
        attributes.push(KeyValue::new(key(k), value(v)))
    });
    let mut events = SpanEvents::default();
    if let Some(exception) = record.exception() {
        let mut event_attributes = Vec::with_capacity(4);
        for_each_exception_attribute(exception, |k, v| {
            event_attributes.push(KeyValue::new(key(k), value(v)))
        });
        events.events.push(Event::new(
            keys::EXCEPTION_EVENT,
            time(exception.time_unix_nanos),
            event_attributes,
            0,
        ));
    }
    let status = if record.is_error() {
        Status::Error { description: record.status_message().unwrap_or("").to_owned().into() }
    } else {
        Status::Unset
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(record.trace_id.to_bytes()),
            SpanId::from_bytes(record.id.to_bytes()),
            // Only sampled observations are recorded.
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: record
            .parent_id
            .map_or(SpanId::INVALID, |parent| SpanId::from_bytes(parent.to_bytes())),
        parent_span_is_remote: record.parent_is_remote,
        span_kind: SpanKind::Internal,
        name: record.name.clone(),
        start_time: time(record.start_unix_nanos),
        end_time: time(record.end_unix_nanos),
        attributes,
        dropped_attributes_count: u32::try_from(dropped).unwrap_or(u32::MAX),
        events,
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::otlp::encode_request;
    use crate::export::otlp::tests::{resource, sample_batch};
    use crate::record::ExceptionEvent;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use prost::Message;

    /// The sample batch of the encoder's tests (unicode, empty strings, a remote parent, trace
    /// attributes, an ERROR generation) plus an escaped panic and a span over the attribute
    /// limit: through `SpanData` and `opentelemetry-proto`'s transform (what
    /// `opentelemetry-otlp` sends) it is what our encoder writes.
    #[test]
    fn span_data_is_what_our_encoder_writes() {
        let mut resource = resource();
        resource.span_defaults.attribute_count_limit = 12;
        let mut batch = sample_batch();
        let mut failed = batch[0].clone();
        failed.id = crate::ids::ObservationId::from_u64(0x8888).unwrap();
        failed.level = Some(crate::kind::Level::Error);
        failed.set_exception(ExceptionEvent {
            time_unix_nanos: 1_735_787_045_678_000_123,
            type_name: "panic",
            message: "boom".into(),
            stacktrace: Some("panicked at src/lib.rs:1:1".into()),
        });
        for i in 0..20 {
            failed.metadata_mut().insert(format!("k{i}"), "1".into());
        }
        batch.push(failed);

        let mut ours = Vec::new();
        encode_request(&batch, &resource, &mut ours);
        let ours = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();

        let mut exporter = OtelExporter::new(NoopExporter);
        exporter.setup = Some(DestinationSetup {
            resource: resource.clone(),
            timeout: DEFAULT_TIMEOUT,
            max_queue_size: 10,
            max_queue_bytes: 1 << 20,
        });
        let scope = exporter.scope();
        let spans: Vec<SpanData> =
            batch.iter().map(|r| span_data(r, &resource.span_defaults, scope.clone())).collect();
        let theirs = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&otel_resource(&resource)),
            ),
        };

        let (ours, theirs) = (&ours.resource_spans[0], &theirs.resource_spans[0]);
        let sorted = |mut v: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>| {
            v.sort_by(|a, b| a.key.cmp(&b.key));
            v
        };
        assert_eq!(
            sorted(ours.resource.clone().unwrap().attributes),
            sorted(theirs.resource.clone().unwrap().attributes)
        );
        let (ours, theirs) = (&ours.scope_spans[0], &theirs.scope_spans[0]);
        assert_eq!(ours.scope, theirs.scope);
        assert_eq!(ours.spans.len(), 4);
        assert_eq!(theirs.spans.len(), 4);
        for (a, b) in ours.spans.iter().zip(&theirs.spans) {
            let mut b = b.clone();
            // The transform writes an UNSET status and the sampled trace flag; ours leaves
            // the first out and does not set the second.
            if b.status.as_ref().is_some_and(|s| s.code == 0) {
                b.status = None;
            }
            assert_eq!(b.flags & 0xff, 1);
            b.flags &= !0xff;
            assert_eq!(a, &b, "{}", a.name);
        }
        assert!(ours.spans[3].dropped_attributes_count > 0, "the limit was reached");
        assert_eq!(ours.spans[3].events.len(), 1);
    }

    #[derive(Debug)]
    struct NoopExporter;

    impl SdkSpanExporter for NoopExporter {
        async fn export(&self, _batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn block_on_returns_the_output_or_gives_up_at_the_deadline() {
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(block_on(async { 7 }, soon), Some(7));
        let past = Instant::now() + Duration::from_millis(10);
        assert_eq!(block_on(std::future::pending::<()>(), past), None);
    }
}
