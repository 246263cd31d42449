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
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// `LANGFUSE_PUBLIC_KEY`.
    pub public_key: Option<String>,
    /// `LANGFUSE_SECRET_KEY`.
    pub secret_key: Option<Secret>,
    /// `LANGFUSE_BASE_URL`, alias `LANGFUSE_HOST`; default `https://cloud.langfuse.com`.
    pub base_url: String,
    /// `LANGFUSE_OTEL_TRACES_EXPORT_PATH`; default `api/public/otel/v1/traces`.
    pub traces_path: String,
    /// `LANGFUSE_TRACING_ENVIRONMENT`.
    pub environment: Option<String>,
    /// `LANGFUSE_RELEASE`, else the first CI commit variable that is set.
    pub release: Option<String>,
    /// `LANGFUSE_SAMPLE_RATE` in [0, 1]; default 1.
    pub sample_rate: f64,
    /// `LANGFUSE_TRACING_ENABLED`; default true.
    pub tracing_enabled: bool,
    /// `LANGFUSE_DEBUG`: the SDK's own debug lines on stderr.
    pub debug: bool,
    /// `LANGFUSE_FLUSH_AT` (else `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`): observations per request; default 512.
    pub flush_at: usize,
    /// `LANGFUSE_FLUSH_INTERVAL` seconds (else `OTEL_BSP_SCHEDULE_DELAY` ms); default 5 s.
    pub flush_interval: Duration,
    /// `LANGFUSE_TIMEOUT` seconds: deadline of one export, retries included; default 5 s.
    pub timeout: Duration,
    /// `LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED`: default for `#[observe]` input/output capture.
    pub io_capture_enabled: bool,
    /// `LANGFUSE_OTEL_COMPRESSION` (then the OTel variables); default gzip.
    pub compression: Compression,
    /// `LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES`: largest uncompressed request; default 64 MiB.
    pub max_request_bytes: usize,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: observations waiting for export before new ones are dropped.
    pub max_queue_size: usize,
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`; default 128.
    pub attribute_count_limit: usize,
    /// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`).
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` other than `service.name`.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `OTEL_EXPORTER_OTLP_HEADERS`, then builder headers.
    pub headers: Vec<(String, String)>,
    /// `LANGFUSE_CONSOLE_EXPORTER`: print each finished trace as a tree on stdout.
    pub console_exporter: bool,
    pub(crate) extra_exporters: Vec<ExporterFactory>,
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
        /// Deadline of one export, retries included.
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

        let public_key =
            b.public_key.or_else(|| env.get("LANGFUSE_PUBLIC_KEY")).filter(|k| !k.is_empty());
        let secret_key =
            b.secret_key.or_else(|| env.get("LANGFUSE_SECRET_KEY")).filter(|k| !k.is_empty());
        let base_url = b
            .base_url
            .or_else(|| env.get("LANGFUSE_BASE_URL"))
            .or(b.host)
            .or_else(|| env.get("LANGFUSE_HOST"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                setting: Setting::Env("LANGFUSE_BASE_URL"),
                value: base_url,
                reason: "must start with http:// or https://",
            });
        }
        let traces_path = env
            .get("LANGFUSE_OTEL_TRACES_EXPORT_PATH")
            .unwrap_or_else(|| DEFAULT_TRACES_PATH.to_owned());

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
            Some(d) => d,
            None => match env.get("LANGFUSE_FLUSH_INTERVAL") {
                Some(raw) => seconds(&raw).ok_or_else(|| {
                    ConfigError::env(
                        "LANGFUSE_FLUSH_INTERVAL",
                        &raw,
                        "must be a non-negative number of seconds",
                    )
                })?,
                None => positive_int(&env, "OTEL_BSP_SCHEDULE_DELAY")?
                    .map_or(Duration::from_secs(5), |ms| Duration::from_millis(ms as u64)),
            },
        };
        let timeout = match b.timeout {
            Some(d) => d,
            None => positive_int(&env, "LANGFUSE_TIMEOUT")?
                .map_or(Duration::from_secs(5), |s| Duration::from_secs(s as u64)),
        };
        let max_queue_size = match b.max_queue_size {
            Some(0) => return Err(builder_err("max_queue_size", "0", "must be at least 1")),
            Some(n) => n,
            None => {
                positive_int(&env, "OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(DEFAULT_MAX_QUEUE_SIZE)
            }
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

        let mut headers = env
            .get("OTEL_EXPORTER_OTLP_HEADERS")
            .map(|raw| parse_key_values(&raw))
            .unwrap_or_default();
        headers.extend(
            env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                .map(|raw| parse_key_values(&raw))
                .unwrap_or_default(),
        );
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
            extra_exporters: b.extra_exporters,
        })
    }
}

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

fn seconds(raw: &str) -> Option<Duration> {
    let secs = raw.trim().parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
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
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.flush_at, 512);
        assert_eq!(c.flush_interval, Duration::from_secs(5));
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.sample_rate, 1.0);
        assert!(c.tracing_enabled && c.io_capture_enabled && !c.console_exporter);
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.max_request_bytes, 67_108_864);
        assert_eq!(c.max_queue_size, DEFAULT_MAX_QUEUE_SIZE);
        assert_eq!(c.service_name, "unknown_service");
    }

    #[test]
    fn base_url_precedence() {
        let c = with_env(&[("LANGFUSE_HOST", "http://host"), ("LANGFUSE_BASE_URL", "http://base")]);
        assert_eq!(c.clone().build().unwrap().base_url, "http://base");
        assert_eq!(c.base_url("http://arg").build().unwrap().base_url, "http://arg");
        let c = with_env(&[("LANGFUSE_HOST", "http://host")]).host("http://hostarg");
        assert_eq!(c.build().unwrap().base_url, "http://hostarg");
        assert_eq!(
            with_env(&[("LANGFUSE_HOST", "http://h")]).build().unwrap().base_url,
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
        assert_eq!(c.secret_key.as_ref().unwrap().to_string(), "***");
    }

    #[test]
    fn release_falls_back_to_ci_variables_and_empty_keys_are_missing() {
        let c = with_env(&[("GITHUB_SHA", "abc"), ("LANGFUSE_PUBLIC_KEY", "")]).build().unwrap();
        assert_eq!(c.release.as_deref(), Some("abc"));
        assert_eq!(c.public_key, None);
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
        assert_eq!(c.flush_at, 100);
        assert_eq!(c.flush_interval, Duration::from_millis(250));
        assert_eq!(c.service_name, "svc");
        assert_eq!(c.resource_attributes, vec![("team".to_string(), "a b".to_string())]);
        assert_eq!(c.headers, vec![("x-a".to_string(), "1".to_string())]);
        assert_eq!(c.compression, Compression::None);
    }
}
