//! Where finished observations go: the exporter interface, the OTLP/HTTP exporter for Langfuse,
//! the console tree printer, and the batching pipeline that feeds them off the calling thread.
//!
//! The Langfuse exporter itself is internal: [`Config::builder()`](crate::Config::builder) sets
//! it up (endpoint, keys, [`timeout`](crate::Config::timeout),
//! [`compression`](crate::Config::compression),
//! [`max_request_bytes`](crate::Config::max_request_bytes), extra headers).
//!
//! # Retry policy
//!
//! - **What is retried:** 429, 502, 503 and 504 (the server is overloaded or a proxy lost the
//!   upstream) and connection errors (refused, reset, DNS, TLS, malformed response). Nothing
//!   else: other 4xx and 5xx say the request itself is at fault or the server is broken, and a
//!   timed-out request is not retried either, as the server may have stored it already.
//! - **How often:** at most 6 attempts per request, the first included. A connection error is
//!   also tried once more at once within its attempt, since a stale pooled connection says
//!   nothing about the server.
//! - **How long between:** before retry `n` (from 0) the exporter waits
//!   `2^n × 1 s × uniform(0.8, 1.2)` (1 s, 2 s, 4 s, …; the jitter keeps many clients from
//!   retrying in step). A `Retry-After` header (seconds or an HTTP date) replaces that wait.
//!   Every wait is capped at 60 s, so a `Retry-After: 3600` is retried after a minute rather
//!   than held for an hour or dropped.
//! - **Time limits:** each attempt has its own [`timeout`](crate::Config::timeout) (5 s). All
//!   attempts and waits of one request together stay within a 60 s budget: a wait that would
//!   end past the budget is not started, as it could only delay the failure. The budget is
//!   separate from the timeout so that three 503s in a row, or a `Retry-After: 30`, still
//!   deliver at the defaults.
//! - **Too large (413):** the request is split in halves and each half sent (with its own
//!   retries), down to a single observation; one that is refused alone is dropped and counted
//!   as failed, and the batch reports [`ExportError::Partial`] when the rest arrived.
//! - **Shutdown:** once [`Langfuse::shutdown`](crate::Langfuse::shutdown) (or dropping the
//!   client) has waited twice the timeout plus a second for the export thread, a pending wait
//!   ends at once, no further retries or requests are made, and what was not delivered is
//!   counted as [`lost_at_shutdown`](FlushReport::lost_at_shutdown).

use std::fmt;

use crate::attributes::SpanDefaults;
use crate::record::ObservationRecord;

pub(crate) mod backlog;
pub(crate) mod console;
pub(crate) mod destination;
mod effort;
mod gzip;
pub(crate) mod http;
#[cfg(feature = "opentelemetry")]
mod otel_sdk;
pub(crate) mod otlp;
pub(crate) mod pipeline;
mod report;
mod stats;
mod thread_buffer;

