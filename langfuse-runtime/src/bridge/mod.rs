//! Bridges to the rest of the Rust tracing world: `tracing` spans as observations, and W3C
//! trace context across services, OpenTelemetry interop.

pub(crate) mod baggage;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "opentelemetry")]
pub mod opentelemetry;
#[cfg(feature = "tower")]
mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;
pub mod w3c;
