//! `LangfuseSpanProcessor` on a user's `SdkTracerProvider`, asserted on what a real loopback
//! OTLP/HTTP receiver decoded: `gen_ai.*` spans arrive as typed observations with model and
//! usage, the default and a custom filter decide what goes, a filtered-out span does not
//! orphan its children, an error status is level ERROR, and without a client nothing panics.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use langfuse_runtime::opentelemetry::{LangfuseSpanProcessor, is_default_export_span};
use opentelemetry::trace::{
    Span as _, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use support::{Loopback, ReceivedSpan};

fn provider(processor: LangfuseSpanProcessor) -> SdkTracerProvider {
    SdkTracerProvider::builder().with_span_processor(processor).build()
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| s.name() == name).collect();
    let names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    assert_eq!(found.len(), 1, "expected one `{name}` in {names:?}");
    found[0]
}

fn json(span: &ReceivedSpan, key: &str) -> serde_json::Value {
    let text = span.str_attr(key).unwrap_or_else(|| panic!("{} has no {key}", span.name()));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} of {}: {e}: {text}", span.name()))
}

/// A chat span as an OpenTelemetry-instrumented LLM client records it (GenAI semconv).
fn chat(tracer: &SdkTracer, cx: &Context) -> opentelemetry_sdk::trace::Span {
    let mut span = tracer
        .span_builder("chat gpt-4o-mini")
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
            KeyValue::new("gen_ai.request.temperature", 0.2),
        ])
        .start_with_context(tracer, cx);
    span.set_attribute(KeyValue::new("gen_ai.response.model", "gpt-4o-mini-2024-07-18"));
    span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 13));
    span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", 9));
    span.set_attribute(KeyValue::new(
        "gen_ai.output.messages",
        r#"[{"role":"assistant","content":"hi"}]"#,
    ));
    span.set_attribute(KeyValue::new("gen_ai.response.time_to_first_chunk", 0.25));
    span
}

