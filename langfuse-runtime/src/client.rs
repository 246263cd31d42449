//! Setup in one line, the handle that flushes on drop, and the global client that root
//! observations attach to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::attributes::SpanDefaults;
use crate::config::{Config, ConfigBuilder, ConfigError};
use crate::diag;
use crate::export::backlog::Backlog;
use crate::export::destination::{DestinationSetup, Destinations};
use crate::export::pipeline::{Pipeline, PipelineSettings};
use crate::export::{
    ConsoleExporter, ExportResource, ExportStats, FlushReport, OtlpHttpExporter, OtlpHttpSettings,
    SpanExporter,
};
use crate::record::ObservationRecord;
use crate::sampling::Sampler;

/// What observations of one client share.
pub(crate) struct ClientInner {
    pub(crate) sampler: Sampler,
    pub(crate) io_capture_enabled: bool,
    pipeline: Option<Pipeline>,
    timeout: Duration,
    /// Cuts the OTLP exporter's retry waits short when shutdown runs out of time.
    abort_export: Option<crate::export::http::AbortHandle>,
    /// Where scores go; `None` when nowhere (tracing off, neither keys nor console).
    pub(crate) scores: Option<Arc<crate::score::ScoreSender>>,
    /// Extra destinations' counts ([`ConfigBuilder::otel_exporter`]).
    destinations: Destinations,
    /// The project key our spans carry in their scope; the OpenTelemetry processor leaves out
    /// `langfuse-sdk` spans of another project (§8.5 step 1).
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) public_key: Option<String>,
}

impl ClientInner {
    /// How long flush and shutdown wait: twice the export timeout and a second. Saturating, so
    /// no timeout makes the client panic.
    fn wait_limit(&self) -> Duration {
        self.timeout.saturating_mul(2).saturating_add(Duration::from_secs(1))
    }

    pub(crate) fn is_recording(&self) -> bool {
        self.pipeline.as_ref().is_some_and(|p| !p.is_closed())
    }

    /// A client that records nothing, for unit tests of the parts that hold one.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Arc<Self> {
        Arc::new(Self {
            sampler: Sampler::always(),
            io_capture_enabled: true,
            pipeline: None,
            timeout: Duration::from_secs(1),
            abort_export: None,
            scores: None,
            destinations: Destinations::default(),
            public_key: None,
        })
    }

    /// Flushes and stops the pipeline, logs the outcome in one line and returns it. `None` when
    /// it was shut down before (or never recorded).
    /// Shuts down span export, then score sending (spans first, as `flush` does).
    fn shutdown(&self) -> Option<FlushReport> {
        let report = self.shutdown_spans();
        if let Some(scores) = &self.scores {
            scores.shutdown(self.wait_limit());
        }
        report
    }

    fn shutdown_spans(&self) -> Option<FlushReport> {
        let pipeline = self.pipeline.as_ref()?;
        let wait = self.wait_limit();
        let report = pipeline.shutdown(wait, || {
            if let Some(abort) = &self.abort_export {
                // The export thread is still retrying: let it give up instead of outliving us.
                abort.abort();
            }
        })?;
        let report = FlushReport { destinations: self.destinations.report(), ..report };
        RECORDING_CLIENTS.fetch_sub(1, Ordering::Relaxed);
        if report.is_success() {
            diag::debug(format_args!("shutdown: {report}"));
        } else if report.deadline_hit {
            diag::warn(format_args!(
                "shutdown: {report}; gave up after {wait:?} (twice the export timeout and a second)"
            ));
        } else {
            diag::warn(format_args!("shutdown: {report}"));
        }
        Some(report)
    }

    /// Exports what is queued so far, waiting at most twice the export timeout and a second
    /// (the OpenTelemetry span processor's `force_flush`).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn flush_spans(&self) -> Option<FlushReport> {
        Some(self.pipeline.as_ref()?.flush(self.wait_limit()))
    }

    /// Exports the record in `slot` (taking it out).
    pub(crate) fn submit(&self, slot: &mut Option<ObservationRecord>) {
        if let Some(pipeline) = &self.pipeline {
            pipeline.submit(slot);
        }
    }
}

