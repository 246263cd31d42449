//! OpenTelemetry context interop, asserted on what a real loopback OTLP/HTTP receiver decoded:
//! OpenTelemetry spans (through the API and through `tracing` + `tracing-opentelemetry`, on a
//! provider carrying `LangfuseSpanProcessor`) and `#[observe]` calls nest both ways, with exact
//! parent ids and one trace id, in sync code and across `.await`.

mod support;

use langfuse_runtime::observe;
use langfuse_runtime::opentelemetry::LangfuseSpanProcessor;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use support::{Loopback, ReceivedSpan};
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

/// A provider whose spans all go to Langfuse through our pipeline.
fn provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_span_processor(LangfuseSpanProcessor::new().export_filter(|_| true))
        .build()
}

fn tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer("my-app")
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

#[observe]
fn call_library(tracer: &SdkTracer) -> String {
    tracer.in_span("library_call", |cx| {
        // The OpenTelemetry API sees our observation as the parent, sampled.
        assert!(cx.span().span_context().is_sampled());
        cx.span().span_context().trace_id().to_string()
    })
}

#[test]
fn an_otel_api_span_inside_an_observed_call_nests_under_it() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let otel_trace = call_library(&tracer(&provider));
    let spans = lf.finish();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (outer, inner) = (by_name(&spans, "call_library"), by_name(&spans, "library_call"));
    assert_eq!(outer.parent_id_hex(), None);
    assert_child(inner, outer);
    assert_eq!(otel_trace, outer.trace_id_hex());
    // Outside the observation OpenTelemetry has no span again.
    assert!(!Context::current().span().span_context().is_valid());
}

#[observe]
fn step(n: u32) -> u32 {
    n + 1
}

#[observe]
async fn step_async(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n + 1
}

#[test]
fn an_observed_call_inside_an_active_otel_span_nests_under_it() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let tracer = tracer(&provider);
    tracer.in_span("request", |_cx| {
        assert_eq!(step(1), 2);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert_eq!(rt.block_on(step_async(1)), 2);
    });
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let request = by_name(&spans, "request");
    assert_eq!(request.parent_id_hex(), None);
    assert_child(by_name(&spans, "step"), request);
    assert_child(by_name(&spans, "step_async"), request);
}

#[test]
fn an_explicit_otel_parent_context_gives_its_trace_and_sampled_flag() {
    let mut lf = Loopback::start(|b| b);
    let trace = TraceId::from(0x0af7651916cd43dd8448eb211c80319cu128);
    let parent = SpanId::from(0xb7ad6b7169203331u64);
    let sampled = SpanContext::new(trace, parent, TraceFlags::SAMPLED, true, TraceState::NONE);
    {
        let _cx = Context::current().with_remote_span_context(sampled).attach();
        step(1);
    }
    let unsampled = SpanContext::new(
        TraceId::from(0x1af7651916cd43dd8448eb211c80319cu128),
        parent,
        TraceFlags::NOT_SAMPLED,
        true,
        TraceState::NONE,
    );
    {
        let _cx = Context::current().with_remote_span_context(unsampled).attach();
        step(2); // not sampled upstream: not recorded
    }
    let spans = lf.finish();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(spans[0].parent_id_hex().as_deref(), Some("b7ad6b7169203331"));
}

/// A subscriber with `tracing-opentelemetry` on a tracer of `provider` (and no bridge of ours).
fn otel_subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("my-app")))
}

#[observe(as_type = "tool")]
fn lookup(city: &str) -> String {
    format!("sunny in {city}")
}

#[observe(as_type = "agent")]
fn agent() -> String {
    let span = tracing::info_span!("plan", step = 1);
    let _entered = span.enter();
    lookup("Paris")
}

#[test]
fn tracing_opentelemetry_spans_and_observed_calls_nest_both_ways() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    tracing::subscriber::with_default(otel_subscriber(&provider), || {
        assert_eq!(agent(), "sunny in Paris");
    });
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (agent, plan, tool) =
        (by_name(&spans, "agent"), by_name(&spans, "plan"), by_name(&spans, "lookup"));
    assert_eq!(agent.parent_id_hex(), None);
    assert_child(plan, agent);
    assert_child(tool, plan);
    // The span's field reached Langfuse as metadata, `tracing-opentelemetry`'s bookkeeping not.
    assert_eq!(plan.str_attr("langfuse.observation.metadata.step"), Some("1"));
    for key in plan.attr_keys() {
        assert!(
            !key.contains("code.") && !key.contains("thread.") && !key.contains("busy_ns"),
            "{key}"
        );
    }
}

#[observe(as_type = "tool")]
async fn lookup_async(city: &str) -> String {
    tokio::task::yield_now().await;
    format!("sunny in {city}")
}

