//! Langfuse tracing for Rust.
#![warn(missing_docs)]

#[doc(hidden)]
pub mod __private;
pub mod attributes;
mod capture;
mod client;
mod clock;
pub mod config;
mod context;
mod diag;
mod encode;
mod escape;
pub mod export;
mod frame;
mod ids;
mod kind;
mod macro_support;
pub mod observation;
mod propagation;
mod record;
mod recycle;
mod sampling;
mod start;
mod state;
#[cfg(feature = "tokio")]
mod task;

pub use client::{Langfuse, init};
pub use config::{Config, ConfigBuilder, ConfigError};
pub use context::{Context, ContextGuard, FutureExt, WithContext, bind, spawn_thread};
pub use ids::{ObservationId, ParseIdError, TraceId};
pub use kind::{Level, ObservationType, ParseKindError};
/// `#[observe]`, re-exported from `langfuse-observe-macros`: depending on this crate is enough.
///
pub use langfuse_macros::observe;
pub use observation::{
    Observation, ObservationBuilder, ObservationRef, Usage, current_generation,
    current_observation, current_observation_id, current_trace_id, event, generation, observation,
    span,
};
pub use propagation::{Propagate, propagate_attributes};
pub use record::{GenerationFields, Metadata, ObservationRecord, TraceAttributes};
#[cfg(feature = "tokio")]
pub use task::{spawn, spawn_blocking};

/// This crate's version: the instrumentation scope version and `x-langfuse-sdk-version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
