//! The pipeline from the Langfuse quickstart: a root span, a database query and an LLM call.
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send;
//! with them it sends the trace to Langfuse (`LANGFUSE_BASE_URL`, default Langfuse Cloud) and
//! prints its id.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use langfuse_runtime::{Config, Langfuse, Usage, current_observation, generation, span};
use serde_json::json;

fn db_query() -> Vec<&'static str> {
    let query = span("db_query").metadata(&json!({"sql": "SELECT * FROM users"})).start();
    let rows = query.run(|| vec!["alice", "bob"]);
    query.add_metadata("rows_returned", &42);
    rows
}

fn chat_step(question: &str) -> String {
    let chat = generation("chat_step")
        .model("gpt-4o")
        .input(question)
        .metadata(&json!({"agent": "faq-bot"}))
        .start();
    // A real app calls the model here.
    let answer = "Langfuse is an observability tool for LLMs".to_string();
    chat.set_output(&answer)
        .set_usage_details(&Usage::new(15, 60))
        .set_cost_details(&json!({"input": 0.0015, "output": 0.0030}));
    answer
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::from_env()?;
    let sending = config.has_keys();
    config.console_exporter |= !sending;
    let langfuse = Langfuse::new(config);

    let root =
        span("pipeline").metadata(&json!({"pipeline_id": "123", "experiment": "A1"})).start();
    let trace_id = root.trace_id();
    root.run(|| {
        let users = db_query();
        let answer = chat_step("What is Langfuse?");
        current_observation().set_output(&json!({"users": users.len(), "answer": answer}));
    });
    root.end();

    let delivered = langfuse.flush();
    if sending {
        match trace_id {
            Some(id) if delivered => println!("sent trace {id} to {}", langfuse.config().base_url),
            _ => eprintln!("the trace could not be delivered in time; see the warnings above"),
        }
    }
    Ok(())
}
