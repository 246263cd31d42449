//! A batch fanned out over std threads and a rayon pool that stays one trace: every worker's
//! observations are children of the batch.
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints the trace it would send; with
//! them it sends it.
//!
//! ```sh
//! cargo run --example parallel_batch
//! ```

use langfuse_runtime::{Config, Langfuse, TraceContext, observe, spawn_thread};
use rayon::prelude::*;

#[observe]
fn clean(document: &str) -> String {
    document.trim().to_lowercase()
}

#[observe(as_type = "generation")]
fn summarize(document: &str) -> String {
    langfuse_runtime::current_generation().set_model("demo-summarizer");
    document.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[observe]
fn batch(documents: Vec<String>) -> Vec<String> {
    // std threads: `spawn_thread` carries the current observation to the new thread.
    let workers: Vec<_> =
        documents.into_iter().map(|doc| spawn_thread(move || clean(&doc))).collect();
    let cleaned: Vec<String> = workers.into_iter().map(|w| w.join().expect("worker")).collect();

    // rayon: capture the context once, make it current inside each task.
    let context = TraceContext::current();
    cleaned.par_iter().map(|doc| context.clone().run(|| summarize(doc))).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the trace on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    let documents = [
        "  Langfuse traces LLM applications end to end ",
        "Rayon runs closures on a work-stealing pool",
        " Threads keep the trace when the context travels with them",
    ];
    let summaries = batch(documents.iter().map(|d| d.to_string()).collect());
    for s in &summaries {
        println!("summary: {s}");
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
