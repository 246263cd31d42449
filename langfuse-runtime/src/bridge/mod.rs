//! Bridges to the rest of the Rust tracing world: `tracing` spans as observations, and W3C
//! trace context across services.

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "tracing")]
pub mod tracing;
pub mod w3c;
