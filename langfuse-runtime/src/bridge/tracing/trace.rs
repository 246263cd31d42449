//! Trace-level span fields: the keys the Langfuse server lifts from any span to its trace
//! (wire format §3.1, §9.3), read from `tracing` fields as the OpenTelemetry processor reads
//! them from attributes, so `user.id` and `session.id` on a span set the trace's user and
//! session instead of landing in the observation's metadata.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use crate::record::{ObservationRecord, TraceAttributes};

/// Whether `key` is read here (and so is no metadata).
pub(super) fn is_trace_key(key: &str) -> bool {
    // Most fields are `gen_ai.*` or the app's own: one byte tells (J1: −300 instructions).
    if !matches!(key.as_bytes().first(), Some(b'u' | b's' | b'l')) {
        return false;
    }
    matches!(
        key,
        "user.id"
            | "session.id"
            | "langfuse.user.id"
            | "langfuse.session.id"
            | "langfuse.trace.name"
            | "langfuse.trace.tags"
            | "langfuse.tags"
            | "langfuse.trace.public"
            | "langfuse.public"
            | "langfuse.environment"
    ) || key.starts_with("langfuse.trace.metadata.")
}

/// What a span's fields say of its trace; `None` when nothing.
#[derive(Debug, Default)]
pub(crate) struct SpanTrace {
    /// Boxed: most spans have none, and the mapping's result is built and moved per span.
    attributes: Option<Box<TraceAttributes>>,
    public: bool,
}

impl SpanTrace {
    /// Reads the trace-level fields; for a key given twice (`user.id` and `langfuse.user.id`)
    /// the first recorded wins, as in the processor.
    pub(super) fn read<'a>(fields: impl Iterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut trace = SpanTrace::default();
        for (key, value) in fields {
            if !is_trace_key(key) {
                continue;
            }
            let text = || text(value);
            if matches!(key, "langfuse.trace.public" | "langfuse.public") {
                trace.public |=
                    matches!(value, Value::Bool(true)) || text().as_deref() == Some("true");
                continue;
            }
            let t = trace.attributes.get_or_insert_with(Box::default);
            match key {
                "langfuse.trace.name" => t.name = text(),
                "user.id" | "langfuse.user.id" => t.user_id = t.user_id.take().or_else(text),
                "session.id" | "langfuse.session.id" => {
                    t.session_id = t.session_id.take().or_else(text)
                }
                "langfuse.environment" => t.environment = text(),
                "langfuse.trace.tags" | "langfuse.tags" => t.tags = tags(value),
                _ => {
                    if let Some(k) = key.strip_prefix("langfuse.trace.metadata.") {
                        let json = match value {
                            Value::String(s) => serde_json::from_str::<Value>(s).map_or_else(
                                |_| crate::encode::json_str_text(s),
                                |v| crate::encode::json_text(&v),
                            ),
                            other => crate::encode::json_text(other),
                        };
                        t.metadata.insert(k, json);
                    }
                }
            }
        }
        trace
    }

    /// Sets them on the record, over what its context propagated (the span's own win).
    pub(super) fn write(&mut self, r: &mut ObservationRecord) {
        r.trace_public |= self.public;
        let Some(span) = self.attributes.take() else { return };
        let span = *span;
        let merged = match r.trace.as_deref() {
            None => span,
            Some(inherited) => {
                let mut merged = inherited.clone();
                merged.name = span.name.or(merged.name);
                merged.user_id = span.user_id.or(merged.user_id);
                merged.session_id = span.session_id.or(merged.session_id);
                merged.environment = span.environment.or(merged.environment);
                if !span.tags.is_empty() {
                    merged.tags = span.tags;
                }
                for (key, value) in span.metadata.iter() {
                    merged.metadata.insert(key, value.clone());
                }
                merged
            }
        };
        r.trace = Some(Arc::new(merged));
    }
}

/// A value as owned text: the mapping's reading of a field as text (empty and null are none).
fn text(v: &Value) -> Option<String> {
    super::fields::text(v).map(Cow::into_owned)
}

/// Tags as an array, a JSON array in a string, or a comma-separated string.
fn tags(v: &Value) -> Vec<String> {
    let from_array = |items: &[Value]| items.iter().filter_map(text).collect::<Vec<_>>();
    match v {
        Value::Array(items) => from_array(items),
        Value::String(s) => match serde_json::from_str::<Vec<Value>>(s) {
            Ok(items) => from_array(&items),
            Err(_) => {
                s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
            }
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trace_keys_become_trace_attributes_over_the_inherited_ones() {
        let fields = [
            ("user.id", json!("u-1")),
            ("langfuse.user.id", json!("ignored: user.id came first")),
            ("langfuse.session.id", json!("s-9")),
            ("langfuse.trace.tags", json!("[\"a\",\"b\"]")),
            ("langfuse.trace.metadata.tier", json!("gold")),
            ("langfuse.trace.metadata.limits", json!("{\"rpm\":60}")),
            ("langfuse.trace.public", json!(true)),
            ("query", json!("not a trace key")),
        ];
        let mut trace = SpanTrace::read(fields.iter().map(|(k, v)| (*k, v)));
        let mut record = ObservationRecord::new(
            crate::ids::TraceId::random(),
            crate::ids::ObservationId::random(),
            None,
            "span",
            crate::kind::ObservationType::Span,
            1,
        );
        let inherited = TraceAttributes {
            name: Some("checkout".into()),
            user_id: Some("propagated".into()),
            ..TraceAttributes::default()
        };
        record.trace = Some(Arc::new(inherited));
        trace.write(&mut record);
        let t = record.trace.as_deref().expect("trace attributes");
        assert_eq!(t.name.as_deref(), Some("checkout"));
        assert_eq!(t.user_id.as_deref(), Some("u-1"));
        assert_eq!(t.session_id.as_deref(), Some("s-9"));
        assert_eq!(t.tags, ["a", "b"]);
        assert_eq!(t.metadata.get("tier").map(|v| v.as_str()), Some("\"gold\""));
        assert_eq!(t.metadata.get("limits").map(|v| v.as_str()), Some("{\"rpm\":60}"));
        assert!(record.trace_public);
        assert!(!is_trace_key("query") && is_trace_key("langfuse.trace.metadata.x"));
    }
}
