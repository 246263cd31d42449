//! OpenTelemetry interop (cargo feature `opentelemetry`, on `opentelemetry` 0.33, the minor
//! `tracing-opentelemetry` 0.34 uses): our observations and OpenTelemetry spans in one tree,
//! OpenTelemetry spans sent to Langfuse through this SDK's pipeline, and this SDK's
//! observations sent to any `opentelemetry_sdk` span exporter as well.
