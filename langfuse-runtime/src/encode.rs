//! Values to wire text for the manual API: raw strings, compact JSON, one-level metadata
//! flattening. Values are written by [`Json`], the encoder `#[observe]` uses, so both paths
//! send the same bytes for the same value (pinned by the tests below).

use serde::Serialize;

use crate::capture::Json;
use crate::diag;
use crate::payload::{JsonText, Payload};
use crate::record::Metadata;

/// Input/output encoding: `None` for JSON `null` (omitted on the wire), the raw text for a
/// string, compact JSON for anything else.
pub(crate) fn io_text<T: Serialize + ?Sized>(value: &T) -> Option<Payload> {
    let mut json = Json::output();
    let _ = json.write_serialize(value);
    json.into_io_text()
}

/// Compact JSON of any value; serialization failures become a JSON string placeholder.
pub(crate) fn json_text<T: Serialize + ?Sized>(value: &T) -> JsonText {
    let mut json = Json::new();
    let _ = json.write_serialize(value);
    json.into_json_text()
}

/// [`json_text`] of a string without the serde round trip (a bridged span's metadata values
/// are mostly short strings: serde's dispatch was ~300 instructions of row J1, callgrind), in
/// a recycled buffer ([`crate::recycle`]): the same escaping, and a string that even fully escaped stays within the field
/// budget is never cut, so the bytes are the same (pinned by a test below).
pub(crate) fn json_str_text(value: &str) -> JsonText {
    if value.len().saturating_mul(6).saturating_add(2) > crate::capture::field_budget() {
        return json_text(value);
    }
    let mut json = Json::new();
    json.write_str(value);
    json.into_json_text()
}

/// JSON text of a value that must be an object (usage, cost, model parameters), keys sorted.
pub(crate) fn json_object_text<T: Serialize + ?Sized>(what: &str, value: &T) -> Option<JsonText> {
    let mut json = Json::new();
    if let Err(e) = json.write_serialize(value) {
        diag::warn(format_args!("{what} could not be serialized ({}); ignored", e.0));
        return None;
    }
    match json.as_str().as_bytes() {
        // Keys sorted, as these objects have always been sent (pinned by the loopback tests):
        // the one place a value is re-read, and it is a handful of numbers.
        // Usage and model parameters usually come as a flat map that serializes in key order
        // already (a `BTreeMap`, `Usage`, the bridge's maps): sent as written, they skip the
        // parse and re-serialization below, which was ~40 % of a bridged span (row J1).
        [b'{', ..] if is_flat_and_sorted(json.as_str()) => Some(json.into_json_text()),
        [b'{', ..] => match serde_json::from_str::<serde_json::Value>(json.as_str()) {
            Ok(mut sorted) => {
                sort_keys(&mut sorted);
                Some(JsonText::from_encoded(sorted.to_string()))
            }
            Err(_) => Some(json.into_json_text()),
        },
        b"null" => None,
        _ => {
            diag::warn(format_args!(
                "{what} must be a JSON object, got `{}`; ignored",
                json.as_str()
            ));
            None
        }
    }
}

/// Whether a compact JSON object is already what [`sort_keys`] and re-serialization would make
/// of it: no member is an object or array, keys strictly increase, and there is no escape
/// anywhere (so the bytes cannot differ from serde_json's own writing of the same value).
fn is_flat_and_sorted(object: &str) -> bool {
    let bytes = object.as_bytes();
    if bytes.contains(&b'\\') {
        return false;
    }
    if bytes == b"{}" {
        return true;
    }
    let mut at = 1; // after `{`
    let mut previous: Option<&str> = None;
    loop {
        if bytes.get(at) != Some(&b'"') {
            return false;
        }
        let key_end = value_end(bytes, at);
        if key_end < at + 2 || bytes.get(key_end) != Some(&b':') {
            return false;
        }
        let key = &object[at + 1..key_end - 1];
        if previous.is_some_and(|p| p >= key) {
            return false;
        }
        previous = Some(key);
        let value_start = key_end + 1;
        if matches!(bytes.get(value_start), Some(b'{' | b'[') | None) {
            return false;
        }
        let end = value_end(bytes, value_start);
        match bytes.get(end) {
            Some(b',') => at = end + 1,
            Some(b'}') => return end + 1 == bytes.len(),
            _ => return false,
        }
    }
}