static GLOBAL: RwLock<Option<Arc<ClientInner>>> = RwLock::new(None);
/// Recording clients alive: zero means every observation start can return at once.
static RECORDING_CLIENTS: AtomicUsize = AtomicUsize::new(0);

/// The client new traces attach to.
pub(crate) fn global() -> Option<Arc<ClientInner>> {
    GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// True when no client records: the one-load fast path of `#[observe]`.
#[inline(always)]
pub(crate) fn nothing_records() -> bool {
    RECORDING_CLIENTS.load(Ordering::Relaxed) == 0
}

/// The Langfuse client: returned by [`init`], it flushes and shuts down when dropped.
///
/// Keep it alive for the life of the program (bind it in `main`). Dropping it exports whatever
/// is queued, waiting at most twice the export timeout.
///
/// ```no_run
/// fn main() -> Result<(), langfuse_runtime::ConfigError> {
///     let langfuse = langfuse_runtime::init()?;
///     // ... run the app ...
///     langfuse.flush();
///     Ok(())
/// }
/// ```
#[must_use = "dropping the client shuts tracing down"]
pub struct Langfuse {
    inner: Arc<ClientInner>,
    config: Config,
}

impl std::fmt::Debug for Langfuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Langfuse")
            .field("recording", &self.inner.is_recording())
            .field("config", &self.config)
            .finish()
    }
}

/// Reads the configuration from the environment and installs the global client.
///
/// Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` (or with `LANGFUSE_TRACING_ENABLED=false`)
/// instrumented code runs normally and nothing is exported.
///
/// Called again (or with another [`Langfuse::new`]), the new client replaces the installed
/// one, which is flushed and shut down first (a log line says so); the old handle then only
/// reads its [`stats`](Langfuse::stats). Recording never stops silently: the new client
/// records until its own handle drops.
///
/// ```no_run
/// fn main() -> Result<(), langfuse_runtime::ConfigError> {
///     let langfuse = langfuse_runtime::init()?; // keep it alive: dropping it flushes and stops
///     // … the application …
///     drop(langfuse);
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Langfuse, ConfigError> {
    Ok(Langfuse::new(Config::from_env()?))
}

/// Flushes and shuts down the installed global client and reports the outcome, for apps that
/// cannot drop the handle at the right moment: one kept in a `static`, or a
/// [`std::process::exit`] (which runs no destructors, so without this call whatever is still
/// queued is lost). Nothing is recorded afterwards until the next [`init`]; the handle's own
/// drop then does nothing more. Without an installed client the report is empty.
///
/// ```no_run
/// static CLIENT: std::sync::OnceLock<langfuse_runtime::Langfuse> = std::sync::OnceLock::new();
///
/// fn main() {
///     if let Ok(client) = langfuse_runtime::init() {
///         let _ = CLIENT.set(client);
///     }
///     // ... run the app ...
///     let report = langfuse_runtime::shutdown();
///     std::process::exit(if report.is_success() { 0 } else { 1 });
/// }
/// ```
pub fn shutdown() -> FlushReport {
    let installed = GLOBAL.write().unwrap_or_else(|e| e.into_inner()).take();
    installed.and_then(|client| client.shutdown()).unwrap_or_default()
}

impl ConfigBuilder {
    /// Builds the configuration and installs the global client.
    ///
    /// ```
    /// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).init()?;
    /// assert!(!langfuse.is_recording(), "no keys, no console: nothing records");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn init(self) -> Result<Langfuse, ConfigError> {
        Ok(Langfuse::new(self.build()?))
    }
}

