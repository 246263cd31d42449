//! The pipeline from the Langfuse quickstart: a root span, a database query and an LLM call,
//! each an `#[observe]`d function, and the two scores of the docs.
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send;
//! with them it sends the trace to Langfuse (`LANGFUSE_BASE_URL`, default Langfuse Cloud) and
//! prints its id.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use langfuse_runtime::{Config, Langfuse, Usage, current_generation, current_observation, observe};
use serde_json::json;

#[observe(metadata(sql = "SELECT * FROM users"))]
fn db_query() -> Vec<&'static str> {
    let rows = vec!["alice", "bob"];
    let query = current_observation();
    query.add_metadata("rows_returned", &42);
    // Scores go to POST /api/public/scores after the spans; a refused value is an Err here.
    let latency_ok = query.score("db_latency_ok").boolean(true).comment("Query under 100 ms");
    if let Err(e) = latency_ok.send() {
        eprintln!("score not sent: {e}");
    }
    rows
}

#[observe(as_type = "generation", capture_input = false, metadata(agent = "faq-bot"))]
fn chat_step(question: &str) -> String {
    let generation = current_generation();
    generation.set_model("gpt-4o").set_input(question);
    // A real app calls the model here.
    let answer = "Langfuse is an observability tool for LLMs".to_string();
    generation
        .set_usage_details(&Usage::new(15, 60))
        .set_cost_details(&json!({"input": 0.0015, "output": 0.0030}));
    if let Err(e) = generation.score("helpfulness").numeric(0.8).send() {
        eprintln!("score not sent: {e}");
    }
    answer
}

#[observe(metadata(pipeline_id = "123", experiment = "A1"))]
fn pipeline() -> Option<langfuse_runtime::TraceId> {
    let users = db_query();
    let answer = chat_step("What is Langfuse?");
    println!("{} users, answer: {answer}", users.len());
    langfuse_runtime::current_trace_id()
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the trace on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    let trace_id = pipeline();

    let report = langfuse.flush();
    if sending {
        match trace_id {
            // Only a successful report means the server took every observation.
            Some(id) if report.is_success() => {
                println!("sent trace {id} to {}", langfuse.config().base_url())
            }
            _ => eprintln!("the trace was not delivered ({report}); see the warnings above"),
        }
    }
    Ok(())
}
