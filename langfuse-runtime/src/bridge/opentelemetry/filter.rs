//! Which OpenTelemetry spans [`LangfuseSpanProcessor`](super::LangfuseSpanProcessor) sends to
//! Langfuse by default: the official SDKs' span filter (wire format §8.5), plus the `tracing`
//! bridge's known LLM crates for spans that come through `tracing-opentelemetry`.

use std::sync::Arc;

use opentelemetry_sdk::trace::SpanData;

use crate::bridge::tracing::is_known_llm_target;

/// Instrumentation scopes of LLM instrumentation whose spans are exported without `gen_ai.*`
/// attributes (the Python and JS SDKs' list): a scope equal to one of these or below it
/// (`<prefix>.…`).
///
/// ```
/// use langfuse_runtime::opentelemetry::KNOWN_LLM_SCOPES;
/// assert!(KNOWN_LLM_SCOPES.contains(&"openinference"));
/// ```
pub const KNOWN_LLM_SCOPES: &[&str] = &[
    "langfuse-sdk",
    "agent_framework",
    "autogen-core",
    "ai",
    "haystack",
    "langsmith",
    "litellm",
    "openinference",
    "pydantic-ai",
    "strands-agents",
    "vllm",
    "opentelemetry.instrumentation.agno",
    "opentelemetry.instrumentation.alephalpha",
    "opentelemetry.instrumentation.anthropic",
    "opentelemetry.instrumentation.bedrock",
    "opentelemetry.instrumentation.cohere",
    "opentelemetry.instrumentation.crewai",
    "opentelemetry.instrumentation.google_generativeai",
    "opentelemetry.instrumentation.groq",
    "opentelemetry.instrumentation.haystack",
    "opentelemetry.instrumentation.langchain",
    "opentelemetry.instrumentation.llamaindex",
    "opentelemetry.instrumentation.mistralai",
    "opentelemetry.instrumentation.ollama",
    "opentelemetry.instrumentation.openai",
    "opentelemetry.instrumentation.openai_agents",
    "opentelemetry.instrumentation.openai_v2",
    "opentelemetry.instrumentation.replicate",
    "opentelemetry.instrumentation.sagemaker",
    "opentelemetry.instrumentation.together",
    "opentelemetry.instrumentation.transformers",
    "opentelemetry.instrumentation.vertexai",
    "opentelemetry.instrumentation.voyageai",
    "opentelemetry.instrumentation.watsonx",
    "opentelemetry.instrumentation.writer",
];

/// The default rule: the span's scope is `langfuse-sdk` or a [known LLM scope](is_known_llm_scope),
/// it has a `gen_ai.…` or `langfuse.…` attribute ([`is_genai_span`]), or it came through
/// `tracing-opentelemetry` from a [known LLM crate](crate::tracing::KNOWN_LLM_TARGETS) (its
/// `target` attribute, or its module path).
///
/// ```
/// use langfuse_runtime::opentelemetry::{LangfuseSpanProcessor, is_default_export_span};
/// let processor = LangfuseSpanProcessor::new()
///     .export_filter(|span| is_default_export_span(span) || span.name.starts_with("agent."));
/// # drop(processor);
/// ```
pub fn is_default_export_span(span: &SpanData) -> bool {
    is_known_llm_scope(span.instrumentation_scope.name())
        || is_genai_span(span)
        || span.attributes.iter().any(|kv| {
            matches!(kv.key.as_str(), "target" | "code.module.name" | "code.namespace")
                && is_known_llm_target(&kv.value.as_str())
        })
}

/// Whether the span has an attribute named `gen_ai.…` or `langfuse.…` (with the dot, as the
/// Python SDK checks it).
///
/// ```
/// use langfuse_runtime::opentelemetry::{LangfuseSpanProcessor, is_genai_span};
/// let processor = LangfuseSpanProcessor::new().export_filter(is_genai_span);
/// # drop(processor);
/// ```
pub fn is_genai_span(span: &SpanData) -> bool {
    span.attributes.iter().any(|kv| {
        let key = kv.key.as_str();
        key.starts_with("gen_ai.") || key.starts_with("langfuse.")
    })
}

/// Whether `scope` is one of [`KNOWN_LLM_SCOPES`] or below one (`openinference.…`).
///
/// ```
/// use langfuse_runtime::opentelemetry::is_known_llm_scope;
/// assert!(is_known_llm_scope("langfuse-sdk"));
/// assert!(is_known_llm_scope("openinference.instrumentation.openai"));
/// assert!(!is_known_llm_scope("aiohttp"));
/// assert!(!is_known_llm_scope("my-app"));
/// ```
pub fn is_known_llm_scope(scope: &str) -> bool {
    KNOWN_LLM_SCOPES.iter().any(|known| {
        scope.strip_prefix(known).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// The export predicate in use.
pub(crate) type Predicate = Arc<dyn Fn(&SpanData) -> bool + Send + Sync>;
