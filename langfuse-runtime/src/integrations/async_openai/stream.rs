//! The streamed chat answer: passes every chunk through unchanged and keeps the generation
//! open until the stream ends, fails or is dropped, aggregating what the chunks carried.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::async_openai::error::OpenAIError;
use ::async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionResponseStream,
    ChatCompletionStreamResponseDelta, CompletionUsage, CreateChatCompletionStreamResponse,
    FunctionCall, Role,
};
use futures_core::Stream;

use super::record::{OutputMessage, set_output};
use super::usage::ChatUsage;
use crate::Observation;

/// async-openai's chunk stream with its generation; boxed back into a
/// `ChatCompletionResponseStream`, so callers see the type they always had.
pub(super) struct ObservedChatStream {
    inner: ChatCompletionResponseStream,
    /// `None` once the generation has ended.
    generation: Option<Observation>,
    /// Nothing is aggregated for an observation that is not exported.
    recording: bool,
    first_chunk_seen: bool,
    model: Option<String>,
    choices: Vec<ChoiceSoFar>,
    usage: Option<CompletionUsage>,
    error: Option<String>,
}

/// One choice assembled from its deltas.
#[derive(Default)]
struct ChoiceSoFar {
    index: u32,
    role: Option<Role>,
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: Vec<ToolCallSoFar>,
}

/// A tool call whose id and name come in its first delta and its arguments in pieces.
#[derive(Default)]
struct ToolCallSoFar {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

impl ObservedChatStream {
    pub(super) fn new(inner: ChatCompletionResponseStream, generation: Observation) -> Self {
        Self {
            inner,
            recording: generation.is_recording(),
            generation: Some(generation),
            first_chunk_seen: false,
            model: None,
            choices: Vec::new(),
            usage: None,
            error: None,
        }
    }

    fn observe(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        if !self.first_chunk_seen {
            self.first_chunk_seen = true;
            if let Some(generation) = &self.generation {
                generation.mark_completion_start();
            }
        }
        if !self.recording {
            return;
        }
        if !chunk.model.is_empty() && self.model.as_deref() != Some(chunk.model.as_str()) {
            self.model = Some(chunk.model.clone());
        }
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for choice in &chunk.choices {
            self.choice(choice.index).absorb(&choice.delta);
        }
    }

    fn choice(&mut self, index: u32) -> &mut ChoiceSoFar {
        let at = match self.choices.iter().position(|c| c.index >= index) {
            Some(at) if self.choices[at].index == index => at,
            Some(at) => {
                self.choices.insert(at, ChoiceSoFar { index, ..ChoiceSoFar::default() });
                at
            }
            None => {
                self.choices.push(ChoiceSoFar { index, ..ChoiceSoFar::default() });
                self.choices.len() - 1
            }
        };
        &mut self.choices[at]
    }

    /// Writes what was aggregated and ends the generation (once).
    fn finish(&mut self) {
        let Some(generation) = self.generation.take() else { return };
        if self.recording {
            if let Some(model) = self.model.take() {
                generation.set_model(model);
            }
            let calls: Vec<Vec<ChatCompletionMessageToolCalls>> =
                self.choices.iter().map(ChoiceSoFar::tool_calls).collect();
            let messages: Vec<OutputMessage<'_>> = self
                .choices
                .iter()
                .zip(&calls)
                .map(|(c, calls)| OutputMessage {
                    role: c.role.unwrap_or(Role::Assistant),
                    content: c.content.as_deref(),
                    refusal: c.refusal.as_deref(),
                    tool_calls: calls,
                })
                .collect();
            set_output(&generation, &messages);
            if let Some(usage) = &self.usage {
                generation.set_usage_details(&ChatUsage::of(usage));
            }
        }
        if let Some(error) = self.error.take() {
            generation.set_error(error);
        }
        generation.end();
    }
}

impl ChoiceSoFar {
    fn absorb(&mut self, delta: &ChatCompletionStreamResponseDelta) {
        if delta.role.is_some() {
            self.role = delta.role;
        }
        if let Some(text) = &delta.content {
            self.content.get_or_insert_with(String::new).push_str(text);
        }
        if let Some(text) = &delta.refusal {
            self.refusal.get_or_insert_with(String::new).push_str(text);
        }
        for chunk in delta.tool_calls.iter().flatten() {
            let at = match self.tool_calls.iter().position(|t| t.index == chunk.index) {
                Some(at) => at,
                None => {
                    self.tool_calls
                        .push(ToolCallSoFar { index: chunk.index, ..Default::default() });
                    self.tool_calls.len() - 1
                }
            };
            let call = &mut self.tool_calls[at];
            if let Some(id) = &chunk.id {
                call.id.push_str(id);
            }
            if let Some(function) = &chunk.function {
                if let Some(name) = &function.name {
                    call.name.push_str(name);
                }
                if let Some(arguments) = &function.arguments {
                    call.arguments.push_str(arguments);
                }
            }
        }
    }

    fn tool_calls(&self) -> Vec<ChatCompletionMessageToolCalls> {
        self.tool_calls
            .iter()
            .map(|t| {
                ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                    id: t.id.clone(),
                    function: FunctionCall { name: t.name.clone(), arguments: t.arguments.clone() },
                })
            })
            .collect()
    }
}

impl Stream for ObservedChatStream {
    type Item = Result<CreateChatCompletionStreamResponse, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = ready!(this.inner.as_mut().poll_next(cx));
        if this.generation.is_some() {
            match &item {
                Some(Ok(chunk)) => this.observe(chunk),
                Some(Err(e)) => this.error = Some(e.to_string()),
                None => this.finish(),
            }
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl Drop for ObservedChatStream {
    /// A stream dropped before its end still ends its generation, with what arrived so far.
    fn drop(&mut self) {
        self.finish();
    }
}
