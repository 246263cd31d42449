//! Span fields → observation fields, by the rules the Langfuse server applies to bridged spans
//! (wire format §9), written as `langfuse.*` values because our spans go out under the
//! `langfuse-sdk` scope, where the server drops every other attribute.
//!
//! The mapping, first match wins where several keys feed one field:
//!
//! | Observation field | From |
//! |---|---|
//! | type | `langfuse.observation.type` / `langfuse.type`; `gen_ai.operation.name` (`chat`, `completion`, `text_completion`, `generate_content`, `generate` → generation, `embeddings` → embedding, `invoke_agent`, `create_agent` → agent, `execute_tool` → tool); langchain-rust span names (`llm.generate`, `embed.*`, `tool.call`, `agent.*`, `chain.call`); `gen_ai.tool.name` or `gen_ai.tool.call.id` → tool; any model key → generation; else span |
//! | name | `gen_ai.tool.name` (the server renames tools by it), langchain-rust's `tool`, `otel.name`, else the span name |
//! | model | `gen_ai.response.model`, `gen_ai.request.model`, `model`; not for agents (the server skips agent usage too, so rig's totals are not counted twice) |
//! | model parameters | every `gen_ai.request.<k>` but the model, and langchain-rust's `stream`, as `{"<k>": value}` |
//! | usage | `gen_ai.usage.input_tokens` / `prompt_tokens` → `input`, `…output_tokens` / `completion_tokens` → `output`, `total_tokens` or their sum → `total`; cache and reasoning counts become `input_cache_read`, `input_cache_creation`, `output_reasoning` and are taken out of `input`/`output`, so that no token is priced twice |
//! | completion start | start + `gen_ai.response.time_to_first_chunk` seconds |
//! | input / output | `gen_ai.input.messages` (with `gen_ai.system_instructions` first, as a system message) / `gen_ai.output.messages`; `gen_ai.tool.call.arguments` / `…result` |
//! | level ERROR, status message | `otel.status_code = "ERROR"` (message `otel.status_message`, else `error.type`); `error.type`, `gen_ai.tool.error.type` or langchain-rust's `error` alone |
//! | metadata | every other field under its own key (provider, finish reasons, response id, the arguments of `#[instrument]` functions, …) |
//! | dropped | `tracing`'s bookkeeping: `busy_ns`, `idle_ns`, `code.*`, `thread.*`, `otel.kind` (`code.filepath` would leak the developer's absolute paths) |
//!
//! swiftide's `langfuse.<field>` fields and the server's own `langfuse.observation.<field>`
//! keys (type, input, output, model, usage, model parameters, level, status message,
//! metadata) are read as the fields they name.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use ::tracing::field::{Field, Visit};
use serde_json::{Map, Value};

use crate::kind::{Level, ObservationType};
use crate::observation::ObservationRef;

/// The fields of one span as recorded so far (at creation and by `Span::record`); later
/// values replace earlier ones. Keys are borrowed for `tracing` fields (static names) and
/// owned only where a source has no static names (OpenTelemetry attributes).
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    values: Vec<(Cow<'static, str>, Value)>,
}

impl SpanFields {
    pub(crate) fn set(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.values.push((key, value)),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_ref(), v))
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(text)
    }

    /// The first of `keys` that has a value.
    fn first(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().find_map(|k| self.get(k))
    }

    fn first_text(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.text(k))
    }

    fn count(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|k| self.get(k).and_then(count))
    }

    /// A `langfuse.observation.<name>` or `langfuse.<name>` field.
    fn langfuse(&self, name: &str) -> Option<&Value> {
        self.values.iter().find_map(|(k, v)| {
            let rest = k.strip_prefix("langfuse.")?;
            let rest = rest.strip_prefix("observation.").unwrap_or(rest);
            (rest == name).then_some(v)
        })
    }
}

/// Collects field values in a [`SpanFields`].
pub(crate) struct Collect<'a>(pub(crate) &'a mut SpanFields);

