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
//! | trace (user, session, name, tags, metadata, public, environment) | `user.id`, `session.id`, their `langfuse.` spellings, `langfuse.trace.name`, `langfuse.trace.tags`, `langfuse.trace.metadata.<k>`, `langfuse.trace.public`, `langfuse.environment` (`trace.rs`) |
//! | metadata | every other field under its own key (provider, finish reasons, response id, the arguments of `#[instrument]` functions, …) |
//! | dropped | `tracing`'s bookkeeping: `busy_ns`, `idle_ns`, `code.*`, `thread.*`, `otel.kind` (`code.filepath` would leak the developer's absolute paths) |
//!
//! swiftide's `langfuse.<field>` fields and the server's own `langfuse.observation.<field>`
//! keys (type, input, output, model, usage, model parameters, level, status message,
//! metadata) are read as the fields they name.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use std::cell::RefCell;
use std::sync::Mutex;

use ::tracing::Metadata;
use ::tracing::callsite::Identifier;
use ::tracing::field::{Field, Visit};
use serde_json::{Map, Value};

use crate::kind::{Level, ObservationType};
use crate::observation::fields::Field as Update;
use crate::payload::JsonText;
use crate::record::{Metadata as RecordMetadata, ObservationRecord};

/// The keys the mapping reads by name. Each field's key is resolved to one of these once, when
/// it is first set, so that the mapping's few dozen lookups are array reads: comparing each
/// looked-up name with every field's was ~1,500 instructions of a bridged span (row J1,
/// callgrind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Key {
    OperationName,
    ToolName,
    ToolCallId,
    RequestModel,
    ResponseModel,
    Model,
    Tool,
    OtelName,
    Stream,
    InputTokens,
    PromptTokens,
    LangchainPromptTokens,
    OutputTokens,
    CompletionTokens,
    LangchainCompletionTokens,
    TotalTokens,
    LangchainTotalTokens,
    CacheReadTokens,
    CacheCreationTokens,
    ReasoningTokens,
    ReasoningOutputTokens,
    TimeToFirstChunk,
    InputMessages,
    SystemInstructions,
    ToolCallArguments,
    OutputMessages,
    ToolCallResult,
    StatusCode,
    StatusMessage,
    ErrorType,
    ToolErrorType,
    Error,
}

/// How many [`Key`]s there are.
const KEYS: usize = Key::Error as usize + 1;

impl Key {
    fn of(name: &str) -> Option<Self> {
        use Key::*;
        // Every key the mapping reads has one of these prefixes or is one of four short names;
        // the prefix test keeps the full comparison off the span's other fields.
        if !(name.starts_with("gen_ai.")
            || name.starts_with("otel.")
            || name.starts_with("error")
            || matches!(name.len(), 4..=6)
            || name.ends_with("_tokens"))
        {
            return None;
        }
        Some(match name {
            "gen_ai.operation.name" => OperationName,
            "gen_ai.tool.name" => ToolName,
            "gen_ai.tool.call.id" => ToolCallId,
            "gen_ai.request.model" => RequestModel,
            "gen_ai.response.model" => ResponseModel,
            "model" => Model,
            "tool" => Tool,
            "otel.name" => OtelName,
            "stream" => Stream,
            "gen_ai.usage.input_tokens" => InputTokens,
            "gen_ai.usage.prompt_tokens" => PromptTokens,
            "prompt_tokens" => LangchainPromptTokens,
            "gen_ai.usage.output_tokens" => OutputTokens,
            "gen_ai.usage.completion_tokens" => CompletionTokens,
            "completion_tokens" => LangchainCompletionTokens,
            "gen_ai.usage.total_tokens" => TotalTokens,
            "total_tokens" => LangchainTotalTokens,
            "gen_ai.usage.cache_read.input_tokens" => CacheReadTokens,
            "gen_ai.usage.cache_creation.input_tokens" => CacheCreationTokens,
            "gen_ai.usage.reasoning_tokens" => ReasoningTokens,
            "gen_ai.usage.reasoning.output_tokens" => ReasoningOutputTokens,
            "gen_ai.response.time_to_first_chunk" => TimeToFirstChunk,
            "gen_ai.input.messages" => InputMessages,
            "gen_ai.system_instructions" => SystemInstructions,
            "gen_ai.tool.call.arguments" => ToolCallArguments,
            "gen_ai.output.messages" => OutputMessages,
            "gen_ai.tool.call.result" => ToolCallResult,
            "otel.status_code" => StatusCode,
            "otel.status_message" => StatusMessage,
            "error.type" => ErrorType,
            "gen_ai.tool.error.type" => ToolErrorType,
            "error" => Error,
            _ => return None,
        })
    }

