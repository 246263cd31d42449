//! Langfuse tracing for Rust.
#![warn(missing_docs)]

pub mod attributes;
mod clock;
pub mod export;
mod ids;
pub mod observation;
mod record;

pub use ids::{ObservationId, ParseIdError, TraceId};
pub use observation::kind::{Level, ObservationType, ParseKindError};
pub use record::{GenerationFields, Metadata, ObservationRecord, TraceAttributes};

/// This crate's version: the instrumentation scope version and `x-langfuse-sdk-version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
