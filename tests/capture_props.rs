//! Property tests of value capture: any `serde_json::Value` and any string, captured through
//! `#[observe]` and through `ObservationRef::set_input`, is exactly what serde_json writes,
//! except for the documented wire rules (capture/numbers.rs, wire format §3.5): a string
//! input or output is sent raw, integers beyond ±(2^53−1) become decimal strings, and NaN and
//! ±infinity become `"NaN"`, `"Infinity"`, `"-Infinity"` instead of `null`; and a top-level
//! `null` input or output is left out altogether (encode.rs).
//!
//! Case counts are bounded so the file stays quick in CI.

mod support;

use langfuse_runtime::{current_observation, observe};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::record;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// `value` with the wire rules applied, built independently of the SDK's serializer.
fn wire(value: &Value) -> Value {
    match value {
        Value::Number(n) => {
            let unsafe_int = n.as_u64().is_some_and(|u| u > MAX_SAFE)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() > MAX_SAFE);
            if unsafe_int { Value::String(n.to_string()) } else { value.clone() }
        }
        Value::Array(items) => Value::Array(items.iter().map(wire).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), wire(v))).collect::<Map<_, _>>())
        }
        other => other.clone(),
    }
}

/// A whole input or output as sent: a string raw, anything else as compact JSON.
fn wire_top(value: &Value) -> String {
    match wire(value) {
        Value::String(s) if value.is_string() => s,
        other => other.to_string(),
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Around the safe-integer edge, where the rule switches.
        (MAX_SAFE - 2..=MAX_SAFE + 2).prop_map(Value::from),
        (-(MAX_SAFE as i64) - 2..=-(MAX_SAFE as i64) + 2).prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[observe]
fn echo(value: Value) -> Value {
    value
}

#[observe]
fn echo_str(text: String) -> String {
    text
}

#[observe]
fn float(x: f64) -> f64 {
    x
}

#[observe(capture_input = false)]
fn set_by_hand(value: &Value) {
    current_observation().set_input(value);
}

#[observe(capture_input = false)]
fn set_str_by_hand(text: &str) {
    current_observation().set_input(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_json_value_through_observe_is_serde_json_output(value in any_json()) {
        let (returned, records) = record(|| echo(value.clone()));
        prop_assert_eq!(&returned, &value, "the value comes back unchanged");
        let r = records.one("echo");
        let input = wire(&json!({ "value": value })).to_string();
        prop_assert_eq!(r.input.as_deref(), Some(input.as_str()));
        let output = (!value.is_null()).then(|| wire_top(&value));
        prop_assert_eq!(r.output.as_deref(), output.as_deref());
    }

    #[test]
    fn any_json_value_through_set_input_is_serde_json_output(value in any_json()) {
        let ((), records) = record(|| set_by_hand(&value));
        // A top-level `null` is left out: nothing to show.
        let expected = (!value.is_null()).then(|| wire_top(&value));
        prop_assert_eq!(records.one("set_by_hand").input.as_deref(), expected.as_deref());
    }

    #[test]
    fn any_string_is_raw_at_the_top_and_serde_json_escaped_inside(text in any::<String>()) {
        let (returned, records) = record(|| echo_str(text.clone()));
        prop_assert_eq!(&returned, &text);
        let r = records.one("echo_str");
        let input = json!({ "text": text }).to_string();
        prop_assert_eq!(r.input.as_deref(), Some(input.as_str()));
        prop_assert_eq!(r.output.as_deref(), Some(text.as_str()));

        let ((), records) = record(|| set_str_by_hand(&text));
        prop_assert_eq!(records.one("set_str_by_hand").input.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn any_float_is_serde_json_output_or_a_named_string(x in prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]) {
        let (returned, records) = record(|| float(x));
        prop_assert!(returned.to_bits() == x.to_bits() || (x.is_nan() && returned.is_nan()));
        let named = |x: f64| if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        let (input, output) = if x.is_finite() {
            (json!({ "x": x }).to_string(), serde_json::to_string(&x).unwrap())
        } else {
            (json!({ "x": named(x) }).to_string(), format!("\"{}\"", named(x)))
        };
        let r = records.one("float");
        prop_assert_eq!(r.input.as_deref(), Some(input.as_str()));
        prop_assert_eq!(r.output.as_deref(), Some(output.as_str()));
    }
}
