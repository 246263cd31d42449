//! What a finished observation looks like on its way to an exporter.
//!
//! Every value is already in its wire encoding ([`Payload`] for input and output, [`JsonText`]
//! for JSON), so exporters only copy bytes, and parse when they want a value;
//! [`crate::attributes`] decides which keys they go under.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::payload::{JsonText, Payload};

/// A finished observation, as handed to a [`SpanExporter`](crate::export::SpanExporter).
///
/// What every observation has is a public field; what most never set (status message,
/// version, metadata, generation fields) sits behind one allocation made on first use, read
/// with [`ObservationRecord::status_message`] and its siblings. That keeps the record at 160
/// bytes: it is moved twice per observation on the instrumented thread.
///
/// ```
/// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
/// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "llm", ObservationType::Generation, 0);
/// r.set_status_message(Some("rate limited".into()));
/// r.generation_mut().model = Some("gpt-4o".into());
/// assert_eq!(r.status_message(), Some("rate limited"));
/// assert_eq!(r.generation().and_then(|g| g.model.as_deref()), Some("gpt-4o"));
/// assert!(r.metadata().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObservationRecord {
    /// Trace the observation belongs to.
    pub trace_id: TraceId,
    /// The observation's own id (OTel span id).
    pub id: ObservationId,
    /// Parent observation, `None` for a trace root.
    pub parent_id: Option<ObservationId>,
    /// Display name.
    pub name: Cow<'static, str>,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End, nanoseconds since the Unix epoch (equal to the start for events).
    pub end_unix_nanos: u64,
    /// `langfuse.observation.input`: raw text for strings, compact JSON otherwise.
    pub input: Option<Payload>,
    /// `langfuse.observation.output`, encoded like the input.
    pub output: Option<Payload>,
    /// Trace-level attributes propagated from the context this observation started in.
    pub trace: Option<Arc<TraceAttributes>>,
    /// `langfuse.observation.type`.
    pub observation_type: ObservationType,
    /// `langfuse.observation.level`, omitted when `None`.
    pub level: Option<Level>,
    /// The parent came from another process (traceparent) or an explicit trace context.
    pub parent_is_remote: bool,
    /// `langfuse.trace.public = true` was requested on this observation.
    pub trace_public: bool,
    /// `langfuse.internal.as_root`: started under an explicit trace context.
    pub as_root: bool,
    /// `langfuse.internal.is_app_root`: the application's root observation (no parent of
    /// this process: a new trace, or a remote or explicit parent).
    pub is_app_root: bool,
    /// The rarely set fields, allocated on first write.
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Details {
    status_message: Option<String>,
    version: Option<String>,
    metadata: Metadata,
    metadata_value: Option<JsonText>,
    generation: Option<GenerationFields>,
    exception: Option<ExceptionEvent>,
}

/// A panic that escaped the observation's scope: sent as the OTel span event `exception`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExceptionEvent {
    /// When it was recorded, nanoseconds since the Unix epoch.
    pub(crate) time_unix_nanos: u64,
    /// `exception.type`.
    pub(crate) type_name: &'static str,
    /// `exception.message`.
    pub(crate) message: String,
    /// `exception.stacktrace`, when known.
    pub(crate) stacktrace: Option<String>,
}

static NO_METADATA: Metadata = Metadata(Vec::new());

/// Detail boxes of exported records, emptied and handed back by the export thread
/// ([`give_back_details`]) for the next records' details, like `crate::recycle`'s buffers:
/// a box allocated on an instrumented thread and freed on the export thread sends malloc down
/// its locked path on both (every bridged span has details; `#[observe]` calls rarely do).
// Boxes on purpose (clippy's `vec_box`): the boxes' allocations are what is reused.
#[allow(clippy::vec_box)]
static SPARE_DETAILS: Mutex<Vec<Box<Details>>> = Mutex::new(Vec::new());
/// Most boxes kept in [`SPARE_DETAILS`], and how many a thread takes at once.
const MAX_SPARE_DETAILS: usize = 4096;
const DETAILS_BATCH: usize = 64;
/// Metadata vectors larger than this are freed rather than kept in a spare box.
const MAX_KEPT_METADATA: usize = 8;