impl Visit for Collect<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(
            field.name(),
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field.name(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field.name(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.set(field.name(), format!("{value:?}").into());
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Fields that are `tracing`'s (or `tracing-opentelemetry`'s) bookkeeping, never user data.
fn is_dropped(key: &str) -> bool {
    matches!(key, "busy_ns" | "idle_ns" | "otel.kind")
        || key.starts_with("code.")
        || key.starts_with("thread.")
}

/// Keys whose values become observation fields rather than metadata.
const CONSUMED: &[&str] = &[
    "otel.name",
    "otel.status_code",
    "otel.status_message",
    "error.type",
    "error",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "model",
    "stream",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.total_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.tool.error.type",
];

/// The observation type the span's fields and name call for.
pub(crate) fn observation_type(name: &str, target: &str, fields: &SpanFields) -> ObservationType {
    if let Some(t) = fields.langfuse("type").and_then(text).and_then(|t| t.parse().ok()) {
        return t;
    }
    if let Some(op) = fields.text("gen_ai.operation.name") {
        match op.as_str() {
            "chat" | "completion" | "text_completion" | "generate_content" | "generate" => {
                return ObservationType::Generation;
            }
            "embeddings" => return ObservationType::Embedding,
            "invoke_agent" | "create_agent" => return ObservationType::Agent,
            "execute_tool" => return ObservationType::Tool,
            _ => {}
        }
    }
    if target.starts_with("langchain_rust") {
        match name {
            "llm.generate" => return ObservationType::Generation,
            "embed.documents" | "embed.query" => return ObservationType::Embedding,
            "tool.call" => return ObservationType::Tool,
            "agent.run" | "agent.plan" => return ObservationType::Agent,
            "chain.call" => return ObservationType::Chain,
            _ => {}
        }
    }
    if fields.first(&["gen_ai.tool.name", "gen_ai.tool.call.id"]).is_some() {
        return ObservationType::Tool;
    }
    let model_keys = ["gen_ai.request.model", "gen_ai.response.model", "model"];
    if fields.first(&model_keys).is_some() || fields.langfuse("model").is_some() {
        return ObservationType::Generation;
    }
    ObservationType::Span
}

/// Writes everything the span recorded onto its observation, just before it ends. The type is
/// rewritten only when fields recorded after the start call for another one than
/// `started_as`, so that a `current_generation()` inside the entered span is not undone.
pub(crate) fn apply(
    observation: &ObservationRef,
    span_name: &str,
    target: &str,
    start_unix_nanos: u64,
    started_as: ObservationType,
    fields: &SpanFields,
) {
    let observation_type = observation_type(span_name, target, fields);
    if observation_type != started_as {
        observation.set_type(observation_type);
    }
    let langchain_tool = (target.starts_with("langchain_rust") && span_name == "tool.call")
        .then(|| fields.text("tool"))
        .flatten();
    if let Some(name) =
        fields.text("gen_ai.tool.name").or(langchain_tool).or(fields.text("otel.name"))
    {
        observation.set_name(name);
    }
    let agent = matches!(
        fields.text("gen_ai.operation.name").as_deref(),
        Some("invoke_agent" | "agent_step")
    );
    if !agent {
        apply_model(observation, fields);
    }
    apply_io(observation, fields);
    apply_status(observation, fields);
    if let Some(seconds) = fields.get("gen_ai.response.time_to_first_chunk").and_then(Value::as_f64)
        && seconds.is_finite()
        && seconds >= 0.0
    {
        let at =
            UNIX_EPOCH + Duration::from_nanos(start_unix_nanos) + Duration::from_secs_f64(seconds);
        observation.set_completion_start_time(at);
    }
    apply_metadata(observation, fields);
}

fn apply_model(observation: &ObservationRef, fields: &SpanFields) {
    let model =
        fields.langfuse("model").or_else(|| fields.langfuse("model.name")).and_then(text).or_else(
            || fields.first_text(&["gen_ai.response.model", "gen_ai.request.model", "model"]),
        );
    if let Some(model) = model {
        observation.set_model(model);
    }
    let mut parameters = Map::new();
    for (key, value) in fields.iter() {
        if let Some(name) = key.strip_prefix("gen_ai.request.")
            && name != "model"
        {
            parameters.insert(name.to_owned(), value.clone());
        }
    }
    if let Some(stream) = fields.get("stream") {
        parameters.entry("stream").or_insert_with(|| stream.clone());
    }
    if let Some(explicit) = fields
        .langfuse("model_parameters")
        .or_else(|| fields.langfuse("model.parameters"))
        .and_then(json_object)
    {
        parameters.extend(explicit);
    }
    if !parameters.is_empty() {
        observation.set_model_parameters(&parameters);
    }
    let explicit = fields.langfuse("usage").or_else(|| fields.langfuse("usage_details"));
    if let Some(usage) = explicit.and_then(json_object) {
        observation.set_usage_details(&usage);
        return;
    }
    if let Some(usage) = usage(fields) {
        observation.set_usage_details(&usage);
    }
}

/// `{"input", "output", "total", details…}` from the GenAI or langchain-rust counts.
fn usage(fields: &SpanFields) -> Option<Map<String, Value>> {
    let input =
        fields.count(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "prompt_tokens"]);
    let output = fields.count(&[
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "completion_tokens",
    ]);
    let total = fields.count(&["gen_ai.usage.total_tokens", "total_tokens"]);
    if input.is_none() && output.is_none() && total.is_none() {
        return None;
    }
    let mut usage = Map::new();
    let mut input_left = input;
    let mut output_left = output;
    let details = [
        ("gen_ai.usage.cache_read.input_tokens", "input_cache_read", false),
        ("gen_ai.usage.cache_creation.input_tokens", "input_cache_creation", false),
        ("gen_ai.usage.reasoning_tokens", "output_reasoning", true),
        // genai's spelling of the same count.
        ("gen_ai.usage.reasoning.output_tokens", "output_reasoning", true),
    ];
    for (key, name, of_output) in details {
        if let Some(n) = fields.get(key).and_then(count) {
            usage.insert(name.into(), n.into());
            let from = if of_output { &mut output_left } else { &mut input_left };
            *from = from.map(|f| f.saturating_sub(n));
        }
    }
    if let Some(n) = input_left {
        usage.insert("input".into(), n.into());
    }
    if let Some(n) = output_left {
        usage.insert("output".into(), n.into());
    }
    let sum = match (input, output) {
        (Some(i), Some(o)) => Some(i.saturating_add(o)),
        (one, other) => one.or(other),
    };
    if let Some(n) = total.or(sum) {
        usage.insert("total".into(), n.into());
    }
    Some(usage)
}

/// A JSON object given as an object value or as JSON text.
fn json_object(v: &Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s).ok(),
        _ => None,
    }
}

