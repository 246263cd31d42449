//! An agent on tokio: a guardrail, an embedding, a retriever, a generation that picks a tool,
//! the tool, the answering generation and an evaluator — one trace, with user and session ids.
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send; with
//! them it sends it (`LANGFUSE_BASE_URL`, default Langfuse Cloud) and prints its id.
//!
//! ```sh
//! cargo run --example agent
//! ```
//!
//! The model calls are simulated so the example runs offline; `openai_chat` shows real ones.

use std::time::Duration;

use langfuse_runtime::{
    Config, Langfuse, Usage, current_generation, current_observation, observe,
    propagate_attributes, score_current_observation, score_current_trace,
};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
struct Document {
    id: &'static str,
    text: &'static str,
}

#[derive(Debug, Serialize)]
struct ToolCall {
    tool: &'static str,
    city: String,
}

#[observe(as_type = "guardrail")]
fn check_input(question: &str) -> Result<(), String> {
    if question.to_lowercase().contains("password") {
        return Err("asks for credentials".into());
    }
    Ok(())
}

#[observe(as_type = "embedding")]
async fn embed(text: &str) -> Vec<f32> {
    current_generation()
        .set_model("text-embedding-3-small")
        .set_usage_details(&serde_json::json!({"input": text.split_whitespace().count()}));
    tokio::time::sleep(Duration::from_millis(5)).await;
    vec![0.12, -0.40, 0.33]
}

#[observe(as_type = "retriever", skip(query_vector))]
async fn retrieve(query_vector: &[f32], top_k: usize) -> Vec<Document> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    current_observation()
        .add_metadata("index", &"travel-guides")
        .add_metadata("dims", &query_vector.len());
    vec![
        Document { id: "doc-1", text: "Oslo is best visited from May to September." },
        Document { id: "doc-2", text: "Pack a rain jacket for Bergen." },
    ]
    .into_iter()
    .take(top_k)
    .collect()
}

#[observe(as_type = "generation", capture_input = false)]
async fn plan(question: &str, docs: &[Document]) -> ToolCall {
    let generation = current_generation();
    generation
        .set_model("gpt-4o-mini")
        .set_model_parameters(&serde_json::json!({"temperature": 0.0, "tools": ["get_weather"]}))
        .set_input(&serde_json::json!([
            {"role": "system", "content": format!("Context: {}", docs.len())},
            {"role": "user", "content": question},
        ]));
    tokio::time::sleep(Duration::from_millis(10)).await;
    generation.set_usage_details(&Usage::new(85, 12));
    ToolCall { tool: "get_weather", city: "Oslo".into() }
}

#[observe(as_type = "tool")]
async fn get_weather(city: &str) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    format!("{city}: 14°C, light rain")
}

#[observe(as_type = "generation", capture_input = false)]
async fn respond(question: &str, docs: &[Document], weather: &str) -> String {
    let generation = current_generation();
    generation.set_model("gpt-4o-mini").set_input(&serde_json::json!([
        {"role": "system", "content": docs.iter().map(|d| d.text).collect::<Vec<_>>().join(" ")},
        {"role": "tool", "content": weather},
        {"role": "user", "content": question},
    ]));
    tokio::time::sleep(Duration::from_millis(10)).await;
    generation.set_usage_details(&Usage::new(120, 31));
    "Go between May and September; today Oslo has light rain, so bring a jacket.".into()
}

/// The share of retrieved documents the answer draws a word from, in [0, 1].
#[observe(as_type = "evaluator")]
fn groundedness(answer: &str, docs: &[Document]) -> f64 {
    let draws_from = |d: &&Document| {
        d.text
            .split_whitespace()
            .map(|w| w.trim_matches('.'))
            .any(|w| w.len() > 4 && answer.contains(w))
    };
    let used = docs.iter().filter(draws_from).count();
    used as f64 / docs.len().max(1) as f64
}

#[observe(as_type = "agent")]
async fn travel_agent(question: &str) -> String {
    if let Err(reason) = check_input(question) {
        return format!("I can't help with that ({reason}).");
    }
    let query_vector = embed(question).await;
    let docs = retrieve(&query_vector, 2).await;
    let call = plan(question, &docs).await;
    let weather = get_weather(&call.city).await;
    let answer = respond(question, &docs, &weather).await;
    let groundedness = groundedness(&answer, &docs);
    // The evaluator's verdict as a score on the whole trace, next to the agent's own rating of
    // its tool call on the current observation (the agent).
    let _ = score_current_trace("groundedness")
        .numeric(groundedness)
        .comment("share of retrieved documents the answer draws from")
        .send();
    let _ = score_current_observation("tool_call_ok").boolean(!weather.is_empty()).send();
    answer
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the trace on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    let question = "When should I visit Oslo, and what is the weather today?";
    // Every observation started inside carries the user and session (`user.id`, `session.id`).
    let answer = propagate_attributes()
        .user_id("user-42")
        .session_id("session-2024-06-01")
        .tags(["example", "agent"])
        .wrap(travel_agent(question))
        .await;
    println!("answer: {answer}");

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