thread_local! {
    #[allow(clippy::vec_box)]
    static LOCAL_DETAILS: RefCell<Vec<Box<Details>>> = const { RefCell::new(Vec::new()) };
}

/// An empty detail box, recycled when one is available.
fn spare_details() -> Box<Details> {
    let recycled = LOCAL_DETAILS.try_with(|local| {
        let mut local = local.try_borrow_mut().ok()?;
        if local.is_empty() {
            let mut spare = SPARE_DETAILS.lock().unwrap_or_else(|e| e.into_inner());
            let start = spare.len().saturating_sub(DETAILS_BATCH);
            local.extend(spare.drain(start..));
        }
        local.pop()
    });
    recycled.ok().flatten().unwrap_or_default()
}

/// Takes the detail boxes of exported records back for reuse: emptied, keeping the metadata
/// vector's room. Called on the export thread once the records are exported.
pub(crate) fn give_back_details(records: &mut [ObservationRecord]) {
    #[allow(clippy::vec_box)]
    let mut kept: Vec<Box<Details>> = Vec::new();
    for record in records {
        let Some(mut details) = record.details.take() else { continue };
        let mut metadata = std::mem::take(&mut details.metadata.0);
        *details = Details::default();
        if metadata.capacity() <= MAX_KEPT_METADATA {
            metadata.clear();
            details.metadata.0 = metadata;
        }
        kept.push(details);
    }
    if kept.is_empty() {
        return;
    }
    let mut spare = SPARE_DETAILS.lock().unwrap_or_else(|e| e.into_inner());
    let room = MAX_SPARE_DETAILS.saturating_sub(spare.len());
    kept.truncate(room);
    spare.append(&mut kept);
}

impl ObservationRecord {
    /// A record with only the identity, name, type and times filled in.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let trace = TraceId::from_seed("order-42");
    /// let r = ObservationRecord::new(trace, ObservationId::random(), None, "checkout", ObservationType::Span, 1_700_000_000_000_000_000);
    /// assert_eq!((r.trace_id, r.parent_id), (trace, None));
    /// assert_eq!(r.end_unix_nanos, r.start_unix_nanos);
    /// ```
    #[inline]
    pub fn new(
        trace_id: TraceId,
        id: ObservationId,
        parent_id: Option<ObservationId>,
        name: impl Into<Cow<'static, str>>,
        observation_type: ObservationType,
        start_unix_nanos: u64,
    ) -> Self {
        Self {
            trace_id,
            id,
            parent_id,
            name: name.into(),
            start_unix_nanos,
            end_unix_nanos: start_unix_nanos,
            input: None,
            output: None,
            trace: None,
            observation_type,
            level: None,
            parent_is_remote: false,
            trace_public: false,
            as_root: false,
            is_app_root: false,
            details: None,
        }
    }

