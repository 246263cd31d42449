//! Where finished observations go: the exporter interface, the OTLP/HTTP exporter for Langfuse,
//! the console tree printer, and the batching pipeline that feeds them off the calling thread.

use std::fmt;

use crate::attributes::SpanDefaults;
use crate::record::ObservationRecord;

// `console` stays public only because `ConsoleExporter`'s docs link to its module docs.
pub mod console;
// Public for its module docs (the retry policy) only: everything in it is crate-private.
pub mod http;
// `otlp::encode_request` lost its last non-test caller when the module became private; its
// own tests still use it. To go once otlp.rs makes it `#[cfg(test)]`.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "encode_request is only used by otlp's own tests")
)]
pub(crate) mod otlp;
pub(crate) mod pipeline;

pub use console::ConsoleExporter;
pub(crate) use http::{OtlpHttpExporter, OtlpHttpSettings};
pub use pipeline::ExportStats;

/// Receives batches of finished observations on the SDK's export thread.
///
/// Implement it to send observations somewhere else as well (a collector, a test sink); the
/// pipeline calls it from one thread only, never from instrumented code.
///
/// ```
/// use langfuse_runtime::export::{ExportError, SpanExporter};
/// use langfuse_runtime::ObservationRecord;
///
/// struct CountingExporter(usize);
/// impl SpanExporter for CountingExporter {
///     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
///         self.0 += batch.len();
///         Ok(())
///     }
/// }
/// ```
pub trait SpanExporter: Send + 'static {
    /// Exports one batch. An error drops the batch (it is counted, never retried by the pipeline).
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError>;

    /// Called at the end of every `flush()`, after the last batch.
    fn force_flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Called once when the client shuts down.
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<T: SpanExporter + ?Sized> SpanExporter for Box<T> {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        (**self).export(batch)
    }
    fn force_flush(&mut self) -> Result<(), ExportError> {
        (**self).force_flush()
    }
    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

/// Why an export failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportError {
    /// The server answered with a non-success status (after any retries).
    Status {
        /// HTTP status code.
        code: u16,
        /// Start of the response body, for the log line.
        body: String,
    },
    /// The request could not be sent or no response arrived (after any retries).
    Transport(String),
    /// The export deadline passed.
    Timeout,
    /// The batch was larger than the request-size guard and was dropped unsent.
    TooLarge {
        /// Uncompressed size of the encoded batch.
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Any other failure of a custom exporter.
    Other(String),
    /// Part of the batch was delivered; `lost` observations were not, for `cause`.
    Partial {
        /// Observations of the batch that were not delivered.
        lost: usize,
        /// Why (the first failure).
        cause: Box<ExportError>,
    },
}

impl ExportError {
    /// How many of a batch of `batch_len` observations this error lost.
    pub fn lost(&self, batch_len: usize) -> usize {
        match self {
            Self::Partial { lost, .. } => (*lost).min(batch_len),
            _ => batch_len,
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { code, body } => write!(f, "server answered {code}: {body}"),
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Timeout => f.write_str("export deadline passed"),
            Self::TooLarge { bytes, limit } => {
                write!(f, "batch of {bytes} bytes exceeds the {limit}-byte request limit")
            }
            Self::Other(e) => f.write_str(e),
            Self::Partial { lost, cause } => {
                write!(f, "{lost} observations not delivered: {cause}")
            }
        }
    }
}

impl std::error::Error for ExportError {}

/// OTLP compression of export requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `Content-Encoding: gzip` (the default, as in the Python SDK).
    #[default]
    Gzip,
    /// Uncompressed protobuf.
    None,
}

/// What every export shares: resource, instrumentation scope and per-span defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExportResource {
    /// `service.name` resource attribute.
    pub(crate) service_name: String,
    /// Further resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, environment, release).
    pub(crate) resource_attributes: Vec<(String, String)>,
    /// Public key, written as the scope attribute `public_key`.
    pub(crate) public_key: String,
    /// Scope version and `x-langfuse-sdk-version`: this crate's version.
    pub(crate) sdk_version: &'static str,
    /// Values written on every span.
    pub(crate) span_defaults: SpanDefaults,
}

impl ExportResource {
    /// A resource for `service_name` with the crate's defaults.
    pub(crate) fn new(service_name: impl Into<String>, public_key: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            resource_attributes: Vec::new(),
            public_key: public_key.into(),
            sdk_version: crate::SDK_VERSION,
            span_defaults: SpanDefaults::default(),
        }
    }
}
