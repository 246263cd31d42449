//! OTLP/HTTP protobuf exporter for Langfuse (stub: being written).

use std::time::Duration;

use super::{Compression, ExportError, ExportResource, SpanExporter};
use crate::record::ObservationRecord;

/// Settings of the OTLP/HTTP exporter.
#[derive(Clone)]
#[non_exhaustive]
pub struct OtlpHttpSettings {
    /// Full URL, e.g. `https://cloud.langfuse.com/api/public/otel/v1/traces`.
    pub endpoint: String,
    /// Langfuse public key.
    pub public_key: String,
    /// Langfuse secret key.
    pub secret_key: String,
    /// Deadline of one export, retries included.
    pub timeout: Duration,
    /// Request compression.
    pub compression: Compression,
    /// Largest uncompressed request body; larger batches are split, a single larger span dropped.
    pub max_request_bytes: usize,
    /// Extra headers, applied under the Langfuse ones.
    pub headers: Vec<(String, String)>,
}

/// Sends batches to Langfuse over OTLP/HTTP protobuf.
pub struct OtlpHttpExporter {
    _settings: OtlpHttpSettings,
    _resource: ExportResource,
}

impl OtlpHttpSettings {
    /// Settings with the defaults (stub).
    pub fn new(
        endpoint: impl Into<String>,
        public_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            public_key: public_key.into(),
            secret_key: secret_key.into(),
            timeout: Duration::from_secs(5),
            compression: Compression::Gzip,
            max_request_bytes: 64 << 20,
            headers: Vec::new(),
        }
    }
}

impl OtlpHttpExporter {
    /// Creates the exporter; nothing is sent until the first batch.
    pub fn new(settings: OtlpHttpSettings, resource: ExportResource) -> Self {
        Self { _settings: settings, _resource: resource }
    }
}

impl SpanExporter for OtlpHttpExporter {
    fn export(&mut self, _batch: &[ObservationRecord]) -> Result<(), ExportError> {
        Ok(())
    }
}