impl Langfuse {
    /// Installs a client for `config` as the global one. An earlier installed client is
    /// flushed and shut down first, as with [`init`] called twice.
    ///
    /// ```
    /// use langfuse_runtime::{Config, Langfuse};
    /// let config = Config::builder().env_source(|_| None).console_exporter(true).build()?;
    /// let langfuse = Langfuse::new(config);
    /// assert!(langfuse.is_recording());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn new(config: Config) -> Self {
        diag::set_debug(config.debug());
        crate::capture::set_field_budget(config.max_field_bytes());
        crate::mask::install(config.mask());
        let (pipeline, abort_export, destinations) = Self::pipeline_for(&config);
        let sampler = if config.sample_rate() >= 1.0 {
            Sampler::always()
        } else {
            Sampler::new(config.sample_rate())
        };
        let inner = Arc::new(ClientInner {
            sampler,
            io_capture_enabled: config.io_capture_enabled(),
            pipeline,
            timeout: config.timeout(),
            abort_export,
            scores: crate::score::ScoreSender::for_config(&config, sampler),
            destinations,
            public_key: config.public_key().map(str::to_owned),
        });
        if inner.is_recording() {
            RECORDING_CLIENTS.fetch_add(1, Ordering::Relaxed);
        }
        let replaced = GLOBAL.write().unwrap_or_else(|e| e.into_inner()).replace(inner.clone());
        if let Some(old) = replaced.filter(|old| old.is_recording()) {
            diag::warn(format_args!(
                "a new Langfuse client replaces the installed one: flushing and shutting down \
                 the old client; new observations go to the new one"
            ));
            // Outside the lock: new traces already start in the new client meanwhile.
            let _ = old.shutdown();
        }
        Langfuse { inner, config }
    }

    fn pipeline_for(
        config: &Config,
    ) -> (Option<Pipeline>, Option<crate::export::http::AbortHandle>, Destinations) {
        if !config.tracing_enabled() {
            diag::debug(format_args!("tracing disabled (LANGFUSE_TRACING_ENABLED=false)"));
            return (None, None, Destinations::default());
        }
        let mut abort_export = None;
        let mut resource = ExportResource::new(
            config.service_name().to_owned(),
            config.public_key().unwrap_or_default().to_owned(),
        );
        resource.resource_attributes = config.resource_attributes().to_vec();
        resource.span_defaults = SpanDefaults {
            environment: config.environment().map(str::to_owned),
            release: config.release().map(str::to_owned),
            attribute_count_limit: config.attribute_count_limit(),
        };
        let mut exporters: Vec<Box<dyn SpanExporter>> = Vec::new();
        // The pipeline reports the queue's fill through it, the Langfuse exporter reads it.
        let backlog = Backlog::default();
        // Keys authenticate to Langfuse; in collector mode (an explicit endpoint) they are
        // optional, and without them no `Authorization` header is sent.
        let keys = match (config.public_key(), config.secret_key()) {
            (Some(public_key), Some(secret_key)) => {
                Some((public_key.to_owned(), secret_key.expose().to_owned()))
            }
            _ => None,
        };
        if !config.langfuse_export() {
            diag::debug(format_args!(
                "the built-in OTLP exporter is off (LANGFUSE_EXPORT_ENABLED=false)"
            ));
        } else if keys.is_some() || config.otlp_endpoint().is_some() {
            let (public_key, secret_key) = keys.unwrap_or_default();
            let mut settings =
                OtlpHttpSettings::new(config.traces_endpoint(), public_key, secret_key);
            settings.timeout = config.timeout();
            settings.compression = config.compression();
            settings.max_request_bytes = config.max_request_bytes();
            settings.headers = config.headers().to_vec();
            settings.backlog = backlog.clone();
            let exporter = OtlpHttpExporter::new(settings, resource.clone());
            abort_export = Some(exporter.abort_handle());
            exporters.push(Box::new(exporter));
        } else {
            crate::keyless::warn(config);
        }
        if config.console_exporter() {
            exporters.push(Box::new(ConsoleExporter::stdout()));
        }
        exporters.extend(config.extra_exporters().iter().map(|make| (make.0)()));
        let setup = DestinationSetup {
            resource,
            timeout: config.timeout(),
            max_queue_size: config.max_queue_size(),
            max_queue_bytes: config.max_queue_bytes(),
        };
        let mut handles = Vec::new();
        for make in config.destinations() {
            let (exporter, handle) = (make.0)(&setup);
            exporters.push(exporter);
            handles.push(handle);
        }
        if exporters.is_empty() {
            return (None, None, Destinations::default());
        }
        let pipeline = Pipeline::start(
            PipelineSettings {
                flush_at: config.flush_at(),
                flush_interval: config.flush_interval(),
                max_queue_size: config.max_queue_size(),
                max_queue_bytes: config.max_queue_bytes(),
                backlog,
            },
            exporters,
        );
        (Some(pipeline), abort_export, Destinations::new(handles))
    }

    /// Whether observations are being recorded: keys, the console or a custom exporter, and
    /// tracing enabled.
    ///
    /// ```
    /// let off = langfuse_runtime::Config::builder().env_source(|_| None).tracing_enabled(false);
    /// assert!(!off.console_exporter(true).init()?.is_recording());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    /// The configuration in effect.
    ///
    /// ```
    /// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).flush_at(64).init()?;
    /// assert_eq!(langfuse.config().flush_at(), 64);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Exports every observation finished so far, blocking until done or until twice the
    /// export timeout has passed, and reports what happened since the previous report.
    ///
    /// Check [`FlushReport::is_success`] before telling anyone the observations arrived: a
    /// flush whose exports all failed (say with 401 for wrong keys) finishes in time but is no
    /// success.
    ///
    /// ```no_run
    /// let langfuse = langfuse_runtime::init()?;
    /// let report = langfuse.flush();
    /// println!("{} exported, success: {}", report.exported, report.is_success());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn flush(&self) -> FlushReport {
        let mut report = match &self.inner.pipeline {
            Some(pipeline) => pipeline.flush(self.inner.wait_limit()),
            None => FlushReport::default(),
        };
        report.destinations = self.inner.destinations.report();
        // Scores after spans: a score may name an observation that was just exported.
        if let Some(scores) = &self.inner.scores
            && !scores.flush(self.inner.wait_limit())
        {
            report.deadline_hit = true;
        }
        report
    }

    /// Score counters (sent, failed, dropped, queued).
    ///
    /// ```no_run
    /// let langfuse = langfuse_runtime::init()?;
    /// langfuse.flush();
    /// let stats = langfuse.score_stats();
    /// println!("{} scores sent, {} failed", stats.sent, stats.failed);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn score_stats(&self) -> crate::ScoreStats {
        self.inner.scores.as_ref().map(|s| s.stats()).unwrap_or_default()
    }

    /// Pipeline counters (created, exported, dropped by reason, failed, lost at shutdown,
    /// pending) and the captures that failed.
    ///
    /// ```
    /// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).console_exporter(true).init()?;
    /// langfuse_runtime::span("step").start().end();
    /// langfuse.flush();
    /// let stats = langfuse.stats();
    /// assert_eq!((stats.created, stats.exported), (1, 1));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn stats(&self) -> ExportStats {
        let mut stats = self.inner.pipeline.as_ref().map(Pipeline::stats).unwrap_or_default();
        stats.capture_failures = crate::capture::capture_failures();
        stats.destinations = self.inner.destinations.total();
        stats
    }

    /// Each extra destination's name and counts since the client started
    /// (`ConfigBuilder::otel_exporter`, feature `opentelemetry`); empty without any.
    ///
    /// ```
    /// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).init()?;
    /// assert!(langfuse.destination_stats().is_empty());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn destination_stats(&self) -> Vec<crate::export::DestinationStats> {
        self.inner.destinations.stats()
    }

    /// Flushes and stops exporting, waiting at most twice the export timeout and a second,
    /// and reports what happened since the previous flush, including what had to be abandoned
    /// ([`FlushReport::lost_at_shutdown`]). Dropping the client does the same and logs the
    /// report in one line instead.
    ///
    /// ```no_run
    /// let langfuse = langfuse_runtime::init()?;
    /// let report = langfuse.shutdown();
    /// println!("{report}");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn shutdown(self) -> FlushReport {
        self.uninstall();
        self.inner.shutdown().unwrap_or_default()
    }

    /// Stops new traces from attaching to this client.
    fn uninstall(&self) {
        let mut global = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
        if global.as_ref().is_some_and(|g| Arc::ptr_eq(g, &self.inner)) {
            *global = None;
        }
    }
}

impl Drop for Langfuse {
    fn drop(&mut self) {
        self.uninstall();
        // Logs its report; after an explicit `shutdown()` there is nothing left to do.
        let _ = self.inner.shutdown();
    }
}
