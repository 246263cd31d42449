//! `langfuse.internal.is_app_root` (wire format §8.6): `true` (a bool) on exactly the spans
//! Python's processor marks — the top-most observation of the application in each trace,
//! including one continuing a trace through an explicit trace context — and absent elsewhere.

mod support;

use langfuse_runtime::{ObservationId, TraceContext, TraceId, event, observe, span};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use support::{Loopback, ReceivedSpan};

const KEY: &str = "langfuse.internal.is_app_root";

#[observe]
fn inner_step() -> u32 {
    1
}

#[observe]
fn outer_call() -> u32 {
    inner_step() + 1
}

/// The names of the spans carrying the attribute, checking its kind on the way: a bool `true`,
/// written once.
fn app_roots(spans: &[ReceivedSpan]) -> Vec<&str> {
    let mut names: Vec<&str> = spans
        .iter()
        .filter(|s| {
            let count = s.attr_count(KEY);
            assert!(count <= 1, "{} has {KEY} {count} times", s.name());
            if count == 1 {
                assert_eq!(s.attr(KEY).and_then(|v| v.value.clone()), Some(Value::BoolValue(true)));
            }
            count == 1
        })
        .map(ReceivedSpan::name)
        .collect();
    names.sort_unstable();
    names
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn the_outermost_observe_call_is_the_app_root_and_nested_calls_are_not() {
    let mut h = Loopback::start(|b| b);
    outer_call();
    let spans = h.finish();
    assert_eq!(spans.len(), 2);
    assert_eq!(app_roots(&spans), ["outer_call"]);
}

#[test]
fn manual_roots_are_marked_and_their_children_are_not() {
    let mut h = Loopback::start(|b| b);
    let root = span("root").start();
    root.run(|| {
        span("current_child").start().end();
        event("child_event").emit();
    });
    root.start_child("handle_child").start().end();
    drop(root);
    event("top_level_event").emit();
    let spans = h.finish();
    assert_eq!(spans.len(), 5);
    assert_eq!(app_roots(&spans), ["root", "top_level_event"]);
}

#[test]
fn a_child_started_after_its_parent_ended_is_still_a_child() {
    // The context still carries the parent (Python's baggage claim on the trace): not a root.
    let mut h = Loopback::start(|b| b);
    let root = span("root").start();
    let cx = root.context();
    root.end();
    cx.run(|| span("late_child").start().end());
    let spans = h.finish();
    assert_eq!(app_roots(&spans), ["root"]);
    assert_eq!(
        find(&spans, "late_child").parent_id_hex(),
        Some(find(&spans, "root").span_id_hex())
    );
}

#[test]
fn explicit_trace_contexts_mark_the_continuing_span_as_root_and_app_root() {
    let mut h = Loopback::start(|b| b);
    let trace_id: TraceId = "656f344917362c3f5f8cd92a351d471d".parse().unwrap();
    let parent: ObservationId = "000000000000beef".parse().unwrap();
    TraceContext::from_trace_id(trace_id, Some(parent)).run(|| {
        outer_call();
    });
    let continued = span("continued").parent(TraceContext::from_trace_id(trace_id, None)).start();
    continued.start_child("continued_child").start().end();
    drop(continued);
    let spans = h.finish();
    assert_eq!(spans.len(), 4);
    assert_eq!(app_roots(&spans), ["continued", "outer_call"]);
    for name in ["continued", "outer_call"] {
        let s = find(&spans, name);
        assert_eq!(s.trace_id_hex(), "656f344917362c3f5f8cd92a351d471d");
        assert_eq!(s.bool_attr("langfuse.internal.as_root"), Some(true));
    }
    assert_eq!(find(&spans, "outer_call").parent_id_hex().as_deref(), Some("000000000000beef"));
    for name in ["inner_step", "continued_child"] {
        assert_eq!(find(&spans, name).attr("langfuse.internal.as_root"), None);
    }
}
