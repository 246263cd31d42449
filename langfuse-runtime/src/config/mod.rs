//! Configuration from the builder and the environment, read the way the official SDKs read it.
//!
//! Every setting left unset on the [`ConfigBuilder`] falls back to its environment variable,
//! then to the default. An invalid value is a [`ConfigError`] naming the variable (or builder
//! setting) and what is wrong with it. The secret key never appears in `Debug` output.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::export::{Compression, SpanExporter};

/// Default Langfuse endpoint.
pub const DEFAULT_BASE_URL: &str = "https://cloud.langfuse.com";
/// Default OTLP traces path, appended as `{base_url}/{path}`.
pub const DEFAULT_TRACES_PATH: &str = "api/public/otel/v1/traces";
/// Default bound of observations waiting for export. Python's 2048 drops most of a burst; this
/// holds a 200,000-observation burst while the exporter catches up.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 262_144;
/// Default bound of the approximate bytes waiting for export (64 MiB): 200,000 small
/// observations fit, while an outage with realistic LLM payloads (say 16 KB of input each)
/// stops at about 4,000 observations and tens of MB instead of gigabytes.
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 64 << 20;

mod builder;
mod env;
mod error;
mod validate;

use crate::mask::Mask;
pub use builder::ConfigBuilder;
pub use error::{ConfigError, Secret, Setting};

/// The resolved configuration. Build it with [`Config::builder`] or [`Config::from_env`].
///
/// Its `Debug` output shows header names but not their values (often tokens), and never the
/// secret key. Settings are read through getters: a validated configuration cannot be changed
/// into an invalid one (a timeout the client's arithmetic cannot hold, say).
///
/// ```
/// use std::time::Duration;
/// let config = langfuse_runtime::Config::builder()
///     .base_url("http://localhost:3000")
///     .timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(config.base_url(), "http://localhost:3000");
/// assert_eq!(config.timeout(), Duration::from_secs(2));
/// # Ok::<(), langfuse_runtime::ConfigError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// `LANGFUSE_PUBLIC_KEY`.
    public_key: Option<String>,
    /// `LANGFUSE_SECRET_KEY`.
    secret_key: Option<Secret>,
    /// `LANGFUSE_BASE_URL`, alias `LANGFUSE_HOST`; default `https://cloud.langfuse.com`.
    base_url: String,
    /// `LANGFUSE_OTEL_TRACES_EXPORT_PATH`; default `api/public/otel/v1/traces`.
    traces_path: String,
    /// `LANGFUSE_TRACING_ENVIRONMENT`.
    environment: Option<String>,
    /// `LANGFUSE_RELEASE`, else the first CI commit variable that is set.
    release: Option<String>,
    /// `LANGFUSE_SAMPLE_RATE` in [0, 1]; default 1.
    sample_rate: f64,
    /// `LANGFUSE_TRACING_ENABLED`; default true.
    tracing_enabled: bool,
    /// `LANGFUSE_DEBUG`: the SDK's own debug lines on stderr.
    debug: bool,
    /// `LANGFUSE_FLUSH_AT` (else `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`): observations per request; default 512.
    flush_at: usize,
    /// `LANGFUSE_FLUSH_INTERVAL` seconds (else `OTEL_BSP_SCHEDULE_DELAY` ms); default 5 s.
    flush_interval: Duration,
    /// Scores per score request: `flush_at` when given by `LANGFUSE_FLUSH_AT` or the builder,
    /// else 15, as Python's score queue.
    score_flush_at: usize,
    /// Longest wait of a started score batch: `flush_interval` when given by
    /// `LANGFUSE_FLUSH_INTERVAL` or the builder, else 1 s.
    score_flush_interval: Duration,
    /// `LANGFUSE_TIMEOUT` seconds: deadline of one export attempt; default 5 s. Retries get
    /// their own (see the retry policy in [`export`](crate::export#retry-policy)).
    timeout: Duration,
    /// `LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED`: default for `#[observe]` input/output capture.
    io_capture_enabled: bool,
    /// `LANGFUSE_OTEL_COMPRESSION` (then the OTel variables); default gzip.
    compression: Compression,
    /// `LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES`: largest uncompressed request; default 64 MiB.
    max_request_bytes: usize,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: observations waiting for export before new ones are dropped.
    max_queue_size: usize,
    /// `LANGFUSE_MAX_QUEUE_BYTES`: approximate bytes waiting for export before new ones are
    /// dropped; default 64 MiB.
    max_queue_bytes: usize,
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`; default 128.
    attribute_count_limit: usize,
    /// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`).
    service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` other than `service.name`.
    resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`, then builder headers.
    headers: Vec<(String, String)>,
    /// `LANGFUSE_CONSOLE_EXPORTER`: print each finished trace as a tree on stdout.
    console_exporter: bool,
    /// `LANGFUSE_MAX_FIELD_BYTES`: budget of one captured input/output value; default 1 MiB.
    max_field_bytes: usize,
    extra_exporters: Vec<ExporterFactory>,
    /// [`ConfigBuilder::otel_exporter`]: extra destinations with their own filter and counts.
    destinations: Vec<crate::export::destination::DestinationFactory>,
    /// `LANGFUSE_OTEL_TRACES_ENDPOINT`: collector mode, the built-in exporter's full URL.
    otlp_endpoint: Option<String>,
    /// `LANGFUSE_EXPORT_ENABLED`: whether the built-in OTLP exporter runs at all.
    langfuse_export: bool,
    /// [`ConfigBuilder::mask`].
    mask: Option<Mask>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Config")
            .field("public_key", &self.public_key)
            .field("secret_key", &self.secret_key)
            .field("base_url", &self.base_url)
            .field("traces_path", &self.traces_path)
            .field("environment", &self.environment)
            .field("release", &self.release)
            .field("sample_rate", &self.sample_rate)
            .field("tracing_enabled", &self.tracing_enabled)
            .field("debug", &self.debug)
            .field("flush_at", &self.flush_at)
            .field("flush_interval", &self.flush_interval)
            .field("score_flush_at", &self.score_flush_at)
            .field("score_flush_interval", &self.score_flush_interval)
            .field("timeout", &self.timeout)
            .field("io_capture_enabled", &self.io_capture_enabled)
            .field("compression", &self.compression)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_queue_size", &self.max_queue_size)
            .field("max_queue_bytes", &self.max_queue_bytes)
            .field("attribute_count_limit", &self.attribute_count_limit)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("headers", &header_names)
            .field("console_exporter", &self.console_exporter)
            .field("max_field_bytes", &self.max_field_bytes)
            .field("extra_exporters", &self.extra_exporters.len())
            .field("destinations", &self.destinations.len())
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("langfuse_export", &self.langfuse_export)
            .field("mask", &self.mask.is_some())
            .finish()
    }
}

