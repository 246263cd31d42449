//! Events (wire format §7.5): zero-duration `event` observations at top level, under the
//! current observation, under a given handle that is not current (the 5.2.0 rule), and in an
//! explicit trace context.

mod support;

use langfuse_runtime::{Level, TraceContext, TraceId, current_observation, event, observe, span};
use serde_json::json;
use support::{Loopback, ReceivedSpan};

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

fn assert_event(s: &ReceivedSpan) {
    assert_eq!(s.str_attr("langfuse.observation.type"), Some("event"), "{}", s.name());
    assert_eq!(s.span.start_time_unix_nano, s.span.end_time_unix_nano, "{} lasts", s.name());
    assert!(s.span.start_time_unix_nano > 0);
}

#[observe]
fn handle_request() {
    event("inside_observe").emit();
}

#[test]
fn a_top_level_event_is_a_zero_duration_trace_root_with_its_fields() {
    let mut h = Loopback::start(|b| b);
    let emitted = event("boot")
        .input(&"config.toml")
        .output(&json!({"ok": true}))
        .metadata(&json!({"region": "eu"}))
        .version("7")
        .level(Level::Warning)
        .status_message("slow disk")
        .emit();
    // Events cannot be updated afterwards.
    emitted.set_output(&"late");
    let spans = h.finish();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_event(s);
    assert_eq!(s.parent_id_hex(), None);
    assert_eq!(s.bool_attr("langfuse.internal.is_app_root"), Some(true));
    assert_eq!(s.str_attr("langfuse.observation.input"), Some("config.toml"));
    assert_eq!(s.str_attr("langfuse.observation.output"), Some(r#"{"ok":true}"#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.region"), Some(r#""eu""#));
    assert_eq!(s.str_attr("langfuse.version"), Some("7"));
    assert_eq!(s.str_attr("langfuse.observation.level"), Some("WARNING"));
    assert_eq!(s.str_attr("langfuse.observation.status_message"), Some("slow disk"));
    assert_eq!(emitted.id().map(|id| id.to_string()), Some(s.span_id_hex()));
}

#[test]
fn events_go_under_the_current_observation() {
    let mut h = Loopback::start(|b| b);
    let root = span("root").start();
    root.run(|| {
        event("manual_current").emit();
        current_observation().event("via_current_handle").emit();
        handle_request();
    });
    drop(root);
    let spans = h.finish();
    assert_eq!(spans.len(), 5);
    let root_id = find(&spans, "root").span_id_hex();
    for name in ["manual_current", "via_current_handle"] {
        assert_event(find(&spans, name));
        assert_eq!(find(&spans, name).parent_id_hex(), Some(root_id.clone()), "{name}");
        assert_eq!(find(&spans, name).attr("langfuse.internal.is_app_root"), None);
    }
    let inside = find(&spans, "inside_observe");
    assert_eq!(inside.parent_id_hex(), Some(find(&spans, "handle_request").span_id_hex()));
}

#[test]
fn a_handle_s_event_goes_under_that_handle_not_the_current_one() {
    let mut h = Loopback::start(|b| b);
    let request = span("request").start();
    let retrieval = request.start_child("retrieval").start();
    retrieval.run(|| {
        request.event("on_request").input(&"cache miss").emit();
        event("on_current").emit();
    });
    drop(retrieval);
    drop(request);
    let spans = h.finish();
    let request_id = find(&spans, "request").span_id_hex();
    let retrieval_id = find(&spans, "retrieval").span_id_hex();
    let on_request = find(&spans, "on_request");
    assert_event(on_request);
    assert_eq!(on_request.parent_id_hex(), Some(request_id));
    assert_eq!(on_request.str_attr("langfuse.observation.input"), Some("cache miss"));
    assert_eq!(find(&spans, "on_current").parent_id_hex(), Some(retrieval_id));
}

#[test]
fn an_event_in_an_explicit_trace_context_is_marked_as_root() {
    let mut h = Loopback::start(|b| b);
    let trace_id = TraceId::from_seed("conformance-seed-1");
    event("webhook").parent(TraceContext::from_trace_id(trace_id, None)).emit();
    let spans = h.finish();
    let s = find(&spans, "webhook");
    assert_event(s);
    assert_eq!(s.trace_id_hex(), "656f344917362c3f5f8cd92a351d471d");
    assert_eq!(s.bool_attr("langfuse.internal.as_root"), Some(true));
    assert!(s.parent_id_hex().is_some(), "a synthetic parent id, as Python's");
}
