//! `#[observe]` on sync functions: input, output, errors, panics, nesting.

mod support;

use langfuse_runtime::{Level, ObservationType, observe};
use serde::Serialize;
use support::{assert_child, record, record_with, without_client};

#[observe]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[test]
fn input_is_an_object_keyed_by_parameter_and_output_is_the_value() {
    let (sum, records) = record(|| add(2, 3));
    assert_eq!(sum, 5);
    let r = records.one("add");
    assert_eq!(r.input.as_deref(), Some(r#"{"a":2,"b":3}"#));
    assert_eq!(r.output.as_deref(), Some("5"));
    assert_eq!(r.observation_type, ObservationType::Span);
    assert_eq!(r.level, None);
    assert_eq!(r.parent_id, None);
    assert_eq!(records.len(), 1);
}

#[observe]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

#[observe]
fn shout(text: &str) -> &str {
    text
}

#[observe]
fn nothing(_x: u8) {}

#[observe]
fn maybe(x: u8) -> Option<u8> {
    (x > 0).then_some(x)
}

#[derive(Debug)]
#[allow(dead_code)]
struct DebugOnly {
    id: u32,
}

struct Opaque;

#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

#[observe]
fn mixed(point: Point, dbg: DebugOnly, opaque: Opaque, tag: &str) -> DebugOnly {
    let _ = (point, opaque, tag);
    dbg
}

#[test]
fn strings_are_raw_unit_and_none_are_omitted() {
    let (_, records) = record(|| {
        greet("ann");
        shout("hey");
        nothing(1);
        maybe(0);
        maybe(7);
    });
    let greet = records.one("greet");
    assert_eq!(greet.input.as_deref(), Some(r#"{"name":"ann"}"#));
    assert_eq!(greet.output.as_deref(), Some("hello ann"));
    assert_eq!(records.one("shout").output.as_deref(), Some("hey"));
    assert_eq!(records.one("nothing").input.as_deref(), Some(r#"{"_x":1}"#));
    assert_eq!(records.one("nothing").output, None);
    let maybes = records.all("maybe");
    assert_eq!(maybes[0].output, None);
    assert_eq!(maybes[1].output.as_deref(), Some("7"));
}

#[observe]
fn complete(prompt: &str, system: String) -> String {
    format!("{system}\n> {prompt}\n\"ok\"\t✓")
}

#[test]
fn string_arguments_are_escaped_and_a_string_output_is_sent_as_it_is() {
    let prompt = "say \"hi\"\n\\ then \u{1} stop ✓";
    let (out, records) = record(|| complete(prompt, "be brief".to_owned()));
    let r = records.one("complete");
    let expected_input = serde_json::json!({"prompt": prompt, "system": "be brief"}).to_string();
    assert_eq!(r.input.as_deref(), Some(expected_input.as_str()));
    assert_eq!(r.output.as_deref(), Some(out.as_str()));
}

#[test]
fn serialize_then_debug_then_type_name() {
    let (_, records) = record(|| mixed(Point { x: 1, y: 2 }, DebugOnly { id: 9 }, Opaque, "t"));
    let r = records.one("mixed");
    assert_eq!(
        r.input.as_deref(),
        Some(
            r#"{"point":{"x":1,"y":2},"dbg":"DebugOnly { id: 9 }","opaque":"<observe_sync::Opaque>","tag":"t"}"#
        )
    );
    assert_eq!(r.output.as_deref(), Some("DebugOnly { id: 9 }"));
}

#[derive(Debug)]
struct MyError(&'static str);
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "my error: {}", self.0)
    }
}
impl std::error::Error for MyError {}

#[observe]
fn parse(text: &str) -> Result<i32, Box<dyn std::error::Error>> {
    if text.is_empty() {
        return Err(Box::new(MyError("empty")));
    }
    let n: i32 = text.parse()?;
    Ok(n * 2)
}

#[observe]
fn io_result(fail: bool) -> std::io::Result<()> {
    if fail { Err(std::io::Error::other("disk full")) } else { Ok(()) }
}

#[test]
fn ok_is_the_output_and_err_is_an_error_through_question_mark_and_return() {
    let (_, records) = record(|| {
        assert_eq!(parse("21").unwrap(), 42);
        assert!(parse("").is_err());
        assert!(parse("x").is_err());
        io_result(false).unwrap();
        io_result(true).unwrap_err();
    });
    let parses = records.all("parse");
    assert_eq!(parses[0].output.as_deref(), Some("42"));
    assert_eq!(parses[0].level, None);
    assert_eq!(parses[1].level, Some(Level::Error));
    assert_eq!(parses[1].status_message(), Some("my error: empty"));
    assert_eq!(parses[1].output, None);
    assert!(parses[1].is_error());
    assert_eq!(parses[2].level, Some(Level::Error));
    assert_eq!(parses[2].status_message(), Some("invalid digit found in string"));
    let ios = records.all("io_result");
    assert_eq!(ios[0].output, None);
    assert_eq!(ios[0].level, None);
    assert_eq!(ios[1].status_message(), Some("disk full"));
}

#[observe]
fn early(x: i32) -> i32 {
    if x < 0 {
        return 0;
    }
    x * 10
}

#[test]
fn early_return_is_recorded() {
    let (_, records) = record(|| (early(-1), early(2)));
    let all = records.all("early");
    assert_eq!(all[0].output.as_deref(), Some("0"));
    assert_eq!(all[1].output.as_deref(), Some("20"));
}

#[observe]
fn explode(code: u8) -> u8 {
    if code > 0 {
        panic!("boom {code}");
    }
    code
}

#[test]
fn a_panic_ends_the_observation_with_error_and_keeps_unwinding() {
    let (caught, records) = record(|| std::panic::catch_unwind(|| explode(3)));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("boom 3"));
    let r = records.one("explode");
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.status_message(), Some("boom 3"));
    assert_eq!(r.output, None);
    assert_eq!(r.input.as_deref(), Some(r#"{"code":3}"#));
}

#[observe]
fn leaf(n: u32) -> u32 {
    n + 1
}

#[observe(name = "middle-step", as_type = "chain")]
fn middle(n: u32) -> u32 {
    leaf(n) + leaf(n + 1)
}

#[observe(as_type = "agent")]
fn root() -> u32 {
    middle(1)
}

#[test]
fn nested_calls_are_children_in_one_trace() {
    let (v, records) = record(root);
    assert_eq!(v, 5);
    let root = records.one("root");
    let middle = records.one("middle-step");
    let leaves = records.all("leaf");
    assert_eq!(root.observation_type, ObservationType::Agent);
    assert_eq!(middle.observation_type, ObservationType::Chain);
    assert_eq!(root.parent_id, None);
    assert_eq!(root.input.as_deref(), Some("{}"));
    assert_child(middle, root);
    assert_eq!(leaves.len(), 2);
    for leaf in leaves {
        assert_child(leaf, middle);
    }
    assert_eq!(records.all("leaf")[1].input.as_deref(), Some(r#"{"n":2}"#));
}

#[test]
fn sequential_roots_are_separate_traces() {
    let (_, records) = record(|| (leaf(1), leaf(2)));
    let leaves = records.all("leaf");
    assert_ne!(leaves[0].trace_id, leaves[1].trace_id);
    assert_eq!(leaves[0].parent_id, None);
}

#[observe(skip(secret), metadata(source = "test", count = n * 2), level = "warning", version = "1.2.3")]
fn configured(n: u32, secret: &str) -> u32 {
    let _ = secret;
    n
}

#[observe(skip_all, capture_output = false)]
fn private(n: u32) -> u32 {
    n
}

#[observe(capture_input = true, capture_output = true)]
fn forced(n: u32) -> u32 {
    n
}

#[test]
fn skip_metadata_level_version_and_capture_flags() {
    let (_, records) = record(|| (configured(4, "hunter2"), private(1)));
    let c = records.one("configured");
    assert_eq!(c.input.as_deref(), Some(r#"{"n":4}"#));
    assert_eq!(c.metadata().get("source").map(|v| v.as_str()), Some(r#""test""#));
    assert_eq!(c.metadata().get("count").map(|v| v.as_str()), Some("8"));
    assert_eq!(c.level, Some(Level::Warning));
    assert_eq!(c.version(), Some("1.2.3"));
    let p = records.one("private");
    assert_eq!(p.input.as_deref(), Some("{}"));
    assert_eq!(p.output, None);
}

#[test]
fn the_io_capture_switch_is_the_default_and_explicit_flags_win() {
    let (_, records) = record_with(|b| b.io_capture_enabled(false), || (add(1, 2), forced(3)));
    let add = records.one("add");
    assert_eq!(add.input, None);
    assert_eq!(add.output, None);
    let forced = records.one("forced");
    assert_eq!(forced.input.as_deref(), Some(r#"{"n":3}"#));
    assert_eq!(forced.output.as_deref(), Some("3"));
}

#[test]
fn errors_are_recorded_even_when_output_capture_is_off() {
    let (_, records) = record_with(|b| b.io_capture_enabled(false), || parse("").is_err());
    let r = records.one("parse");
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.status_message(), Some("my error: empty"));
}

#[test]
fn unsampled_traces_record_nothing_and_nested_calls_skip() {
    let (v, records) = record_with(|b| b.sample_rate(0.0), root);
    assert_eq!(v, 5);
    assert_eq!(records.len(), 0);
}

#[test]
fn without_a_client_functions_just_run() {
    assert_eq!(without_client(|| (add(2, 2), root())), (4, 5));
    assert!(without_client(|| std::panic::catch_unwind(|| explode(1))).is_err());
}

/// Counts how often it is serialized or formatted.
struct Counted;
static SERIALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
impl Serialize for Counted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        s.serialize_str("counted")
    }
}

#[observe(metadata(m = Counted))]
fn counted(c: Counted) -> Counted {
    c
}

#[test]
fn nothing_is_serialized_unless_the_call_is_recorded_with_capture_on() {
    use std::sync::atomic::Ordering::SeqCst;
    SERIALIZED.store(0, SeqCst);
    without_client(|| counted(Counted));
    record_with(|b| b.sample_rate(0.0), || counted(Counted));
    assert_eq!(SERIALIZED.load(SeqCst), 0, "disabled or unsampled");
    let (_, records) = record_with(|b| b.io_capture_enabled(false), || counted(Counted));
    assert_eq!(SERIALIZED.load(SeqCst), 1, "only the metadata when IO capture is off");
    assert_eq!(
        records.one("counted").metadata().get("m").map(|v| v.as_str()),
        Some(r#""counted""#)
    );
    let (_, records) = record(|| counted(Counted));
    assert_eq!(SERIALIZED.load(SeqCst), 4);
    let r = records.one("counted");
    assert_eq!(r.input.as_deref(), Some(r#"{"c":"counted"}"#));
    assert_eq!(r.output.as_deref(), Some("counted"));
}
