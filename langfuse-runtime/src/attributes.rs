//! The Langfuse attribute keys and the order they are written in: the only file that spells
//! `langfuse.*` wire names.

use crate::clock;
use crate::record::{ExceptionEvent, ObservationRecord};

/// Attribute keys, exactly as the Langfuse server reads them.
pub(crate) mod keys {
    #![allow(missing_docs)]
    pub(crate) const TRACE_NAME: &str = "langfuse.trace.name";
    pub(crate) const USER_ID: &str = "user.id";
    pub(crate) const SESSION_ID: &str = "session.id";
    pub(crate) const TRACE_TAGS: &str = "langfuse.trace.tags";
    pub(crate) const TRACE_PUBLIC: &str = "langfuse.trace.public";
    pub(crate) const TRACE_METADATA_PREFIX: &str = "langfuse.trace.metadata.";
    pub(crate) const VERSION: &str = "langfuse.version";
    pub(crate) const RELEASE: &str = "langfuse.release";
    pub(crate) const ENVIRONMENT: &str = "langfuse.environment";

    pub(crate) const OBSERVATION_TYPE: &str = "langfuse.observation.type";
    pub(crate) const LEVEL: &str = "langfuse.observation.level";
    pub(crate) const STATUS_MESSAGE: &str = "langfuse.observation.status_message";
    pub(crate) const INPUT: &str = "langfuse.observation.input";
    pub(crate) const OUTPUT: &str = "langfuse.observation.output";
    pub(crate) const METADATA: &str = "langfuse.observation.metadata";
    pub(crate) const METADATA_PREFIX: &str = "langfuse.observation.metadata.";

    pub(crate) const MODEL_NAME: &str = "langfuse.observation.model.name";
    pub(crate) const MODEL_PARAMETERS: &str = "langfuse.observation.model.parameters";
    pub(crate) const USAGE_DETAILS: &str = "langfuse.observation.usage_details";
    pub(crate) const COST_DETAILS: &str = "langfuse.observation.cost_details";
    pub(crate) const COMPLETION_START_TIME: &str = "langfuse.observation.completion_start_time";
    pub(crate) const PROMPT_NAME: &str = "langfuse.observation.prompt.name";
    pub(crate) const PROMPT_VERSION: &str = "langfuse.observation.prompt.version";

    pub(crate) const AS_ROOT: &str = "langfuse.internal.as_root";
    pub(crate) const IS_APP_ROOT: &str = "langfuse.internal.is_app_root";

    /// The OTel span event of an escaping exception, and its attributes (semantic conventions).
    pub(crate) const EXCEPTION_EVENT: &str = "exception";
    pub(crate) const EXCEPTION_TYPE: &str = "exception.type";
    pub(crate) const EXCEPTION_MESSAGE: &str = "exception.message";
    pub(crate) const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";
    pub(crate) const EXCEPTION_ESCAPED: &str = "exception.escaped";

    /// Instrumentation scope name; the server treats scopes starting with it as Langfuse spans.
    pub(crate) const SCOPE_NAME: &str = "langfuse-sdk";
    pub(crate) const SCOPE_PUBLIC_KEY: &str = "public_key";

    pub(crate) const RESOURCE_SERVICE_NAME: &str = "service.name";
    pub(crate) const RESOURCE_SDK_LANGUAGE: &str = "telemetry.sdk.language";
    pub(crate) const RESOURCE_SDK_NAME: &str = "telemetry.sdk.name";
    pub(crate) const RESOURCE_SDK_VERSION: &str = "telemetry.sdk.version";
}

/// The OTel default (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
pub(crate) const DEFAULT_ATTRIBUTE_COUNT_LIMIT: usize = 128;

/// An attribute key made of a static prefix and a dynamic suffix (metadata keys), so that
/// encoders can write it without building a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrKey<'a> {
    /// Static part, e.g. `langfuse.observation.metadata.`.
    pub(crate) prefix: &'static str,
    /// Dynamic part, empty for fixed keys.
    pub(crate) suffix: &'a str,
}

impl AttrKey<'_> {
    const fn fixed(key: &'static str) -> AttrKey<'static> {
        AttrKey { prefix: key, suffix: "" }
    }

    /// Length in bytes of the whole key.
    pub(crate) fn len(&self) -> usize {
        self.prefix.len() + self.suffix.len()
    }
}

impl std::fmt::Display for AttrKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.prefix)?;
        f.write_str(self.suffix)
    }
}

