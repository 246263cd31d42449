//! The `tracing` bridge, asserted on what a real loopback OTLP/HTTP receiver decoded: spans
//! shaped exactly like rig-core's, genai's and langchain-rust's (names, targets, field names
//! as those crates emit them) become typed observations with model, usage and exact parent
//! ids, nested both ways with `#[observe]` calls.

mod support;

use std::sync::Once;
use std::time::{Duration, UNIX_EPOCH};

use langfuse_runtime::observe;
use support::{Loopback, ReceivedSpan};
use tracing::Instrument as _;
use tracing::field::Empty;
use tracing_subscriber::prelude::*;

/// The bridge with its defaults, process-wide so that tokio's worker threads see it too.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::registry().with(langfuse_runtime::tracing::layer()).init();
    });
}

fn start() -> Loopback {
    install();
    Loopback::start(|b| b)
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| s.name() == name).collect();
    let names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    assert_eq!(found.len(), 1, "expected one `{name}` in {names:?}");
    found[0]
}

fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_id_hex(),
        Some(parent.span_id_hex()),
        "{} under {}",
        child.name(),
        parent.name()
    );
    assert_eq!(child.trace_id_hex(), parent.trace_id_hex(), "{} in one trace", child.name());
}

fn kind(span: &ReceivedSpan) -> &str {
    span.str_attr("langfuse.observation.type").unwrap_or_default()
}

fn json(span: &ReceivedSpan, key: &str) -> serde_json::Value {
    let text = span.str_attr(key).unwrap_or_else(|| panic!("{} has no {key}", span.name()));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} of {}: {e}: {text}", span.name()))
}

/// No span carries `tracing`'s bookkeeping or anything outside the `langfuse.*` keys the
/// server keeps for our scope (trace-level `user.id`/`session.id` aside).
fn assert_clean(spans: &[ReceivedSpan]) {
    for span in spans {
        for key in span.attr_keys() {
            assert!(
                key.starts_with("langfuse.") || key == "user.id" || key == "session.id",
                "{} carries {key}",
                span.name()
            );
            for dropped in ["busy_ns", "idle_ns", "code.", "thread."] {
                assert!(!key.contains(dropped), "{} carries {key}", span.name());
            }
        }
    }
}

#[observe(as_type = "tool")]
fn lookup_weather(city: &str) -> String {
    format!("sunny in {city}")
}

/// rig-core's completion span (`rig-core/src/telemetry`): name `chat`, target
/// `rig::completions`, usage recorded once the response is in.
fn rig_chat_span() -> tracing::Span {
    tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.system_instructions = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
    )
}

