//! OpenTelemetry interop (cargo feature `opentelemetry`, on `opentelemetry` 0.33, the minor
//! `tracing-opentelemetry` 0.34 uses): our observations and OpenTelemetry spans in one tree,
//! and OpenTelemetry spans of an existing `opentelemetry_sdk` provider sent to Langfuse
//! through this SDK's pipeline.
//!
//! # One tree, both ways
//!
//! With the feature compiled, nothing to install:
//!
//! - Inside an observed call (`#[observe]` sync and async — an observed future on every
//!   poll —, [`ObservationRef::run`](crate::ObservationRef::run), [`TraceContext::run`](crate::TraceContext::run),
//!   an entered `tracing`-bridge span), `opentelemetry::Context::current()` carries our trace
//!   id and observation id (sampled flag as ours). Spans started through the OpenTelemetry
//!   API, or by `tracing-opentelemetry` (its layer parents contextual spans on the current
//!   OpenTelemetry context), become children of the observation.
//! - An observation started with no current observation of ours while an OpenTelemetry span
//!   is active (also a `tracing` span entered under `tracing-opentelemetry`, which activates
//!   its context) becomes that span's child: same trace, its id as parent, its sampled flag
//!   followed. Inside our own observation, an OpenTelemetry span of the same trace made current
//!   after it (one started under it) is the parent; an unrelated one (another trace) is not:
//!   our current observation wins.
//!
//! ```
//! use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
//! use langfuse_runtime::observe;
//!
//! #[observe]
//! fn agent() -> (String, String) {
//!     let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder().build().tracer("lib");
//!     // A span of any OpenTelemetry-instrumented library nests under `agent`.
//!     tracer.in_span("http_call", |cx| {
//!         let sc = cx.span().span_context().clone();
//!         (sc.trace_id().to_string(), langfuse_runtime::current_trace_id().unwrap().to_string())
//!     })
//! }
//!
//! let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).console_exporter(true).init()?;
//! let (otel_trace, our_trace) = agent();
//! assert_eq!(otel_trace, our_trace);
//! # drop(langfuse);
//! # Ok::<(), langfuse_runtime::ConfigError>(())
//! ```
//!
//! ## Cost, and the switch
//!
//! Each time our current observation changes (a sync call's entry and exit, each poll of an
//! observed future) an OpenTelemetry context is pushed or popped — one `Arc` allocation and
//! OpenTelemetry's thread-local stack —, and an observation's start reads OpenTelemetry's
//! current span once. Measured with callgrind on row A (`benches/instructions.sh`, one nested
//! `#[observe]` call through the real pipeline): 1,412 instructions per call without the
//! feature, 2,473 with it (+1,061: building, pushing and popping the context most of it, the
//! parent check about 80). An observed future re-entered on each poll, and an unsampled trace,
//! reuse the context built last and allocate nothing. That is a few hundred nanoseconds next
//! to an LLM call, and the reason the feature is opt-in.
//!
//! Decision: the interop is **on as soon as the feature is compiled** (compiling it is asking
//! for one tree; with no client recording, observed calls skip before any of this runs), and
//! [`set_context_interop`] turns both directions off, or on again, for the whole process — a
//! process-wide switch because OpenTelemetry's current context is process-wide too. Without
//! the feature nothing on the hot path changes: the two hooks (in the context exchange and in
//! the start decision) are compiled out.
//!
//! # Spans of your provider to Langfuse
//!
//! Users who already run an `opentelemetry_sdk` tracer provider (to Tempo, Jaeger, a
//! Collector) add [`LangfuseSpanProcessor`] to it: its spans go through this SDK's pipeline
//! (the installed client's keys, headers, batching, byte bound, drop counters), filtered by
//! the official SDKs' rule ([`is_default_export_span`]) and mapped like the `tracing` bridge
//! maps `tracing` spans.
//!
//! ```
//! use opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! use opentelemetry::KeyValue;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).console_exporter(true).init()?;
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(langfuse_runtime::opentelemetry::LangfuseSpanProcessor::new())
//!     .build();
//! let tracer = provider.tracer("my-llm-client");
//! let span = tracer
//!     .span_builder("chat gpt-4o-mini")
//!     .with_attributes([
//!         KeyValue::new("gen_ai.operation.name", "chat"),
//!         KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
//!         KeyValue::new("gen_ai.usage.input_tokens", 12),
//!     ])
//!     .start(&tracer);
//! drop(span); // a GENERATION with model and usage
//! provider.force_flush()?;
//! assert_eq!(langfuse.stats().exported, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Versions
//!
//! `opentelemetry` and `opentelemetry_sdk` 0.33, `tracing-opentelemetry` 0.34. Another
//! `opentelemetry` minor in the same binary is a separate crate with its own current context:
//! spans then silently stop nesting (check `cargo tree -d -i opentelemetry`).

pub(crate) mod context;
mod filter;
pub(crate) mod processor;

pub use filter::{KNOWN_LLM_SCOPES, is_default_export_span, is_genai_span, is_known_llm_scope};
pub use processor::{LangfuseSpanProcessor, ProcessorStats};

/// Turns the context interop (both directions) on or off for the whole process; on by
/// default. Off, our observations no longer appear in `opentelemetry::Context::current()` and
/// an active OpenTelemetry span no longer parents them. Contexts already pushed are still
/// popped when their observation is left.
///
/// ```
/// langfuse_runtime::opentelemetry::set_context_interop(false);
/// assert!(!langfuse_runtime::opentelemetry::context_interop());
/// langfuse_runtime::opentelemetry::set_context_interop(true);
/// ```
pub fn set_context_interop(on: bool) {
    context::set_enabled(on);
}

/// Whether the context interop is on (see [`set_context_interop`]).
///
/// ```
/// if langfuse_runtime::opentelemetry::context_interop() {
///     // Observed calls show up in `opentelemetry::Context::current()`.
/// }
/// ```
pub fn context_interop() -> bool {
    context::enabled()
}

/// How many context pushes were skipped on some thread (its stack of pushed contexts was full
/// or in use): each one is an observation whose OpenTelemetry children would not nest.
///
/// ```
/// assert_eq!(langfuse_runtime::opentelemetry::skipped_context_pushes(), 0);
/// ```
pub fn skipped_context_pushes() -> u64 {
    context::skipped()
}
