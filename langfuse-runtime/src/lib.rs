//! Langfuse tracing for Rust: annotate a function with [`#[observe]`](observe) and every call
//! becomes a Langfuse observation — arguments as input, the return value as output, observed
//! calls inside as children, `Err` and panics as level ERROR — exported in the background over
//! OTLP/HTTP exactly as the official Python SDK sends it.
//!
//! # Quickstart
//!
//! ```no_run
//! use langfuse_runtime::observe;
//!
//! #[observe(as_type = "retriever")]
//! fn retrieve(query: &str) -> Vec<String> {
//!     vec![format!("a document about {query}")]
//! }
//!
//! #[observe]
//! fn answer(question: &str) -> String {
//!     let docs = retrieve(question);
//!     format!("{} documents found", docs.len())
//! }
//!
//! fn main() -> Result<(), langfuse_runtime::ConfigError> {
//!     // Reads LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL. Without keys
//!     // nothing is sent; LANGFUSE_CONSOLE_EXPORTER=true prints the tree that would be.
//!     let langfuse = langfuse_runtime::init()?;
//!     answer("What is Langfuse?");
//!     langfuse.flush(); // also done when `langfuse` is dropped
//!     Ok(())
//! }
//! ```
//!
//! # The API by task
//!
//! | To… | use |
//! |---|---|
//! | annotate a function | [`#[observe]`](observe) (name, `as_type`, capture switches, metadata, level, version) |
//! | start observations by hand | [`span`], [`generation`], [`event`], [`observation`] → [`ObservationBuilder`] → [`Observation`] (ends on drop) |
//! | record an event under a given observation | [`ObservationRef::event`] |
//! | update the current observation | [`current_observation`], [`current_generation`] → [`ObservationRef`] (`set_output`, `set_usage_details`, `set_error`, …) |
//! | record a model call | [`generation`], [`ObservationRef::set_model`], [`Usage`], [`ObservationRef::set_completion_start_time`] |
//! | set user, session, tags, trace name | [`propagate_attributes`] → [`Propagate`] (applies to every observation started inside) |
//! | carry the trace into tasks and threads | [`spawn`], [`spawn_blocking`], [`spawn_thread`], [`bind`], [`FutureContextExt`], [`TraceContext`] |
//! | continue a trace from elsewhere | [`TraceContext::from_trace_id`], [`TraceId`], [`ObservationId`], [`TraceId::from_seed`], [`ObservationId::from_seed`] |
//! | link to a trace in the UI | [`Langfuse::trace_url`] |
//! | carry a trace across services (W3C `traceparent`) | [`w3c::inject`], [`w3c::extract`]; `w3c::inject_headers`, `w3c::extract_headers` on `http::HeaderMap` (feature `http`) |
//! | continue the caller's trace in an axum/hyper handler, carry it on a reqwest call | `w3c::continue_headers(req.headers())`, `.headers(w3c::current_headers())` (feature `http`); `w3c::ContinueTraceLayer` for an axum `Router` (feature `tower`); [`w3c::continue_trace`] on a string map |
//! | send user, session, tags, metadata to the services called (W3C `baggage`, opt-in) | [`Propagate::as_baggage`]; read with [`w3c::continue_trace_and_baggage`], `w3c::continue_headers_and_baggage`, `ContinueTraceLayer::with_baggage` |
//! | turn `tracing` spans (rig, genai, langchain-rust, your own) into observations | [`tracing::layer()`](crate::tracing::layer) (feature `tracing`, default) → [`tracing::Layer`] |
//! | nest with OpenTelemetry spans both ways; send a provider's spans to Langfuse | feature `opentelemetry`: `opentelemetry::Context` interop (automatic), `opentelemetry::LangfuseSpanProcessor` |
//! | configure | [`init`], [`Config::builder`] → [`ConfigBuilder`] (every `LANGFUSE_*` variable has a method), [`ConfigError`] |
//! | mask inputs, outputs and metadata | [`ConfigBuilder::mask`] |
//! | see the tree locally | `LANGFUSE_CONSOLE_EXPORTER=true` or [`ConfigBuilder::console_exporter`]; [`export::ConsoleExporter`] |
//! | send observations elsewhere too | [`export::SpanExporter`] with [`ConfigBuilder::exporter`]; records are [`ObservationRecord`] |
//! | send observations to Tempo, Jaeger or a Collector as well, or through a Collector only | `ConfigBuilder::otel_exporter` → `export::OtelExporter` (feature `opentelemetry`: any `opentelemetry_sdk` span exporter, own filter, [`Langfuse::destination_stats`]); collector mode: [`ConfigBuilder::otlp_endpoint`], [`ConfigBuilder::langfuse_export`] |
//! | score a trace, an observation, a session or a dataset run | [`ObservationRef::score`], [`ObservationRef::score_trace`], [`score_current_observation`], [`score_current_trace`], [`score()`] → [`ScoreBuilder`] |
//! | check what was sent and dropped | [`Langfuse::stats`] → [`export::ExportStats`]; [`Langfuse::score_stats`] → [`ScoreStats`] |
//! | record LLM calls without annotations | [`integrations`]: `integrations::async_openai::Client` (feature `async-openai`) |
//!
//! Everything is a no-op, at the cost of one atomic load, when no client records; inside an
//! unsampled trace observations carry ids (for propagation) but record and allocate nothing.
//!
//! # Public items
//!
//! At the root:
//! - [`observe`]: the attribute macro.
//! - [`init`], [`Langfuse`], [`shutdown`]: the client (flush, stats, shutdown on drop or by the
//!   global [`shutdown`], [`Langfuse::trace_url`]).
//! - [`Config`], [`ConfigBuilder`] (with [`ConfigBuilder::mask`], the masking hook),
//!   [`ConfigError`], [`Setting`], [`Compression`]: configuration.
//! - [`span`], [`generation`], [`event`], [`observation`], [`ObservationBuilder`]: manual starts.
//! - [`Observation`] (owning), [`ObservationRef`] (non-owning; [`ObservationRef::event`] for
//!   events under it), [`Observed`] (a future with its observation), [`Usage`]: handles and
//!   their values.
//! - [`current_observation`], [`current_generation`], [`current_trace_id`],
//!   [`current_observation_id`]: the current observation.
//! - [`propagate_attributes`], [`Propagate`]: user, session, tags, trace name and metadata.
//! - [`score()`], [`score_current_observation`], [`score_current_trace`], [`ScoreBuilder`],
//!   [`ScoreValue`], [`ScoreDataType`], [`ScoreError`], [`ScoreStats`]: scores (also
//!   [`ObservationRef::score`] and [`ObservationRef::score_trace`] on handles).
//! - [`TraceContext`], [`ContextGuard`], [`WithContext`], [`FutureContextExt`], [`bind`],
//!   [`spawn_thread`], [`spawn`], [`spawn_blocking`]: context across threads and tasks.
//! - [`TraceId`], [`ObservationId`], [`ParseIdError`]: ids, random or from a seed
//!   ([`TraceId::from_seed`], [`ObservationId::from_seed`]).
//! - [`ObservationType`], [`Level`], [`ParseKindError`]: kinds.
//! - [`ObservationRecord`], [`GenerationFields`], [`Metadata`], [`TraceAttributes`]: finished
//!   observations as exporters see them; [`Payload`] (an input or output) and [`JsonText`]
//!   (compact JSON) carry their values as wire text that parses on request.
//! - [`SDK_VERSION`].
//!
//! In [`w3c`]: [`inject`](w3c::inject), [`inject_context`](w3c::inject_context),
//! [`extract`](w3c::extract), [`continue_trace`](w3c::continue_trace),
//! [`continue_trace_and_baggage`](w3c::continue_trace_and_baggage),
//! [`forward_tracestate`](w3c::forward_tracestate),
//! [`traceparent`](w3c::traceparent), [`parse_traceparent`](w3c::parse_traceparent),
//! [`baggage`](w3c::baggage), [`parse_baggage`](w3c::parse_baggage),
//! [`TRACEPARENT`](w3c::TRACEPARENT), [`TRACESTATE`](w3c::TRACESTATE),
//! [`BAGGAGE`](w3c::BAGGAGE); with feature `http` also `inject_headers`,
//! `inject_headers_from`, `extract_headers`, `forward_tracestate_headers`, `current_headers`,
//! `continue_headers`, `continue_headers_and_baggage`; with feature `tower` also
//! `ContinueTraceLayer` and its service `ContinueTrace`.
//!
//! In [`tracing`] (feature `tracing`, on by default):
//! [`layer`](crate::tracing::layer), [`Layer`](crate::tracing::Layer) (the
//! `tracing_subscriber` layer), [`is_default_export_span`](crate::tracing::is_default_export_span),
//! [`is_genai_span`](crate::tracing::is_genai_span),
//! [`is_known_llm_target`](crate::tracing::is_known_llm_target),
//! [`KNOWN_LLM_TARGETS`](crate::tracing::KNOWN_LLM_TARGETS) (the default export rule, for
//! composing your own).
//! In [`integrations`] (each behind the cargo feature of the same name):
//! `async_openai::{Client, Chat, Embeddings}` (feature `async-openai`), a drop-in wrapper of
//! async-openai's client that records chat completions and embeddings.
//!
//! In [`export`]: [`SpanExporter`](export::SpanExporter), [`ExportError`](export::ExportError),
//! [`ExportStats`](export::ExportStats), [`DropCounts`](export::DropCounts),
//! [`DestinationCounts`](export::DestinationCounts),
//! [`DestinationStats`](export::DestinationStats), `OtelExporter` (feature `opentelemetry`),
//! [`FlushReport`](export::FlushReport), [`ConsoleExporter`](export::ConsoleExporter) and
//! [`Compression`] again (also at the root); its module docs hold the retry policy.
#![warn(missing_docs)]
// The SDK must never panic into user code: every `unwrap`/`expect` outside tests is either
// gone or carries an `#[allow]` with the local invariant that makes it unreachable.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