/// A borrowed attribute value, in the OTLP `AnyValue` kinds Langfuse uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AttrValue<'a> {
    /// `stringValue`.
    Str(&'a str),
    /// `boolValue`.
    Bool(bool),
    /// `intValue`.
    Int(i64),
    /// `arrayValue` of `stringValue`s.
    StrArray(&'a [String]),
}

/// Client-wide values written on every span.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SpanDefaults {
    /// `langfuse.environment` unless the trace attributes override it.
    pub(crate) environment: Option<String>,
    /// `langfuse.release`.
    pub(crate) release: Option<String>,
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    pub(crate) attribute_count_limit: usize,
}

fn str_attr<S: std::ops::Deref<Target = str>>(s: &Option<S>) -> Option<AttrValue<'_>> {
    s.as_deref().map(AttrValue::Str)
}

/// Calls `emit` once per attribute of `record`, each key once, core keys first.
///
/// When the count limit is reached, metadata keys (trace, then observation) are the ones left
/// out, so that type, level, input, output and generation fields always survive — the same
/// priority the Python SDK applies. Returns the number of attributes left out.
pub(crate) fn for_each_attribute(
    record: &ObservationRecord,
    defaults: &SpanDefaults,
    mut emit: impl FnMut(AttrKey<'_>, AttrValue<'_>),
) -> usize {
    use keys::*;
    let limit = if defaults.attribute_count_limit == 0 {
        DEFAULT_ATTRIBUTE_COUNT_LIMIT
    } else {
        defaults.attribute_count_limit
    };
    let mut written = 0usize;
    let mut dropped = 0usize;
    let mut put = |key: AttrKey<'_>, value: AttrValue<'_>| {
        if written < limit {
            written += 1;
            emit(key, value);
        } else {
            dropped += 1;
        }
    };

    put(AttrKey::fixed(OBSERVATION_TYPE), AttrValue::Str(record.observation_type.as_str()));
    if let Some(level) = record.level {
        put(AttrKey::fixed(LEVEL), AttrValue::Str(level.as_str()));
    }
    if let Some(v) = record.status_message().map(AttrValue::Str) {
        put(AttrKey::fixed(STATUS_MESSAGE), v);
    }
    if let Some(v) = str_attr(&record.input) {
        put(AttrKey::fixed(INPUT), v);
    }
    if let Some(v) = str_attr(&record.output) {
        put(AttrKey::fixed(OUTPUT), v);
    }
    let trace = record.trace.as_deref();
    let environment =
        trace.and_then(|t| t.environment.as_deref()).or(defaults.environment.as_deref());
    if let Some(env) = environment {
        put(AttrKey::fixed(ENVIRONMENT), AttrValue::Str(env));
    }
    if let Some(release) = defaults.release.as_deref() {
        put(AttrKey::fixed(RELEASE), AttrValue::Str(release));
    }
    let version = record.version().or(trace.and_then(|t| t.version.as_deref()));
    if let Some(version) = version {
        put(AttrKey::fixed(VERSION), AttrValue::Str(version));
    }
    if let Some(g) = record.generation() {
        // The wire form is a JSON string literal, quotes included, as Python sends it.
        let completion_start =
            g.completion_start_time.map(|nanos| format!("\"{}\"", clock::rfc3339_micros(nanos)));
        for (key, value) in [
            (MODEL_NAME, g.model.as_deref()),
            (MODEL_PARAMETERS, g.model_parameters.as_deref()),
            (USAGE_DETAILS, g.usage_details.as_deref()),
            (COST_DETAILS, g.cost_details.as_deref()),
            (COMPLETION_START_TIME, completion_start.as_deref()),
        ] {
            if let Some(v) = value {
                put(AttrKey::fixed(key), AttrValue::Str(v));
            }
        }
    }
    // An explicit prompt on the observation wins over a propagated one.
    let own_prompt =
        record.generation().and_then(|g| g.prompt_name.as_deref().map(|n| (n, g.prompt_version)));
    let prompt =
        own_prompt.or(trace.and_then(|t| t.prompt_name.as_deref().map(|n| (n, t.prompt_version))));
    if let Some((name, version)) = prompt {
        put(AttrKey::fixed(PROMPT_NAME), AttrValue::Str(name));
        if let Some(version) = version {
            put(AttrKey::fixed(PROMPT_VERSION), AttrValue::Int(version));
        }
    }
    if let Some(t) = trace {
        if let Some(v) = str_attr(&t.name) {
            put(AttrKey::fixed(TRACE_NAME), v);
        }
        if let Some(v) = str_attr(&t.user_id) {
            put(AttrKey::fixed(USER_ID), v);
        }
        if let Some(v) = str_attr(&t.session_id) {
            put(AttrKey::fixed(SESSION_ID), v);
        }
        if !t.tags.is_empty() {
            put(AttrKey::fixed(TRACE_TAGS), AttrValue::StrArray(&t.tags));
        }
    }
    if record.trace_public {
        put(AttrKey::fixed(TRACE_PUBLIC), AttrValue::Bool(true));
    }
    if record.as_root {
        put(AttrKey::fixed(AS_ROOT), AttrValue::Bool(true));
    }
    if record.is_app_root {
        put(AttrKey::fixed(IS_APP_ROOT), AttrValue::Bool(true));
    }
    if let Some(v) = record.metadata_value().map(|v| AttrValue::Str(v)) {
        put(AttrKey::fixed(METADATA), v);
    }
    if let Some(t) = trace {
        for (k, v) in t.metadata.iter() {
            put(AttrKey { prefix: TRACE_METADATA_PREFIX, suffix: k }, AttrValue::Str(v));
        }
    }
    for (k, v) in record.metadata().iter() {
        put(AttrKey { prefix: METADATA_PREFIX, suffix: k }, AttrValue::Str(v));
    }
    dropped
}

