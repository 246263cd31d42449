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

/// CI systems' commit variables, tried in this order when `LANGFUSE_RELEASE` is unset.
const RELEASE_FALLBACKS: [&str; 10] = [
    "RENDER_GIT_COMMIT",
    "CI_COMMIT_SHA",
    "CIRCLE_SHA1",
    "SOURCE_VERSION",
    "TRAVIS_COMMIT",
    "GIT_COMMIT",
    "GITHUB_SHA",
    "BITBUCKET_COMMIT",
    "BUILD_SOURCEVERSION",
    "DRONE_COMMIT_SHA",
];

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// An environment variable.
    Env(&'static str),
    /// A [`ConfigBuilder`] method.
    Builder(&'static str),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Builder(name) => write!(f, "builder setting `{name}`"),
        }
    }
}

/// An invalid configuration value.
///
/// ```
/// use langfuse_runtime::{Config, ConfigError};
/// let err = Config::builder()
///     .env_source(|name| (name == "LANGFUSE_SAMPLE_RATE").then(|| "1.5".to_string()))
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "environment variable LANGFUSE_SAMPLE_RATE = \"1.5\" is invalid: must be a number between 0.0 and 1.0"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value could not be used.
    Invalid {
        /// Which variable or setting.
        setting: Setting,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ConfigError {
    fn env(name: &'static str, value: &str, reason: &'static str) -> Self {
        Self::Invalid { setting: Setting::Env(name), value: value.to_owned(), reason }
    }

    /// The variable or setting at fault.
    pub fn setting(&self) -> &Setting {
        match self {
            Self::Invalid { setting, .. } => setting,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { setting, value, reason } => {
                write!(f, "{setting} = {value:?} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A string that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for building the authorization header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

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
            .field("timeout", &self.timeout)
            .field("io_capture_enabled", &self.io_capture_enabled)
            .field("compression", &self.compression)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_queue_size", &self.max_queue_size)
            .field("attribute_count_limit", &self.attribute_count_limit)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("headers", &header_names)
            .field("console_exporter", &self.console_exporter)
            .field("max_field_bytes", &self.max_field_bytes)
            .field("extra_exporters", &self.extra_exporters.len())
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
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Configuration from the environment alone.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Whether both keys are present.
    pub fn has_keys(&self) -> bool {
        self.public_key.is_some() && self.secret_key.is_some()
    }

    /// The OTLP endpoint, `{base_url}/{traces_path}` without trimming (like the Python SDK).
    pub fn traces_endpoint(&self) -> String {
        format!("{}/{}", self.base_url, self.traces_path)
    }

    /// The public key (`LANGFUSE_PUBLIC_KEY`), if any.
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// The secret key, for the authorization header only: it is never handed out publicly.
    pub(crate) fn secret_key(&self) -> Option<&Secret> {
        self.secret_key.as_ref()
    }

    /// The server's base URL (`LANGFUSE_BASE_URL`, alias `LANGFUSE_HOST`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The OTLP traces path under the base URL (`LANGFUSE_OTEL_TRACES_EXPORT_PATH`).
    pub fn traces_path(&self) -> &str {
        &self.traces_path
    }

    /// The environment written on every observation (`LANGFUSE_TRACING_ENVIRONMENT`).
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The release written on every observation (`LANGFUSE_RELEASE`, else a CI commit variable).
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The fraction of traces recorded, in [0, 1] (`LANGFUSE_SAMPLE_RATE`).
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Whether tracing is on (`LANGFUSE_TRACING_ENABLED`).
    pub fn tracing_enabled(&self) -> bool {
        self.tracing_enabled
    }

    /// Whether the SDK prints its debug lines on stderr (`LANGFUSE_DEBUG`).
    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Observations per export request (`LANGFUSE_FLUSH_AT`), at least 1.
    pub fn flush_at(&self) -> usize {
        self.flush_at
    }

    /// Longest wait before queued observations are exported (`LANGFUSE_FLUSH_INTERVAL`), at
    /// most a year.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// Deadline of one export attempt (`LANGFUSE_TIMEOUT`), more than zero and at most a year.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Default input/output capture of `#[observe]`
    /// (`LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED`).
    pub fn io_capture_enabled(&self) -> bool {
        self.io_capture_enabled
    }

    /// OTLP request compression (`LANGFUSE_OTEL_COMPRESSION`).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Largest uncompressed request body (`LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES`).
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// Observations waiting for export before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub fn max_queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// Most attributes kept per observation (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    pub fn attribute_count_limit(&self) -> usize {
        self.attribute_count_limit
    }

    /// `service.name` of the resource (`OTEL_SERVICE_NAME`).
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Resource attributes other than `service.name` (`OTEL_RESOURCE_ATTRIBUTES`).
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    /// Extra headers of every export request (`OTEL_EXPORTER_OTLP_*HEADERS`, then the builder's).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether every finished trace is also printed as a tree on stdout
    /// (`LANGFUSE_CONSOLE_EXPORTER`).
    pub fn console_exporter(&self) -> bool {
        self.console_exporter
    }

    /// Byte budget of one captured input or output value (`LANGFUSE_MAX_FIELD_BYTES`); longer
    /// values are cut and end with a truncation marker.
    pub fn max_field_bytes(&self) -> usize {
        self.max_field_bytes
    }

    /// The extra exporters' factories, called once at init.
    pub(crate) fn extra_exporters(&self) -> &[ExporterFactory] {
        &self.extra_exporters
    }
}

type EnvSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Sets configuration in code; anything not set comes from the environment.
///
/// ```
/// use std::time::Duration;
/// let config = langfuse_runtime::Config::builder()
///     .public_key("pk-lf-123")
///     .secret_key("sk-lf-456")
///     .base_url("http://localhost:3000")
///     .flush_interval(Duration::from_millis(500))
///     .build()?;
/// assert_eq!(config.traces_endpoint(), "http://localhost:3000/api/public/otel/v1/traces");
/// assert!(!format!("{config:?}").contains("sk-lf-456"));
/// # Ok::<(), langfuse_runtime::ConfigError>(())
/// ```
#[derive(Default, Clone)]
#[must_use]
pub struct ConfigBuilder {
    public_key: Option<String>,
    secret_key: Option<String>,
    base_url: Option<String>,
    host: Option<String>,
    environment: Option<String>,
    release: Option<String>,
    sample_rate: Option<f64>,
    tracing_enabled: Option<bool>,
    debug: Option<bool>,
    flush_at: Option<usize>,
    flush_interval: Option<Duration>,
    timeout: Option<Duration>,
    io_capture_enabled: Option<bool>,
    compression: Option<Compression>,
    max_request_bytes: Option<usize>,
    max_queue_size: Option<usize>,
    service_name: Option<String>,
    headers: Vec<(String, String)>,
    console_exporter: Option<bool>,
    max_field_bytes: Option<usize>,
    extra_exporters: Vec<ExporterFactory>,
    env: Option<EnvSource>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = Some($conv(value));
                self
            }
        )*
    };
}

impl ConfigBuilder {
    setters! {
        /// Langfuse public key (`pk-lf-…`).
        public_key: impl Into<String> => Into::into;
        /// Langfuse secret key (`sk-lf-…`).
        secret_key: impl Into<String> => Into::into;
        /// Base URL of the Langfuse server (wins over `LANGFUSE_BASE_URL`).
        base_url: impl Into<String> => Into::into;
        /// Deprecated alias of `base_url`, below `LANGFUSE_BASE_URL` in precedence.
        host: impl Into<String> => Into::into;
        /// Environment written on every observation (e.g. `production`).
        environment: impl Into<String> => Into::into;
        /// Release written on every observation.
        release: impl Into<String> => Into::into;
        /// Fraction of traces recorded, in [0, 1].
        sample_rate: f64 => std::convert::identity;
        /// Turns tracing off entirely (instrumented code still runs).
        tracing_enabled: bool => std::convert::identity;
        /// The SDK's debug lines on stderr.
        debug: bool => std::convert::identity;
        /// Observations per export request.
        flush_at: usize => std::convert::identity;
        /// Longest wait before queued observations are exported.
        flush_interval: Duration => std::convert::identity;
        /// Deadline of one export attempt (each retry has its own); more than zero.
        timeout: Duration => std::convert::identity;
        /// Default input/output capture of `#[observe]`.
        io_capture_enabled: bool => std::convert::identity;
        /// OTLP request compression.
        compression: Compression => std::convert::identity;
        /// Largest uncompressed request body.
        max_request_bytes: usize => std::convert::identity;
        /// Observations waiting for export before new ones are dropped (and counted).
        max_queue_size: usize => std::convert::identity;
        /// `service.name` of the resource.
        service_name: impl Into<String> => Into::into;
        /// Print each finished trace as a tree on stdout.
        console_exporter: bool => std::convert::identity;
        /// Byte budget of one captured input/output value (over `LANGFUSE_MAX_FIELD_BYTES`;
        /// default 1 MiB, at least 1024). Longer values are cut and end with a truncation
        /// marker, so one huge argument cannot make the observation too large to export.
        /// Capture is process-wide: the budget of the latest client created applies.
        ///
        /// ```
        /// let config = langfuse_runtime::Config::builder().max_field_bytes(64 * 1024).build()?;
        /// assert_eq!(config.max_field_bytes(), 65_536);
        /// assert!(langfuse_runtime::Config::builder().max_field_bytes(100).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        max_field_bytes: usize => std::convert::identity;
    }

    /// Adds a header to every export request (over `OTEL_EXPORTER_OTLP_*HEADERS`, under the
    /// Langfuse headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds an exporter that receives every batch as well (a collector, a test sink).
    pub fn exporter<E, F>(mut self, make: F) -> Self
    where
        E: SpanExporter,
        F: Fn() -> E + Send + Sync + 'static,
    {
        self.extra_exporters.push(ExporterFactory(Arc::new(move || Box::new(make()))));
        self
    }

    /// Reads "environment variables" from `source` instead of the process environment
    /// (tests, or configuration kept elsewhere).
    pub fn env_source(
        mut self,
        source: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(Arc::new(source));
        self
    }

    /// Resolves every setting, reporting the first invalid one.
    pub fn build(self) -> Result<Config, ConfigError> {
        let env =
            Env(self.env.clone().unwrap_or_else(|| Arc::new(|name| std::env::var(name).ok())));
        let b = self;

        let public_key = match b.public_key {
            Some(key) => Some((key, Setting::Builder("public_key"))),
            None => {
                env.get("LANGFUSE_PUBLIC_KEY").map(|k| (k, Setting::Env("LANGFUSE_PUBLIC_KEY")))
            }
        }
        .filter(|(k, _)| !k.is_empty());
        if let Some((key, setting)) = &public_key {
            check_key(key, setting, key)?;
        }
        let public_key = public_key.map(|(k, _)| k);
        let secret_key = match b.secret_key {
            Some(key) => Some((key, Setting::Builder("secret_key"))),
            None => {
                env.get("LANGFUSE_SECRET_KEY").map(|k| (k, Setting::Env("LANGFUSE_SECRET_KEY")))
            }
        }
        .filter(|(k, _)| !k.is_empty());
        if let Some((key, setting)) = &secret_key {
            check_key(key, setting, "***")?;
        }
        let secret_key = secret_key.map(|(k, _)| k);

        // The error names the setting the value actually came from.
        let (base_url, base_setting) = if let Some(url) = b.base_url {
            (url, Setting::Builder("base_url"))
        } else if let Some(url) = env.get("LANGFUSE_BASE_URL") {
            (url, Setting::Env("LANGFUSE_BASE_URL"))
        } else if let Some(url) = b.host {
            (url, Setting::Builder("host"))
        } else if let Some(url) = env.get("LANGFUSE_HOST") {
            (url, Setting::Env("LANGFUSE_HOST"))
        } else {
            (DEFAULT_BASE_URL.to_owned(), Setting::Builder("base_url"))
        };
        if let Err(reason) = check_url(&base_url) {
            return Err(ConfigError::Invalid { setting: base_setting, value: base_url, reason });
        }
        let traces_path = env
            .get("LANGFUSE_OTEL_TRACES_EXPORT_PATH")
            .unwrap_or_else(|| DEFAULT_TRACES_PATH.to_owned());
        // The base URL is fine, so a bad endpoint is the path's doing.
        if check_url(&format!("{base_url}/{traces_path}")).is_err() {
            return Err(ConfigError::env(
                "LANGFUSE_OTEL_TRACES_EXPORT_PATH",
                &traces_path,
                "must be a URL path (no spaces or control characters)",
            ));
        }

        let sample_rate = match b.sample_rate {
            Some(rate) => check_rate(rate).ok_or(ConfigError::Invalid {
                setting: Setting::Builder("sample_rate"),
                value: rate.to_string(),
                reason: RATE_REASON,
            })?,
            None => match env.get("LANGFUSE_SAMPLE_RATE") {
                Some(raw) => {
                    raw.trim().parse::<f64>().ok().and_then(check_rate).ok_or_else(|| {
                        ConfigError::env("LANGFUSE_SAMPLE_RATE", &raw, RATE_REASON)
                    })?
                }
                None => 1.0,
            },
        };

        let tracing_enabled =
            resolve_bool(b.tracing_enabled, &env, "LANGFUSE_TRACING_ENABLED", true)?;
        let debug = resolve_bool(b.debug, &env, "LANGFUSE_DEBUG", false)?;
        let io_capture_enabled = resolve_bool(
            b.io_capture_enabled,
            &env,
            "LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED",
            true,
        )?;
        let console_exporter =
            resolve_bool(b.console_exporter, &env, "LANGFUSE_CONSOLE_EXPORTER", false)?;

        let flush_at = match b.flush_at {
            Some(0) => return Err(builder_err("flush_at", "0", "must be at least 1")),
            Some(n) => n,
            None => positive_int(&env, "LANGFUSE_FLUSH_AT")?
                .or(positive_int(&env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?)
                .unwrap_or(512),
        };
        let flush_interval = match b.flush_interval {
            Some(d) => check_duration(d, "flush_interval", false)?,
            None => match env.get("LANGFUSE_FLUSH_INTERVAL") {
                Some(raw) => seconds(&raw).ok_or_else(|| {
                    ConfigError::env(
                        "LANGFUSE_FLUSH_INTERVAL",
                        &raw,
                        "must be a non-negative number of seconds, at most a year",
                    )
                })?,
                None => match positive_int(&env, "OTEL_BSP_SCHEDULE_DELAY")? {
                    Some(ms) => Some(Duration::from_millis(ms as u64))
                        .filter(|d| *d <= MAX_DURATION)
                        .ok_or_else(|| {
                            ConfigError::env(
                                "OTEL_BSP_SCHEDULE_DELAY",
                                &ms.to_string(),
                                "must be at most a year (in milliseconds)",
                            )
                        })?,
                    None => Duration::from_secs(5),
                },
            },
        };
        let timeout = match b.timeout {
            Some(d) => check_duration(d, "timeout", true)?,
            None => match positive_int(&env, "LANGFUSE_TIMEOUT")? {
                Some(s) => Some(Duration::from_secs(s as u64))
                    .filter(|d| *d <= MAX_DURATION)
                    .ok_or_else(|| {
                        ConfigError::env(
                            "LANGFUSE_TIMEOUT",
                            &s.to_string(),
                            "must be at most a year (in seconds)",
                        )
                    })?,
                None => Duration::from_secs(5),
            },
        };
        let max_queue_size = match b.max_queue_size {
            Some(0) => return Err(builder_err("max_queue_size", "0", "must be at least 1")),
            Some(n) => n,
            None => {
                positive_int(&env, "OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(DEFAULT_MAX_QUEUE_SIZE)
            }
        };
        let max_field_bytes = match b.max_field_bytes {
            Some(n) if n < MIN_FIELD_BYTES => {
                return Err(builder_err("max_field_bytes", &n.to_string(), FIELD_BYTES_REASON));
            }
            Some(n) => n,
            None => match positive_int(&env, "LANGFUSE_MAX_FIELD_BYTES")? {
                Some(n) if n < MIN_FIELD_BYTES => {
                    return Err(ConfigError::env(
                        "LANGFUSE_MAX_FIELD_BYTES",
                        &n.to_string(),
                        FIELD_BYTES_REASON,
                    ));
                }
                Some(n) => n,
                None => crate::capture::DEFAULT_FIELD_BUDGET,
            },
        };
        let attribute_count_limit = positive_int(&env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")?
            .unwrap_or(crate::attributes::DEFAULT_ATTRIBUTE_COUNT_LIMIT);

        // The wire reference says an invalid compression or size falls through with a warning.
        let compression = b.compression.unwrap_or_else(|| {
            [
                "LANGFUSE_OTEL_COMPRESSION",
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ]
            .into_iter()
            .find_map(|name| {
                let raw = env.get(name)?;
                match raw.trim().to_ascii_lowercase().as_str() {
                    "gzip" => Some(Compression::Gzip),
                    "none" => Some(Compression::None),
                    _ => {
                        crate::diag::warn(format_args!(
                            "{name}={raw:?} is not gzip or none; ignored"
                        ));
                        None
                    }
                }
            })
            .unwrap_or_default()
        });
        let max_request_bytes = b.max_request_bytes.unwrap_or_else(|| {
            env.get("LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES")
                .and_then(|raw| {
                    let trimmed = raw.trim();
                    let parsed = trimmed
                        .bytes()
                        .all(|c| c.is_ascii_digit())
                        .then(|| trimmed.parse::<usize>().ok())
                        .flatten()
                        .filter(|n| *n > 0);
                    if parsed.is_none() {
                        crate::diag::warn(format_args!(
                            "LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES={raw:?} is not a positive integer; using the default"
                        ));
                    }
                    parsed
                })
                .unwrap_or(64 * 1024 * 1024)
        });

        let mut resource_attributes = env
            .get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|raw| parse_key_values(&raw))
            .unwrap_or_default();
        let resource_service = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = b
            .service_name
            .or_else(|| env.get("OTEL_SERVICE_NAME"))
            .or(resource_service)
            .unwrap_or_else(|| "unknown_service".to_owned());

        let mut headers = Vec::new();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            let parsed = env.get(name).map(|raw| parse_key_values(&raw)).unwrap_or_default();
            for (header, value) in &parsed {
                check_header(header, value, Setting::Env(name))?;
            }
            headers.extend(parsed);
        }
        for (header, value) in &b.headers {
            check_header(header, value, Setting::Builder("header"))?;
        }
        headers.extend(b.headers);

        let release = b
            .release
            .or_else(|| env.get("LANGFUSE_RELEASE"))
            .or_else(|| RELEASE_FALLBACKS.iter().find_map(|name| env.get(name)));

        Ok(Config {
            public_key,
            secret_key: secret_key.map(Secret),
            base_url,
            traces_path,
            environment: b.environment.or_else(|| env.get("LANGFUSE_TRACING_ENVIRONMENT")),
            release,
            sample_rate,
            tracing_enabled,
            debug,
            flush_at,
            flush_interval,
            timeout,
            io_capture_enabled,
            compression,
            max_request_bytes,
            max_queue_size,
            attribute_count_limit,
            service_name,
            resource_attributes,
            headers,
            console_exporter,
            max_field_bytes,
            extra_exporters: b.extra_exporters,
        })
    }
}

/// Smallest field budget: below it the truncation marker would crowd out the value itself.
const MIN_FIELD_BYTES: usize = 1024;
const FIELD_BYTES_REASON: &str = "must be at least 1024 (bytes)";

const RATE_REASON: &str = "must be a number between 0.0 and 1.0";

struct Env(EnvSource);

impl Env {
    /// The variable's value; empty counts as unset, like Python's `arg or env`.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }
}

fn builder_err(name: &'static str, value: &str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { setting: Setting::Builder(name), value: value.to_owned(), reason }
}

fn check_rate(rate: f64) -> Option<f64> {
    (0.0..=1.0).contains(&rate).then_some(rate)
}

fn resolve_bool(
    given: Option<bool>,
    env: &Env,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    if let Some(v) = given {
        return Ok(v);
    }
    let Some(raw) = env.get(name) else { return Ok(default) };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::env(name, &raw, "must be true or false")),
    }
}

