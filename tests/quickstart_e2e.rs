//! `cargo run --example quickstart` with keys and `LANGFUSE_BASE_URL` pointing at a loopback
//! OTLP/HTTP receiver delivers one trace of three observations with the right links.

mod support;

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

use support::{OtlpReceiver, expected_basic_auth};

#[test]
fn quickstart_delivers_one_trace_of_three_observations() {
    let receiver = OtlpReceiver::start();
    // The only test in this binary, so changing the process environment races with nothing.
    unsafe {
        std::env::set_var("LANGFUSE_PUBLIC_KEY", "pk-lf-quickstart");
        std::env::set_var("LANGFUSE_SECRET_KEY", "sk-lf-quickstart");
        std::env::set_var("LANGFUSE_BASE_URL", receiver.base_url());
    }
    quickstart::main().unwrap();

    let requests = receiver.requests();
    assert!(!requests.is_empty());
    // The docs' two scores follow the spans on the REST endpoint (their body: tests/scores.rs).
    let (scores, requests): (Vec<_>, Vec<_>) =
        requests.into_iter().partition(|r| r.path == "/api/public/scores");
    let names: Vec<serde_json::Value> = scores
        .iter()
        .flat_map(|r| serde_json::from_slice::<Vec<serde_json::Value>>(&r.body).unwrap())
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, ["db_latency_ok", "helpfulness"]);
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(expected_basic_auth("pk-lf-quickstart", "sk-lf-quickstart").as_str())
        );
        assert_eq!(r.header("x-langfuse-ingestion-version"), Some("4"));
        assert_eq!(r.header("x-langfuse-sdk-name"), Some("rust"));
    }
    let spans = receiver.spans();
    assert_eq!(spans.len(), 3, "{:?}", spans.iter().map(|s| s.name()).collect::<Vec<_>>());
    let find = |name: &str| spans.iter().find(|s| s.name() == name).unwrap();
    let (pipeline, db, chat) = (find("pipeline"), find("db_query"), find("chat_step"));

    assert_eq!(pipeline.parent_id_hex(), None);
    assert_eq!(db.parent_id_hex(), Some(pipeline.span_id_hex()));
    assert_eq!(chat.parent_id_hex(), Some(pipeline.span_id_hex()));
    assert!(spans.iter().all(|s| s.trace_id_hex() == pipeline.trace_id_hex()));

    assert_eq!(pipeline.str_attr("langfuse.observation.type"), Some("span"));
    assert_eq!(pipeline.str_attr("langfuse.observation.metadata.pipeline_id"), Some("\"123\""));
    assert_eq!(pipeline.str_attr("langfuse.observation.metadata.experiment"), Some("\"A1\""));

    assert_eq!(db.str_attr("langfuse.observation.type"), Some("span"));
    assert_eq!(db.str_attr("langfuse.observation.metadata.sql"), Some("\"SELECT * FROM users\""));
    assert_eq!(db.str_attr("langfuse.observation.metadata.rows_returned"), Some("42"));

    assert_eq!(chat.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(chat.str_attr("langfuse.observation.model.name"), Some("gpt-4o"));
    assert_eq!(chat.str_attr("langfuse.observation.input"), Some("What is Langfuse?"));
    assert_eq!(
        chat.str_attr("langfuse.observation.output"),
        Some("Langfuse is an observability tool for LLMs")
    );
    assert_eq!(chat.str_attr("langfuse.observation.metadata.agent"), Some("\"faq-bot\""));
    let usage: serde_json::Value =
        serde_json::from_str(chat.str_attr("langfuse.observation.usage_details").unwrap()).unwrap();
    assert_eq!(usage["prompt_tokens"], 15);
    assert_eq!(usage["completion_tokens"], 60);
    let cost: serde_json::Value =
        serde_json::from_str(chat.str_attr("langfuse.observation.cost_details").unwrap()).unwrap();
    assert_eq!(cost, serde_json::json!({"input": 0.0015, "output": 0.0030}));
}