    /// Whether the OTel span status is ERROR (level ERROR).
    ///
    /// ```
    /// use langfuse_runtime::{Level, ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// assert!(!r.is_error());
    /// r.level = Some(Level::Error);
    /// assert!(r.is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        self.level == Some(Level::Error)
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(spare_details)
    }

    /// Sets or clears one optional detail; clearing one that was never set allocates nothing.
    fn set_detail<T>(&mut self, value: Option<T>, slot: fn(&mut Details) -> &mut Option<T>) {
        if value.is_some() || self.details.is_some() {
            *slot(self.details_mut()) = value;
        }
    }

    /// `langfuse.observation.status_message`.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// assert_eq!(r.status_message(), None);
    /// r.set_status_message(Some("timed out".into()));
    /// assert_eq!(r.status_message(), Some("timed out"));
    /// ```
    pub fn status_message(&self) -> Option<&str> {
        self.details.as_ref()?.status_message.as_deref()
    }

    /// Sets or clears the status message.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// r.set_status_message(Some("timed out".into()));
    /// r.set_status_message(None);
    /// assert_eq!(r.status_message(), None);
    /// ```
    pub fn set_status_message(&mut self, message: Option<String>) {
        self.set_detail(message, |d| &mut d.status_message);
    }

    /// `langfuse.version` of this observation.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// assert_eq!(r.version(), None);
    /// r.set_version(Some("v2".into()));
    /// assert_eq!(r.version(), Some("v2"));
    /// ```
    pub fn version(&self) -> Option<&str> {
        self.details.as_ref()?.version.as_deref()
    }

    /// Sets or clears the version.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// r.set_version(Some("v2".into()));
    /// r.set_version(None);
    /// assert_eq!(r.version(), None);
    /// ```
    pub fn set_version(&mut self, version: Option<String>) {
        self.set_detail(version, |d| &mut d.version);
    }

    /// `langfuse.observation.metadata.<key>`: one entry per top-level key, JSON-encoded value.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// assert!(r.metadata().is_empty());
    /// r.metadata_mut().insert("rows", "3".parse().unwrap());
    /// assert_eq!(r.metadata().get("rows").map(|v| v.as_str()), Some("3"));
    /// ```
    pub fn metadata(&self) -> &Metadata {
        self.details.as_ref().map_or(&NO_METADATA, |d| &d.metadata)
    }

    /// The metadata, for adding keys.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// r.metadata_mut().insert("exported_by", "\"my-exporter\"".parse().unwrap());
    /// assert_eq!(r.metadata().len(), 1);
    /// ```
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.details_mut().metadata
    }

    /// Non-object metadata, JSON-encoded, under the bare `langfuse.observation.metadata` key.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// assert!(r.metadata_value().is_none());
    /// r.set_metadata_value(Some("[1,2]".parse().unwrap()));
    /// assert_eq!(r.metadata_value().map(|v| v.as_str()), Some("[1,2]"));
    /// ```
    pub fn metadata_value(&self) -> Option<&JsonText> {
        self.details.as_ref()?.metadata_value.as_ref()
    }

    /// Sets or clears the non-object metadata.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "step", ObservationType::Span, 0);
    /// r.set_metadata_value(Some("\"a note\"".parse().unwrap()));
    /// r.set_metadata_value(None);
    /// assert!(r.metadata_value().is_none());
    /// ```
    pub fn set_metadata_value(&mut self, json: Option<JsonText>) {
        self.set_detail(json, |d| &mut d.metadata_value);
    }

    /// Model, usage, cost, … (generation-like types), if any was set.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "chat", ObservationType::Generation, 0);
    /// assert!(r.generation().is_none());
    /// r.generation_mut().model = Some("gpt-4o".into());
    /// assert_eq!(r.generation().and_then(|g| g.model.as_deref()), Some("gpt-4o"));
    /// ```
    pub fn generation(&self) -> Option<&GenerationFields> {
        self.details.as_ref()?.generation.as_ref()
    }

    /// The generation fields, created empty on first use.
    ///
    /// ```
    /// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
    /// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "chat", ObservationType::Generation, 0);
    /// r.generation_mut().prompt_name = Some("qa".into());
    /// assert!(r.generation().is_some());
    /// ```
    pub fn generation_mut(&mut self) -> &mut GenerationFields {
        self.details_mut().generation.get_or_insert_with(Default::default)
    }

    /// Whether any rarely set field (status message, version, metadata, generation fields,
    /// exception) was ever written: lets byte accounting skip them all with one branch.
    #[inline]
    pub(crate) fn has_details(&self) -> bool {
        self.details.is_some()
    }

    /// The panic that escaped the observation's scope, if one did.
    /// Hands `keep` the text buffers of the details a bridged span sets (metadata values, the
    /// model, model parameters and usage), leaving them empty, so that an exported record's
    /// buffers go back to the instrumented threads ([`crate::recycle`]) instead of being freed
    /// on the export thread.
    pub(crate) fn take_detail_buffers(&mut self, mut keep: impl FnMut(String)) {
        let Some(details) = self.details.as_mut() else { return };
        // Short JSON texts are inline: only heap buffers are handed over.
        for (_, value) in &mut details.metadata.0 {
            if let Some(buffer) = std::mem::take(value).into_buffer() {
                keep(buffer);
            }
        }
        if let Some(g) = details.generation.as_mut() {
            for text in [&mut g.model_parameters, &mut g.usage_details] {
                if let Some(buffer) = text.take().and_then(JsonText::into_buffer) {
                    keep(buffer);
                }
            }
            if let Some(model) = g.model.take() {
                keep(model);
            }
        }
    }

    pub(crate) fn exception(&self) -> Option<&ExceptionEvent> {
        self.details.as_ref()?.exception.as_ref()
    }

    /// Records a panic that escaped the observation's scope.
    pub(crate) fn set_exception(&mut self, event: ExceptionEvent) {
        self.details_mut().exception = Some(event);
    }
}