    /// Whether the value becomes an observation field rather than metadata.
    fn is_consumed(self) -> bool {
        !matches!(self, Key::ToolName | Key::ToolCallId | Key::Tool)
    }
}

/// The fields of one span as recorded so far (at creation and by `Span::record`); later
/// values replace earlier ones. Keys are borrowed for `tracing` fields (static names) and
/// owned only where a source has no static names (OpenTelemetry attributes).
#[derive(Debug, Default)]
pub(crate) struct SpanFields {
    values: Vec<Entry>,
    /// The [`Key`] of each field of the span's callsite, by field index ([`callsite_keys`]).
    callsite: Option<&'static CallsiteKeys>,
    /// For each [`Key`], 1 + the index of its value in `values`, or 0 (also past `u16::MAX`
    /// fields, where known keys are found by a scan instead).
    slots: [u16; KEYS],
    /// Whether any key starts with `langfuse.`: most spans have none, and then the dozen
    /// `langfuse.*` lookups of the mapping are skipped instead of scanning every key.
    any_langfuse: bool,
    /// Whether any key is a model parameter (`gen_ai.request.*` but the model, `stream`): else
    /// the mapping skips the parameter map.
    any_parameter: bool,
}

type Entry = (Cow<'static, str>, Value, Option<Key>);

/// Most field vectors a thread keeps for reuse, and the largest kept.
const SPARE_VECTORS: usize = 16;
const SPARE_CAPACITY: usize = 32;

thread_local! {
    /// Field vectors of spans that ended on this thread, reused by the next ones: a span's
    /// fields are collected and dropped on the thread that creates and closes it, so this
    /// saves an allocation per span.
    static SPARE: RefCell<Vec<Vec<Entry>>> = const { RefCell::new(Vec::new()) };
}

impl SpanFields {
    /// The fields of a `tracing` span of `metadata`'s callsite, with room for all of them (a
    /// span declares its fields up front).
    pub(crate) fn for_callsite(metadata: &'static Metadata<'static>) -> Self {
        let n = metadata.fields().len();
        let mut values = SPARE
            .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        values.reserve(n);
        Self { values, callsite: Some(callsite_keys(metadata)), ..Self::default() }
    }

    /// Drops the values and keeps the vector for the next span on this thread.
    pub(crate) fn recycle(self) {
        let mut values = self.values;
        values.clear();
        if values.capacity() > SPARE_CAPACITY {
            return;
        }
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut()
                && spare.len() < SPARE_VECTORS
            {
                spare.push(values);
            }
        });
    }

    /// Sets a `tracing` field, its key read from the callsite's table when it is the span's.
    fn set_field(&mut self, field: &Field, value: Value) {
        let known = match self.callsite {
            Some(keys) if keys.callsite == field.callsite() => {
                keys.keys.get(field.index()).copied().unwrap_or_else(|| Key::of(field.name()))
            }
            _ => Key::of(field.name()),
        };
        self.set_known(Cow::Borrowed(field.name()), known, value);
    }

    /// Sets a field by name (OpenTelemetry attributes, tests).
    #[cfg(any(test, feature = "opentelemetry"))]
    pub(crate) fn set(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        let known = Key::of(&key);
        self.set_known(key, known, value);
    }

    fn set_known(&mut self, key: Cow<'static, str>, known: Option<Key>, value: Value) {
        let existing = match known {
            Some(k) => self.index(k),
            None => self.values.iter().position(|(k, _, _)| *k == key),
        };
        if let Some(i) = existing {
            self.values[i].1 = value;
            return;
        }
        if let Some(k) = known
            && let Ok(slot) = u16::try_from(self.values.len() + 1)
        {
            self.slots[k as usize] = slot;
        }
        self.any_langfuse |= key.starts_with("langfuse.");
        self.any_parameter |=
            known == Some(Key::Stream) || (known.is_none() && key.starts_with("gen_ai.request."));
        self.values.push((key, value, known));
    }

    fn index(&self, key: Key) -> Option<usize> {
        match self.slots[key as usize] {
            0 if self.values.len() >= usize::from(u16::MAX) => self.scan(key),
            0 => None,
            slot => Some(usize::from(slot) - 1),
        }
    }

    #[cold]
    fn scan(&self, key: Key) -> Option<usize> {
        self.values.iter().position(|(_, _, k)| *k == Some(key))
    }

    fn get(&self, key: Key) -> Option<&Value> {
        self.index(key).map(|i| &self.values[i].1)
    }

    /// The value of a key the mapping does not read (an event's `message`).
    pub(crate) fn named(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _, _)| k == key).map(|(_, v, _)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v, _)| (k.as_ref(), v))
    }

    fn text(&self, key: Key) -> Option<Cow<'_, str>> {
        self.get(key).and_then(text)
    }

    /// The first of `keys` that has a value.
    fn first(&self, keys: &[Key]) -> Option<&Value> {
        keys.iter().find_map(|&k| self.get(k))
    }

    fn first_text(&self, keys: &[Key]) -> Option<Cow<'_, str>> {
        keys.iter().find_map(|&k| self.text(k))
    }

    fn count(&self, keys: &[Key]) -> Option<u64> {
        keys.iter().find_map(|&k| self.get(k).and_then(count))
    }

    fn langfuse_index(&self, name: &str) -> Option<usize> {
        if !self.any_langfuse {
            return None;
        }
        self.values.iter().position(|(k, _, _)| {
            k.strip_prefix("langfuse.")
                .map(|rest| rest.strip_prefix("observation.").unwrap_or(rest))
                .is_some_and(|rest| rest == name)
        })
    }

    /// A `langfuse.observation.<name>` or `langfuse.<name>` field.
    fn langfuse(&self, name: &str) -> Option<&Value> {
        self.langfuse_index(name).map(|i| &self.values[i].1)
    }
}