fn apply_io(observation: &ObservationRef, fields: &SpanFields) {
    if let Some(input) = fields.langfuse("input").and_then(text) {
        observation.set_input(&*input);
    } else if let Some(messages) = fields.get("gen_ai.input.messages") {
        match fields.get("gen_ai.system_instructions") {
            Some(system) => {
                observation.set_input(&with_system(system, messages));
            }
            None => set_text_or_json(observation, messages, false),
        }
    } else if let Some(system) = fields.get("gen_ai.system_instructions") {
        observation.set_input(&with_system(system, &Value::Array(Vec::new())));
    } else if let Some(arguments) = fields.get("gen_ai.tool.call.arguments") {
        set_text_or_json(observation, arguments, false);
    }
    if let Some(output) = fields.langfuse("output").and_then(text) {
        observation.set_output(&*output);
    } else if let Some(v) = fields.first(&["gen_ai.output.messages", "gen_ai.tool.call.result"]) {
        set_text_or_json(observation, v, true);
    }
}

/// Strings (usually JSON text already) go as they are, other values as JSON.
fn set_text_or_json(observation: &ObservationRef, value: &Value, output: bool) {
    match (value, output) {
        (Value::String(s), false) => observation.set_input(s.as_str()),
        (Value::String(s), true) => observation.set_output(s.as_str()),
        (other, false) => observation.set_input(other),
        (other, true) => observation.set_output(other),
    };
}

/// The input messages with the system instructions first, as the server reconstructs them.
fn with_system(system: &Value, messages: &Value) -> Value {
    let parse = |v: &Value| match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    };
    let mut all = vec![serde_json::json!({ "role": "system", "content": parse(system) })];
    match parse(messages) {
        Value::Array(items) => all.extend(items),
        Value::Null => {}
        other => all.push(other),
    }
    let mut all = Value::Array(all);
    // Re-read and rebuilt here: sorted, so the bytes do not depend on `preserve_order`.
    crate::encode::sort_keys(&mut all);
    all
}

