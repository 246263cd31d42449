//! [`ConfigBuilder`]: settings given in code, resolved against the environment into a [`Config`](crate::Config).

use std::sync::Arc;
use std::time::Duration;

use super::ExporterFactory;
use super::env::EnvSource;
use crate::export::{Compression, SpanExporter};
use crate::mask::Mask;

mod resolve;

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
    max_queue_bytes: Option<usize>,
    service_name: Option<String>,
    traces_path: Option<String>,
    attribute_count_limit: Option<usize>,
    resource_attributes: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    console_exporter: Option<bool>,
    max_field_bytes: Option<usize>,
    extra_exporters: Vec<ExporterFactory>,
    destinations: Vec<crate::export::destination::DestinationFactory>,
    otlp_endpoint: Option<String>,
    langfuse_export: Option<bool>,
    env: Option<EnvSource>,
    mask: Option<Mask>,
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
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().env_source(|_| None).public_key("pk-lf-123").build()?;
        /// assert_eq!(c.public_key(), Some("pk-lf-123"));
        /// assert!(!c.has_keys(), "the secret key is missing");
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        public_key: impl Into<String> => Into::into;
        /// Langfuse secret key (`sk-lf-…`).
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder()
        ///     .env_source(|_| None)
        ///     .public_key("pk-lf-123")
        ///     .secret_key("sk-lf-456")
        ///     .build()?;
        /// assert!(c.has_keys());
        /// assert!(!format!("{c:?}").contains("sk-lf-456"));
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        secret_key: impl Into<String> => Into::into;
        /// Base URL of the Langfuse server (wins over `LANGFUSE_BASE_URL`).
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().base_url("https://us.cloud.langfuse.com").build()?;
        /// assert_eq!(c.base_url(), "https://us.cloud.langfuse.com");
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        base_url: impl Into<String> => Into::into;
        /// Deprecated alias of `base_url`, below `LANGFUSE_BASE_URL` in precedence.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().env_source(|_| None).host("http://localhost:3000").build()?;
        /// assert_eq!(c.base_url(), "http://localhost:3000");
        /// let c = langfuse_runtime::Config::builder()
        ///     .env_source(|_| None)
        ///     .host("http://localhost:3000")
        ///     .base_url("http://localhost:4000")
        ///     .build()?;
        /// assert_eq!(c.base_url(), "http://localhost:4000");
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        host: impl Into<String> => Into::into;
        /// Environment written on every observation (e.g. `production`).
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().environment("staging").build()?;
        /// assert_eq!(c.environment(), Some("staging"));
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        environment: impl Into<String> => Into::into;
        /// Release written on every observation.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().release("v1.4.2").build()?;
        /// assert_eq!(c.release(), Some("v1.4.2"));
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        release: impl Into<String> => Into::into;
        /// Fraction of traces recorded, in [0, 1].
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().sample_rate(0.25).build()?;
        /// assert_eq!(c.sample_rate(), 0.25);
        /// assert!(langfuse_runtime::Config::builder().sample_rate(1.5).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        sample_rate: f64 => std::convert::identity;
        /// Turns tracing off entirely (instrumented code still runs).
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().tracing_enabled(false).build()?;
        /// assert!(!c.tracing_enabled());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        tracing_enabled: bool => std::convert::identity;
        /// The SDK's debug lines on stderr.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().debug(true).build()?;
        /// assert!(c.debug());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        debug: bool => std::convert::identity;
        /// Observations per export request.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().flush_at(100).build()?;
        /// assert_eq!(c.flush_at(), 100);
        /// assert!(langfuse_runtime::Config::builder().flush_at(0).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        flush_at: usize => std::convert::identity;
        /// Longest wait before queued observations are exported.
        ///
        /// ```
        /// use std::time::Duration;
        /// let c = langfuse_runtime::Config::builder().flush_interval(Duration::from_secs(1)).build()?;
        /// assert_eq!(c.flush_interval(), Duration::from_secs(1));
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        flush_interval: Duration => std::convert::identity;
        /// Deadline of one export attempt (each retry has its own); more than zero.
        ///
        /// ```
        /// use std::time::Duration;
        /// let c = langfuse_runtime::Config::builder().timeout(Duration::from_secs(10)).build()?;
        /// assert_eq!(c.timeout(), Duration::from_secs(10));
        /// assert!(langfuse_runtime::Config::builder().timeout(Duration::ZERO).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        timeout: Duration => std::convert::identity;
        /// Default input/output capture of `#[observe]`.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().io_capture_enabled(false).build()?;
        /// assert!(!c.io_capture_enabled());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        io_capture_enabled: bool => std::convert::identity;
        /// OTLP request compression.
        ///
        /// ```
        /// use langfuse_runtime::Compression;
        /// let c = langfuse_runtime::Config::builder().compression(Compression::None).build()?;
        /// assert_eq!(c.compression(), Compression::None);
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        compression: Compression => std::convert::identity;
        /// Largest uncompressed request body.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().max_request_bytes(4 << 20).build()?;
        /// assert_eq!(c.max_request_bytes(), 4 * 1024 * 1024);
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        max_request_bytes: usize => std::convert::identity;
        /// Observations waiting for export before new ones are dropped (and counted).
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().max_queue_size(10_000).build()?;
        /// assert_eq!(c.max_queue_size(), 10_000);
        /// assert!(langfuse_runtime::Config::builder().max_queue_size(0).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        max_queue_size: usize => std::convert::identity;
        /// Approximate bytes waiting for export before new observations are dropped (and
        /// counted as `queue_full_bytes`); over `LANGFUSE_MAX_QUEUE_BYTES`, default 64 MiB, at
        /// least 64 KiB. Each observation counts its payload texts plus a fixed overhead.
        ///
        /// ```
        /// assert!(langfuse_runtime::Config::builder().max_queue_bytes(1024).build().is_err());
        /// ```
        max_queue_bytes: usize => std::convert::identity;
        /// `service.name` of the resource.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().service_name("checkout-api").build()?;
        /// assert_eq!(c.service_name(), "checkout-api");
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        service_name: impl Into<String> => Into::into;
        /// OTLP path under the base URL (over `LANGFUSE_OTEL_TRACES_EXPORT_PATH`).
        ///
        /// ```
        /// let config = langfuse_runtime::Config::builder()
        ///     .base_url("http://localhost:4318")
        ///     .traces_path("v1/traces")
        ///     .build()?;
        /// assert_eq!(config.traces_endpoint(), "http://localhost:4318/v1/traces");
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        traces_path: impl Into<String> => Into::into;
        /// Most attributes per span, at least 1 (over `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`); beyond
        /// it metadata keys are dropped first and counted in the span's dropped count.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().attribute_count_limit(256).build()?;
        /// assert_eq!(c.attribute_count_limit(), 256);
        /// assert!(langfuse_runtime::Config::builder().attribute_count_limit(0).build().is_err());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        attribute_count_limit: usize => std::convert::identity;
        /// Print each finished trace as a tree on stdout.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder().console_exporter(true).build()?;
        /// assert!(c.console_exporter());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        console_exporter: bool => std::convert::identity;
        /// Collector mode: the built-in exporter sends to this full URL (say an OpenTelemetry
        /// Collector's `http://collector:4318/v1/traces`) instead of
        /// `{base_url}/{traces_path}`, over `LANGFUSE_OTEL_TRACES_ENDPOINT`. Keys are then
        /// optional: without them no `Authorization` header is sent (a user `authorization`
        /// [`header`](Self::header) is, then), and spans still carry every `langfuse.*`
        /// attribute and `x-langfuse-ingestion-version: 4`, so the Collector can forward them
        /// to Langfuse unchanged. Scores need the Langfuse REST API: without keys they are
        /// counted as dropped ([`ScoreStats::dropped`](crate::ScoreStats::dropped)) with a
        /// warning naming the reason; with keys they go to `{base_url}/api/public/scores`.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder()
        ///     .env_source(|_| None)
        ///     .otlp_endpoint("http://collector:4318/v1/traces")
        ///     .header("x-tenant", "acme")
        ///     .build()?;
        /// assert_eq!(c.traces_endpoint(), "http://collector:4318/v1/traces");
        /// assert!(!c.has_keys());
        /// let err = langfuse_runtime::Config::builder().otlp_endpoint("collector:4318").build().unwrap_err();
        /// assert_eq!(err.setting(), &langfuse_runtime::Setting::Builder("otlp_endpoint"));
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        otlp_endpoint: impl Into<String> => Into::into;
        /// Turns the built-in OTLP exporter (to Langfuse, or to the
        /// [`otlp_endpoint`](Self::otlp_endpoint)) off, over `LANGFUSE_EXPORT_ENABLED`:
        /// observations then only go to the `otel_exporter`
        /// destinations, [`exporter`](Self::exporter)s and the console. Scores still follow
        /// the keys.
        ///
        /// ```
        /// let c = langfuse_runtime::Config::builder()
        ///     .env_source(|_| None)
        ///     .public_key("pk-lf-1")
        ///     .secret_key("sk-lf-2")
        ///     .langfuse_export(false)
        ///     .build()?;
        /// assert!(!c.langfuse_export());
        /// # Ok::<(), langfuse_runtime::ConfigError>(())
        /// ```
        langfuse_export: bool => std::convert::identity;
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

    /// Adds a resource attribute (over `OTEL_RESOURCE_ATTRIBUTES`; the same key set here wins).
    ///
    /// ```
    /// let config = langfuse_runtime::Config::builder().resource_attribute("team", "search").build()?;
    /// assert_eq!(config.resource_attributes(), vec![("team".to_string(), "search".to_string())]);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Adds a header to every export request (over `OTEL_EXPORTER_OTLP_*HEADERS`, under the
    /// Langfuse headers).
    ///
    /// ```
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(|_| None)
    ///     .header("x-tenant", "acme")
    ///     .build()?;
    /// assert_eq!(c.headers(), vec![("x-tenant".to_string(), "acme".to_string())]);
    /// assert!(!format!("{c:?}").contains("acme"), "header values stay out of Debug");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds an exporter that receives every batch as well (a collector, a test sink).
    ///
    /// ```
    /// use langfuse_runtime::ObservationRecord;
    /// use langfuse_runtime::export::{ExportError, SpanExporter};
    ///
    /// struct Discard;
    /// impl SpanExporter for Discard {
    ///     fn export(&mut self, _batch: &[ObservationRecord]) -> Result<(), ExportError> {
    ///         Ok(())
    ///     }
    /// }
    /// let config = langfuse_runtime::Config::builder().exporter(|| Discard).build()?;
    /// # let _ = config;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn exporter<E, F>(mut self, make: F) -> Self
    where
        E: SpanExporter,
        F: Fn() -> E + Send + Sync + 'static,
    {
        self.extra_exporters.push(ExporterFactory(Arc::new(move || Box::new(make()))));
        self
    }

    /// Adds an [`OtelExporter`](crate::export::OtelExporter) destination: our observations
    /// also go to an `opentelemetry_sdk` span exporter (`opentelemetry-otlp` to a Collector,
    /// Tempo or Jaeger), with its own filter, queue, thread and counts
    /// ([`Langfuse::destination_stats`](crate::Langfuse::destination_stats),
    /// [`ExportStats::destinations`](crate::export::ExportStats::destinations)). It gets the
    /// client's resource, timeout and queue bounds; whatever it does, the built-in exporter's
    /// delivery and counts stay the same. `make` is called once per client created.
    ///
    /// ```
    /// use langfuse_runtime::export::OtelExporter;
    /// # #[derive(Debug)]
    /// # struct MyExporter;
    /// # impl opentelemetry_sdk::trace::SpanExporter for MyExporter {
    /// #     async fn export(&self, _: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult { Ok(()) }
    /// # }
    /// let langfuse = langfuse_runtime::Config::builder()
    ///     .env_source(|_| None)
    ///     .otel_exporter(|| OtelExporter::new(MyExporter).name("tempo"))
    ///     .init()?;
    /// langfuse_runtime::span("step").start().end();
    /// langfuse.flush();
    /// let tempo = &langfuse.destination_stats()[0];
    /// assert_eq!((tempo.name.as_str(), tempo.counts.exported), ("tempo", 1));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn otel_exporter<F>(mut self, make: F) -> Self
    where
        F: Fn() -> crate::export::OtelExporter + Send + Sync + 'static,
    {
        self.destinations.push(crate::export::destination::DestinationFactory(Arc::new(
            move |setup| make().install(setup),
        )));
        self
    }

    /// A masking function (Python's `mask=`): called synchronously with the value of every
    /// input, output and metadata an observation records — for `#[observe]` and the manual
    /// API alike, each separately, only for recorded observations — and what it returns is
    /// sent instead. If it panics the value becomes `"<fully masked due to failed mask
    /// function>"` (for non-empty metadata objects: each key's value), as in the Python SDK.
    ///
    /// It works on [`serde_json::Value`]s, as Python's hook works on the values themselves, so
    /// it can redact by key. Masked objects are sent with their keys sorted, and an
    /// `#[observe]` string output that is itself valid JSON reaches the hook as that JSON.
    /// Without a hook nothing is converted: the check is one branch.
    ///
    /// ```
    /// use serde_json::Value;
    /// let config = langfuse_runtime::Config::builder()
    ///     .mask(|value: &Value| match value {
    ///         Value::String(s) if s.contains('@') => Value::String("<email>".into()),
    ///         Value::Object(map) if map.contains_key("password") => {
    ///             let mut map = map.clone();
    ///             map.insert("password".into(), "***".into());
    ///             Value::Object(map)
    ///         }
    ///         other => other.clone(),
    ///     })
    ///     .build()?;
    /// # let _ = config;
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn mask(
        mut self,
        mask: impl Fn(&serde_json::Value) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.mask = Some(Mask(Arc::new(mask)));
        self
    }

    /// Reads "environment variables" from `source` instead of the process environment
    /// (tests, or configuration kept elsewhere).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let vars = HashMap::from([("LANGFUSE_TRACING_ENVIRONMENT", "ci"), ("LANGFUSE_FLUSH_AT", "20")]);
    /// let c = langfuse_runtime::Config::builder()
    ///     .env_source(move |name| vars.get(name).map(|v| v.to_string()))
    ///     .build()?;
    /// assert_eq!((c.environment(), c.flush_at()), (Some("ci"), 20));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn env_source(
        mut self,
        source: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(Arc::new(source));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::error::Setting;
    use crate::config::{Config, DEFAULT_BASE_URL, DEFAULT_MAX_QUEUE_SIZE};
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
        assert_eq!(c.max_queue_bytes(), 64 * 1024 * 1024);
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
            ("LANGFUSE_MAX_QUEUE_BYTES", "0"),
            ("LANGFUSE_MAX_QUEUE_BYTES", "65535"),
            ("LANGFUSE_MAX_QUEUE_BYTES", "lots"),
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