// The loopback tests shared with `tests/` name the crate `langfuse_runtime::…`.
#[cfg(test)]
extern crate self as langfuse_runtime;

#[doc(hidden)]
pub mod __private;
mod attributes;
mod bridge;
mod capture;
mod client;
mod clock;
mod config;
mod context;
mod diag;
mod encode;
mod escape;
pub mod export;
mod frame;
mod ids;
pub mod integrations;
mod keyless;
mod kind;
mod macro_support;
mod mask;
mod observation;
mod payload;
mod propagation;
mod record;
mod recycle;
mod sampling;
mod score;
mod start;
mod state;
#[cfg(feature = "tokio")]
mod task;
mod trace_url;

#[cfg(feature = "opentelemetry")]
pub use bridge::opentelemetry;
#[cfg(feature = "tracing")]
pub use bridge::tracing;
pub use bridge::w3c;
pub use client::{Langfuse, init, shutdown};
pub use config::{Config, ConfigBuilder, ConfigError, Setting};
pub use context::{ContextGuard, FutureContextExt, TraceContext, WithContext, bind, spawn_thread};
pub use export::Compression;
pub use ids::{ObservationId, ParseIdError, TraceId};
pub use kind::{Level, ObservationType, ParseKindError};
/// `#[observe]`, re-exported from `langfuse-observe-macros`: depending on this crate is enough.
///
pub use langfuse_macros::observe;
pub use observation::{
    Observation, ObservationBuilder, ObservationRef, Observed, Usage, current_generation,
    current_observation, current_observation_id, current_trace_id, event, generation, observation,
    score, score_current_observation, score_current_trace, span,
};
pub use payload::{JsonText, Payload};
pub use propagation::{Propagate, propagate_attributes};
pub use record::{GenerationFields, Metadata, ObservationRecord, TraceAttributes};
pub use score::{ScoreBuilder, ScoreDataType, ScoreError, ScoreStats, ScoreValue};
#[cfg(feature = "tokio")]
pub use task::{spawn, spawn_blocking};

/// This crate's version: the instrumentation scope version and `x-langfuse-sdk-version`.
///
/// ```
/// assert!(!langfuse_runtime::SDK_VERSION.is_empty());
/// ```
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