/// Puts the members of every object in `value`, at any depth, in key order.
///
/// What the SDK builds or re-reads as a `serde_json::Value` (usage, cost and model
/// parameters, masked values, bridged messages) is sent with sorted keys. Without this the
/// bytes would depend on serde_json's `preserve_order` feature, which any crate in the
/// application's dependency graph may turn on (genai does): with it a `Map` iterates in
/// insertion order, without it in key order. Inserting in key order gives key order both ways.
pub(crate) fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut members: Vec<_> = std::mem::take(map).into_iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (key, mut member) in members {
                sort_keys(&mut member);
                map.insert(key, member);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Metadata as Python writes it: an object is flattened one level into JSON-encoded values
/// (keys with `null` values skipped); anything else goes under the bare key.
pub(crate) fn merge_metadata<T: Serialize + ?Sized>(
    metadata: &mut Metadata,
    bare: &mut Option<JsonText>,
    value: &T,
) {
    let mut json = Json::new();
    let written = json.write_serialize(value);
    let text = json.as_str();
    if written.is_ok() && text.starts_with('{') {
        for (key, value) in members(text) {
            if value != "null" {
                metadata.insert(key, JsonText::from_encoded(value.to_owned()));
            }
        }
    } else if text != "null" {
        *bare = Some(json.into_json_text());
    }
}

/// The members of a compact JSON object as serde_json writes it: each key unescaped, each
/// value as its JSON text.
fn members(object: &str) -> impl Iterator<Item = (String, &str)> {
    let bytes = object.as_bytes();
    let mut at = 1; // after `{`
    std::iter::from_fn(move || {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = value_end(bytes, at);
        let key = serde_json::from_str::<String>(&object[at..key_end]).ok()?;
        let value_start = key_end + 1; // after `:`
        let end = value_end(bytes, value_start);
        at = end + 1; // after `,` (or past the closing `}`)
        Some((key, &object[value_start..end]))
    })
}

/// The end of the JSON value starting at `start`: a string, or everything up to the `,` or
/// closing bracket at its own nesting level.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return i,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::needless_borrow)]
    use super::*;

    use crate::capture::{CaptureSerialize as _, CaptureStr as _, Wrap};
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};

    #[test]
    fn a_string_is_written_as_the_serde_path_writes_it() {
        for s in ["openai", "", "a \"quoted\" \\ path", "tab\tnew\nline\u{1}", "ünïcödé ✓ 🦀"]
        {
            assert_eq!(json_str_text(s).as_str(), json_text(s).as_str(), "{s:?}");
        }
    }

    /// The fast path of `json_object_text` sends exactly what the parse-sort-write path would.
    #[test]
    fn flat_sorted_objects_are_sent_as_the_sorting_path_would_send_them() {
        let slow = |text: &str| {
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
            sort_keys(&mut v);
            v.to_string()
        };
        for (text, flat_sorted) in [
            ("{}", true),
            (r#"{"input":13,"output":9,"total":22}"#, true),
            (r#"{"a":1.5,"b":-2e+21,"c":null,"d":true,"e":"x y"}"#, true),
            (r#"{"b":1,"a":2}"#, false),
            (r#"{"a":1,"a":2}"#, false),
            (r#"{"a":{"z":1,"b":2}}"#, false),
            (r#"{"a":[{"z":1,"b":2}]}"#, false),
            (r#"{"a":"quote \" inside"}"#, false),
            (r#"{"é":1,"z":2}"#, false),
            (r#"{"z":1,"é":2}"#, true),
        ] {
            assert_eq!(is_flat_and_sorted(text), flat_sorted, "{text}");
            if flat_sorted {
                assert_eq!(text, slow(text), "the fast path would change {text}");
            }
        }
        // What the SDK's writer produces for numbers at their edges survives the round trip.
        let mut edges = BTreeMap::new();
        for (key, value) in [
            ("a", json!(0.1)),
            ("b", json!(1e21)),
            ("c", json!(-0.0)),
            ("d", json!(1.5e-7)),
            ("e", json!(u64::MAX)),
            ("f", json!(i64::MIN)),
            ("g", json!(f64::MAX)),
            ("h", json!("plain text")),
        ] {
            edges.insert(key, value);
        }
        let mut json = Json::new();
        json.write_serialize(&edges).unwrap();
        assert!(is_flat_and_sorted(json.as_str()), "{}", json.as_str());
        assert_eq!(json.as_str(), slow(json.as_str()));
    }

    /// Pins the macro's capture (`capture`) and the manual API to the same bytes for `value`,
    /// as a whole output, as a metadata value and as an argument in the input object.
    fn same_bytes<T: Serialize + ?Sized>(value: &T, capture: impl Fn(&mut Json), expected: &str) {
        let mut output = Json::output();
        capture(&mut output);
        assert_eq!(output.into_io_text(), io_text(value), "output of {expected}");
        let mut metadata = Json::new();
        capture(&mut metadata);
        let manual = json_text(value);
        assert_eq!(metadata.into_string(), manual, "value {expected}");
        assert_eq!(manual, expected);
        let mut input = Json::object();
        capture(input.member_key("\"a\":"));
        let input = input.finish_object();
        assert_eq!(input, format!("{{\"a\":{expected}}}"));
        serde_json::from_str::<serde_json::Value>(&input).expect("valid JSON");
    }

    macro_rules! table {
        ($($value:expr => $expected:expr),* $(,)?) => {$(
            same_bytes(&$value, |j| (&&&&Wrap(&$value)).__lf_capture(j), $expected);
        )*};
    }

    #[derive(Serialize)]
    struct Nested {
        z: u8,
        a: Vec<Option<&'static str>>,
        m: BTreeMap<&'static str, f64>,
    }

    struct Panics;
    impl Serialize for Panics {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("user bug")
        }
    }

    #[test]
    fn the_macro_and_the_manual_api_encode_every_value_alike() {
        let unserializable: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        table! {
            "plain" => r#""plain""#,
            "say \"hi\"\\ \n\t\u{1}\u{1f} ✓ 🦀" => r#""say \"hi\"\\ \n\t\u0001\u001f ✓ 🦀""#,
            String::from("owned\r") => r#""owned\r""#,
            String::new() => r#""""#,
            std::borrow::Cow::Borrowed("cow") => r#""cow""#,
            0 => "0",
            -17i64 => "-17",
            u64::MAX => r#""18446744073709551615""#,
            9_007_199_254_740_991u64 => "9007199254740991",
            -9_007_199_254_740_991i64 => "-9007199254740991",
            -9_007_199_254_740_992i64 => r#""-9007199254740992""#,
            i64::MIN => r#""-9223372036854775808""#,
            usize::MAX => r#""18446744073709551615""#,
            -1i8 => "-1",
            255u8 => "255",
            i32::MIN => "-2147483648",
            u32::MAX => "4294967295",
            false => "false",
            f64::NAN => r#""NaN""#,
            1.5f64 => "1.5",
            1e300f64 => "1e+300",
            true => "true",
            'c' => r#""c""#,
            () => "null",
            None::<u8> => "null",
            Some("x") => r#""x""#,
            vec![1, 2] => "[1,2]",
            // In key order: the literal's own order is kept only with serde_json's `preserve_order`.
            json!({"a": "x", "b": {"c": [1, null]}}) => r#"{"a":"x","b":{"c":[1,null]}}"#,
            Nested { z: 1, a: vec![None, Some("q")], m: [("k", 0.25)].into() }
                => r#"{"z":1,"a":[null,"q"],"m":{"k":0.25}}"#,
            unserializable => r#""<unserializable: key must be a string>""#,
            Panics => r#""<capture failed: panic in Serialize for langfuse_runtime::encode::tests::Panics>""#,
        }
    }

    #[test]
    fn io_strings_are_raw_and_null_is_omitted() {
        assert_eq!(io_text("Paris").as_deref(), Some("Paris"));
        assert_eq!(io_text("").as_deref(), Some(""));
        assert_eq!(io_text(&json!({"a": 1, "b": [1, 2]})).as_deref(), Some(r#"{"a":1,"b":[1,2]}"#));
        assert_eq!(io_text(&None::<u8>), None);
        assert_eq!(io_text(&Some(5)).as_deref(), Some("5"));
        assert_eq!(io_text("say \"hi\"").as_deref(), Some("say \"hi\""));
    }

    #[test]
    fn metadata_flattens_one_level_with_json_values() {
        let mut m = Metadata::default();
        let mut bare = None;
        merge_metadata(
            &mut m,
            &mut bare,
            &json!({"provider": "openai", "n": 1, "nested": {"a": [1]}, "gone": null, "u": "日本"}),
        );
        assert_eq!(m.get("provider").map(|v| v.as_str()), Some("\"openai\""));
        assert_eq!(m.get("n").map(|v| v.as_str()), Some("1"));
        assert_eq!(m.get("nested").map(|v| v.as_str()), Some(r#"{"a":[1]}"#));
        assert_eq!(m.get("gone").map(|v| v.as_str()), None);
        assert_eq!(m.get("u").map(|v| v.as_str()), Some("\"日本\""));
        merge_metadata(&mut m, &mut bare, &json!(["a", 1]));
        assert_eq!(bare.as_deref(), Some(r#"["a",1]"#));
    }

    #[test]
    fn metadata_members_are_split_at_their_own_level_only() {
        let tricky = json!({
            "s": "a,b}c]\\\"d\":{",
            "o": {"x": [1, {"y": "}"}], "e": {}},
            "n": null,
            "k\"ey": [],
            "last": -0.5,
        });
        let mut m = Metadata::default();
        let mut bare = None;
        merge_metadata(&mut m, &mut bare, &tricky);
        assert_eq!(bare, None);
        let expected: Vec<(String, String)> = tricky
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        for (k, v) in &expected {
            assert_eq!(m.get(k).map(|v| v.as_str()), Some(v.as_str()), "{k}");
        }
        assert_eq!(m.get("n").map(|v| v.as_str()), None);
        // A struct keeps its declaration order, as the macro path does.
        let mut m = Metadata::default();
        merge_metadata(&mut m, &mut bare, &Nested { z: 2, a: vec![], m: BTreeMap::new() });
        assert_eq!(
            (
                m.get("z").map(|v| v.as_str()),
                m.get("a").map(|v| v.as_str()),
                m.get("m").map(|v| v.as_str())
            ),
            (Some("2"), Some("[]"), Some("{}"))
        );
        merge_metadata(&mut m, &mut bare, &Panics);
        assert!(bare.unwrap().starts_with("\"<capture failed: panic in Serialize"));
    }

    /// The table of wire format §3.5: Python value → metadata attribute string.
    #[test]
    #[allow(clippy::approx_constant)] // 3.14159 is the table's value, not π
    fn values_match_the_python_serializer_table() {
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (json!("openai"), r#""openai""#),
            (json!("123"), r#""123""#),
            (json!(1), "1"),
            (json!(-7), "-7"),
            (json!(2.0), "2.0"),
            (json!(3.14159), "3.14159"),
            (json!(true), "true"),
            (json!(false), "false"),
            (
                json!([1, "two", 3.5, null, true, {"k": "v"}]),
                r#"[1,"two",3.5,null,true,{"k":"v"}]"#,
            ),
            (
                json!({"a": {"b": {"c": [1, 2, 3]}}, "empty": {}}),
                r#"{"a":{"b":{"c":[1,2,3]}},"empty":{}}"#,
            ),
            (json!([]), "[]"),
            (json!(""), r#""""#),
            (json!("héllo wörld — 日本語 🚀"), r#""héllo wörld — 日本語 🚀""#),
            (json!(1u64 << 60), r#""1152921504606846976""#),
        ];
        for (value, expected) in &cases {
            assert_eq!(json_text(value), *expected);
            let mut m = Metadata::default();
            merge_metadata(&mut m, &mut None, &json!({ "k": value }));
            assert_eq!(m.get("k").map(|v| v.as_str()), Some(*expected));
        }
        // Non-finite floats (not representable in `serde_json::Value`) and the ±(2^53−1) edges.
        assert_eq!(json_text(&f64::NAN), r#""NaN""#);
        assert_eq!(json_text(&f64::INFINITY), r#""Infinity""#);
        assert_eq!(json_text(&f32::NEG_INFINITY), r#""-Infinity""#);
        let max = (1i64 << 53) - 1;
        assert_eq!(json_text(&[max, -max]), "[9007199254740991,-9007199254740991]");
        assert_eq!(json_text(&[max + 1, -max - 1]), r#"["9007199254740992","-9007199254740992"]"#);
        assert_eq!(
            json_text(&(u128::MAX, 5i128)),
            r#"["340282366920938463463374607431768211455",5]"#
        );
        #[derive(Serialize)]
        struct Deep {
            id: u64,
            scores: BTreeMap<u64, Vec<Option<f64>>>,
            e: E,
        }
        #[derive(Serialize)]
        enum E {
            V { x: f32 },
        }
        let deep = Deep {
            id: u64::MAX,
            scores: [(u64::MAX, vec![Some(f64::NAN), None, Some(0.5)])].into(),
            e: E::V { x: f32::INFINITY },
        };
        assert_eq!(
            json_text(&deep),
            r#"{"id":"18446744073709551615","scores":{"18446744073709551615":["NaN",null,0.5]},"e":{"V":{"x":"Infinity"}}}"#
        );
        // As an input/output a converted number keeps its quotes (Python encodes it with
        // json.dumps); a real string is sent raw.
        assert_eq!(io_text(&(1u64 << 60)).as_deref(), Some(r#""1152921504606846976""#));
        assert_eq!(io_text(&Some(f64::NAN)).as_deref(), Some(r#""NaN""#));
        assert_eq!(io_text("123").as_deref(), Some("123"));
        assert_eq!(io_text(&[f64::NAN]).as_deref(), Some(r#"["NaN"]"#));
    }

    #[test]
    fn objects_only_for_usage() {
        assert_eq!(
            json_object_text("usage", &json!({"input": 3})).as_deref(),
            Some(r#"{"input":3}"#)
        );
        assert_eq!(json_object_text("usage", &json!(3)), None);
        // Built in another order (kept as built only with `preserve_order`): sent sorted.
        let mut usage = serde_json::Map::new();
        for (key, n) in [("total", 9), ("output", 4), ("input", 5)] {
            usage.insert(key.into(), n.into());
        }
        let nested = json!({"z": usage.clone(), "a": [usage.clone()]});
        assert_eq!(
            json_object_text("usage", &usage).as_deref(),
            Some(r#"{"input":5,"output":4,"total":9}"#)
        );
        assert_eq!(
            json_object_text("model parameters", &nested).as_deref(),
            Some(
                r#"{"a":[{"input":5,"output":4,"total":9}],"z":{"input":5,"output":4,"total":9}}"#
            )
        );
    }
}
