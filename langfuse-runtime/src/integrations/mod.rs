//! Drop-in integrations: LLM clients whose calls are recorded as generations without any
//! annotation, each behind a cargo feature of the same name.
//!
//! | Feature | Module | Records |
//! |---|---|---|
//! | `async-openai` | `async_openai` | chat completions (plain and streamed) and embeddings of any OpenAI-compatible server |
//!
//! Local inference crates (mistral.rs, candle) have no request/response types worth wrapping:
//! annotate your own function with `#[observe(as_type = "generation")]` and call
//! [`current_generation`](crate::current_generation) to set model and usage.

#[cfg(feature = "async-openai")]
pub mod async_openai;
