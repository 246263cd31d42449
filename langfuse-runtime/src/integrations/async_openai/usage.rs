//! Token usage in the shapes the Langfuse server converts (wire format §9.5).

use std::collections::BTreeMap;

use ::async_openai::types::chat::CompletionUsage;
use ::async_openai::types::embeddings::EmbeddingUsage;
use serde::Serialize;

/// OpenAI's chat usage object, which the server turns into `input`/`output`/`total` plus
/// `input_<k>`/`output_<k>` per detail key (subtracting each detail from its total).
///
/// Only details that are a *part* of the prompt or completion count are sent (cached, audio,
/// cache writes, reasoning, predictions): `text_tokens`/`image_tokens` partition the whole
/// prompt, so the server subtracting them would leave a wrong input count. Absent (`null`)
/// details are skipped, as the Python SDK does; no extra key is added, because the server
/// converts only this exact shape.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct ChatUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    prompt_tokens_details: BTreeMap<&'static str, i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    completion_tokens_details: BTreeMap<&'static str, i64>,
}

impl ChatUsage {
    pub(super) fn of(usage: &CompletionUsage) -> Self {
        let mut prompt = BTreeMap::new();
        if let Some(d) = &usage.prompt_tokens_details {
            insert(&mut prompt, "cached_tokens", d.cached_tokens.map(i64::from));
            insert(&mut prompt, "audio_tokens", d.audio_tokens.map(i64::from));
            insert(&mut prompt, "cache_write_tokens", d.cache_write_tokens);
        }
        let mut completion = BTreeMap::new();
        if let Some(d) = &usage.completion_tokens_details {
            insert(&mut completion, "reasoning_tokens", d.reasoning_tokens.map(i64::from));
            insert(&mut completion, "audio_tokens", d.audio_tokens.map(i64::from));
            let accepted = d.accepted_prediction_tokens.map(i64::from);
            insert(&mut completion, "accepted_prediction_tokens", accepted);
            let rejected = d.rejected_prediction_tokens.map(i64::from);
            insert(&mut completion, "rejected_prediction_tokens", rejected);
        }
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            prompt_tokens_details: prompt,
            completion_tokens_details: completion,
        }
    }
}

fn insert(map: &mut BTreeMap<&'static str, i64>, key: &'static str, value: Option<i64>) {
    // Negative counts are not usage; the server would drop the whole object for them.
    if let Some(v) = value.filter(|v| *v >= 0) {
        map.insert(key, v);
    }
}

/// Embedding usage in Langfuse's own keys: `{prompt_tokens, total_tokens}` is not a shape
/// the server converts, so it would show up as two unknown usage types.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct EmbeddingUsageDetails {
    input: u32,
    total: u32,
}

impl EmbeddingUsageDetails {
    pub(super) fn of(usage: &EmbeddingUsage) -> Self {
        Self { input: usage.prompt_tokens, total: usage.total_tokens }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::async_openai::types::chat::CompletionTokensDetails;
    use ::async_openai::types::chat::PromptTokensDetails;

    #[test]
    fn details_keep_parts_and_skip_partitions_and_nulls() {
        let usage = CompletionUsage {
            prompt_tokens: 20,
            completion_tokens: 10,
            total_tokens: 30,
            prompt_tokens_details: Some(PromptTokensDetails {
                audio_tokens: None,
                cached_tokens: Some(8),
                text_tokens: Some(20),
                image_tokens: None,
                cache_write_tokens: None,
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                accepted_prediction_tokens: None,
                audio_tokens: Some(0),
                reasoning_tokens: Some(4),
                rejected_prediction_tokens: None,
                text_tokens: Some(6),
            }),
        };
        assert_eq!(
            serde_json::to_string(&ChatUsage::of(&usage)).unwrap(),
            r#"{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,"prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"audio_tokens":0,"reasoning_tokens":4}}"#
        );
    }

    #[test]
    fn no_details_is_the_plain_three_keys() {
        let usage = CompletionUsage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&ChatUsage::of(&usage)).unwrap(),
            r#"{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}"#
        );
    }
}