fn positive_int(env: &Env, name: &'static str) -> Result<Option<usize>, ConfigError> {
    let Some(raw) = env.get(name) else { return Ok(None) };
    match raw.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConfigError::env(name, &raw, "must be a positive integer")),
    }
}

/// Longest flush interval or timeout: anything longer is a unit mistake, and doubling it or
/// adding it to an `Instant` must not overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

fn seconds(raw: &str) -> Option<Duration> {
    let secs = raw.trim().parse::<f64>().ok()?;
    // `try_from`: `1e20` seconds does not fit a `Duration`, and `from_secs_f64` would panic.
    Duration::try_from_secs_f64(secs).ok().filter(|d| *d <= MAX_DURATION)
}

fn check_duration(
    duration: Duration,
    name: &'static str,
    nonzero: bool,
) -> Result<Duration, ConfigError> {
    if nonzero && duration.is_zero() {
        return Err(builder_err(name, "0s", "must be longer than zero"));
    }
    if duration > MAX_DURATION {
        return Err(builder_err(name, &format!("{duration:?}"), "must be at most a year"));
    }
    Ok(duration)
}

/// Keys go into headers verbatim; a pasted newline or space would make every request fail.
fn check_key(key: &str, setting: &Setting, shown: &str) -> Result<(), ConfigError> {
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid {
            setting: setting.clone(),
            value: shown.to_owned(),
            reason: "must not contain whitespace or control characters",
        });
    }
    Ok(())
}

