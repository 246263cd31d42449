//! One update of one observation field, encoded before any lock is taken. Shared by
//! [`ObservationRef`](super::ObservationRef) setters and the
//! [`ObservationBuilder`](super::ObservationBuilder), so both write identical values.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::Serialize;

use crate::encode;
use crate::kind::{Level, ObservationType};
use crate::mask;
use crate::payload::{JsonText, Payload};
use crate::record::{Metadata, ObservationRecord};

pub(crate) enum Field {
    Name(Cow<'static, str>),
    Type(ObservationType),
    Input(Option<Payload>),
    Output(Option<Payload>),
    Metadata(Metadata, Option<JsonText>),
    Level(Level),
    StatusMessage(String),
    Error(String),
    Version(String),
    Model(String),
    ModelParameters(Option<JsonText>),
    UsageDetails(Option<JsonText>),
    CostDetails(Option<JsonText>),
    CompletionStart(u64),
    Prompt(String, i64),
    TracePublic,
}

impl Field {
    // Input, output and metadata pass the user's mask first, when one is set (`crate::mask`).
    pub(crate) fn input<T: Serialize + ?Sized>(v: &T) -> Self {
        Self::Input(if mask::active() { mask::io(v) } else { encode::io_text(v) })
    }
    pub(crate) fn output<T: Serialize + ?Sized>(v: &T) -> Self {
        Self::Output(if mask::active() { mask::io(v) } else { encode::io_text(v) })
    }
    pub(crate) fn metadata<T: Serialize + ?Sized>(v: &T) -> Self {
        if mask::active() {
            Self::unmasked_metadata(&mask::metadata(v))
        } else {
            Self::unmasked_metadata(v)
        }
    }
    fn unmasked_metadata<T: Serialize + ?Sized>(v: &T) -> Self {
        let mut map = Metadata::default();
        let mut bare = None;
        encode::merge_metadata(&mut map, &mut bare, v);
        Self::Metadata(map, bare)
    }
    pub(crate) fn metadata_key<T: Serialize + ?Sized>(key: &str, v: &T) -> Self {
        if mask::active() {
            // Masked as the one-key metadata object it is.
            return Self::metadata(&std::collections::BTreeMap::from([(key, v)]));
        }
        let mut map = Metadata::default();
        map.insert(key, encode::json_text(v));
        Self::Metadata(map, None)
    }
    pub(crate) fn model_parameters<T: Serialize + ?Sized>(v: &T) -> Self {
        Self::ModelParameters(encode::json_object_text("model parameters", v))
    }
    pub(crate) fn usage_details<T: Serialize + ?Sized>(v: &T) -> Self {
        Self::UsageDetails(encode::json_object_text("usage details", v))
    }
    pub(crate) fn cost_details<T: Serialize + ?Sized>(v: &T) -> Self {
        Self::CostDetails(encode::json_object_text("cost details", v))
    }
    pub(crate) fn completion_start(at: SystemTime) -> Self {
        let nanos = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self::CompletionStart(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub(crate) fn apply(self, r: &mut ObservationRecord) {
        match self {
            Self::Name(name) => r.name = name,
            Self::Type(t) => r.observation_type = t,
            Self::Input(v) => r.input = v,
            Self::Output(v) => r.output = v,
            Self::Metadata(map, bare) => {
                if !map.is_empty() {
                    r.metadata_mut().merge_from(&map);
                }
                if bare.is_some() {
                    r.set_metadata_value(bare);
                }
            }
            Self::Level(level) => r.level = Some(level),
            Self::StatusMessage(m) => r.set_status_message(Some(m)),
            Self::Error(m) => {
                r.level = Some(Level::Error);
                r.set_status_message(Some(m));
            }
            Self::Version(v) => r.set_version(Some(v)),
            Self::Model(m) => r.generation_mut().model = Some(m),
            Self::ModelParameters(v) => r.generation_mut().model_parameters = v,
            Self::UsageDetails(v) => r.generation_mut().usage_details = v,
            Self::CostDetails(v) => r.generation_mut().cost_details = v,
            Self::CompletionStart(v) => r.generation_mut().completion_start_time = Some(v),
            Self::Prompt(name, version) => {
                let g = r.generation_mut();
                g.prompt_name = Some(name);
                g.prompt_version = Some(version);
            }
            Self::TracePublic => r.trace_public = true,
        }
    }
}

/// Masks what an `#[observe]` call recorded at its start (input and metadata, already wire
/// text) when a masking hook is set; one branch otherwise.
#[inline]
pub(crate) fn mask_call_start(r: &mut ObservationRecord) {
    if mask::active() {
        mask_call_start_now(r);
    }
}

#[inline(never)]
fn mask_call_start_now(r: &mut ObservationRecord) {
    if let Some(text) = r.input.as_ref().and_then(mask::changed_io_text) {
        Field::Input(text).apply(r);
    }
    if !r.metadata().is_empty()
        && let Some(masked) = mask::changed_metadata(r.metadata())
    {
        // The hook may have dropped keys: the masked object replaces the metadata.
        *r.metadata_mut() = Metadata::default();
        Field::unmasked_metadata(&masked).apply(r);
    }
}

/// Generates the setter list once for both the handle (`&self`, `set_*`) and the builder
/// (`self`, bare names), so the two can never disagree.
macro_rules! field_setters {
    ($callback:ident) => {
        $callback! {
            /// Sets the input: a string is sent as is, anything else as compact JSON.
            set_input / input <T>(value: &T) => Field::input(value);
            /// Sets the output: a string is sent as is, anything else as compact JSON.
            set_output / output <T>(value: &T) => Field::output(value);
            /// Merges metadata: each top-level key of an object becomes its own attribute
            /// (later updates overwrite a key, `null` values are skipped); any other value is
            /// stored whole under the bare metadata key.
            merge_metadata / metadata <T>(value: &T) => Field::metadata(value);
            /// Sets the level; [`Level::Error`] also marks the span status as ERROR.
            set_level / level (level: Level) => Field::Level(level);
            /// Sets the status message (the error text for level ERROR).
            set_status_message / status_message (message: impl Into<String>) => Field::StatusMessage(message.into());
            /// Sets the version (`langfuse.version`).
            set_version / version (version: impl Into<String>) => Field::Version(version.into());
            /// Sets the model name (generation-like types).
            set_model / model (model: impl Into<String>) => Field::Model(model.into());
            /// Sets model parameters, a JSON object such as `{"temperature": 0.2}`.
            set_model_parameters / model_parameters <T>(value: &T) => Field::model_parameters(value);
            /// Sets usage details, a JSON object of integers such as
            /// `{"prompt_tokens": 15, "completion_tokens": 60}` or a [`Usage`](crate::Usage).
            set_usage_details / usage_details <T>(value: &T) => Field::usage_details(value);
            /// Sets cost details in USD, a JSON object of numbers such as `{"input": 0.0015}`.
            set_cost_details / cost_details <T>(value: &T) => Field::cost_details(value);
            /// Sets when the model started answering (time to first token).
            set_completion_start_time / completion_start_time (at: std::time::SystemTime) => Field::completion_start(at);
            /// Links a Langfuse prompt by name and version (shown on generations).
            set_prompt / prompt (name: impl Into<String>, version: i64) => Field::Prompt(name.into(), version);
            /// Sets the observation type, e.g. to turn a span into a generation.
            set_type / as_type (observation_type: ObservationType) => Field::Type(observation_type);
        }
    };
}
pub(crate) use field_setters;
