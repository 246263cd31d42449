//! A streamed generation: the observation stays open while the caller consumes the stream,
//! the first token sets the completion start time (time to first token), and the tokens are
//! concatenated into the output.
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send; with
//! them it sends it.
//!
//! ```sh
//! cargo run --example streaming
//! ```
//!
//! The model is simulated; with async-openai, `integrations::async_openai` does all of this
//! for `create_stream` (see `openai_chat`).

use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use langfuse_runtime::{Config, Langfuse, Usage, current_generation, observe};

const TOKENS: [&str; 6] = ["Langfuse", " records", " every", " token", " of", " this."];

/// A model answering token by token.
fn fake_model() -> impl Stream<Item = &'static str> {
    stream::iter(TOKENS).then(|token| async move {
        tokio::time::sleep(Duration::from_millis(15)).await;
        token
    })
}

/// `String` items are concatenated into the output when the stream ends (or is dropped).
#[observe(as_type = "generation")]
fn stream_answer(question: &str) -> impl Stream<Item = String> {
    let generation = current_generation();
    generation
        .set_model("demo-streaming-model")
        .set_model_parameters(&serde_json::json!({"temperature": 0.7, "stream": true}));
    let prompt_tokens = question.split_whitespace().count() as u64;
    fake_model().enumerate().map(move |(i, token)| {
        if i == 0 {
            generation.mark_completion_start();
        }
        if i + 1 == TOKENS.len() {
            // OpenAI-compatible servers send usage with the last chunk.
            generation.set_usage_details(&Usage::new(prompt_tokens, TOKENS.len() as u64));
        }
        token.to_string()
    })
}

#[observe]
async fn chat_turn(question: &str) -> usize {
    let mut tokens = std::pin::pin!(stream_answer(question));
    let mut shown = 0;
    while let Some(token) = tokens.next().await {
        print!("{token}");
        shown += 1;
    }
    println!();
    shown
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the trace on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    chat_turn("What does Langfuse record for a stream?").await;

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