/// Generation-only fields (`generation` and `embedding`), already encoded.
///
/// ```
/// use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId};
/// let mut r = ObservationRecord::new(TraceId::random(), ObservationId::random(), None, "chat", ObservationType::Generation, 0);
/// let g = r.generation_mut();
/// g.model = Some("gpt-4o".into());
/// g.usage_details = Some(r#"{"input":12,"output":3}"#.parse().unwrap());
/// let usage: serde_json::Value = r.generation().unwrap().usage_details.as_ref().unwrap().parse_as().unwrap();
/// assert_eq!(usage["output"], 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GenerationFields {
    /// `langfuse.observation.model.name`.
    pub model: Option<String>,
    /// `langfuse.observation.model.parameters`: a JSON object.
    pub model_parameters: Option<JsonText>,
    /// `langfuse.observation.usage_details`: a JSON object of integers.
    pub usage_details: Option<JsonText>,
    /// `langfuse.observation.cost_details`: a JSON object of numbers.
    pub cost_details: Option<JsonText>,
    /// When the model started answering (time to first token), in nanoseconds since the Unix
    /// epoch; sent as `langfuse.observation.completion_start_time`, an RFC 3339 JSON string.
    pub completion_start_time: Option<u64>,
    /// `langfuse.observation.prompt.name`.
    pub prompt_name: Option<String>,
    /// `langfuse.observation.prompt.version` (an OTLP int).
    pub prompt_version: Option<i64>,
}

/// Trace-level attributes carried by the context and stamped on every observation started in it.
///
/// Set with [`propagate_attributes`](crate::propagate_attributes); an exporter reads them from
/// [`ObservationRecord::trace`].
///
/// ```
/// use langfuse_runtime::TraceAttributes;
/// let mut t = TraceAttributes::default();
/// t.user_id = Some("user-42".into());
/// assert!(t.session_id.is_none() && t.tags.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TraceAttributes {
    /// `langfuse.trace.name`.
    pub name: Option<String>,
    /// `user.id`.
    pub user_id: Option<String>,
    /// `session.id`.
    pub session_id: Option<String>,
    /// `langfuse.version` (an observation's own version wins).
    pub version: Option<String>,
    /// `langfuse.trace.tags`, an OTLP array of strings.
    pub tags: Vec<String>,
    /// `langfuse.trace.metadata.<key>`, JSON-encoded values.
    pub metadata: Metadata,
    /// `langfuse.environment`, overriding the client's environment.
    pub environment: Option<String>,
    /// Prompt linked to generations that do not set their own.
    pub prompt_name: Option<String>,
    /// Version of [`TraceAttributes::prompt_name`].
    pub prompt_version: Option<i64>,
    /// The members of these sent as W3C baggage (`Propagate::as_baggage`); never exported.
    pub(crate) baggage: crate::bridge::baggage::Baggage,
}

/// Ordered metadata with unique keys; values are compact JSON text.
///
/// ```
/// use langfuse_runtime::{JsonText, Metadata};
/// let mut m = Metadata::default();
/// m.insert("provider", "\"openai\"".parse::<JsonText>().unwrap());
/// m.insert("provider", "\"azure\"".parse::<JsonText>().unwrap());
/// assert_eq!(m.get("provider").map(|v| v.as_str()), Some("\"azure\""));
/// assert_eq!(m.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(Vec<(Cow<'static, str>, JsonText)>);

