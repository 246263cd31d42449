//! Which `tracing` spans become observations: the default export rule, like the official SDKs'
//! span filter (wire format §8.5), and the user's replacement for it.
//!
//! The rule is decided from the span's static metadata (name, target, declared field names)
//! when the span is created, so a field recorded later (`Span::record`) counts too as long as
//! it was declared, which is how `tracing` spans are written anyway (`field::Empty`).
//!
//! A span that is not exported is not lost for its children: observations and exported spans
//! started inside it attach to its nearest exported ancestor (or to the observation that was
//! current when it was created).

use std::sync::Arc;

use ::tracing::Metadata;

/// Targets of the Rust crates whose spans describe LLM work even without `gen_ai.*` fields
/// (a span's target is its module path unless the crate sets one).
///
/// ```
/// use langfuse_runtime::tracing::KNOWN_LLM_TARGETS;
/// assert!(KNOWN_LLM_TARGETS.contains(&"rig"));
/// assert!(KNOWN_LLM_TARGETS.contains(&"genai"));
/// ```
pub const KNOWN_LLM_TARGETS: &[&str] = &[
    "rig",
    "rig_core",
    "rig_agent",
    "genai",
    "langchain_rust",
    "swiftide",
    "swiftide_agents",
    "swiftide_integrations",
    "llm_sdk",
    "langfuse_runtime",
];

/// Whether the default rule exports this span: it declares a `gen_ai.*` or `langfuse.*`
/// field, or comes from a [known LLM crate](is_known_llm_target).
///
/// Compose it in your own predicate to export more:
///
/// ```
/// use langfuse_runtime::tracing::{is_default_export_span, layer};
/// let layer = layer().export_filter(|meta| {
///     is_default_export_span(meta) || meta.target().starts_with("my_app::agents")
/// });
/// # drop(layer);
/// ```
pub fn is_default_export_span(metadata: &Metadata<'_>) -> bool {
    is_genai_span(metadata) || is_known_llm_target(metadata.target())
}

/// Whether the span declares a field named `gen_ai.…` or `langfuse.…` (the prefixes with the
/// dot, as the Python SDK checks them).
///
/// ```
/// use langfuse_runtime::tracing::is_genai_span;
/// use tracing_subscriber::prelude::*;
/// let _default = tracing_subscriber::registry().set_default();
///
/// let chat = tracing::info_span!("chat", gen_ai.request.model = "gpt-4o");
/// assert!(is_genai_span(chat.metadata().unwrap()));
/// let query = tracing::info_span!("db_query", sql = "SELECT 1");
/// assert!(!is_genai_span(query.metadata().unwrap()));
///
/// // Export only such spans, whatever crate they come from:
/// let layer = langfuse_runtime::tracing::layer().export_filter(|meta| is_genai_span(meta));
/// # drop(layer);
/// ```
pub fn is_genai_span(metadata: &Metadata<'_>) -> bool {
    metadata.fields().iter().any(|f| {
        let name = f.name();
        name.starts_with("gen_ai.") || name.starts_with("langfuse.")
    })
}

/// Whether `target` is one of [`KNOWN_LLM_TARGETS`] or a module below one (`rig::completions`).
///
/// ```
/// use langfuse_runtime::tracing::is_known_llm_target;
/// assert!(is_known_llm_target("rig"));
/// assert!(is_known_llm_target("rig::completions"));
/// assert!(!is_known_llm_target("rigging"));
/// assert!(!is_known_llm_target("hyper::client"));
/// ```
pub fn is_known_llm_target(target: &str) -> bool {
    KNOWN_LLM_TARGETS.iter().any(|known| {
        target.strip_prefix(known).is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The export predicate in use.
pub(crate) type Predicate = Arc<dyn Fn(&Metadata<'_>) -> bool + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_targets_match_whole_path_segments() {
        assert!(is_known_llm_target("rig"));
        assert!(is_known_llm_target("rig::completions"));
        assert!(is_known_llm_target("langchain_rust::llm::openai"));
        assert!(!is_known_llm_target("rigging"));
        assert!(!is_known_llm_target("hyper::proto"));
        assert!(!is_known_llm_target(""));
    }
}
