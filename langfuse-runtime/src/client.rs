//! Setup in one line, the handle that flushes on drop, and the global client that root
//! observations attach to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::attributes::SpanDefaults;
use crate::config::{Config, ConfigBuilder, ConfigError};
use crate::diag;
use crate::export::pipeline::{Pipeline, PipelineSettings};
use crate::export::{
    ConsoleExporter, ExportResource, ExportStats, OtlpHttpExporter, OtlpHttpSettings, SpanExporter,
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
        })
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
pub fn init() -> Result<Langfuse, ConfigError> {
    Ok(Langfuse::new(Config::from_env()?))
}

impl ConfigBuilder {
    /// Builds the configuration and installs the global client.
    pub fn init(self) -> Result<Langfuse, ConfigError> {
        Ok(Langfuse::new(self.build()?))
    }
}

impl Langfuse {
    /// Installs a client for `config` as the global one (replacing an earlier one, which keeps
    /// exporting what it already has until its handle drops).
    pub fn new(config: Config) -> Self {
        diag::set_debug(config.debug());
        crate::capture::set_field_budget(config.max_field_bytes());
        let (pipeline, abort_export) = Self::pipeline_for(&config);
        let inner = Arc::new(ClientInner {
            sampler: if config.sample_rate() >= 1.0 {
                Sampler::always()
            } else {
                Sampler::new(config.sample_rate())
            },
            io_capture_enabled: config.io_capture_enabled(),
            pipeline,
            timeout: config.timeout(),
            abort_export,
        });
        if inner.pipeline.is_some() {
            RECORDING_CLIENTS.fetch_add(1, Ordering::Relaxed);
        }
        *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(inner.clone());
        Langfuse { inner, config }
    }

    fn pipeline_for(
        config: &Config,
    ) -> (Option<Pipeline>, Option<crate::export::http::AbortHandle>) {
        if !config.tracing_enabled() {
            diag::debug(format_args!("tracing disabled (LANGFUSE_TRACING_ENABLED=false)"));
            return (None, None);
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
        match (config.public_key(), config.secret_key()) {
            (Some(public_key), Some(secret_key)) => {
                let mut settings = OtlpHttpSettings::new(
                    config.traces_endpoint(),
                    public_key.to_owned(),
                    secret_key.expose().to_owned(),
                );
                settings.timeout = config.timeout();
                settings.compression = config.compression();
                settings.max_request_bytes = config.max_request_bytes();
                settings.headers = config.headers().to_vec();
                let exporter = OtlpHttpExporter::new(settings, resource.clone());
                abort_export = Some(exporter.abort_handle());
                exporters.push(Box::new(exporter));
            }
            _ => crate::keyless::warn(config),
        }
        if config.console_exporter() {
            exporters.push(Box::new(ConsoleExporter::stdout()));
        }
        exporters.extend(config.extra_exporters().iter().map(|make| (make.0)()));
        if exporters.is_empty() {
            return (None, None);
        }
        let pipeline = Pipeline::start(
            PipelineSettings {
                flush_at: config.flush_at(),
                flush_interval: config.flush_interval(),
                max_queue_size: config.max_queue_size(),
            },
            exporters,
        );
        (Some(pipeline), abort_export)
    }

    /// Whether observations are being recorded.
    pub fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    /// The configuration in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Exports every observation finished so far, blocking until done or until twice the
    /// export timeout has passed. Returns whether everything was handed over in time.
    pub fn flush(&self) -> bool {
        match &self.inner.pipeline {
            Some(pipeline) => pipeline.flush(self.inner.wait_limit()),
            None => true,
        }
    }

    /// Pipeline counters (exported, dropped, failed, queued) and the captures that failed.
    pub fn stats(&self) -> ExportStats {
        let mut stats = self.inner.pipeline.as_ref().map(Pipeline::stats).unwrap_or_default();
        stats.capture_failures = crate::capture::capture_failures();
        stats
    }

    /// Flushes and stops exporting. Also done on drop.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Langfuse {
    fn drop(&mut self) {
        let mut global = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
        if global.as_ref().is_some_and(|g| Arc::ptr_eq(g, &self.inner)) {
            *global = None;
        }
        drop(global);
        if let Some(pipeline) = &self.inner.pipeline {
            if !pipeline.is_closed() {
                RECORDING_CLIENTS.fetch_sub(1, Ordering::Relaxed);
            }
            let finished = pipeline.shutdown(self.inner.wait_limit());
            if !finished && let Some(abort) = &self.inner.abort_export {
                // The export thread is still retrying: let it give up instead of outliving us.
                abort.abort();
            }
        }
    }
}