/// Builds an extra exporter at init (exporters are not `Clone`).
#[derive(Clone)]
pub(crate) struct ExporterFactory(pub(crate) Arc<dyn Fn() -> Box<dyn SpanExporter> + Send + Sync>);

impl fmt::Debug for ExporterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpanExporter")
    }
}

impl Config {
    /// A builder; unset settings fall back to the environment.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.base_url(), "https://cloud.langfuse.com");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Configuration from the environment alone.
    ///
    /// ```
    /// // The same as `Config::builder().build()`: every setting from `LANGFUSE_*` / `OTEL_*`.
    /// match langfuse_runtime::Config::from_env() {
    ///     Ok(config) => println!("exporting to {}", config.traces_endpoint()),
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Whether both keys are present.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert!(!c.has_keys());
    /// let c = langfuse_runtime::Config::builder().public_key("pk-lf-1").secret_key("sk-lf-2").build()?;
    /// assert!(c.has_keys());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn has_keys(&self) -> bool {
        self.public_key.is_some() && self.secret_key.is_some()
    }

    /// Where the built-in exporter sends spans: the [`otlp_endpoint`](Self::otlp_endpoint) in
    /// collector mode, else `{base_url}/{traces_path}` without trimming (like the Python SDK).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.traces_endpoint(), "https://cloud.langfuse.com/api/public/otel/v1/traces");
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(|_| None)
    ///     .otlp_endpoint("http://collector:4318/v1/traces")
    ///     .build()?;
    /// assert_eq!(c.traces_endpoint(), "http://collector:4318/v1/traces");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn traces_endpoint(&self) -> String {
        match &self.otlp_endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("{}/{}", self.base_url, self.traces_path),
        }
    }

    /// Collector mode's endpoint (`LANGFUSE_OTEL_TRACES_ENDPOINT`), if set: the built-in
    /// exporter sends there, with or without keys.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.otlp_endpoint(), None);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref()
    }

    /// Whether the built-in OTLP exporter runs (`LANGFUSE_EXPORT_ENABLED`, default true).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).langfuse_export(false).build()?;
    /// assert!(!c.langfuse_export());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn langfuse_export(&self) -> bool {
        self.langfuse_export
    }

    /// The public key (`LANGFUSE_PUBLIC_KEY`), if any.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.public_key(), None);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// The secret key, for the authorization header only: it is never handed out publicly.
    pub(crate) fn secret_key(&self) -> Option<&Secret> {
        self.secret_key.as_ref()
    }

    /// The server's base URL (`LANGFUSE_BASE_URL`, alias `LANGFUSE_HOST`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.base_url(), "https://cloud.langfuse.com");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The OTLP traces path under the base URL (`LANGFUSE_OTEL_TRACES_EXPORT_PATH`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.traces_path(), "api/public/otel/v1/traces");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn traces_path(&self) -> &str {
        &self.traces_path
    }

    /// The environment written on every observation (`LANGFUSE_TRACING_ENVIRONMENT`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.environment(), None);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The release written on every observation (`LANGFUSE_RELEASE`, else a CI commit variable).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(|name| (name == "LANGFUSE_RELEASE").then(|| "v2".to_string()))
    ///     .build()?;
    /// assert_eq!(c.release(), Some("v2"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The fraction of traces recorded, in [0, 1] (`LANGFUSE_SAMPLE_RATE`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.sample_rate(), 1.0);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Whether tracing is on (`LANGFUSE_TRACING_ENABLED`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert!(c.tracing_enabled());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn tracing_enabled(&self) -> bool {
        self.tracing_enabled
    }

    /// Whether the SDK prints its debug lines on stderr (`LANGFUSE_DEBUG`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert!(!c.debug());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Observations per export request (`LANGFUSE_FLUSH_AT`), at least 1.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.flush_at(), 512);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn flush_at(&self) -> usize {
        self.flush_at
    }

    /// Longest wait before queued observations are exported (`LANGFUSE_FLUSH_INTERVAL`), at
    /// most a year.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.flush_interval(), Duration::from_secs(5));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// Scores per score request (Python's defaults: 15, unless `flush_at` was set).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!((c.flush_at(), c.score_flush_at()), (512, 15));
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).flush_at(50).build()?;
    /// assert_eq!((c.flush_at(), c.score_flush_at()), (50, 50));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn score_flush_at(&self) -> usize {
        self.score_flush_at
    }

    /// Longest wait of a started score batch (1 s unless `flush_interval` was set).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.score_flush_interval(), Duration::from_secs(1));
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(|_| None)
    ///     .flush_interval(Duration::from_secs(3))
    ///     .build()?;
    /// assert_eq!(c.score_flush_interval(), Duration::from_secs(3));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn score_flush_interval(&self) -> Duration {
        self.score_flush_interval
    }

    /// Deadline of one export attempt (`LANGFUSE_TIMEOUT`), more than zero and at most a year.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.timeout(), Duration::from_secs(5));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Default input/output capture of `#[observe]`
    /// (`LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert!(c.io_capture_enabled());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn io_capture_enabled(&self) -> bool {
        self.io_capture_enabled
    }

    /// OTLP request compression (`LANGFUSE_OTEL_COMPRESSION`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.compression(), langfuse_runtime::Compression::Gzip);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Largest uncompressed request body (`LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.max_request_bytes(), 64 * 1024 * 1024);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// Observations waiting for export before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.max_queue_size(), 262_144);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn max_queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// Approximate bytes of observations waiting for export (payload texts plus a fixed
    /// overhead per observation) before new ones are dropped (`LANGFUSE_MAX_QUEUE_BYTES`).
    ///
    /// ```
    /// let config = langfuse_runtime::Config::builder().max_queue_bytes(8 << 20).build()?;
    /// assert_eq!(config.max_queue_bytes(), 8 * 1024 * 1024);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn max_queue_bytes(&self) -> usize {
        self.max_queue_bytes
    }

    /// Most attributes kept per observation (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.attribute_count_limit(), 128);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn attribute_count_limit(&self) -> usize {
        self.attribute_count_limit
    }

    /// `service.name` of the resource (`OTEL_SERVICE_NAME`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.service_name(), "unknown_service");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Resource attributes other than `service.name` (`OTEL_RESOURCE_ATTRIBUTES`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(|name| {
    ///         (name == "OTEL_RESOURCE_ATTRIBUTES").then(|| "service.name=api,team=search".to_string())
    ///     })
    ///     .build()?;
    /// assert_eq!(c.service_name(), "api");
    /// assert_eq!(c.resource_attributes(), vec![("team".to_string(), "search".to_string())]);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    /// Extra headers of every export request (`OTEL_EXPORTER_OTLP_*HEADERS`, then the builder's).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).header("x-tenant", "acme").build()?;
    /// assert_eq!(c.headers(), vec![("x-tenant".to_string(), "acme".to_string())]);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether every finished trace is also printed as a tree on stdout
    /// (`LANGFUSE_CONSOLE_EXPORTER`).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert!(!c.console_exporter());
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn console_exporter(&self) -> bool {
        self.console_exporter
    }

    /// Byte budget of one captured input or output value (`LANGFUSE_MAX_FIELD_BYTES`); longer
    /// values are cut and end with a truncation marker.
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder().env_source(|_| None).build()?;
    /// assert_eq!(c.max_field_bytes(), 1024 * 1024);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn max_field_bytes(&self) -> usize {
        self.max_field_bytes
    }

    /// The masking hook, if one was given.
    pub(crate) fn mask(&self) -> Option<&Mask> {
        self.mask.as_ref()
    }

    pub(crate) fn extra_exporters(&self) -> &[ExporterFactory] {
        &self.extra_exporters
    }

    pub(crate) fn destinations(&self) -> &[crate::export::destination::DestinationFactory] {
        &self.destinations
    }
}