pub use console::ConsoleExporter;
pub(crate) use http::{OtlpHttpExporter, OtlpHttpSettings};
#[cfg(feature = "opentelemetry")]
pub use otel_sdk::OtelExporter;
pub use report::FlushReport;
pub use stats::{DestinationCounts, DestinationStats, DropCounts, ExportStats};

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
    ///
    /// ```
    /// use langfuse_runtime::export::{ExportError, SpanExporter};
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    ///
    /// #[derive(Default)]
    /// struct Names(Vec<String>);
    /// impl SpanExporter for Names {
    ///     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    ///         self.0.extend(batch.iter().map(|r| r.name.to_string()));
    ///         Ok(())
    ///     }
    /// }
    /// let record = ObservationRecord::new(
    ///     TraceId::random(), ObservationId::random(), None, "chat", ObservationType::Generation, 0,
    /// );
    /// let mut names = Names::default();
    /// names.export(&[record])?;
    /// assert_eq!(names.0, ["chat"]);
    /// # Ok::<(), ExportError>(())
    /// ```
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError>;

    /// Called after each export round (every tick, flush and shutdown), once everything
    /// recorded until then, in every thread's buffer, has been passed to [`export`](Self::export).
    /// An exporter that groups observations across batches acts here: the console prints the
    /// traces that became complete. Errors are logged.
    ///
    /// ```
    /// use langfuse_runtime::export::{ExportError, SpanExporter};
    /// use langfuse_runtime::ObservationRecord;
    ///
    /// /// Collects a round's observations and writes them out together.
    /// #[derive(Default)]
    /// struct PerRound { pending: Vec<ObservationRecord>, written: usize }
    /// impl SpanExporter for PerRound {
    ///     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    ///         self.pending.extend_from_slice(batch);
    ///         Ok(())
    ///     }
    ///     fn end_of_round(&mut self) -> Result<(), ExportError> {
    ///         self.written += std::mem::take(&mut self.pending).len();
    ///         Ok(())
    ///     }
    /// }
    /// let mut exporter = PerRound::default();
    /// exporter.end_of_round()?;
    /// assert_eq!(exporter.written, 0);
    /// # Ok::<(), ExportError>(())
    /// ```
    fn end_of_round(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Called at the end of every `flush()`, after the last batch.
    ///
    /// ```
    /// use std::io::Write;
    /// use langfuse_runtime::export::{ExportError, SpanExporter};
    /// use langfuse_runtime::ObservationRecord;
    ///
    /// struct Lines(std::io::BufWriter<std::io::Stdout>);
    /// impl SpanExporter for Lines {
    ///     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
    ///         for r in batch {
    ///             let _ = writeln!(self.0, "{} {}", r.trace_id, r.name);
    ///         }
    ///         Ok(())
    ///     }
    ///     fn force_flush(&mut self) -> Result<(), ExportError> {
    ///         let _ = self.0.flush();
    ///         Ok(())
    ///     }
    /// }
    /// let mut exporter = Lines(std::io::BufWriter::new(std::io::stdout()));
    /// exporter.force_flush()?;
    /// # Ok::<(), ExportError>(())
    /// ```
    fn force_flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Called once when the client shuts down.
    ///
    /// ```
    /// use langfuse_runtime::export::{ExportError, SpanExporter};
    /// use langfuse_runtime::ObservationRecord;
    ///
    /// struct Closing { open: bool }
    /// impl SpanExporter for Closing {
    ///     fn export(&mut self, _batch: &[ObservationRecord]) -> Result<(), ExportError> {
    ///         Ok(())
    ///     }
    ///     fn shutdown(&mut self) -> Result<(), ExportError> {
    ///         self.open = false; // close files, connections, …
    ///         Ok(())
    ///     }
    /// }
    /// let mut exporter = Closing { open: true };
    /// exporter.shutdown()?;
    /// assert!(!exporter.open);
    /// # Ok::<(), ExportError>(())
    /// ```
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<T: SpanExporter + ?Sized> SpanExporter for Box<T> {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        (**self).export(batch)
    }
    fn end_of_round(&mut self) -> Result<(), ExportError> {
        (**self).end_of_round()
    }
    fn force_flush(&mut self) -> Result<(), ExportError> {
        (**self).force_flush()
    }
    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

/// Why an export failed.
///
/// ```
/// use langfuse_runtime::export::ExportError;
/// let err = ExportError::Status { code: 401, body: "invalid credentials".into() };
/// assert_eq!(err.lost(100), 100, "a rejected batch is lost whole");
/// let partial = ExportError::Partial { lost: 3, cause: Box::new(err) };
/// assert_eq!(partial.lost(100), 3);
/// ```
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
    ///
    /// ```
    /// use langfuse_runtime::export::ExportError;
    /// let rejected = ExportError::Status { code: 400, body: String::new() };
    /// assert_eq!(rejected.lost(10), 10);
    /// let partial = ExportError::Partial { lost: 2, cause: Box::new(rejected) };
    /// assert_eq!(partial.lost(10), 2);
    /// ```
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
///
/// With [`Gzip`](Self::Gzip), every request is one valid gzip member, but how much of it is
/// deflated depends on load: while the export queue is less than a tenth full, all of it; as
/// the queue fills, and only when the exporter has measured that sending a byte costs less
/// than deflating it (a fast link to a nearby collector), a growing tail of each request is
/// sent as stored (uncompressed) gzip blocks, down to none deflated at half full. A full queue
/// drops observations, so trading wire bytes for export-thread time under pressure keeps them;
/// against a slow link nothing changes, and at rest requests are as small as ever.
///
/// ```
/// use langfuse_runtime::{Compression, Config};
/// let config = Config::builder().env_source(|_| None).compression(Compression::None).build().unwrap();
/// assert_eq!(config.compression(), Compression::None);
/// ```
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