fn apply_status(observation: &ObservationRef, fields: &SpanFields) {
    if let Some(level) =
        fields.langfuse("level").and_then(text).and_then(|l| l.parse::<Level>().ok())
    {
        observation.set_level(level);
    }
    if let Some(message) = fields.langfuse("status_message").and_then(text) {
        observation.set_status_message(message);
    }
    let status_error =
        fields.text("otel.status_code").is_some_and(|code| code.eq_ignore_ascii_case("error"));
    let error_type = fields.first_text(&["error.type", "gen_ai.tool.error.type"]);
    let langchain_error = match fields.get("error") {
        Some(Value::Bool(true)) => Some("error".to_owned()),
        Some(Value::Bool(false)) | None => None,
        Some(other) => text(other),
    };
    if status_error || error_type.is_some() || langchain_error.is_some() {
        let message = fields
            .text("otel.status_message")
            .or(error_type)
            .or(langchain_error)
            .unwrap_or_else(|| "error".to_owned());
        observation.set_error(message);
    }
}

fn apply_metadata(observation: &ObservationRef, fields: &SpanFields) {
    for (key, value) in fields.iter() {
        if is_dropped(key) || CONSUMED.contains(&key) || key.starts_with("gen_ai.request.") {
            continue;
        }
        if let Some(rest) = key.strip_prefix("langfuse.") {
            let rest = rest.strip_prefix("observation.").unwrap_or(rest);
            if let Some(k) = rest.strip_prefix("metadata.") {
                match value {
                    Value::String(s) => {
                        let parsed = serde_json::from_str::<Value>(s).unwrap_or(value.clone());
                        observation.add_metadata(k, &parsed);
                    }
                    other => {
                        observation.add_metadata(k, other);
                    }
                }
            }
            // Every other `langfuse.*` field was read as the field it names.
            continue;
        }
        observation.add_metadata(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, Value)]) -> SpanFields {
        let mut f = SpanFields::default();
        for (k, v) in pairs {
            f.set(*k, v.clone());
        }
        f
    }

    #[test]
    fn operation_names_and_langchain_span_names_pick_the_type() {
        let chat = fields(&[("gen_ai.operation.name", "chat".into())]);
        assert_eq!(
            observation_type("chat", "rig::completions", &chat),
            ObservationType::Generation
        );
        let tool = fields(&[("gen_ai.operation.name", "execute_tool".into())]);
        assert_eq!(observation_type("execute_tool", "rig", &tool), ObservationType::Tool);
        let none = SpanFields::default();
        assert_eq!(
            observation_type("tool.call", "langchain_rust::tools", &none),
            ObservationType::Tool
        );
        assert_eq!(observation_type("tool.call", "my_app", &none), ObservationType::Span);
        let model = fields(&[("model", "llama3".into())]);
        assert_eq!(observation_type("llm.generate", "my_app", &model), ObservationType::Generation);
        let explicit = fields(&[("langfuse.type", "retriever".into())]);
        assert_eq!(observation_type("x", "swiftide", &explicit), ObservationType::Retriever);
    }

    #[test]
    fn usage_totals_and_takes_details_out_of_input_and_output() {
        let f = fields(&[
            ("gen_ai.usage.input_tokens", 100.into()),
            ("gen_ai.usage.output_tokens", 20.into()),
            ("gen_ai.usage.cache_read.input_tokens", 30.into()),
            ("gen_ai.usage.reasoning_tokens", "5".into()),
        ]);
        let u = Value::Object(usage(&f).unwrap());
        assert_eq!(
            u,
            serde_json::json!({"input": 70, "input_cache_read": 30, "output": 15, "output_reasoning": 5, "total": 120})
        );
        let langchain = fields(&[("prompt_tokens", 7.into()), ("total_tokens", 9.into())]);
        assert_eq!(
            Value::Object(usage(&langchain).unwrap()),
            serde_json::json!({"input": 7, "total": 9})
        );
        assert!(usage(&SpanFields::default()).is_none());
    }

    #[test]
    fn system_instructions_come_first() {
        let v = with_system(
            &r#"[{"type":"text","content":"be brief"}]"#.into(),
            &r#"[{"role":"user","parts":[]}]"#.into(),
        );
        assert_eq!(v[0]["role"], "system");
        assert_eq!(v[0]["content"][0]["content"], "be brief");
        assert_eq!(v[1]["role"], "user");
    }

    #[test]
    fn bookkeeping_is_dropped() {
        for key in
            ["busy_ns", "idle_ns", "code.filepath", "code.lineno", "thread.id", "thread.name"]
        {
            assert!(is_dropped(key), "{key}");
        }
        assert!(!is_dropped("gen_ai.provider.name") && !is_dropped("query"));
    }
}
