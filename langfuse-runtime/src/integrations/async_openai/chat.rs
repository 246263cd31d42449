//! `client.chat()`: the same `create`/`create_stream` as async-openai's, recorded.

use std::borrow::Cow;
use std::ops::Deref;

use ::async_openai::RequestOptions;
use ::async_openai::config::Config;
use ::async_openai::error::OpenAIError;
use ::async_openai::traits::RequestOptionsBuilder;
use ::async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
};

use super::record::{record_response, start_chat};
use super::stream::ObservedChatStream;

/// Chat completions whose `create` and `create_stream` are recorded as generations;
/// derefs to async-openai's [`Chat`](::async_openai::Chat) for the stored-completion calls.
///
/// ```no_run
/// # async fn demo(request: async_openai::types::chat::CreateChatCompletionRequest) {
/// let client = langfuse_runtime::integrations::async_openai::Client::new();
/// let answer = client.chat().name("summarize").create(request).await;
/// # }
/// ```
pub struct Chat<'c, C: Config> {
    inner: ::async_openai::Chat<'c, C>,
    name: Cow<'static, str>,
}

impl<'c, C: Config> Chat<'c, C> {
    pub(super) fn new(inner: ::async_openai::Chat<'c, C>) -> Self {
        Self { inner, name: Cow::Borrowed("OpenAI-generation") }
    }

    /// Names the generation (default `OpenAI-generation`, as in the Python SDK).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// [`async_openai::Chat::create`], recorded as a generation
    /// under the current observation; an error is recorded as level ERROR and returned.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let generation = start_chat(&self.name, &request);
        let result = self.inner.create(request).await;
        match &result {
            Ok(response) => record_response(&generation, response),
            Err(e) => {
                generation.set_error(e.to_string());
            }
        }
        generation.end();
        result
    }

    /// [`async_openai::Chat::create_stream`], recorded
    /// as a generation that stays open until the stream ends or is dropped: the first chunk
    /// sets the completion start time, the chunks' content, tool calls and usage (sent when
    /// the request asks for `stream_options.include_usage`) are aggregated into its output.
    pub async fn create_stream(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<ChatCompletionResponseStream, OpenAIError> {
        let generation = start_chat(&self.name, &request);
        match self.inner.create_stream(request).await {
            Ok(stream) => Ok(Box::pin(ObservedChatStream::new(stream, generation))),
            Err(e) => {
                generation.set_error(e.to_string());
                Err(e)
            }
        }
    }
}

impl<'c, C: Config> Deref for Chat<'c, C> {
    type Target = ::async_openai::Chat<'c, C>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// Headers, query parameters and path overrides go to the wrapped handle, so
/// `client.chat().headers(h).create(r)` is still recorded.
impl<C: Config> RequestOptionsBuilder for Chat<'_, C> {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.inner.options_mut()
    }
    fn options(&self) -> &RequestOptions {
        self.inner.options()
    }
}