#[observe(as_type = "agent")]
async fn agent_async() -> String {
    let answer = async {
        tokio::task::yield_now().await;
        lookup_async("Paris").await
    }
    .instrument(tracing::info_span!("plan"))
    .await;
    tokio::task::yield_now().await;
    answer
}

#[test]
fn tracing_opentelemetry_spans_and_observed_futures_nest_across_awaits() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    tracing::subscriber::with_default(otel_subscriber(&provider), || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert_eq!(rt.block_on(agent_async()), "sunny in Paris");
    });
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (agent, plan, tool) =
        (by_name(&spans, "agent_async"), by_name(&spans, "plan"), by_name(&spans, "lookup_async"));
    assert_eq!(agent.parent_id_hex(), None);
    assert_child(plan, agent);
    assert_child(tool, plan);
}

#[test]
fn an_unrelated_otel_span_does_not_take_our_children() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let tracer = tracer(&provider);
    #[observe]
    fn outer(tracer: &SdkTracer) -> u32 {
        // Another trace's context made current inside ours: our observation stays the parent.
        let other = SpanContext::new(
            TraceId::from(0x2af7651916cd43dd8448eb211c80319cu128),
            SpanId::from(0x17ad6b7169203331u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let _cx = Context::current().with_remote_span_context(other).attach();
        drop(
            tracer.span_builder("unrelated").with_attributes([KeyValue::new("k", 1)]).start(tracer),
        );
        step(1)
    }
    outer(&tracer);
    let spans = lf.finish();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let outer = by_name(&spans, "outer");
    assert_child(by_name(&spans, "step"), outer);
    let unrelated = by_name(&spans, "unrelated");
    assert_eq!(unrelated.trace_id_hex(), "2af7651916cd43dd8448eb211c80319c");
}

#[test]
fn with_the_interop_off_nothing_nests() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let tracer = tracer(&provider);
    langfuse_runtime::opentelemetry::set_context_interop(false);
    call_library_unchecked(&tracer);
    langfuse_runtime::opentelemetry::set_context_interop(true);
    let spans = lf.finish();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (outer, inner) =
        (by_name(&spans, "call_library_unchecked"), by_name(&spans, "library_call"));
    assert_eq!(inner.parent_id_hex(), None);
    assert_ne!(inner.trace_id_hex(), outer.trace_id_hex());
}

#[observe]
fn call_library_unchecked(tracer: &SdkTracer) {
    tracer.in_span("library_call", |_cx| {});
}

#[test]
fn an_otel_span_inside_an_entered_bridge_span_nests_under_its_observation() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let tracer = tracer(&provider);
    let subscriber = tracing_subscriber::registry().with(langfuse_runtime::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let chat = tracing::info_span!(
            target: "rig::completions",
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.request.model = "gpt-4o-mini",
        );
        chat.in_scope(|| tracer.in_span("http_post", |_cx| {}));
    });
    let spans = lf.finish();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let chat = by_name(&spans, "chat");
    assert_eq!(chat.str_attr("langfuse.observation.type"), Some("generation"));
    assert_child(by_name(&spans, "http_post"), chat);
}

#[observe]
fn in_destructor(n: u32) -> u32 {
    n + 1
}

struct CallsObservedOnDrop(std::sync::mpsc::Sender<u32>);

impl Drop for CallsObservedOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(in_destructor(41));
    }
}

thread_local! {
    static GUARD: std::cell::RefCell<Option<CallsObservedOnDrop>> =
        const { std::cell::RefCell::new(None) };
}

#[test]
fn an_observed_call_after_opentelemetry_was_torn_down_runs_and_returns() {
    let mut lf = Loopback::start(|b| b);
    let provider = provider();
    let tracer = tracer(&provider);
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Registered first, so destroyed last: after OpenTelemetry's thread-local, which this
        // thread touches next without any observation of ours (so ours is made only then).
        GUARD.with(|g| *g.borrow_mut() = Some(CallsObservedOnDrop(send)));
        tracer.in_span("before", |_cx| {});
    })
    .join()
    .expect("the thread ends normally, without aborting");
    assert_eq!(receive.recv().unwrap(), 42);
    let spans = lf.finish();
    assert_eq!(spans.iter().filter(|s| s.name() == "in_destructor").count(), 1, "{spans:#?}");
}

#[observe]
fn unsampled_caller(tracer: &SdkTracer) -> bool {
    tracer.in_span("inside_unsampled", |cx| cx.span().span_context().is_sampled())
}

#[test]
fn an_otel_span_inside_an_unsampled_observation_is_not_sampled_either() {
    let mut lf = Loopback::start(|b| b.sample_rate(0.0));
    let provider = provider();
    let tracer = tracer(&provider);
    assert!(!unsampled_caller(&tracer), "the provider's parent-based sampler follows our flag");
    let spans = lf.finish();
    assert!(spans.is_empty(), "{spans:#?}");
}
