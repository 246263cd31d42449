//! The user's masking hook (Python's `mask=`): called synchronously on the value of every
//! input, output and metadata an observation records, before it is encoded, so what it
//! removes never leaves the process.
//!
//! Value-level, like Python's (`mask(data=value)`), not text-level like JS's: a hook can then
//! redact by key without parsing. The manual API hands it the value as given (via
//! `serde_json::to_value`); `#[observe]` captures straight to JSON text, so there the text is
//! read back into a value first — only when a hook is set. Without one every call site pays
//! one relaxed load and a branch.
//!
//! Process-wide, like the field budget: the client being created installs its hook (or
//! removes the previous client's).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use serde_json::Value;

use crate::diag;
use crate::encode;
use crate::payload::{JsonText, Payload};
use crate::record::Metadata;

/// What a value becomes when the hook panics (Python's text, for every SDK's users to grep).
pub(crate) const FALLBACK: &str = "<fully masked due to failed mask function>";

/// A masking function given to [`ConfigBuilder::mask`](crate::ConfigBuilder::mask).
#[derive(Clone)]
pub(crate) struct Mask(pub(crate) Arc<dyn Fn(&Value) -> Value + Send + Sync>);

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mask")
    }
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static MASK: RwLock<Option<Mask>> = RwLock::new(None);

/// Installs the hook of the client being created; `None` removes an earlier one.
pub(crate) fn install(mask: Option<&Mask>) {
    *MASK.write().unwrap_or_else(PoisonError::into_inner) = mask.cloned();
    ACTIVE.store(mask.is_some(), Ordering::Release);
}

/// Whether a hook is set: the one check the unmasked path pays.
#[inline(always)]
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Which value is masked: metadata has its own fallback shape.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Io,
    Metadata,
}

/// The installed hook's result for `value`, or the fallback when it panics (or when there is
/// no value to give it: a value that cannot be represented is never sent unmasked).
///
/// Objects in the result have their keys sorted (at every depth), so that what is sent does
/// not depend on serde_json's `preserve_order` feature (see `encode::sort_keys`).
fn apply(value: Option<&Value>, kind: Kind) -> Value {
    let mask = MASK.read().unwrap_or_else(PoisonError::into_inner).clone();
    let mut masked = match (mask, value) {
        (Some(mask), Some(value)) => apply_with(&mask, value, kind),
        (None, Some(value)) => value.clone(),
        (_, None) => Value::String(FALLBACK.to_owned()),
    };
    encode::sort_keys(&mut masked);
    masked
}

fn apply_with(mask: &Mask, value: &Value, kind: Kind) -> Value {
    match catch_unwind(AssertUnwindSafe(|| (mask.0)(value))) {
        Ok(masked) => masked,
        Err(_) => {
            diag::warn(format_args!("the mask function panicked; the value is replaced"));
            match value {
                // Python: a non-empty dict of metadata keeps its keys, each value masked.
                Value::Object(map) if kind == Kind::Metadata && !map.is_empty() => Value::Object(
                    map.keys().map(|k| (k.clone(), Value::String(FALLBACK.to_owned()))).collect(),
                ),
                _ => Value::String(FALLBACK.to_owned()),
            }
        }
    }
}

/// Input or output of the manual API: the masked value, encoded as unmasked ones are.
pub(crate) fn io<T: Serialize + ?Sized>(value: &T) -> Option<Payload> {
    let masked = apply(serde_json::to_value(value).ok().as_ref(), Kind::Io);
    encode::io_text(&masked)
}

/// Metadata of the manual API (a whole value, or `{key: value}` for one key), masked.
pub(crate) fn metadata<T: Serialize + ?Sized>(value: &T) -> Value {
    apply(serde_json::to_value(value).ok().as_ref(), Kind::Metadata)
}

/// Masks an `#[observe]` output (wire text). Unchanged by the hook, the text is kept as it was.
#[inline]
pub(crate) fn output_text(text: Payload) -> Option<Payload> {
    if !active() {
        return Some(text);
    }
    mask_output_text(text)
}

#[inline(never)]
fn mask_output_text(text: Payload) -> Option<Payload> {
    let value = text.to_value();
    let masked = apply(Some(&value), Kind::Io);
    if masked == value { Some(text) } else { encode::io_text(&masked) }
}

/// The masked wire text of an `#[observe]` input, `None` when the hook left it unchanged
/// (`Some(None)`: masked to `null`, which is omitted).
pub(crate) fn changed_io_text(text: &Payload) -> Option<Option<Payload>> {
    let value = text.to_value();
    let masked = apply(Some(&value), Kind::Io);
    (masked != value).then(|| encode::io_text(&masked))
}

/// The masked value of an `#[observe]` call's metadata (JSON-encoded values), `None` when the
/// hook left it unchanged.
pub(crate) fn changed_metadata(metadata: &Metadata) -> Option<Value> {
    let value =
        Value::Object(metadata.iter().map(|(k, v)| (k.to_owned(), json_value(v))).collect());
    let masked = apply(Some(&value), Kind::Metadata);
    (masked != value).then_some(masked)
}

fn json_value(text: &JsonText) -> Value {
    text.parse_as().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(mask: impl Fn(&Value) -> Value + Send + Sync + 'static, v: Value, kind: Kind) -> Value {
        apply_with(&Mask(Arc::new(mask)), &v, kind)
    }

    #[test]
    fn a_string_that_looks_like_json_reaches_the_hook_as_a_string() {
        assert_eq!(Payload::from("7").to_value(), json!("7"));
        assert_eq!(Payload::from(r#"{"a":1}"#).to_value(), json!(r#"{"a":1}"#));
        assert_eq!(Payload::Json(r#"{"a":1}"#.into()).to_value(), json!({"a": 1}));
        assert_eq!(json_value(&"7".into()), json!(7));
    }

    #[test]
    fn the_hook_sees_the_value_and_its_result_is_sent() {
        let redact = |v: &Value| match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| *k != "ssn")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        assert_eq!(
            run(redact, json!({"ssn": "1", "name": "x"}), Kind::Metadata),
            json!({"name": "x"})
        );
    }

    #[test]
    fn a_panicking_hook_gives_python_s_fallback_shapes() {
        let boom = |_: &Value| -> Value { panic!("mask bug") };
        assert_eq!(
            run(boom, json!({"a": 1, "b": 2}), Kind::Metadata),
            json!({"a": FALLBACK, "b": FALLBACK})
        );
        assert_eq!(run(boom, json!({}), Kind::Metadata), json!(FALLBACK));
        assert_eq!(run(boom, json!({"a": 1}), Kind::Io), json!(FALLBACK));
        assert_eq!(run(boom, json!([1]), Kind::Metadata), json!(FALLBACK));
    }
}
