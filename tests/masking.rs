//! The masking hook (wire format §8.4): applied to input, output and metadata of `#[observe]`
//! calls and manual observations before anything is sent, with Python's fallback text when
//! the hook panics, and not at all once a client without a hook replaces it.

mod support;

use langfuse_runtime::{ConfigBuilder, observe, span};
use serde_json::{Value, json};
use support::{Loopback, ReceivedSpan};

const FALLBACK: &str = "<fully masked due to failed mask function>";

/// Emails become `<email>`, `password` members `***`, anywhere in the value.
fn redact(value: &Value) -> Value {
    match value {
        Value::String(s) if s.contains('@') => Value::String("<email>".into()),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "password" { json!("***") } else { redact(v) };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn masked(b: ConfigBuilder) -> ConfigBuilder {
    b.mask(redact)
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

#[observe]
fn login(email: &str, password: &str) -> String {
    let _ = password;
    format!("welcome {email}")
}

#[observe]
fn count(n: u32) -> u32 {
    n
}

#[test]
fn observe_calls_are_masked_before_they_are_sent() {
    let mut h = Loopback::start(masked);
    login("ada@example.com", "hunter2");
    count(3);
    let spans = h.finish();
    let s = find(&spans, "login");
    assert_eq!(
        s.str_attr("langfuse.observation.input"),
        Some(r#"{"email":"<email>","password":"***"}"#)
    );
    assert_eq!(s.str_attr("langfuse.observation.output"), Some("<email>"));
    // Values the hook leaves alone are sent exactly as without it.
    let c = find(&spans, "count");
    assert_eq!(c.str_attr("langfuse.observation.input"), Some(r#"{"n":3}"#));
    assert_eq!(c.str_attr("langfuse.observation.output"), Some("3"));
}

#[test]
fn manual_observations_are_masked_before_they_are_sent() {
    let mut h = Loopback::start(masked);
    let obs = span("signup")
        .input(&json!({"email": "ada@example.com", "plan": "pro"}))
        .metadata(&json!({"password": "hunter2", "source": "web", "contact": "b@c.io"}))
        .start();
    obs.set_output(&"mail sent to ada@example.com").add_metadata("cc", &"d@e.org");
    obs.add_metadata("attempt", &2);
    obs.end();
    let spans = h.finish();
    let s = find(&spans, "signup");
    assert_eq!(
        s.str_attr("langfuse.observation.input"),
        Some(r#"{"email":"<email>","plan":"pro"}"#)
    );
    assert_eq!(s.str_attr("langfuse.observation.output"), Some("<email>"));
    assert_eq!(s.str_attr("langfuse.observation.metadata.password"), Some(r#""***""#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.source"), Some(r#""web""#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.contact"), Some(r#""<email>""#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.cc"), Some(r#""<email>""#));
    assert_eq!(s.str_attr("langfuse.observation.metadata.attempt"), Some("2"));
}

#[test]
fn a_panicking_hook_sends_the_fallback_text() {
    let mut h = Loopback::start(|b| b.mask(|_: &Value| -> Value { panic!("mask bug") }));
    login("ada@example.com", "hunter2");
    span("manual")
        .input(&"secret")
        .metadata(&json!({"a": 1, "b": "x"}))
        .start()
        .set_output(&json!({"k": "v"}))
        .add_metadata("c", &"y");
    span("listed").metadata(&json!([1, 2])).start().end();
    let spans = h.finish();
    let quoted = format!("\"{FALLBACK}\"");
    let s = find(&spans, "login");
    assert_eq!(s.str_attr("langfuse.observation.input"), Some(FALLBACK));
    assert_eq!(s.str_attr("langfuse.observation.output"), Some(FALLBACK));
    let m = find(&spans, "manual");
    assert_eq!(m.str_attr("langfuse.observation.input"), Some(FALLBACK));
    assert_eq!(m.str_attr("langfuse.observation.output"), Some(FALLBACK));
    // Python: a non-empty metadata dict keeps its keys, each with the fallback.
    for key in ["a", "b", "c"] {
        let attr = format!("langfuse.observation.metadata.{key}");
        assert_eq!(m.str_attr(&attr), Some(quoted.as_str()), "{key}");
    }
    let l = find(&spans, "listed");
    assert_eq!(l.str_attr("langfuse.observation.metadata"), Some(quoted.as_str()));
}

#[test]
fn a_client_without_a_hook_sends_values_unmasked() {
    drop(Loopback::start(masked).finish());
    let mut h = Loopback::start(|b| b);
    login("ada@example.com", "hunter2");
    let spans = h.finish();
    let s = find(&spans, "login");
    assert_eq!(
        s.str_attr("langfuse.observation.input"),
        Some(r#"{"email":"ada@example.com","password":"hunter2"}"#)
    );
    assert_eq!(s.str_attr("langfuse.observation.output"), Some("welcome ada@example.com"));
}

/// Wraps every string in `[…]`: applying it twice would show `[[…]]`.
fn bracket(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(format!("[{s}]")),
        Value::Array(items) => Value::Array(items.iter().map(bracket).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), bracket(v))).collect())
        }
        other => other.clone(),
    }
}

#[observe(metadata(source = "batch", user = email))]
fn tagged(email: &str) -> u32 {
    let _ = email;
    1
}

#[test]
fn each_value_passes_the_hook_exactly_once() {
    let mut h = Loopback::start(|b| b.mask(bracket));
    tagged("ada@example.com");
    span("manual")
        .input(&"in")
        .metadata(&json!({"a": "x"}))
        .start()
        .set_output(&json!(["o"]))
        .add_metadata("b", &"y");
    let spans = h.finish();
    let t = find(&spans, "tagged");
    assert_eq!(t.str_attr("langfuse.observation.input"), Some(r#"{"email":"[ada@example.com]"}"#));
    assert_eq!(t.str_attr("langfuse.observation.metadata.source"), Some(r#""[batch]""#));
    assert_eq!(t.str_attr("langfuse.observation.metadata.user"), Some(r#""[ada@example.com]""#));
    assert_eq!(t.str_attr("langfuse.observation.output"), Some("1"));
    let m = find(&spans, "manual");
    assert_eq!(m.str_attr("langfuse.observation.input"), Some("[in]"));
    assert_eq!(m.str_attr("langfuse.observation.output"), Some(r#"["[o]"]"#));
    assert_eq!(m.str_attr("langfuse.observation.metadata.a"), Some(r#""[x]""#));
    assert_eq!(m.str_attr("langfuse.observation.metadata.b"), Some(r#""[y]""#));
}
