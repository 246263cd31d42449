//! The async-openai integration: one changed line makes every chat completion and embedding a
//! Langfuse generation, here a plain call, a streamed call and an embedding under one trace.
//!
//! ```sh
//! OPENAI_API_KEY=sk-... cargo run --example openai_chat
//! # any OpenAI-compatible server, e.g. Ollama:
//! OPENAI_API_KEY=ollama OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 \
//!     cargo run --example openai_chat
//! ```
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send.
//! `OPENAI_EMBEDDING_MODEL` (default `text-embedding-3-small`) names the embedding model.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    ChatCompletionStreamOptions, CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures::StreamExt;
use langfuse_runtime::integrations::async_openai::Client;
use langfuse_runtime::{Config, Langfuse, observe, propagate_attributes};

const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

#[observe(skip(client))]
async fn ask(
    client: &Client,
    model: &str,
    question: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let system = ChatCompletionRequestSystemMessageArgs::default()
        .content("Answer in one sentence.")
        .build()?;
    let user = ChatCompletionRequestUserMessageArgs::default().content(question).build()?;
    let request = CreateChatCompletionRequestArgs::default()
        .model(model)
        .temperature(0.2)
        .max_completion_tokens(100u32)
        .messages([system.into(), user.into()])
        .build()?;

    // A plain call: one generation with input, output, model, parameters and usage.
    let response = client.chat().create(request.clone()).await?;
    let first =
        response.choices.first().and_then(|c| c.message.content.clone()).unwrap_or_default();
    println!("answer: {first}");

    // A streamed call: the generation also gets the first chunk's time, and the chunks
    // aggregated into its output; usage comes with the last chunk when asked for.
    let mut streamed = request;
    streamed.stream_options =
        Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None });
    let mut stream = client.chat().create_stream(streamed).await?;
    print!("streamed: ");
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            print!("{}", choice.delta.content.unwrap_or_default());
        }
    }
    println!();
    Ok(first)
}

#[observe(as_type = "retriever", skip(client))]
async fn embed(
    client: &Client,
    model: &str,
    text: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let request = CreateEmbeddingRequestArgs::default().model(model).input(text).build()?;
    Ok(client.embeddings().create(request).await?.data.len())
}

/// The trace's root: the embedding and both chat calls are its descendants.
#[observe(skip(client))]
async fn openai_demo(
    client: &Client,
    model: &str,
    embedding_model: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    embed(client, embedding_model, "Langfuse traces LLM calls").await?;
    ask(client, model, "What is Langfuse?").await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(api_key) = std::env::var("OPENAI_API_KEY").ok().filter(|k| !k.is_empty()) else {
        println!(
            "OPENAI_API_KEY is not set: nothing to call.\n\
             Set OPENAI_API_KEY=sk-... for OpenAI, or any value plus \
             OPENAI_BASE_URL=http://localhost:11434/v1 for a local OpenAI-compatible server \
             (default {DEFAULT_BASE_URL}), then run again."
        );
        return Ok(());
    };
    let base_url = std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.into());
    let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into());
    let embedding_model =
        std::env::var("OPENAI_EMBEDDING_MODEL").unwrap_or_else(|_| "text-embedding-3-small".into());

    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the trace on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    // The one changed line: was `async_openai::Client::with_config(...)`.
    let client =
        Client::with_config(OpenAIConfig::new().with_api_key(api_key).with_api_base(base_url));

    let result = propagate_attributes()
        .user_id("user-42")
        .session_id("openai-example")
        .wrap(openai_demo(&client, &model, &embedding_model))
        .await;
    if let Err(e) = &result {
        // Recorded as level ERROR on the generation too.
        eprintln!("the model call failed: {e}");
    }

    let report = langfuse.flush();
    if sending {
        if report.is_success() {
            println!("sent the trace to {}", langfuse.config().base_url());
        } else {
            eprintln!("the trace could not be delivered ({report}); see the warnings above");
        }
    }
    Ok(())
}
