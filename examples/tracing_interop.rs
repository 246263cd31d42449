//! `tracing` spans and `#[observe]` in one trace: an observed agent, inside it a `tracing` span
//! shaped exactly like rig-core's completion span (name `chat`, target `rig::completions`,
//! `gen_ai.*` fields), and inside that span an observed tool.
//!
//! Langfuse shows `weather_agent` (agent) → `chat` (generation, model `gpt-4o-mini`, usage
//! 12 in / 3 out / 15 total) → `get_weather` (tool).
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the tree it would send; with
//! them it sends it to Langfuse (`LANGFUSE_BASE_URL`, default Langfuse Cloud).
//!
//! ```sh
//! cargo run --example tracing_interop
//! ```

use langfuse_runtime::{Config, Langfuse, observe};
use tracing_subscriber::prelude::*;

#[observe(as_type = "tool")]
fn get_weather(city: &str) -> String {
    format!("sunny, 21 °C in {city}")
}

#[observe(as_type = "agent")]
fn weather_agent(question: &str) -> String {
    // What rig-core opens around a completion request (rig-core/src/telemetry).
    let chat = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.usage.input_tokens = 12,
        gen_ai.usage.output_tokens = 3,
    );
    let _entered = chat.enter();
    tracing::info!(question, "asking the model");
    // The model asked for a tool call; it runs inside the completion span.
    get_weather("Paris")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);
    // The one line: our layer next to the app's own.
    tracing_subscriber::registry()
        .with(langfuse_runtime::tracing::layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();

    let answer = weather_agent("What is the weather in Paris?");
    println!("answer: {answer}");

    let report = langfuse.flush();
    if sending {
        if report.is_success() {
            println!("sent to Langfuse ({report})");
        } else {
            eprintln!("the trace was not delivered ({report}); see the warnings above");
        }
    }
    Ok(())
}
