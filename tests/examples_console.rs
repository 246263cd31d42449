//! Every example, run as its own process the way `cargo run --example NAME` runs it: without
//! keys it prints its trace tree (console mode) and exits 0; with keys and
//! `LANGFUSE_BASE_URL` pointing at a loopback receiver it delivers the same observations.
//!
//! The examples are built once, first, with the cargo that runs this test (a no-op after a
//! full `cargo test`, which builds them anyway), so a stale binary is never tested.

mod support;

#[path = "support/fake_openai.rs"]
mod fake_openai;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use fake_openai::{FakeOpenAi, FakeReply};
use serde_json::json;
use support::OtlpReceiver;

const EXAMPLES: [&str; 8] = [
    "quickstart",
    "agent",
    "axum_service",
    "streaming",
    "parallel_batch",
    "openai_chat",
    "tracing_interop",
    "distributed",
];

/// `target/debug/examples`, with every example built.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test is target/debug/deps/examples_console-HASH.
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug").join("examples");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--examples", "-p", "langfuse-examples"]);
        // The variables cargo sets for this test process would look like a changed
        // environment to build scripts, and rebuild (twice: here and in the next `cargo test`).
        for (name, _) in std::env::vars() {
            let user_setting = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&name.as_str())
                || name.starts_with("CARGO_BUILD_")
                || name.starts_with("CARGO_PROFILE_")
                || name.starts_with("CARGO_REGISTRIES_");
            if (name.starts_with("CARGO_") && !user_setting) || name == "OUT_DIR" {
                build.env_remove(name);
            }
        }
        let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
        assert!(status.success(), "building the examples failed");
        for example in EXAMPLES {
            assert!(dir.join(example).exists(), "{example} built into {}", dir.display());
        }
        dir
    })
}

