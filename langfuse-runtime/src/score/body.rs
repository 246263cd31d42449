//! One score as the JSON object `POST /api/public/scores` takes (§7.2): camelCase keys in the
//! Python SDK's order, keys without a value left out, numbers as floats (`1.0`, not `1`).

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Draft, ScoreValue};

/// A score with everything the sender fills in decided.
pub(super) struct Resolved<'a> {
    pub(super) draft: &'a Draft,
    pub(super) id: &'a str,
    pub(super) environment: Option<&'a str>,
    pub(super) timestamp: SystemTime,
}

/// The score's JSON object, compact.
pub(super) fn encode(score: &Resolved<'_>) -> String {
    let d = score.draft;
    let mut out = String::with_capacity(192);
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        push_string(out, name);
        out.push(':');
    };
    let strings = [
        ("id", Some(score.id)),
        ("traceId", d.trace_id.as_deref()),
        ("sessionId", d.session_id.as_deref()),
        ("observationId", d.observation_id.as_deref()),
        ("datasetRunId", d.dataset_run_id.as_deref()),
        ("name", Some(&*d.name)),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            key(&mut out, name);
            push_string(&mut out, value);
        }
    }
    match &d.value {
        Some(ScoreValue::Number(n)) => {
            key(&mut out, "value");
            push_float(&mut out, *n);
        }
        Some(ScoreValue::String(s)) => {
            key(&mut out, "value");
            push_string(&mut out, s);
        }
        None => {}
    }
    let timestamp = rfc3339_micros(score.timestamp);
    let rest = [
        ("comment", d.comment.as_deref()),
        ("environment", score.environment),
        ("dataType", d.data_type.map(|t| t.as_str())),
        ("configId", d.config_id.as_deref()),
        ("timestamp", Some(timestamp.as_str())),
    ];
    for (name, value) in rest {
        if let Some(value) = value {
            key(&mut out, name);
            push_string(&mut out, value);
        }
    }
    if let Some(metadata) = &d.metadata {
        key(&mut out, "metadata");
        out.push_str(metadata);
    }
    out.push('}');
    out
}

fn push_string(out: &mut String, s: &str) {
    // Writing a `&str` into JSON cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// A float as Python's `json.dumps` writes one: always with a fraction or exponent.
fn push_float(out: &mut String, n: f64) {
    // Validation let only finite numbers through; serde_json writes `1.0` for one.
    out.push_str(&serde_json::to_string(&n).unwrap_or_else(|_| "null".into()));
}

/// `2025-01-02T03:04:05.067254Z` (no fraction when the microseconds are zero, as Python's
/// `isoformat()`); times before 1970 are sent as the epoch.
fn rfc3339_micros(at: SystemTime) -> String {
    let nanos = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    crate::clock::rfc3339_micros(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::score::ScoreDataType;

    fn at_micros(micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(micros)
    }

    #[test]
    fn matches_the_python_sdk_example() {
        // §7.2's example, key for key.
        let draft = Draft {
            name: "is_correct".into(),
            value: Some(ScoreValue::Number(1.0)),
            data_type: Some(ScoreDataType::Boolean),
            trace_id: Some("f2577665c7b1114cb1af1c8c790d27c5".into()),
            observation_id: Some("334708060649f12c".into()),
            ..Draft::default()
        };
        let json = encode(&Resolved {
            draft: &draft,
            id: "839ba7071550ec28",
            environment: None,
            timestamp: at_micros(1_735_787_045_067_631),
        });
        assert_eq!(
            json,
            r#"{"id":"839ba7071550ec28","traceId":"f2577665c7b1114cb1af1c8c790d27c5","observationId":"334708060649f12c","name":"is_correct","value":1.0,"dataType":"BOOLEAN","timestamp":"2025-01-02T03:04:05.067631Z"}"#
        );
    }

    #[test]
    fn every_field_in_order_with_escaping() {
        let draft = Draft {
            name: "say \"hi\"".into(),
            value: Some(ScoreValue::String("good\n".into())),
            data_type: Some(ScoreDataType::Categorical),
            session_id: Some("s-1".into()),
            dataset_run_id: Some("run-1".into()),
            comment: Some("ünï".into()),
            metadata: Some(r#"{"judge":"gpt-4o","n":9007199254740993}"#.into()),
            config_id: Some("cfg".into()),
            ..Draft::default()
        };
        let json = encode(&Resolved {
            draft: &draft,
            id: "x",
            environment: Some("production"),
            timestamp: at_micros(1_735_787_045_000_000),
        });
        assert_eq!(
            json,
            r#"{"id":"x","sessionId":"s-1","datasetRunId":"run-1","name":"say \"hi\"","value":"good\n","comment":"ünï","environment":"production","dataType":"CATEGORICAL","configId":"cfg","timestamp":"2025-01-02T03:04:05Z","metadata":{"judge":"gpt-4o","n":9007199254740993}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["value"], "good\n");
    }

    #[test]
    fn numbers_are_floats() {
        for (n, text) in [(0.8, "0.8"), (4.0, "4.0"), (0.0, "0.0"), (-2.5, "-2.5")] {
            let mut out = String::new();
            push_float(&mut out, n);
            assert_eq!(out, text);
        }
    }
}