/// Collects field values in a [`SpanFields`].
pub(crate) struct Collect<'a>(pub(crate) &'a mut SpanFields);

impl Visit for Collect<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set_field(
            field,
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set_field(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set_field(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set_field(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set_field(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.set_field(field, format!("{value:?}").into());
    }
}

/// The [`Key`] of each field of one callsite, by field index.
#[derive(Debug)]
pub(crate) struct CallsiteKeys {
    callsite: Identifier,
    keys: Box<[Option<Key>]>,
}

/// Callsites whose keys this thread looked up last, most recent first.
const RECENT_CALLSITES: usize = 8;

/// Every callsite's keys, made once per callsite and kept for the program's life (callsites
/// are statics, so there are as many as the program has span macros).
static CALLSITES: Mutex<Vec<&'static CallsiteKeys>> = Mutex::new(Vec::new());

thread_local! {
    static RECENT: RefCell<[Option<&'static CallsiteKeys>; RECENT_CALLSITES]> =
        const { RefCell::new([None; RECENT_CALLSITES]) };
}

/// The keys of `metadata`'s fields: resolving each field name once per callsite instead of
/// once per recorded value was ~400 instructions of a bridged span (row J1, callgrind).
fn callsite_keys(metadata: &'static Metadata<'static>) -> &'static CallsiteKeys {
    let callsite = metadata.callsite();
    let recent = RECENT.try_with(|recent| {
        let mut recent = recent.try_borrow_mut().ok()?;
        let at = recent.iter().position(|k| k.is_some_and(|k| k.callsite == callsite));
        let keys = match at {
            Some(at) => recent[at]?,
            None => interned_keys(metadata),
        };
        // Most recent first, so that the one callsite of a loop is found at once.
        let end = at.unwrap_or(RECENT_CALLSITES - 1);
        recent[..=end].rotate_right(1);
        recent[0] = Some(keys);
        Some(keys)
    });
    recent.ok().flatten().unwrap_or_else(|| interned_keys(metadata))
}

#[cold]
fn interned_keys(metadata: &'static Metadata<'static>) -> &'static CallsiteKeys {
    let callsite = metadata.callsite();
    let mut all = CALLSITES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(keys) = all.iter().find(|k| k.callsite == callsite) {
        return keys;
    }
    let keys = metadata.fields().iter().map(|f| Key::of(f.name())).collect();
    let keys: &'static CallsiteKeys = Box::leak(Box::new(CallsiteKeys { callsite, keys }));
    all.push(keys);
    keys
}

/// A value as text, borrowed when it is a string already (the mapping only inspects most).
pub(super) fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
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

/// The observation type the span's fields and name call for.
pub(crate) fn observation_type(name: &str, target: &str, fields: &SpanFields) -> ObservationType {
    if let Some(t) = fields.langfuse("type").and_then(text).and_then(|t| t.parse().ok()) {
        return t;
    }
    if let Some(op) = fields.text(Key::OperationName) {
        match &*op {
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
    if fields.first(&[Key::ToolName, Key::ToolCallId]).is_some() {
        return ObservationType::Tool;
    }
    let model_keys = [Key::RequestModel, Key::ResponseModel, Key::Model];
    if fields.first(&model_keys).is_some() || fields.langfuse("model").is_some() {
        return ObservationType::Generation;
    }
    ObservationType::Span
}

/// What a span's fields make of its observation: encoded before the record is touched, then
/// written onto it in one go as it ends ([`Mapped::write`]). One setter per field used to lock
/// the frame and encode on its own, and metadata was encoded into a map that the record then
/// cloned key by key; that was half of a bridged span's instructions (row J1, callgrind).
#[derive(Default)]
pub(crate) struct Mapped {
    observation_type: Option<ObservationType>,
    name: Option<String>,
    model: Option<String>,
    model_parameters: Option<JsonText>,
    usage_details: Option<JsonText>,
    metadata: RecordMetadata,
    /// `user.id`, `session.id` and the other trace-level keys.
    trace: super::trace::SpanTrace,
    /// The fields most spans do not set (input, output, level, status, completion start, and
    /// metadata when a mask is set), in the order they are applied.
    rest: Vec<Update>,
}

impl Mapped {
    /// Writes the fields onto the record, moving the encoded values in (out of `self`, which
    /// is left empty: the closures that call this borrow it rather than move ~150 bytes
    /// through each frame of the end path).
    pub(crate) fn write(&mut self, r: &mut ObservationRecord) {
        if let Some(t) = self.observation_type.take() {
            r.observation_type = t;
        }
        if let Some(name) = self.name.take() {
            r.name = Cow::Owned(name);
        }
        if self.model.is_some() || self.model_parameters.is_some() || self.usage_details.is_some() {
            let g = r.generation_mut();
            if self.model.is_some() {
                g.model = self.model.take();
            }
            if self.model_parameters.is_some() {
                g.model_parameters = self.model_parameters.take();
            }
            if self.usage_details.is_some() {
                g.usage_details = self.usage_details.take();
            }
        }
        for update in self.rest.drain(..) {
            update.apply(r);
        }
        if !self.metadata.is_empty() {
            r.metadata_mut().merge_owned(std::mem::take(&mut self.metadata));
        }
        self.trace.write(r);
    }
}

/// Maps everything the span recorded to observation fields, just before it ends. The type is
/// rewritten only when fields recorded after the start call for another one than
/// `started_as`, so that a `current_generation()` inside the entered span is not undone.
/// String values the mapping consumes whole (the model) are moved out of `fields`.
pub(crate) fn map(
    span_name: &str,
    target: &str,
    start_unix_nanos: u64,
    started_as: ObservationType,
    fields: &mut SpanFields,
) -> Mapped {
    let mut m = Mapped::default();
    let observation_type = observation_type(span_name, target, fields);
    if observation_type != started_as {
        m.observation_type = Some(observation_type);
    }
    let langchain_tool = target.starts_with("langchain_rust") && span_name == "tool.call";
    m.name = fields
        .text(Key::ToolName)
        .or_else(|| langchain_tool.then(|| fields.text(Key::Tool)).flatten())
        .or_else(|| fields.text(Key::OtelName))
        .map(Cow::into_owned);
    let agent =
        matches!(fields.text(Key::OperationName).as_deref(), Some("invoke_agent" | "agent_step"));
    if !agent {
        map_model(&mut m, fields);
    }
    map_io(&mut m, fields);
    map_status(&mut m, fields);
    if let Some(seconds) = fields.get(Key::TimeToFirstChunk).and_then(Value::as_f64)
        && seconds.is_finite()
        && seconds >= 0.0
    {
        let at =
            UNIX_EPOCH + Duration::from_nanos(start_unix_nanos) + Duration::from_secs_f64(seconds);
        m.rest.push(Update::completion_start(at));
    }
    map_metadata(&mut m, fields);
    m.trace = super::trace::SpanTrace::read(fields.iter());
    m
}

fn map_model(m: &mut Mapped, fields: &mut SpanFields) {
    let has_text = |fields: &SpanFields, i: usize| text(&fields.values[i].1).is_some();
    let explicit = fields.langfuse_index("model").or_else(|| fields.langfuse_index("model.name"));
    let model = explicit.filter(|&i| has_text(fields, i)).or_else(|| {
        [Key::ResponseModel, Key::RequestModel, Key::Model]
            .into_iter()
            .find_map(|k| fields.index(k).filter(|&i| has_text(fields, i)))
    });
    if let Some(i) = model {
        // Every key the model comes from is consumed: nothing reads the value after this.
        m.model = match &mut fields.values[i].1 {
            Value::String(s) => Some(std::mem::take(s)),
            other => text(other).map(Cow::into_owned),
        };
    }
    if fields.any_parameter || fields.any_langfuse {
        m.model_parameters = model_parameters(fields);
    }
    let explicit = fields.langfuse("usage").or_else(|| fields.langfuse("usage_details"));
    if let Some(usage) = explicit.and_then(json_object) {
        m.usage_details = crate::encode::json_object_text("usage details", &usage);
        return;
    }
    m.usage_details = usage(fields);
}

/// Every `gen_ai.request.<k>` but the model, langchain-rust's `stream` and the explicit
/// `langfuse.*` parameters, as a JSON object.
fn model_parameters(fields: &SpanFields) -> Option<JsonText> {
    let mut parameters = Map::new();
    for (key, value) in fields.iter() {
        if let Some(name) = key.strip_prefix("gen_ai.request.")
            && name != "model"
        {
            parameters.insert(name.to_owned(), value.clone());
        }
    }
    if let Some(stream) = fields.get(Key::Stream) {
        parameters.entry("stream").or_insert_with(|| stream.clone());
    }
    if let Some(explicit) = fields
        .langfuse("model_parameters")
        .or_else(|| fields.langfuse("model.parameters"))
        .and_then(json_object)
    {
        parameters.extend(explicit);
    }
    if parameters.is_empty() {
        return None;
    }
    crate::encode::json_object_text("model parameters", &parameters)
}

/// `{"input", "output", "total", details…}` from the GenAI or langchain-rust counts, as JSON
/// text with sorted keys. Written directly rather than through a `Map` and the object
/// encoder: the map's owned keys and the encoding were ~1,300 instructions of a bridged span
/// (row J1, callgrind); the bytes are the encoder's (pinned by a test).
fn usage(fields: &SpanFields) -> Option<JsonText> {
    let input = fields.count(&[Key::InputTokens, Key::PromptTokens, Key::LangchainPromptTokens]);
    let output =
        fields.count(&[Key::OutputTokens, Key::CompletionTokens, Key::LangchainCompletionTokens]);
    let total = fields.count(&[Key::TotalTokens, Key::LangchainTotalTokens]);
    if input.is_none() && output.is_none() && total.is_none() {
        return None;
    }
    let mut input_left = input;
    let mut output_left = output;
    // `input_cache_read`, `input_cache_creation`, `output_reasoning`; a later key of the same
    // detail replaces an earlier one, and each is taken out of its total.
    let mut details: [Option<u64>; 3] = [None; 3];
    let keys = [
        (Key::CacheReadTokens, 0, false),
        (Key::CacheCreationTokens, 1, false),
        (Key::ReasoningTokens, 2, true),
        // genai's spelling of the same count.
        (Key::ReasoningOutputTokens, 2, true),
    ];
    for (key, slot, of_output) in keys {
        if let Some(n) = fields.get(key).and_then(count) {
            details[slot] = Some(n);
            let from = if of_output { &mut output_left } else { &mut input_left };
            *from = from.map(|f| f.saturating_sub(n));
        }
    }
    let sum = match (input, output) {
        (Some(i), Some(o)) => Some(i.saturating_add(o)),
        (one, other) => one.or(other),
    };
    // In key order, as every JSON object the SDK sends.
    let members = [
        ("input", input_left),
        ("input_cache_creation", details[1]),
        ("input_cache_read", details[0]),
        ("output", output_left),
        ("output_reasoning", details[2]),
        ("total", total.or(sum)),
    ];
    // On the stack, then copied once into a string of the right size (at most 6 members of
    // ≤ 20 names and 20 digits).
    let mut json = [0u8; 6 * 46 + 2];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        json[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(b"{");
    let mut first = true;
    for (name, n) in members {
        if let Some(n) = n {
            put(if first { &b"\""[..] } else { &b",\""[..] });
            first = false;
            put(name.as_bytes());
            put(b"\":");
            put(itoa::Buffer::new().format(n).as_bytes());
        }
    }
    put(b"}");
    // In a recycled buffer: the record's buffers come back from the export thread instead of
    // being freed there (`crate::recycle`).
    let mut buf = crate::recycle::buffer(len);
    buf.extend_from_slice(&json[..len]);
    String::from_utf8(buf).ok().map(JsonText::from_encoded)
}

/// A JSON object given as an object value or as JSON text.
fn json_object(v: &Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s).ok(),
        _ => None,
    }
}

fn map_io(m: &mut Mapped, fields: &SpanFields) {
    if let Some(input) = fields.langfuse("input").and_then(text) {
        m.rest.push(Update::input(&*input));
    } else if let Some(messages) = fields.get(Key::InputMessages) {
        match fields.get(Key::SystemInstructions) {
            Some(system) => m.rest.push(Update::input(&with_system(system, messages))),
            None => m.rest.push(text_or_json(messages, false)),
        }
    } else if let Some(system) = fields.get(Key::SystemInstructions) {
        m.rest.push(Update::input(&with_system(system, &Value::Array(Vec::new()))));
    } else if let Some(arguments) = fields.get(Key::ToolCallArguments) {
        m.rest.push(text_or_json(arguments, false));
    }
    if let Some(output) = fields.langfuse("output").and_then(text) {
        m.rest.push(Update::output(&*output));
    } else if let Some(v) = fields.first(&[Key::OutputMessages, Key::ToolCallResult]) {
        m.rest.push(text_or_json(v, true));
    }
}

/// Strings (usually JSON text already) go as they are, other values as JSON.
fn text_or_json(value: &Value, output: bool) -> Update {
    match (value, output) {
        (Value::String(s), false) => Update::input(s.as_str()),
        (Value::String(s), true) => Update::output(s.as_str()),
        (other, false) => Update::input(other),
        (other, true) => Update::output(other),
    }
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

fn map_status(m: &mut Mapped, fields: &SpanFields) {
    if let Some(level) =
        fields.langfuse("level").and_then(text).and_then(|l| l.parse::<Level>().ok())
    {
        m.rest.push(Update::Level(level));
    }
    if let Some(message) = fields.langfuse("status_message").and_then(text) {
        m.rest.push(Update::StatusMessage(message.into_owned()));
    }
    let status_error =
        fields.text(Key::StatusCode).is_some_and(|code| code.eq_ignore_ascii_case("error"));
    let error_type = fields.first_text(&[Key::ErrorType, Key::ToolErrorType]);
    let langchain_error = match fields.get(Key::Error) {
        Some(Value::Bool(true)) => Some(Cow::Borrowed("error")),
        Some(Value::Bool(false)) | None => None,
        Some(other) => text(other),
    };
    if status_error || error_type.is_some() || langchain_error.is_some() {
        let message = fields
            .text(Key::StatusMessage)
            .or(error_type)
            .or(langchain_error)
            .map_or_else(|| "error".to_owned(), Cow::into_owned);
        m.rest.push(Update::Error(message));
    }
}

fn map_metadata(m: &mut Mapped, fields: &SpanFields) {
    // With a mask, each key is masked as the one-key object it is, as `add_metadata` does.
    let masked = crate::mask::active();
    let add = |m: &mut Mapped, key: Cow<'static, str>, value: &Value| {
        if masked {
            m.rest.push(Update::metadata_key(&key, value));
        } else {
            let text = match value {
                Value::String(s) => crate::encode::json_str_text(s),
                other => crate::encode::json_text(other),
            };
            m.metadata.insert_key(key, text);
        }
    };
    for (key, value, known) in &fields.values {
        if known.is_some_and(Key::is_consumed)
            || is_dropped(key)
            || key.starts_with("gen_ai.request.")
        {
            continue;
        }
        if matches!(key.as_ref(), "user.id" | "session.id") {
            continue; // the trace's (`trace.rs`)
        }
        if let Some(rest) = key.strip_prefix("langfuse.") {
            let rest = rest.strip_prefix("observation.").unwrap_or(rest);
            if let Some(k) = rest.strip_prefix("metadata.") {
                // The key's tail, still borrowed when the key is a static name.
                let k = match key {
                    Cow::Borrowed(name) => Cow::Borrowed(&name[name.len() - k.len()..]),
                    Cow::Owned(_) => Cow::Owned(k.to_owned()),
                };
                match value {
                    Value::String(s) => {
                        let parsed = serde_json::from_str::<Value>(s).unwrap_or(value.clone());
                        add(m, k, &parsed);
                    }
                    other => add(m, k, other),
                }
            }
            // Every other `langfuse.*` field was read as the field it names.
            continue;
        }
        add(m, key.clone(), value);
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
        let u: Value = usage(&f).unwrap().parse_as().unwrap();
        assert_eq!(
            u,
            serde_json::json!({"input": 70, "input_cache_read": 30, "output": 15, "output_reasoning": 5, "total": 120})
        );
        let langchain = fields(&[("prompt_tokens", 7.into()), ("total_tokens", 9.into())]);
        assert_eq!(
            usage(&langchain).unwrap().parse_as::<Value>().unwrap(),
            serde_json::json!({"input": 7, "total": 9})
        );
        assert!(usage(&SpanFields::default()).is_none());
    }

    #[test]
    fn usage_text_is_what_the_object_encoder_writes() {
        let all = fields(&[
            ("gen_ai.usage.input_tokens", 100.into()),
            ("gen_ai.usage.output_tokens", 20.into()),
            ("gen_ai.usage.cache_read.input_tokens", 30.into()),
            ("gen_ai.usage.cache_creation.input_tokens", 10.into()),
            ("gen_ai.usage.reasoning.output_tokens", 5.into()),
            ("gen_ai.usage.total_tokens", 200.into()),
        ]);
        let output_only = fields(&[("completion_tokens", 3.into())]);
        let total_only = fields(&[("total_tokens", 9.into())]);
        for f in [all, output_only, total_only] {
            let text = usage(&f).unwrap();
            let value: Map<String, Value> = text.parse_as().unwrap();
            let encoded = crate::encode::json_object_text("usage details", &value).unwrap();
            assert_eq!(text.as_str(), encoded.as_str());
        }
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