/// A URL the HTTP client can send to: http(s), a host, nothing it would refuse.
fn check_url(url: &str) -> Result<(), &'static str> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("must start with http:// or https://");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    match ureq::http::Uri::try_from(url) {
        Ok(uri) if uri.host().is_some_and(|host| !host.is_empty()) => Ok(()),
        _ => Err("must be a URL with a host, e.g. https://cloud.langfuse.com"),
    }
}

/// A header the HTTP client accepts: a token name and a value without CR, LF or other controls.
/// The error shows the name only: values are often tokens.
fn check_header(name: &str, value: &str, setting: Setting) -> Result<(), ConfigError> {
    let reason = if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        "header name must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"
    } else if ureq::http::HeaderValue::from_str(value).is_err() {
        "header value must be visible ASCII, spaces or tabs (no CR, LF or other controls)"
    } else {
        return Ok(());
    };
    Err(ConfigError::Invalid { setting, value: name.to_owned(), reason })
}

/// `k1=v1,k2=v2` with percent-encoded values, as the OTel variables use.
fn parse_key_values(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with_env(vars: &[(&str, &str)]) -> ConfigBuilder {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::builder().env_source(move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        let c = with_env(&[]).build().unwrap();
        assert!(!c.has_keys());
        assert_eq!(c.base_url(), DEFAULT_BASE_URL);
        assert_eq!(c.flush_at(), 512);
        assert_eq!(c.flush_interval(), Duration::from_secs(5));
        assert_eq!(c.timeout(), Duration::from_secs(5));
        assert_eq!(c.sample_rate(), 1.0);
        assert!(c.tracing_enabled() && c.io_capture_enabled() && !c.console_exporter());
        assert_eq!(c.compression(), Compression::Gzip);
        assert_eq!(c.max_request_bytes(), 67_108_864);
        assert_eq!(c.max_queue_size(), DEFAULT_MAX_QUEUE_SIZE);
        assert_eq!(c.service_name(), "unknown_service");
    }

    #[test]
    fn base_url_precedence() {
        let c = with_env(&[("LANGFUSE_HOST", "http://host"), ("LANGFUSE_BASE_URL", "http://base")]);
        assert_eq!(c.clone().build().unwrap().base_url(), "http://base");
        assert_eq!(c.base_url("http://arg").build().unwrap().base_url(), "http://arg");
        let c = with_env(&[("LANGFUSE_HOST", "http://host")]).host("http://hostarg");
        assert_eq!(c.build().unwrap().base_url(), "http://hostarg");
        assert_eq!(
            with_env(&[("LANGFUSE_HOST", "http://h")]).build().unwrap().base_url(),
            "http://h"
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (var, value) in [
            ("LANGFUSE_SAMPLE_RATE", "abc"),
            ("LANGFUSE_SAMPLE_RATE", "-0.1"),
            ("LANGFUSE_TRACING_ENABLED", "maybe"),
            ("LANGFUSE_FLUSH_AT", "0"),
            ("LANGFUSE_FLUSH_INTERVAL", "soon"),
            ("LANGFUSE_TIMEOUT", "1.5"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-3"),
            ("LANGFUSE_BASE_URL", "cloud.langfuse.com"),
        ] {
            let err = with_env(&[(var, value)]).build().unwrap_err();
            assert_eq!(err.setting(), &Setting::Env(var), "{var}");
            assert!(err.to_string().contains(var), "{err}");
        }
        let err = with_env(&[]).sample_rate(2.0).build().unwrap_err();
        assert_eq!(err.setting(), &Setting::Builder("sample_rate"));
    }

    #[test]
    fn zero_sample_rate_is_honoured() {
        assert_eq!(with_env(&[("LANGFUSE_SAMPLE_RATE", "0.0")]).build().unwrap().sample_rate, 0.0);
    }

    #[test]
    fn secret_never_printed() {
        let c =
            with_env(&[("LANGFUSE_SECRET_KEY", "sk-lf-topsecret"), ("LANGFUSE_PUBLIC_KEY", "pk")])
                .build()
                .unwrap();
        assert!(c.has_keys());
        assert!(!format!("{c:?}").contains("topsecret"));
        assert_eq!(c.secret_key().unwrap().to_string(), "***");
    }

    #[test]
    fn release_falls_back_to_ci_variables_and_empty_keys_are_missing() {
        let c = with_env(&[("GITHUB_SHA", "abc"), ("LANGFUSE_PUBLIC_KEY", "")]).build().unwrap();
        assert_eq!(c.release(), Some("abc"));
        assert_eq!(c.public_key(), None);
    }

    #[test]
    fn otel_fallbacks_and_lists() {
        let c = with_env(&[
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=svc,team=a%20b"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-a=1"),
            ("LANGFUSE_OTEL_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "NONE"),
        ])
        .build()
        .unwrap();
        assert_eq!(c.flush_at(), 100);
        assert_eq!(c.flush_interval(), Duration::from_millis(250));
        assert_eq!(c.service_name(), "svc");
        assert_eq!(c.resource_attributes(), vec![("team".to_string(), "a b".to_string())]);
        assert_eq!(c.headers(), vec![("x-a".to_string(), "1".to_string())]);
        assert_eq!(c.compression(), Compression::None);
    }
}
