//! Values to wire text: raw strings, compact JSON, one-level metadata flattening.

use serde::Serialize;

use crate::diag;
use crate::record::Metadata;

/// Input/output encoding: `None` for JSON `null` (omitted on the wire), the raw text for a
/// string, compact JSON for anything else.
pub(crate) fn io_text<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    match serde_json::to_string(value) {
        Ok(json) => raw_if_string(json),
        Err(e) => Some(unserializable(e)),
    }
}

/// Turns an already JSON-encoded value into its wire text (strings unquoted, `null` omitted).
pub(crate) fn raw_if_string(json: String) -> Option<String> {
    if json == "null" {
        None
    } else if json.starts_with('"') {
        Some(serde_json::from_str::<String>(&json).unwrap_or(json))
    } else {
        Some(json)
    }
}

/// Compact JSON of any value; serialization failures become a readable marker.
pub(crate) fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(unserializable)
}

/// JSON text of a value that must be an object (usage, cost, model parameters).
pub(crate) fn json_object_text<T: Serialize + ?Sized>(what: &str, value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
        Ok(serde_json::Value::Null) => None,
        Ok(other) => {
            diag::warn(format_args!("{what} must be a JSON object, got `{other}`; ignored"));
            None
        }
        Err(e) => {
            diag::warn(format_args!("{what} could not be serialized ({e}); ignored"));
            None
        }
    }
}

/// Metadata as Python writes it: an object is flattened one level into JSON-encoded values
/// (keys with `null` values skipped); anything else goes under the bare key.
pub(crate) fn merge_metadata<T: Serialize + ?Sized>(
    metadata: &mut Metadata,
    bare: &mut Option<String>,
    value: &T,
) {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => {
            for (k, v) in map {
                if !v.is_null() {
                    metadata.insert(k, v.to_string());
                }
            }
        }
        Ok(serde_json::Value::Null) => {}
        Ok(other) => *bare = Some(other.to_string()),
        Err(e) => *bare = Some(json_text(&unserializable(e))),
    }
}

fn unserializable(e: serde_json::Error) -> String {
    format!("<unserializable: {e}>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(m.get("provider"), Some("\"openai\""));
        assert_eq!(m.get("n"), Some("1"));
        assert_eq!(m.get("nested"), Some(r#"{"a":[1]}"#));
        assert_eq!(m.get("gone"), None);
        assert_eq!(m.get("u"), Some("\"日本\""));
        merge_metadata(&mut m, &mut bare, &json!(["a", 1]));
        assert_eq!(bare.as_deref(), Some(r#"["a",1]"#));
    }

    #[test]
    fn objects_only_for_usage() {
        assert_eq!(
            json_object_text("usage", &json!({"input": 3})).as_deref(),
            Some(r#"{"input":3}"#)
        );
        assert_eq!(json_object_text("usage", &json!(3)), None);
    }
}
