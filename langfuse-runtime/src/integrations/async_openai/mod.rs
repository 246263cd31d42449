//! [`async_openai`] with every chat completion and embedding recorded as a
//! Langfuse observation, nested under the current observation.
//!
//! Change the line that builds the client and nothing else:
//!
//! ```no_run
//! use async_openai::config::OpenAIConfig;
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
//! };
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = OpenAIConfig::new().with_api_base("http://localhost:11434/v1");
//! // Was: `let client = async_openai::Client::with_config(config);`
//! let client = langfuse_runtime::integrations::async_openai::Client::with_config(config);
//!
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .temperature(0.2)
//!     .messages([ChatCompletionRequestUserMessageArgs::default().content("Hi").build()?.into()])
//!     .build()?;
//! let response = client.chat().create(request).await?; // recorded as a generation
//! println!("{:?}", response.choices[0].message.content);
//! # Ok(())
//! # }
//! ```
//!
//! # What is recorded
//!
//! | Call | Observation | Fields |
//! |---|---|---|
//! | `chat().create` | `generation` "OpenAI-generation" | model (the response's, else the request's), model parameters, input messages (with `tools` when the request has any), output message with tool calls, usage with cached and reasoning tokens |
//! | `chat().create_stream` | the same | as above, plus the completion start time (first chunk); output and usage aggregated from the chunks; the observation ends when the stream ends or is dropped |
//! | `embeddings().create`, `create_base64` | `embedding` "OpenAI-embedding" | model, `encoding_format`/`dimensions`, input, `{"count", "dimensions"}` as output (never the vectors), usage |
//!
//! An API error (or a failed stream) gives level ERROR with the error's text as status
//! message, e.g. `401 Unauthorized invalid_request_error: Incorrect API key provided`.
//! Names follow the Python SDK's OpenAI integration; [`Chat::name`] and [`Embeddings::name`]
//! change them per call. Every other endpoint is reached through `Deref` and is not recorded.
//!
//! # Why a wrapper type rather than an extension trait
//!
//! An extension trait needs new method names (`create_observed`) at every call site; a
//! wrapper whose `chat()`/`embeddings()` return handles with the same method names, argument
//! and return types keeps every call site as it is — the streamed call still returns
//! async-openai's own `ChatCompletionResponseStream`. The wrapper derefs to the
//! [`async_openai::Client`] for everything else.
//!
//! # TLS
//!
//! This crate enables no TLS feature of async-openai: your own `async-openai` dependency
//! chooses (its default is rustls) and cargo unifies the two.

mod chat;
mod embeddings;
mod record;
mod stream;
mod usage;

use std::ops::Deref;

use ::async_openai::config::{Config, OpenAIConfig};

pub use chat::Chat;
pub use embeddings::Embeddings;

/// An [`async_openai::Client`] whose chat completions and
/// embeddings are recorded; it derefs to the wrapped client for every other API.
///
/// ```
/// use async_openai::config::{Config, OpenAIConfig};
/// use langfuse_runtime::integrations::async_openai::Client;
///
/// let inner = async_openai::Client::with_config(OpenAIConfig::new().with_api_key("sk-test"));
/// let client = Client::from(inner);
/// assert_eq!(client.config().api_base(), "https://api.openai.com/v1");
/// ```
#[derive(Debug, Clone)]
pub struct Client<C: Config = OpenAIConfig> {
    inner: ::async_openai::Client<C>,
}

impl Client<OpenAIConfig> {
    /// A client with async-openai's default configuration (`OPENAI_API_KEY`, OpenAI's URL).
    pub fn new() -> Self {
        Self { inner: ::async_openai::Client::new() }
    }
}

impl Default for Client<OpenAIConfig> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Config> Client<C> {
    /// A client for `config` (any base URL: OpenAI, Azure-style, a local server). For your
    /// own `reqwest` client, wrap `async_openai::Client::build(http, config)` with `From`.
    pub fn with_config(config: C) -> Self {
        Self { inner: ::async_openai::Client::with_config(config) }
    }

    /// The wrapped client (its calls are not recorded).
    pub fn inner(&self) -> &::async_openai::Client<C> {
        &self.inner
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> ::async_openai::Client<C> {
        self.inner
    }

    /// Chat completions, recorded as generations.
    pub fn chat(&self) -> Chat<'_, C> {
        Chat::new(self.inner.chat())
    }

    /// Embeddings, recorded as embedding observations.
    pub fn embeddings(&self) -> Embeddings<'_, C> {
        Embeddings::new(self.inner.embeddings())
    }
}

impl<C: Config> From<::async_openai::Client<C>> for Client<C> {
    fn from(inner: ::async_openai::Client<C>) -> Self {
        Self { inner }
    }
}

impl<C: Config> Deref for Client<C> {
    type Target = ::async_openai::Client<C>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}
