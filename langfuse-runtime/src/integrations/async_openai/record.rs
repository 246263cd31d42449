//! What a chat request and its answer look like on a generation: input, model parameters and
//! the output message, shaped like the Python SDK's OpenAI integration writes them.

use ::async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, ChatCompletionTools,
    CreateChatCompletionRequest, CreateChatCompletionResponse, Role,
};
use serde::Serialize;

use super::usage::ChatUsage;
use crate::{Observation, ObservationRef};

/// Starts the generation of one chat request, with model, input and parameters.
pub(super) fn start_chat(name: &str, request: &CreateChatCompletionRequest) -> Observation {
    let generation = crate::generation(name.to_owned()).start();
    if generation.is_recording() {
        generation
            .set_model(request.model.clone())
            .set_input(&ChatInput::of(request))
            .set_model_parameters(&ModelParameters::of(request));
    }
    generation
}

/// The messages, or `{"messages", "tools"}` when the request offers tools (the model's
/// choice depends on them, so they belong to the input).
#[derive(Serialize)]
#[serde(untagged)]
enum ChatInput<'a> {
    Messages(&'a [ChatCompletionRequestMessage]),
    WithTools { tools: &'a [ChatCompletionTools], messages: &'a [ChatCompletionRequestMessage] },
}

impl<'a> ChatInput<'a> {
    fn of(request: &'a CreateChatCompletionRequest) -> Self {
        match request.tools.as_deref() {
            Some(tools) if !tools.is_empty() => {
                Self::WithTools { tools, messages: &request.messages }
            }
            _ => Self::Messages(&request.messages),
        }
    }
}

/// The request's sampling and decoding settings, only those it sets. Tools appear by name:
/// their schemas are in the input, and the parameters view shows flat values.
#[derive(Serialize)]
struct ModelParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a ::async_openai::types::chat::StopConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a ::async_openai::types::chat::ReasoningEffort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a ::async_openai::types::chat::ChatCompletionToolChoiceOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_logprobs: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'a ::async_openai::types::chat::ServiceTier>,
}

impl<'a> ModelParameters<'a> {
    // `seed` is deprecated by OpenAI but still honoured by many compatible servers.
    #[allow(deprecated)]
    fn of(r: &'a CreateChatCompletionRequest) -> Self {
        Self {
            temperature: r.temperature,
            max_tokens: r.max_tokens,
            max_completion_tokens: r.max_completion_tokens,
            top_p: r.top_p,
            frequency_penalty: r.frequency_penalty,
            presence_penalty: r.presence_penalty,
            stop: r.stop.as_ref(),
            seed: r.seed,
            n: r.n,
            reasoning_effort: r.reasoning_effort.as_ref(),
            // Only the kind: a JSON schema would drown the parameters view.
            response_format: r.response_format.as_ref().and_then(|f| {
                serde_json::to_value(f).ok()?.get("type")?.as_str().map(str::to_owned)
            }),
            tools: r.tools.as_ref().map(|tools| tools.iter().map(tool_name).collect()),
            tool_choice: r.tool_choice.as_ref(),
            parallel_tool_calls: r.parallel_tool_calls,
            logprobs: r.logprobs,
            top_logprobs: r.top_logprobs,
            service_tier: r.service_tier.as_ref(),
        }
    }
}

fn tool_name(tool: &ChatCompletionTools) -> &str {
    match tool {
        ChatCompletionTools::Function(f) => &f.function.name,
        ChatCompletionTools::Custom(c) => &c.custom.name,
    }
}

/// One output message: `{"role", "content", "tool_calls"?, "refusal"?}`. `content` is always
/// written (`null` for a pure tool call), as the Python SDK does.
#[derive(Serialize)]
pub(super) struct OutputMessage<'a> {
    pub(super) role: Role,
    pub(super) content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(super) tool_calls: &'a [ChatCompletionMessageToolCalls],
}

/// Writes one message as the output, several (`n > 1`) as an array, none as nothing.
pub(super) fn set_output(generation: &ObservationRef, messages: &[OutputMessage<'_>]) {
    match messages {
        [] => {}
        [one] => {
            generation.set_output(one);
        }
        many => {
            generation.set_output(many);
        }
    }
}

/// Records a complete (non-streamed) answer: model, output and usage.
pub(super) fn record_response(
    generation: &ObservationRef,
    response: &CreateChatCompletionResponse,
) {
    if !generation.is_recording() {
        return;
    }
    if !response.model.is_empty() {
        generation.set_model(response.model.clone());
    }
    let messages: Vec<OutputMessage<'_>> = response
        .choices
        .iter()
        .map(|choice| {
            let m = &choice.message;
            OutputMessage {
                role: m.role,
                content: m.content.as_deref(),
                refusal: m.refusal.as_deref(),
                tool_calls: m.tool_calls.as_deref().unwrap_or_default(),
            }
        })
        .collect();
    set_output(generation, &messages);
    if let Some(usage) = &response.usage {
        generation.set_usage_details(&ChatUsage::of(usage));
    }
}