/// Calls `emit` once per attribute of the `exception` span event, in the order Python's OTel
/// SDK writes them. `exception.escaped` is the string `"False"`: Python's `use_span` records
/// the exception with `escaped=False` and writes it as `str(escaped)`.
pub(crate) fn for_each_exception_attribute(
    event: &ExceptionEvent,
    mut emit: impl FnMut(AttrKey<'_>, AttrValue<'_>),
) {
    use keys::*;
    emit(AttrKey::fixed(EXCEPTION_TYPE), AttrValue::Str(event.type_name));
    emit(AttrKey::fixed(EXCEPTION_MESSAGE), AttrValue::Str(&event.message));
    if let Some(stacktrace) = event.stacktrace.as_deref() {
        emit(AttrKey::fixed(EXCEPTION_STACKTRACE), AttrValue::Str(stacktrace));
    }
    emit(AttrKey::fixed(EXCEPTION_ESCAPED), AttrValue::Str("False"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ObservationId, TraceId};
    use crate::kind::{Level, ObservationType};

    fn collect(
        record: &ObservationRecord,
        defaults: &SpanDefaults,
    ) -> (Vec<(String, String)>, usize) {
        let mut out = Vec::new();
        let dropped = for_each_attribute(record, defaults, |k, v| {
            out.push((k.to_string(), format!("{v:?}")))
        });
        (out, dropped)
    }

    fn record() -> ObservationRecord {
        ObservationRecord::new(
            TraceId::from_u128(1).unwrap(),
            ObservationId::from_u64(2).unwrap(),
            None,
            "n",
            ObservationType::Generation,
            10,
        )
    }

    #[test]
    fn writes_each_key_once_in_priority_order() {
        let mut r = record();
        r.level = Some(Level::Error);
        r.input = Some("hi".into());
        r.metadata_mut().insert("a", "1".into());
        r.metadata_mut().insert("a", "2".into());
        r.generation_mut().prompt_version = Some(3);
        r.generation_mut().prompt_name = Some("p".into());
        let defaults = SpanDefaults { environment: Some("prod".into()), ..Default::default() };
        let (attrs, dropped) = collect(&r, &defaults);
        assert_eq!(dropped, 0);
        let keys: Vec<_> = attrs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                keys::OBSERVATION_TYPE,
                keys::LEVEL,
                keys::INPUT,
                keys::ENVIRONMENT,
                keys::PROMPT_NAME,
                keys::PROMPT_VERSION,
                "langfuse.observation.metadata.a"
            ]
        );
        assert_eq!(attrs[5].1, "Int(3)");
        assert_eq!(attrs[6].1, "Str(\"2\")");
    }

    #[test]
    fn metadata_is_dropped_first_at_the_limit() {
        let mut r = record();
        r.output = Some("o".into());
        for i in 0..5 {
            r.metadata_mut().insert(format!("k{i}"), "1".into());
        }
        let defaults = SpanDefaults { attribute_count_limit: 4, ..Default::default() };
        let (attrs, dropped) = collect(&r, &defaults);
        assert_eq!(attrs.len(), 4);
        assert_eq!(dropped, 3);
        assert_eq!(attrs[1].0, keys::OUTPUT);
    }
}
