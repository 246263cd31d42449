//! A panic escaping a manual observation scope — `run`, an instrumented future, a guard
//! dropped while unwinding — is recorded as Python records an exception escaping a context
//! manager (level ERROR, OTel status ERROR `"panic: message"`, an `exception` span event), and
//! the panic continues unchanged. `#[observe]` keeps its decorator form.

mod support;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use langfuse_runtime::{observe, span};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use support::{Loopback, ReceivedSpan};

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

fn event_str<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    let value = event.attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match &value.value {
        Some(Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// The span recorded the escaping panic with `message`, raised in this file.
fn assert_escaped(s: &ReceivedSpan, message: &str) {
    let status = s.span.status.as_ref().expect("a status");
    let expected = format!("panic: {message}");
    assert_eq!((status.code, status.message.as_str()), (2, expected.as_str()), "{}", s.name());
    assert_eq!(s.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(s.str_attr("langfuse.observation.status_message"), Some(expected.as_str()));
    assert_eq!(s.span.events.len(), 1, "{}", s.name());
    let event = &s.span.events[0];
    assert_eq!(event.name, "exception");
    let keys: Vec<_> = event.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        ["exception.type", "exception.message", "exception.stacktrace", "exception.escaped"]
    );
    assert_eq!(event_str(event, "exception.type"), Some("panic"));
    assert_eq!(event_str(event, "exception.message"), Some(message));
    assert_eq!(event_str(event, "exception.escaped"), Some("False"));
    let trace = event_str(event, "exception.stacktrace").unwrap();
    assert!(trace.starts_with("panicked at tests/manual_errors.rs:"), "{trace}");
    assert!(trace.contains(&format!(":\n{message}")), "{trace}");
    assert!(event.time_unix_nano >= s.span.start_time_unix_nano);
    assert!(event.time_unix_nano <= s.span.end_time_unix_nano);
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a text payload")
}

#[test]
fn a_panic_escaping_run_is_recorded_and_continues_unchanged() {
    let mut h = Loopback::start(|b| b);
    let caught = catch_unwind(|| span("runner").run(|_| -> u32 { panic!("boom") }));
    assert_eq!(payload_text(&*caught.unwrap_err()), "boom");
    let formatted = catch_unwind(|| span("formatted").run(|_| panic!("code {}", 42)));
    assert_eq!(payload_text(&*formatted.unwrap_err()), "code 42");
    span("fine").run(|_| ());
    let spans = h.finish();
    assert_escaped(find(&spans, "runner"), "boom");
    assert_escaped(find(&spans, "formatted"), "code 42");
    let fine = find(&spans, "fine");
    assert!(fine.span.events.is_empty());
    assert_eq!(fine.span.status.as_ref().map(|s| s.code).unwrap_or(0), 0);
    assert_eq!(fine.attr("langfuse.observation.level"), None);
}

#[test]
fn a_panic_in_an_instrumented_future_is_recorded() {
    let mut h = Loopback::start(|b| b);
    let future = span("async_step").start().instrument(async {
        std::future::ready(()).await;
        panic!("async boom");
    });
    let caught = catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(future)));
    assert_eq!(payload_text(&*caught.unwrap_err()), "async boom");
    let spans = h.finish();
    assert_escaped(find(&spans, "async_step"), "async boom");
}

#[test]
fn a_guard_dropped_while_unwinding_records_the_panic() {
    let mut h = Loopback::start(|b| b);
    let caught = catch_unwind(|| {
        let outer = span("outer").start();
        outer.run(|| {
            let _guard = span("guard").start();
            panic!("guard boom");
        });
    });
    assert_eq!(payload_text(&*caught.unwrap_err()), "guard boom");
    let spans = h.finish();
    assert_eq!(spans.len(), 2);
    // The guard saw no payload: the message comes from the panic hook, as for `outer`.
    assert_escaped(find(&spans, "guard"), "guard boom");
    assert_escaped(find(&spans, "outer"), "guard boom");
    assert_eq!(find(&spans, "guard").parent_id_hex(), Some(find(&spans, "outer").span_id_hex()));
}

/// An error whose `Display` is empty, like Python's `KeyError()`.
#[derive(Debug)]
struct KeyError;

impl fmt::Display for KeyError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

#[observe]
fn lookup() -> Result<u32, KeyError> {
    Err(KeyError)
}

#[observe]
fn observed_panic() -> u32 {
    panic!("decorated boom")
}

#[test]
fn observe_keeps_its_decorator_form_with_short_type_names() {
    let mut h = Loopback::start(|b| b);
    assert!(lookup().is_err());
    assert!(catch_unwind(observed_panic).is_err());
    let spans = h.finish();
    // Python: update(level="ERROR", status_message=str(e) or type(e).__name__), no event.
    let failed = find(&spans, "lookup");
    assert_eq!(failed.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(failed.str_attr("langfuse.observation.status_message"), Some("KeyError"));
    let status = failed.span.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "KeyError"));
    assert!(failed.span.events.is_empty());
    let panicked = find(&spans, "observed_panic");
    assert_eq!(panicked.str_attr("langfuse.observation.status_message"), Some("decorated boom"));
    assert!(panicked.span.events.is_empty());
}