/// Runs an example with no Langfuse or OpenAI variables but those in `env`.
fn run(example: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(examples_dir().join(example));
    for (name, _) in std::env::vars() {
        if name.starts_with("LANGFUSE_") || name.starts_with("OPENAI_") || name.starts_with("OTEL_")
        {
            command.env_remove(name);
        }
    }
    command.env("NO_COLOR", "1").envs(env.iter().copied());
    let output = command.output().expect("example runs");
    assert!(
        output.status.success(),
        "{example} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// The console tree: `trace …` headers and one `name [type]` line per observation, with
/// its depth (0 = root), in print order.
fn tree(out: &str) -> (usize, Vec<(usize, String)>) {
    let traces = out.lines().filter(|l| l.starts_with("trace ")).count();
    let nodes = out
        .lines()
        .filter_map(|line| {
            let depth = line.matches("─ ").count()
                + line
                    .split("─ ")
                    .next()
                    .map_or(0, |p| p.matches("│  ").count() + p.matches("   ").count())
                    * usize::from(line.contains("─ "));
            let label = line.rsplit("─ ").next().unwrap_or(line);
            let (name, rest) = label.split_once(" [")?;
            let kind = rest.split(']').next()?;
            (!name.contains(':') && !name.starts_with(' '))
                .then(|| (depth, format!("{name} [{kind}]")))
        })
        .collect();
    (traces, nodes)
}

fn labels(nodes: &[(usize, String)]) -> Vec<&str> {
    nodes.iter().map(|(_, l)| l.as_str()).collect()
}

/// Keys and a base URL: what a user with a Langfuse project sets.
fn keyed(receiver: &OtlpReceiver) -> Vec<(&'static str, String)> {
    vec![
        ("LANGFUSE_PUBLIC_KEY", "pk-lf-examples".into()),
        ("LANGFUSE_SECRET_KEY", "sk-lf-examples".into()),
        ("LANGFUSE_BASE_URL", receiver.base_url()),
    ]
}

/// Runs an example with keys against a fresh receiver; returns stdout and span names.
fn export(example: &str, extra: &[(&str, &str)]) -> (String, Vec<String>) {
    let receiver = OtlpReceiver::start();
    let env = keyed(&receiver);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let output = run(example, &all);
    let out = stdout(&output);
    assert!(!out.contains("\ntrace "), "{example} prints no tree when it sends:\n{out}");
    let mut names: Vec<String> = receiver.spans().iter().map(|s| s.name().to_owned()).collect();
    names.sort();
    (out, names)
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn agent_prints_one_tree_of_every_observation_type() {
    let out = stdout(&run("agent", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(
        labels(&nodes),
        [
            "travel_agent [agent]",
            "check_input [guardrail]",
            "embed [embedding]",
            "retrieve [retriever]",
            "plan [generation]",
            "get_weather [tool]",
            "respond [generation]",
            "groundedness [evaluator]",
        ],
        "{out}"
    );
    assert!(nodes[1..].iter().all(|(d, _)| *d == 1), "all children of the agent:\n{out}");
    assert!(out.contains("trace: user=user-42, session=session-2024-06-01"), "{out}");
    assert!(out.contains("output: 1.0"), "the evaluator's verdict:\n{out}");
    assert!(out.contains("│ score: groundedness = 1 [NUMERIC] (trace)"), "{out}");
    assert!(out.contains("│ score: tool_call_ok = 1 [BOOLEAN]"), "{out}");

    let (out, names) = export("agent", &[]);
    assert!(out.contains("sent the trace to http://127.0.0.1:"), "{out}");
    assert_eq!(
        names,
        sorted(&[
            "travel_agent",
            "check_input",
            "embed",
            "retrieve",
            "plan",
            "get_weather",
            "respond",
            "groundedness",
        ])
    );
}

#[test]
fn axum_service_prints_one_tree_per_request_with_spawned_work_inside() {
    let out = stdout(&run("axum_service", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 2, "one trace per request:\n{out}");
    let roots = nodes.iter().filter(|(d, _)| *d == 0).count();
    assert_eq!(roots, 2, "{out}");
    let moderated = nodes.iter().filter(|(d, l)| *d == 1 && l == "moderate [guardrail]").count();
    assert_eq!(moderated, 2, "the spawned guardrail is a child of each request:\n{out}");
    assert!(out.contains("trace: user=user-1, session=session-a"), "{out}");
    assert!(out.contains("trace: user=user-2, session=session-b"), "{out}");

    let (out, names) = export("axum_service", &[]);
    assert!(out.contains("sent the traces to"), "{out}");
    let twice = |n: &'static str| [n, n];
    let expected: Vec<&str> =
        [twice("POST /chat"), twice("generate"), twice("lookup"), twice("moderate")].concat();
    assert_eq!(names, sorted(&expected));
}

#[test]
fn streaming_prints_the_aggregated_output_and_first_token() {
    let out = stdout(&run("streaming", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(labels(&nodes), ["chat_turn [span]", "stream_answer [generation]"], "{out}");
    assert!(out.contains("output: Langfuse records every token of this."), "{out}");
    assert!(out.contains("first token: +"), "completion start time:\n{out}");

    let (_, names) = export("streaming", &[]);
    assert_eq!(names, sorted(&["chat_turn", "stream_answer"]));
}

#[test]
fn parallel_batch_keeps_threads_and_rayon_in_one_trace() {
    let out = stdout(&run("parallel_batch", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(nodes[0], (0, "batch [span]".to_owned()), "{out}");
    assert_eq!(nodes.len(), 7, "{out}");
    assert!(
        nodes[1..].iter().all(|(d, _)| *d == 1),
        "every worker's observation is a child:\n{out}"
    );

    let (_, names) = export("parallel_batch", &[]);
    assert_eq!(names.len(), 7);
}

#[test]
fn quickstart_prints_its_tree_without_keys() {
    let output = run("quickstart", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("[langfuse] warning")).collect();
    assert_eq!(
        warnings,
        ["[langfuse] warning: LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are not set: nothing \
          will be sent to Langfuse; each trace is printed to stdout instead"],
        "exactly one warning without keys"
    );
    let out = stdout(&output);
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(
        labels(&nodes),
        ["pipeline [span]", "db_query [span]", "chat_step [generation]"],
        "{out}"
    );
}

fn fake_openai_server() -> FakeOpenAi {
    let chunk = |content: &str| {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
               "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
    };
    FakeOpenAi::start(vec![
        FakeReply::ok(json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [{"index": 0, "object": "embedding", "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        })),
        FakeReply::ok(json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "An LLM observability platform."}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26},
        })),
        FakeReply::sse(vec![chunk("An LLM"), chunk(" platform.")], Duration::from_millis(5)),
    ])
}

#[test]
fn openai_chat_explains_the_missing_key_and_records_calls_to_any_base_url() {
    let out = stdout(&run("openai_chat", &[]));
    assert!(out.contains("OPENAI_API_KEY is not set"), "{out}");
    assert!(out.contains("OPENAI_BASE_URL="), "{out}");

    let fake = fake_openai_server();
    let env = [("OPENAI_API_KEY", "sk-fake"), ("OPENAI_BASE_URL", fake.base_url())];
    let out = stdout(&run("openai_chat", &env));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(
        labels(&nodes),
        [
            "openai_demo [span]",
            "embed [retriever]",
            "OpenAI-embedding [embedding]",
            "ask [span]",
            "OpenAI-generation [generation]",
            "OpenAI-generation [generation]",
        ],
        "{out}"
    );
    assert!(out.contains("streamed: An LLM platform."), "{out}");
    assert!(out.contains("first token: +"), "{out}");
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/embeddings", "/v1/chat/completions", "/v1/chat/completions"]);

    let fake = fake_openai_server();
    let env = [("OPENAI_API_KEY", "sk-fake"), ("OPENAI_BASE_URL", fake.base_url())];
    let (_, names) = export("openai_chat", &env);
    assert_eq!(
        names,
        sorted(&[
            "openai_demo",
            "embed",
            "OpenAI-embedding",
            "ask",
            "OpenAI-generation",
            "OpenAI-generation"
        ])
    );
}

#[test]
fn tracing_interop_nests_a_rig_shaped_span_between_observed_calls() {
    let out = stdout(&run("tracing_interop", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(
        nodes,
        vec![
            (0, "weather_agent [agent]".to_owned()),
            (1, "chat [generation]".to_owned()),
            (2, "get_weather [tool]".to_owned()),
        ],
        "{out}"
    );
    assert!(out.contains("model: gpt-4o-mini  usage: {input: 12, output: 3, total: 15}"), "{out}");
    let (out, names) = export("tracing_interop", &[]);
    assert_eq!(names, sorted(&["chat", "get_weather", "weather_agent"]), "{out}");
    assert!(out.contains("sent to Langfuse"), "{out}");
}

#[test]
fn distributed_continues_one_trace_across_two_services() {
    let out = stdout(&run("distributed", &[]));
    let (traces, nodes) = tree(&out);
    assert_eq!(traces, 1, "{out}");
    assert_eq!(
        labels(&nodes),
        ["frontend [span]", "call_backend [tool]", "backend [span]", "model_call [generation]"],
        "{out}"
    );
    let (out, names) = export("distributed", &[]);
    assert_eq!(names, sorted(&["backend", "call_backend", "frontend", "model_call"]), "{out}");
}
