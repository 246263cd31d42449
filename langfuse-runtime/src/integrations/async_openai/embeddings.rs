//! `client.embeddings()`: the same `create`/`create_base64` as async-openai's, recorded.

use std::borrow::Cow;
use std::ops::Deref;

use ::async_openai::RequestOptions;
use ::async_openai::config::Config;
use ::async_openai::error::OpenAIError;
use ::async_openai::traits::RequestOptionsBuilder;
use ::async_openai::types::embeddings::{
    CreateBase64EmbeddingResponse, CreateEmbeddingRequest, CreateEmbeddingResponse, EmbeddingUsage,
    EncodingFormat,
};
use serde::Serialize;

use super::usage::EmbeddingUsageDetails;
use crate::{Observation, ObservationRef, ObservationType};

/// Embeddings whose `create` and `create_base64` are recorded as `embedding` observations;
/// derefs to async-openai's [`Embeddings`](::async_openai::Embeddings).
///
/// ```no_run
/// # async fn demo(request: async_openai::types::embeddings::CreateEmbeddingRequest) {
/// let client = langfuse_runtime::integrations::async_openai::Client::new();
/// let vectors = client.embeddings().create(request).await;
/// # }
/// ```
pub struct Embeddings<'c, C: Config> {
    inner: ::async_openai::Embeddings<'c, C>,
    name: Cow<'static, str>,
}

/// Parameters the request sets.
#[derive(Serialize)]
struct EmbeddingParameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_format: Option<&'a EncodingFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

/// What came back, without the vectors themselves (they are large and unreadable).
#[derive(Serialize)]
struct EmbeddingOutput {
    count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

impl<'c, C: Config> Embeddings<'c, C> {
    pub(super) fn new(inner: ::async_openai::Embeddings<'c, C>) -> Self {
        Self { inner, name: Cow::Borrowed("OpenAI-embedding") }
    }

    /// Names the observation (default `OpenAI-embedding`, as in the Python SDK).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    fn start(&self, request: &CreateEmbeddingRequest) -> Observation {
        let observation = crate::observation(self.name.clone(), ObservationType::Embedding).start();
        if observation.is_recording() {
            let parameters = EmbeddingParameters {
                encoding_format: request.encoding_format.as_ref(),
                dimensions: request.dimensions,
            };
            observation.set_model(request.model.clone()).set_input(&request.input);
            if parameters.encoding_format.is_some() || parameters.dimensions.is_some() {
                observation.set_model_parameters(&parameters);
            }
        }
        observation
    }

    /// [`async_openai::Embeddings::create`], recorded.
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        let observation = self.start(&request);
        let result = self.inner.create(request).await;
        match &result {
            Ok(r) => {
                let dimensions = r.data.first().map(|e| e.embedding.len());
                finish(&observation, &r.model, r.data.len(), dimensions, &r.usage);
            }
            Err(e) => {
                observation.set_error(e.to_string());
            }
        }
        observation.end();
        result
    }

    /// [`async_openai::Embeddings::create_base64`](::async_openai::Embeddings::create_base64),
    /// recorded (the output has no dimensions: the vectors stay encoded).
    pub async fn create_base64(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateBase64EmbeddingResponse, OpenAIError> {
        let observation = self.start(&request);
        let result = self.inner.create_base64(request).await;
        match &result {
            Ok(r) => finish(&observation, &r.model, r.data.len(), None, &r.usage),
            Err(e) => {
                observation.set_error(e.to_string());
            }
        }
        observation.end();
        result
    }
}

fn finish(
    observation: &ObservationRef,
    model: &str,
    count: usize,
    dimensions: Option<usize>,
    usage: &EmbeddingUsage,
) {
    if !observation.is_recording() {
        return;
    }
    if !model.is_empty() {
        observation.set_model(model.to_owned());
    }
    observation
        .set_output(&EmbeddingOutput { count, dimensions })
        .set_usage_details(&EmbeddingUsageDetails::of(usage));
}

impl<'c, C: Config> Deref for Embeddings<'c, C> {
    type Target = ::async_openai::Embeddings<'c, C>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// Request options go to the wrapped handle, so calls made with them are still recorded.
impl<C: Config> RequestOptionsBuilder for Embeddings<'_, C> {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.inner.options_mut()
    }
    fn options(&self) -> &RequestOptions {
        self.inner.options()
    }
}