const _: () = assert!(std::mem::size_of::<ObservationRecord>() <= 160);

impl Metadata {
    /// Sets `key` to an already JSON-encoded value, replacing an earlier value in place.
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// let mut m = Metadata::default();
    /// m.insert("region", "\"eu\"".parse().unwrap());
    /// assert_eq!(m.get("region").map(|v| v.as_str()), Some("\"eu\""));
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, json_value: JsonText) {
        self.insert_key(Cow::Owned(key.into()), json_value);
    }

    /// [`insert`](Self::insert) with a key that may be borrowed: a `tracing` field's name is
    /// a `&'static str`, and an allocated key would be freed on the export thread (cross-thread
    /// frees are most of what a bridged span costs in time, row J1's perf profile).
    pub(crate) fn insert_key(&mut self, key: Cow<'static, str>, json_value: JsonText) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = json_value,
            None => self.0.push((key, json_value)),
        }
    }

    /// Merges `other` over `self` (keys of `other` win, new keys are appended).
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// let (mut a, mut b) = (Metadata::default(), Metadata::default());
    /// a.insert("k", "1".parse().unwrap());
    /// b.insert("k", "2".parse().unwrap());
    /// b.insert("new", "3".parse().unwrap());
    /// a.merge_from(&b);
    /// let keys: Vec<_> = a.iter().map(|(k, v)| format!("{k}={v}")).collect();
    /// assert_eq!(keys, ["k=2", "new=3"]);
    /// ```
    pub fn merge_from(&mut self, other: &Metadata) {
        for (k, v) in &other.0 {
            self.insert_key(k.clone(), v.clone());
        }
    }

    /// [`merge_from`](Self::merge_from) for a map that is not needed afterwards: its keys and
    /// values are moved in, not cloned (into an empty map, the whole vector is).
    pub(crate) fn merge_owned(&mut self, other: Metadata) {
        if self.0.is_empty() {
            self.0 = other.0;
            return;
        }
        for (k, v) in other.0 {
            self.insert_key(k, v);
        }
    }

    /// The JSON-encoded value of `key`.
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// let mut m = Metadata::default();
    /// m.insert("rows", "3".parse().unwrap());
    /// assert_eq!(m.get("rows").and_then(|v| v.parse_as::<u32>().ok()), Some(3));
    /// assert!(m.get("missing").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&JsonText> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Entries in insertion order.
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// let mut m = Metadata::default();
    /// m.insert("b", "1".parse().unwrap());
    /// m.insert("a", "2".parse().unwrap());
    /// let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["b", "a"], "insertion order");
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &JsonText)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Number of keys.
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// let mut m = Metadata::default();
    /// m.insert("a", "1".parse().unwrap());
    /// m.insert("a", "2".parse().unwrap());
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    ///
    /// ```
    /// use langfuse_runtime::Metadata;
    /// assert!(Metadata::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ObservationRecord {
        ObservationRecord::new(
            TraceId::random(),
            ObservationId::random(),
            None,
            "r",
            ObservationType::Span,
            0,
        )
    }

    #[test]
    fn a_given_back_detail_box_comes_back_empty() {
        let mut exported = record();
        exported.set_status_message(Some("failed".into()));
        exported.generation_mut().model = Some("m".into());
        exported.metadata_mut().insert("k", "1".parse().unwrap());
        give_back_details(std::slice::from_mut(&mut exported));
        assert!(!exported.has_details());
        // Whichever box the next record gets (other tests share the pool), it is empty.
        for _ in 0..DETAILS_BATCH + 1 {
            let mut next = record();
            next.set_version(Some("v2".into()));
            assert_eq!(next.status_message(), None);
            assert_eq!(next.generation(), None);
            assert!(next.metadata().is_empty() && next.metadata_value().is_none());
            assert_eq!(next.version(), Some("v2"));
        }
    }
}