#[test]
fn a_gen_ai_span_arrives_as_a_generation_with_model_and_usage() {
    let mut lf = Loopback::start(|b| b);
    let processor = LangfuseSpanProcessor::new();
    let provider = provider(processor);
    let tracer = provider.tracer("my-llm-client");
    let mut span = chat(&tracer, &Context::new());
    let (trace_id, span_id) =
        (span.span_context().trace_id().to_string(), span.span_context().span_id().to_string());
    span.end();
    let spans = lf.finish();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let g = &spans[0];
    assert_eq!((g.trace_id_hex(), g.span_id_hex()), (trace_id, span_id));
    assert_eq!(g.parent_id_hex(), None);
    assert_eq!(g.name(), "chat gpt-4o-mini");
    assert_eq!(g.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(g.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(
        json(g, "langfuse.observation.usage_details"),
        serde_json::json!({"input": 13, "output": 9, "total": 22})
    );
    assert_eq!(
        json(g, "langfuse.observation.model.parameters"),
        serde_json::json!({"temperature": 0.2})
    );
    assert_eq!(
        json(g, "langfuse.observation.output"),
        serde_json::json!([{"role": "assistant", "content": "hi"}])
    );
    // Completion start = start + 0.25 s.
    let start = humantime::parse_rfc3339(
        json(g, "langfuse.observation.completion_start_time").as_str().unwrap(),
    )
    .unwrap();
    let span_start = UNIX_EPOCH + Duration::from_nanos(g.span.start_time_unix_nano);
    let ttft = start.duration_since(span_start).unwrap();
    assert!(ttft.as_millis().abs_diff(250) <= 1, "{ttft:?}");
    assert_eq!(
        g.str_attr("langfuse.observation.metadata.gen_ai.provider.name"),
        Some("\"openai\"")
    );
    assert_eq!(
        g.str_attr("langfuse.observation.metadata.otel.scope.name"),
        Some("\"my-llm-client\"")
    );
    assert_eq!(g.scope_name(), Some("langfuse-sdk"));
    assert_eq!(g.bool_attr("langfuse.internal.is_app_root"), Some(true));
}

#[test]
fn the_default_filter_keeps_llm_spans_only_and_a_custom_one_replaces_it() {
    let mut lf = Loopback::start(|b| b);
    let default = provider(LangfuseSpanProcessor::new());
    let app = default.tracer("my-app");
    drop(app.start("db_query")); // no gen_ai.*, unknown scope: left out
    drop(
        app.span_builder("tagged")
            .with_attributes([KeyValue::new("gen_ai.system", "x")])
            .start(&app),
    );
    let known = default.tracer("openinference.instrumentation.openai");
    drop(known.start("openai_call"));
    let custom = provider(
        LangfuseSpanProcessor::new()
            .export_filter(|span| !is_default_export_span(span) && span.name.starts_with("job.")),
    );
    let custom_tracer = custom.tracer("my-app");
    drop(custom_tracer.start("job.run"));
    drop(custom_tracer.start("other"));
    drop(
        custom_tracer
            .span_builder("tagged2")
            .with_attributes([KeyValue::new("gen_ai.system", "x")])
            .start(&custom_tracer),
    );
    let spans = lf.finish();
    let mut names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    names.sort_unstable();
    assert_eq!(names, ["job.run", "openai_call", "tagged"]);
}

/// An agent span exported from its start (a `gen_ai.*` attribute), as the root of a context.
fn agent_root(tracer: &SdkTracer) -> Context {
    let root = tracer
        .span_builder("invoke_agent")
        .with_attributes([KeyValue::new("gen_ai.operation.name", "invoke_agent")])
        .start(tracer);
    Context::new().with_span(root)
}

#[test]
fn a_filtered_middle_span_does_not_orphan_its_child() {
    let mut lf = Loopback::start(|b| b);
    let processor = LangfuseSpanProcessor::new();
    let provider = provider(processor);
    let tracer = provider.tracer("my-app");
    let root_cx = agent_root(&tracer);
    let middle = tracer.start_with_context("http_request", &root_cx); // filtered out
    let middle_cx = root_cx.with_span(middle);
    let mut child = chat(&tracer, &middle_cx);
    child.end();
    middle_cx.span().end();
    root_cx.span().end();
    let spans = lf.finish();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (root, child) = (by_name(&spans, "invoke_agent"), by_name(&spans, "chat gpt-4o-mini"));
    assert_eq!(root.str_attr("langfuse.observation.type"), Some("agent"));
    assert_eq!(child.parent_id_hex(), Some(root.span_id_hex()));
    assert_eq!(child.trace_id_hex(), root.trace_id_hex());
}

#[langfuse_runtime::observe]
fn retrieve(query: &str) -> usize {
    query.len()
}

/// Our observations inside OpenTelemetry spans the processor handles are placed as Python's
/// one processor places its children (§8.6): under an exported span and not an app root;
/// under the nearest exported ancestor of a filtered-out span; at the top of the trace, as
/// its app root, when nothing above is exported.
#[test]
fn observations_inside_processed_spans_follow_the_export_filter() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider(LangfuseSpanProcessor::new());
    let tracer = provider.tracer("my-app");
    // An exported root (gen_ai.* at its start), a filtered-out middle, ours under each.
    let root_cx = agent_root(&tracer);
    let _root_guard = root_cx.clone().attach();
    assert_eq!(retrieve("under the agent"), 15);
    let middle_cx = root_cx.with_span(tracer.start_with_context("http_request", &root_cx));
    {
        let _middle_guard = middle_cx.clone().attach();
        assert_eq!(retrieve("under the request"), 17);
    }
    middle_cx.span().end();
    drop(_root_guard);
    root_cx.span().end();
    // A filtered-out span with nothing exported above it.
    let lone_cx = Context::new().with_span(tracer.start("db_query"));
    let lone_trace = lone_cx.span().span_context().trace_id().to_string();
    {
        let _lone_guard = lone_cx.clone().attach();
        assert_eq!(retrieve("alone"), 5);
    }
    lone_cx.span().end();
    let spans = lf.finish();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let agent = by_name(&spans, "invoke_agent");
    assert_eq!(agent.bool_attr("langfuse.internal.is_app_root"), Some(true));
    let ours: Vec<_> = spans.iter().filter(|s| s.name() == "retrieve").collect();
    let input = |s: &ReceivedSpan| json(s, "langfuse.observation.input");
    let find = |query: &str| {
        let found = ours.iter().find(|s| input(s) == serde_json::json!({ "query": query }));
        *found.unwrap_or_else(|| panic!("no `retrieve` of {query:?} in {ours:#?}"))
    };
    for query in ["under the agent", "under the request"] {
        let child = find(query);
        assert_eq!(child.parent_id_hex(), Some(agent.span_id_hex()), "{query}");
        assert_eq!(child.trace_id_hex(), agent.trace_id_hex(), "{query}");
        assert_eq!(child.bool_attr("langfuse.internal.is_app_root"), None, "{query}");
    }
    let alone = find("alone");
    assert_eq!(alone.parent_id_hex(), None);
    assert_eq!(alone.trace_id_hex(), lone_trace);
    assert_eq!(alone.bool_attr("langfuse.internal.is_app_root"), Some(true));
}

/// Another Langfuse SDK instance on the same provider, sending to another project: its spans
/// (scope `langfuse-sdk`, scope attribute `public_key`) are left out before the filter (§8.5
/// step 1); those of our project, and `langfuse-sdk` spans without a key, go.
#[test]
fn langfuse_sdk_spans_of_another_project_are_left_out() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider(LangfuseSpanProcessor::new());
    let scope = |key: Option<&'static str>| {
        let builder = opentelemetry::InstrumentationScope::builder("langfuse-sdk");
        match key {
            Some(key) => builder.with_attributes([KeyValue::new("public_key", key)]).build(),
            None => builder.build(),
        }
    };
    for (name, key) in
        [("ours", Some(support::PUBLIC_KEY)), ("theirs", Some("pk-lf-other")), ("keyless", None)]
    {
        drop(provider.tracer_with_scope(scope(key)).start(name));
    }
    let spans = lf.finish();
    let mut names: Vec<_> = spans.iter().map(ReceivedSpan::name).collect();
    names.sort_unstable();
    assert_eq!(names, ["keyless", "ours"]);
}

