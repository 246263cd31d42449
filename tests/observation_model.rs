//! Every observation type, generation fields, levels, metadata and trace attributes, as decoded
//! by a real loopback OTLP/HTTP receiver: exact keys, value kinds, status, headers, resource.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use langfuse_runtime::{
    Config, ConfigBuilder, Level, ObservationType, Usage, generation, observation,
    propagate_attributes, span,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::json;
use support::{Loopback, OtlpReceiver, PUBLIC_KEY, ReceivedSpan, SECRET_KEY, expected_basic_auth};

fn harness(configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Loopback {
    Loopback::start(|b| {
        configure(b.environment("staging").release("v1.2.3").service_name("model-tests"))
    })
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn every_observation_type_is_written_with_its_wire_name() {
    let mut h = harness(|b| b);
    for t in ObservationType::ALL {
        observation(format!("obs_{t}"), t).start().end();
    }
    let spans = h.finish();
    assert_eq!(spans.len(), 10);
    for t in ObservationType::ALL {
        let s = find(&spans, &format!("obs_{t}"));
        assert_eq!(s.str_attr("langfuse.observation.type"), Some(t.as_str()));
        assert_eq!(s.span.kind, 1, "SPAN_KIND_INTERNAL");
        assert_eq!(s.parent_id_hex(), None);
        assert!(s.span.end_time_unix_nano >= s.span.start_time_unix_nano);
    }
    let event = find(&spans, "obs_event");
    assert_eq!(event.span.start_time_unix_nano, event.span.end_time_unix_nano);
}

#[test]
fn generation_fields_have_exact_encodings() {
    let mut h = harness(|b| b);
    let completion_start = UNIX_EPOCH + Duration::from_micros(1_735_787_045_678_000);
    let g = generation("chat_step")
        .model("gpt-4o")
        .input("What is Langfuse?")
        .model_parameters(&json!({"temperature": 0.2, "max_tokens": 128}))
        .prompt("faq", 3)
        .completion_start_time(completion_start)
        .start();
    g.set_output(&"Langfuse is an observability tool for LLMs")
        .set_usage_details(&Usage::new(15, 60))
        .set_cost_details(&json!({"input": 0.0015, "output": 0.0030}))
        .merge_metadata(
            &json!({"agent": "faq-bot", "n": 1, "nested": {"a": [1, 2]}, "skip": null}),
        );
    g.end();
    let spans = h.finish();
    let s = find(&spans, "chat_step");
    assert_eq!(s.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(s.str_attr("langfuse.observation.model.name"), Some("gpt-4o"));
    assert_eq!(s.str_attr("langfuse.observation.input"), Some("What is Langfuse?"));
    assert_eq!(
        s.str_attr("langfuse.observation.output"),
        Some("Langfuse is an observability tool for LLMs")
    );
    assert_eq!(
        s.str_attr("langfuse.observation.model.parameters"),
        Some(r#"{"max_tokens":128,"temperature":0.2}"#)
    );
    assert_eq!(
        s.str_attr("langfuse.observation.usage_details"),
        Some(r#"{"completion_tokens":60,"prompt_tokens":15,"total_tokens":75}"#)
    );
    assert_eq!(
        s.str_attr("langfuse.observation.cost_details"),
        Some(r#"{"input":0.0015,"output":0.003}"#)
    );
    assert_eq!(
        s.str_attr("langfuse.observation.completion_start_time"),
        Some("\"2025-01-02T03:04:05.678000Z\"")
    );
    assert_eq!(s.str_attr("langfuse.observation.prompt.name"), Some("faq"));
    // An OTLP int, not a string.
    assert_eq!(s.int_attr("langfuse.observation.prompt.version"), Some(3));
    assert_eq!(s.str_attr("langfuse.observation.metadata.agent"), Some("\"faq-bot\""));
    assert_eq!(s.str_attr("langfuse.observation.metadata.n"), Some("1"));
    assert_eq!(s.str_attr("langfuse.observation.metadata.nested"), Some(r#"{"a":[1,2]}"#));
    assert_eq!(s.attr("langfuse.observation.metadata.skip"), None);
    assert_eq!(s.str_attr("langfuse.environment"), Some("staging"));
    assert_eq!(s.str_attr("langfuse.release"), Some("v1.2.3"));
    for key in s.attr_keys() {
        assert_eq!(s.attr_count(key), 1, "{key} written twice");
    }
}

#[test]
fn error_level_sets_otel_status_and_other_levels_do_not() {
    let mut h = harness(|b| b);
    span("failed").start().set_error("ValueError: boom");
    span("warned").level(Level::Warning).status_message("slow").start().end();
    span("debugged").start().set_level(Level::Debug);
    let spans = h.finish();
    let failed = find(&spans, "failed");
    assert_eq!(failed.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(failed.str_attr("langfuse.observation.status_message"), Some("ValueError: boom"));
    let status = failed.span.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "ValueError: boom");
    let warned = find(&spans, "warned");
    assert_eq!(warned.str_attr("langfuse.observation.level"), Some("WARNING"));
    assert_eq!(warned.str_attr("langfuse.observation.status_message"), Some("slow"));
    assert!(warned.span.status.as_ref().is_none_or(|s| s.code == StatusCode::Unset as i32));
    assert_eq!(find(&spans, "debugged").str_attr("langfuse.observation.level"), Some("DEBUG"));
}

#[test]
fn updates_overwrite_in_place_and_metadata_accumulates() {
    let mut h = harness(|b| b);
    let s = span("db_query").metadata(&json!({"sql": "SELECT * FROM users"})).start();
    s.set_input(&json!({"q": 1})).set_input(&json!({"q": 2}));
    s.add_metadata("rows_returned", &42).set_version("7").set_name("db_query_renamed");
    let handle = s.handle();
    s.end();
    handle.set_output(&"after end is ignored");
    let spans = h.finish();
    let s = find(&spans, "db_query_renamed");
    assert_eq!(s.str_attr("langfuse.observation.input"), Some(r#"{"q":2}"#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.sql"), Some("\"SELECT * FROM users\""));
    assert_eq!(s.str_attr("langfuse.observation.metadata.rows_returned"), Some("42"));
    assert_eq!(s.str_attr("langfuse.version"), Some("7"));
    assert_eq!(s.attr("langfuse.observation.output"), None);
    assert_eq!(s.attr_count("langfuse.observation.input"), 1);
}

#[test]
fn trace_attributes_are_stamped_on_observations_in_scope() {
    let mut h = harness(|b| b);
    let root = span("request").start();
    root.run(|| {
        propagate_attributes()
            .user_id("user-1")
            .session_id("session-9")
            .trace_name("chat")
            .tags(["beta", "faq"])
            .metadata("tier", &"gold")
            .run(|| span("inside").start().end());
    });
    root.set_trace_public();
    root.end();
    span("outside").start().end();
    let spans = h.finish();
    for name in ["request", "inside"] {
        let s = find(&spans, name);
        assert_eq!(s.str_attr("user.id"), Some("user-1"), "{name}");
        assert_eq!(s.str_attr("session.id"), Some("session-9"));
        assert_eq!(s.str_attr("langfuse.trace.name"), Some("chat"));
        assert_eq!(s.str_array_attr("langfuse.trace.tags"), Some(vec!["beta", "faq"]));
        assert_eq!(s.str_attr("langfuse.trace.metadata.tier"), Some("\"gold\""));
    }
    assert_eq!(find(&spans, "request").bool_attr("langfuse.trace.public"), Some(true));
    assert_eq!(find(&spans, "outside").attr("user.id"), None);
}

#[test]
fn headers_resource_and_scope() {
    let mut h = harness(|b| b.header("x-team", "llm"));
    span("one").start().end();
    h.finish();
    let requests = h.receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, support::TRACES_PATH);
    assert_eq!(
        r.header("authorization"),
        Some(expected_basic_auth(PUBLIC_KEY, SECRET_KEY).as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("x-langfuse-sdk-name"), Some("rust"));
    assert_eq!(r.header("x-langfuse-sdk-version"), Some(langfuse_runtime::SDK_VERSION));
    assert_eq!(r.header("x-langfuse-public-key"), Some(PUBLIC_KEY));
    assert_eq!(r.header("x-langfuse-ingestion-version"), Some("4"));
    assert_eq!(r.header("x-team"), Some("llm"));
    let s = &r.spans()[0];
    assert_eq!(s.scope_name(), Some("langfuse-sdk"));
    assert_eq!(s.scope_version(), Some(langfuse_runtime::SDK_VERSION));
    assert_eq!(s.scope_attr("public_key"), Some(PUBLIC_KEY));
    assert_eq!(s.resource_attr("service.name"), Some("model-tests"));
    assert_eq!(s.resource_attr("telemetry.sdk.language"), Some("rust"));
    assert_eq!(s.resource_attr("langfuse.environment"), Some("staging"));
    assert_eq!(s.resource_attr("langfuse.release"), Some("v1.2.3"));
    let ty = s.attr("langfuse.observation.type").and_then(|v| v.value.as_ref());
    assert!(matches!(ty, Some(Value::StringValue(t)) if t == "span"));
}

#[test]
fn disabled_or_keyless_clients_export_nothing_and_code_still_runs() {
    let _serial = support::exclusive();
    let receiver = OtlpReceiver::start();
    let disabled = Config::builder()
        .env_source(|_| None)
        .public_key("pk")
        .secret_key("sk")
        .base_url(receiver.base_url())
        .tracing_enabled(false)
        .init()
        .unwrap();
    assert!(!disabled.is_recording());
    let obs = span("nothing").input(&"x").start();
    assert!(!obs.is_recording());
    assert_eq!(obs.run(|| 2 + 2), 4);
    drop(obs);
    assert!(disabled.flush().is_success());
    drop(disabled);
    let keyless = Config::builder().env_source(|_| None).init().unwrap();
    assert!(!keyless.is_recording());
    span("nothing_either").start().end();
    drop(keyless);
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn flush_works_inside_current_thread_and_multi_thread_runtimes() {
    let mut h = harness(|b| b);
    for flavor in ["current", "multi"] {
        let rt = match flavor {
            "current" => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            _ => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build(),
        }
        .unwrap();
        let langfuse = h.langfuse.as_ref().unwrap();
        rt.block_on(async {
            span(format!("in_{flavor}"))
                .start()
                .instrument(async { tokio::task::yield_now().await })
                .await;
            // Blocking flush from inside the runtime: export never needs this runtime.
            assert!(langfuse.flush().is_success());
        });
    }
    let spans = h.finish();
    find(&spans, "in_current");
    find(&spans, "in_multi");
}

#[tokio::test(flavor = "current_thread")]
async fn init_and_drop_inside_tokio_main_style_runtime() {
    let mut h = harness(|b| b);
    let root = span("async_root").start();
    root.instrument(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        span("async_child").start().end();
    })
    .await;
    let spans = h.finish();
    assert_eq!(
        find(&spans, "async_child").parent_id_hex(),
        Some(find(&spans, "async_root").span_id_hex())
    );
}

#[test]
fn pipeline_counts_exactly_what_a_partly_rejected_batch_lost() {
    let mut h = harness(|b| b.max_request_bytes(4_000).flush_at(10));
    // The first request of the split batch is rejected, the others accepted.
    h.receiver.script([support::Reply::status(400)]);
    for i in 0..10 {
        span(format!("big_{i}")).input(&"x".repeat(1_500)).start().end();
    }
    let langfuse = h.langfuse.take().unwrap();
    let report = langfuse.flush();
    // In time, and no success: part of the batch was refused.
    assert!(!report.deadline_hit && !report.is_success(), "{report}");
    let stats = langfuse.stats();
    drop(langfuse);
    let rejected = h.receiver.requests()[0].spans().len();
    assert!(rejected > 0 && rejected < 10, "{rejected}");
    assert_eq!(stats.failed, rejected as u64);
    assert_eq!(stats.exported, 10 - rejected as u64);
    let accepted: usize = h.receiver.requests()[1..].iter().map(|r| r.spans().len()).sum();
    assert_eq!(accepted, 10 - rejected);
}