#[observe(as_type = "agent")]
fn weather_agent(question: &str) -> String {
    let span = rig_chat_span();
    let answer = span.in_scope(|| lookup_weather("Paris"));
    span.record("gen_ai.input.messages", format!(r#"[{{"role":"user","content":"{question}"}}]"#));
    span.record("gen_ai.output.messages", r#"[{"role":"assistant","content":"sunny"}]"#);
    span.record("gen_ai.usage.input_tokens", 12);
    span.record("gen_ai.usage.output_tokens", 3);
    answer
}

#[test]
fn a_rig_chat_span_is_a_generation_between_the_observed_agent_and_its_tool() {
    let mut lf = start();
    assert_eq!(weather_agent("weather?"), "sunny in Paris");
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (agent, chat, tool) = (
        by_name(&spans, "weather_agent"),
        by_name(&spans, "chat"),
        by_name(&spans, "lookup_weather"),
    );
    assert_eq!(agent.parent_id_hex(), None);
    assert_child(chat, agent);
    assert_child(tool, chat);
    assert_eq!((kind(agent), kind(chat), kind(tool)), ("agent", "generation", "tool"));
    assert_eq!(chat.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini"));
    assert_eq!(
        json(chat, "langfuse.observation.usage_details"),
        serde_json::json!({"input": 12, "output": 3, "total": 15})
    );
    assert_eq!(
        json(chat, "langfuse.observation.input"),
        serde_json::json!([{"role": "user", "content": "weather?"}])
    );
    assert_eq!(
        json(chat, "langfuse.observation.output"),
        serde_json::json!([{"role": "assistant", "content": "sunny"}])
    );
    // Provider is not a Langfuse field: it stays visible as metadata.
    assert_eq!(
        chat.str_attr("langfuse.observation.metadata.gen_ai.provider.name"),
        Some("\"openai\"")
    );
    assert_eq!(chat.scope_name(), Some("langfuse-sdk"));
    assert_clean(&spans);
}

/// genai's chat span (`src/otel`): created, recorded into and dropped, never entered.
#[observe]
async fn ask_genai(stream: bool) -> u32 {
    let span = tracing::info_span!(
        target: "genai::chat",
        "genai.chat",
        otel.name = "chat gpt-4o-mini",
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.request.stream = stream,
        gen_ai.request.temperature = 0.2,
        gen_ai.response.model = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.response.time_to_first_chunk = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
    );
    // The HTTP call happens outside the span (genai never enters it).
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A child the client creates with an explicit parent.
    drop(
        tracing::info_span!(target: "genai::chat", parent: &span, "genai.chat.parse", gen_ai.operation.name = "parse"),
    );
    span.record("gen_ai.response.model", "gpt-4o-mini-2024-07-18");
    span.record("gen_ai.response.finish_reasons", "[\"stop\"]");
    if stream {
        span.record("gen_ai.response.time_to_first_chunk", 0.25);
    }
    span.record("gen_ai.usage.input_tokens", 13);
    span.record("gen_ai.usage.output_tokens", 9);
    span.record("otel.status_code", "OK");
    drop(span);
    22
}

#[test]
fn genai_chat_spans_that_are_never_entered_nest_under_the_caller() {
    let mut lf = start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        ask_genai(false).await;
        ask_genai(true).await;
    });
    drop(rt);
    let spans = lf.finish();
    let callers: Vec<_> = spans.iter().filter(|s| s.name() == "ask_genai").collect();
    let chats: Vec<_> = spans.iter().filter(|s| s.name() == "chat gpt-4o-mini").collect();
    let parses: Vec<_> = spans.iter().filter(|s| s.name() == "genai.chat.parse").collect();
    assert_eq!((callers.len(), chats.len(), parses.len()), (2, 2, 2), "{spans:#?}");
    let mut streamed = 0;
    for chat in &chats {
        let caller = callers.iter().find(|c| Some(c.span_id_hex()) == chat.parent_id_hex());
        assert_child(chat, caller.expect("each chat under one caller"));
        let parse = parses.iter().find(|p| p.parent_id_hex() == Some(chat.span_id_hex()));
        assert!(parse.is_some(), "the explicit child nests under its chat");
        assert_eq!(kind(chat), "generation");
        // The response model wins over the requested one, as on the server.
        assert_eq!(
            chat.str_attr("langfuse.observation.model.name"),
            Some("gpt-4o-mini-2024-07-18")
        );
        assert_eq!(
            json(chat, "langfuse.observation.usage_details"),
            serde_json::json!({"input": 13, "output": 9, "total": 22})
        );
        let params = json(chat, "langfuse.observation.model.parameters");
        assert_eq!(params["temperature"], 0.2);
        assert_eq!(chat.str_attr("langfuse.observation.level"), None, "status OK is not an error");
        if params["stream"] == true {
            streamed += 1;
            let at = json(chat, "langfuse.observation.completion_start_time");
            let at = humantime::parse_rfc3339(at.as_str().unwrap()).unwrap();
            let start = UNIX_EPOCH + Duration::from_nanos(chat.span.start_time_unix_nano);
            let ttft = at.duration_since(start).unwrap();
            assert!(
                ttft.abs_diff(Duration::from_millis(250)) < Duration::from_micros(2),
                "{ttft:?}"
            );
        } else {
            assert_eq!(chat.str_attr("langfuse.observation.completion_start_time"), None);
        }
    }
    assert_eq!(streamed, 1);
    assert_clean(&spans);
}

#[observe(as_type = "chain")]
fn langchain_chain() {
    // langchain-rust 7 `src/observability.rs`: no gen_ai fields, its own names.
    let span = tracing::info_span!(
        target: "langchain_rust::llm::openai",
        "llm.generate",
        provider = "openai",
        model = "gpt-4o-mini",
        stream = false,
        prompt_tokens = Empty,
        completion_tokens = Empty,
        total_tokens = Empty,
        tool_calls = Empty,
        error = Empty,
    );
    span.in_scope(|| {
        tracing::info_span!(target: "langchain_rust::tools", "tool.call", tool = "search")
            .in_scope(|| {});
    });
    span.record("prompt_tokens", 20);
    span.record("completion_tokens", 4);
    span.record("total_tokens", 24);
    let failed = tracing::info_span!(
        target: "langchain_rust::llm::openai",
        "llm.generate",
        provider = "openai",
        model = "gpt-4o-mini",
        error = Empty,
    );
    failed.record("error", "rate limited");
}

#[test]
fn langchain_rust_spans_get_gen_ai_usage_and_types() {
    let mut lf = start();
    langchain_chain();
    let spans = lf.finish();
    let chain = by_name(&spans, "langchain_chain");
    let generations: Vec<_> = spans.iter().filter(|s| s.name() == "llm.generate").collect();
    assert_eq!(generations.len(), 2, "{spans:#?}");
    let (ok, failed) = if generations[0].str_attr("langfuse.observation.level").is_none() {
        (generations[0], generations[1])
    } else {
        (generations[1], generations[0])
    };
    assert_child(ok, chain);
    assert_child(failed, chain);
    assert_eq!(kind(ok), "generation");
    assert_eq!(ok.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini"));
    assert_eq!(
        json(ok, "langfuse.observation.usage_details"),
        serde_json::json!({"input": 20, "output": 4, "total": 24})
    );
    assert_eq!(
        json(ok, "langfuse.observation.model.parameters"),
        serde_json::json!({"stream": false})
    );
    assert_eq!(ok.str_attr("langfuse.observation.metadata.provider"), Some("\"openai\""));
    let tool = by_name(&spans, "search");
    assert_child(tool, ok);
    assert_eq!(kind(tool), "tool");
    assert_eq!(failed.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(failed.str_attr("langfuse.observation.status_message"), Some("rate limited"));
    assert_clean(&spans);
}

#[observe(as_type = "tool")]
async fn slow_tool(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    n * 2
}

#[observe]
async fn orchestrate() -> u32 {
    let exec = tracing::info_span!(
        target: "rig::agent",
        "execute_tool",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = "doubler",
        gen_ai.tool.call.arguments = "{\"n\":1}",
        gen_ai.tool.call.result = Empty,
    );
    let result = async {
        // Across `.await`, into a task spawned with our helper and one carried by `tracing`.
        let a = slow_tool(1).await;
        let b = langfuse_runtime::spawn(slow_tool(2)).await.unwrap();
        let c = tokio::spawn(async { slow_tool(3).await }.in_current_span()).await.unwrap();
        a + b + c
    }
    .instrument(exec.clone())
    .await;
    exec.record("gen_ai.tool.call.result", result.to_string());
    result
}

#[test]
fn observations_inside_an_instrumented_future_nest_under_its_span_across_tasks() {
    let mut lf = start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(orchestrate()), 12);
    drop(rt);
    let spans = lf.finish();
    let root = by_name(&spans, "orchestrate");
    // `gen_ai.tool.name` renames the span, as the server would.
    let exec = by_name(&spans, "doubler");
    assert_child(exec, root);
    assert_eq!(kind(exec), "tool");
    assert_eq!(json(exec, "langfuse.observation.input"), serde_json::json!({"n": 1}));
    assert_eq!(exec.str_attr("langfuse.observation.output"), Some("12"));
    let tools: Vec<_> = spans.iter().filter(|s| s.name() == "slow_tool").collect();
    assert_eq!(tools.len(), 3);
    for tool in tools {
        assert_child(tool, exec);
    }
}

#[test]
fn a_span_opened_in_a_manual_observation_is_its_child_and_plain_spans_are_not_exported() {
    let mut lf = start();
    let root = langfuse_runtime::span("request").start();
    root.run(|| {
        // A plain app span: not exported, but what starts inside still nests under `request`.
        let http = tracing::info_span!("http_call", url = "http://127.0.0.1");
        http.in_scope(|| {
            let chat = rig_chat_span();
            chat.in_scope(|| langfuse_runtime::span("inside").start().end());
        });
    });
    root.end();
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (request, chat, inside) =
        (by_name(&spans, "request"), by_name(&spans, "chat"), by_name(&spans, "inside"));
    assert_child(chat, request);
    assert_child(inside, chat);
}

/// Runs `f` on this thread under a bridge layer configured by `configure`.
fn with_layer<R>(
    configure: impl FnOnce(langfuse_runtime::tracing::Layer) -> langfuse_runtime::tracing::Layer,
    f: impl FnOnce() -> R,
) -> R {
    let subscriber =
        tracing_subscriber::registry().with(configure(langfuse_runtime::tracing::layer()));
    tracing::subscriber::with_default(subscriber, f)
}

#[observe]
fn handler() {
    let http = tracing::info_span!(target: "hyper::client", "http_request", method = "POST");
    // Never entered, and the LLM span names it as its explicit parent.
    let chat = tracing::info_span!(
        target: "rig::completions",
        parent: &http,
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = "gpt-4o-mini",
    );
    let db = tracing::info_span!("db_query", sql = "SELECT 1");
    db.in_scope(|| chat.in_scope(|| lookup_weather("Oslo")));
}

#[test]
fn filtered_out_spans_pass_their_parent_on_to_what_is_exported() {
    let mut lf = start();
    handler();
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "only the observed calls and the LLM span: {spans:#?}");
    let (root, chat, tool) =
        (by_name(&spans, "handler"), by_name(&spans, "chat"), by_name(&spans, "lookup_weather"));
    assert_child(chat, root);
    assert_child(tool, chat);
}

#[test]
fn a_user_predicate_replaces_the_default_filter_and_a_panicking_one_exports_nothing() {
    let mut lf = start();
    with_layer(|l| l.export_filter(|m| m.name() == "db_query"), handler);
    let spans = lf.finish();
    let names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let (root, db, tool) = (
        by_name(&spans, "handler"),
        by_name(&spans, "db_query"),
        by_name(&spans, "lookup_weather"),
    );
    assert_child(db, root);
    // `chat` is filtered out now. By `tracing`'s tree it is a child of `http` (also filtered
    // out), created in `handler`: the tool inside it attaches to `handler`, not to `db`.
    assert_child(tool, root);
    assert_eq!(kind(db), "span");
    assert_eq!(db.str_attr("langfuse.observation.metadata.sql"), Some("\"SELECT 1\""));

    drop(lf); // one client at a time
    let mut lf = start();
    with_layer(|l| l.export_filter(|_| panic!("a broken filter")), handler);
    let spans = lf.finish();
    let names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    assert_eq!(names, ["lookup_weather", "handler"]);
    assert_child(by_name(&spans, "lookup_weather"), by_name(&spans, "handler"));
}

#[observe]
fn failing_call() {
    let chat = rig_chat_span();
    chat.in_scope(|| {
        tracing::error!(status = 502, "upstream returned 502");
    });
    tracing::warn!(attempt = 2, "retrying");
    tracing::info!("not recorded");
    tracing::error!("gave up");
}

#[test]
fn error_events_mark_their_observation_and_other_events_are_opt_in() {
    let mut lf = start();
    failing_call();
    let spans = lf.finish();
    assert_eq!(spans.len(), 2, "no event observations by default: {spans:#?}");
    let (call, chat) = (by_name(&spans, "failing_call"), by_name(&spans, "chat"));
    assert_eq!(chat.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(chat.str_attr("langfuse.observation.status_message"), Some("upstream returned 502"));
    assert_eq!(call.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(call.str_attr("langfuse.observation.status_message"), Some("gave up"));

    drop(lf); // one client at a time
    let mut lf = start();
    with_layer(|l| l.record_events(tracing::Level::WARN), failing_call);
    let spans = lf.finish();
    let (call, chat) = (by_name(&spans, "failing_call"), by_name(&spans, "chat"));
    let upstream = by_name(&spans, "upstream returned 502");
    assert_child(upstream, chat);
    assert_eq!(kind(upstream), "event");
    assert_eq!(upstream.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(upstream.str_attr("langfuse.observation.metadata.status"), Some("502"));
    let retry = by_name(&spans, "retrying");
    assert_child(retry, call);
    assert_eq!(retry.str_attr("langfuse.observation.level"), Some("WARNING"));
    assert_eq!(retry.str_attr("langfuse.observation.metadata.attempt"), Some("2"));
    assert!(spans.iter().all(|s| s.name() != "not recorded"));
    assert_child(by_name(&spans, "gave up"), call);
}

#[test]
fn updates_through_the_current_observation_inside_an_entered_span_are_kept() {
    let mut lf = start();
    with_layer(
        |l| l.export_filter(|_| true),
        || {
            tracing::info_span!("local_llm", prompt = "hi").in_scope(|| {
                langfuse_runtime::current_generation()
                    .set_model("llama-3-8b")
                    .set_usage_details(&langfuse_runtime::Usage::new(5, 7));
            });
        },
    );
    let spans = lf.finish();
    let span = by_name(&spans, "local_llm");
    assert_eq!(kind(span), "generation", "current_generation() is not undone at close");
    assert_eq!(span.str_attr("langfuse.observation.model.name"), Some("llama-3-8b"));
    assert_eq!(span.str_attr("langfuse.observation.metadata.prompt"), Some("\"hi\""));
}

#[observe]
fn background_job_starter() {
    // `parent: None` says "a root" in `tracing`: a trace of its own, not a child of the caller.
    let detached = tracing::info_span!(
        target: "rig::completions",
        parent: None,
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = "gpt-4o-mini",
    );
    detached.in_scope(|| lookup_weather("Rome"));
}

#[test]
fn an_explicit_root_span_starts_its_own_trace() {
    let mut lf = start();
    background_job_starter();
    let spans = lf.finish();
    let (caller, chat, tool) = (
        by_name(&spans, "background_job_starter"),
        by_name(&spans, "chat"),
        by_name(&spans, "lookup_weather"),
    );
    assert_eq!(chat.parent_id_hex(), None);
    assert_ne!(chat.trace_id_hex(), caller.trace_id_hex());
    assert_child(tool, chat);
}

/// `user.id`, `session.id` and the `langfuse.trace.*` keys on a `tracing` span are the
/// trace's, as the server reads them from any span (and as the OpenTelemetry processor maps
/// them): not observation metadata.
#[test]
fn trace_level_fields_set_the_traces_user_session_tags_and_metadata() {
    let mut lf = start();
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        user.id = "user-42",
        session.id = "session-7",
        langfuse.trace.tags = "[\"support\",\"beta\"]",
        langfuse.trace.metadata.tier = "gold",
        gen_ai.provider.name = "openai",
    );
    drop(span);
    let spans = lf.finish();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let chat = &spans[0];
    assert_eq!(chat.str_attr("user.id"), Some("user-42"));
    assert_eq!(chat.str_attr("session.id"), Some("session-7"));
    assert_eq!(chat.str_array_attr("langfuse.trace.tags"), Some(vec!["support", "beta"]));
    assert_eq!(chat.str_attr("langfuse.trace.metadata.tier"), Some("\"gold\""));
    assert_eq!(
        chat.str_attr("langfuse.observation.metadata.gen_ai.provider.name"),
        Some("\"openai\"")
    );
    for key in ["user.id", "session.id"] {
        let metadata = format!("langfuse.observation.metadata.{key}");
        assert_eq!(chat.str_attr(&metadata), None, "{key} is no metadata");
    }
}