#[test]
fn an_error_status_is_level_error_and_events_become_langfuse_events() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider(LangfuseSpanProcessor::new());
    let tracer = provider.tracer("my-llm-client");
    let mut span = chat(&tracer, &Context::new());
    span.add_event("retry", vec![KeyValue::new("attempt", 2)]);
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "Timeout"),
            KeyValue::new("exception.message", "took 30 s"),
        ],
    );
    span.set_status(Status::error("upstream timed out"));
    span.end();
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let g = by_name(&spans, "chat gpt-4o-mini");
    assert_eq!(g.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(g.str_attr("langfuse.observation.status_message"), Some("upstream timed out"));
    let retry = by_name(&spans, "retry");
    assert_eq!(retry.parent_id_hex(), Some(g.span_id_hex()));
    assert_eq!(retry.str_attr("langfuse.observation.type"), Some("event"));
    assert_eq!(retry.str_attr("langfuse.observation.metadata.attempt"), Some("2"));
    let exception = by_name(&spans, "exception");
    assert_eq!(exception.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(exception.str_attr("langfuse.observation.status_message"), Some("took 30 s"));
}

#[test]
fn trace_attributes_are_honoured() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider(LangfuseSpanProcessor::new());
    let tracer = provider.tracer("my-app");
    drop(
        tracer
            .span_builder("handle")
            .with_attributes([
                KeyValue::new("langfuse.trace.name", "support-chat"),
                KeyValue::new("user.id", "user-42"),
                KeyValue::new("langfuse.session.id", "s-1"),
                KeyValue::new("langfuse.observation.metadata.tier", "gold"),
            ])
            .start(&tracer),
    );
    let spans = lf.finish();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let s = &spans[0];
    assert_eq!(s.str_attr("langfuse.trace.name"), Some("support-chat"));
    assert_eq!(s.str_attr("user.id"), Some("user-42"));
    assert_eq!(s.str_attr("session.id"), Some("s-1"));
    assert_eq!(s.str_attr("langfuse.observation.metadata.tier"), Some("\"gold\""));
}

#[test]
fn without_a_client_spans_are_counted_and_dropped() {
    let _turn = support::exclusive();
    let processor = std::sync::Arc::new(LangfuseSpanProcessor::new());
    #[derive(Debug)]
    struct Shared(std::sync::Arc<LangfuseSpanProcessor>);
    impl opentelemetry_sdk::trace::SpanProcessor for Shared {
        fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
            self.0.on_start(span, cx)
        }
        fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
            self.0.on_end(span)
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(&self, t: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.shutdown_with_timeout(t)
        }
    }
    let provider =
        SdkTracerProvider::builder().with_span_processor(Shared(processor.clone())).build();
    let tracer = provider.tracer("my-llm-client");
    chat(&tracer, &Context::new()).end();
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    let stats = processor.stats();
    assert_eq!((stats.received, stats.no_client, stats.exported), (1, 1, 0));
}
