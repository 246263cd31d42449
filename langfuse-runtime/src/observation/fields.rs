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
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::span;
            /// let search = span("search").input(&"rust").start(); // builder
            /// search.set_input(&serde_json::json!({"q": "rust"})); // handle: replaces it
            /// search.end();
            /// assert_eq!(records()[0].input.as_ref().map(|p| p.as_str()), Some(r#"{"q":"rust"}"#));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_input / input <T>(value: &T) => Field::input(value);
            /// Sets the output: a string is sent as is, anything else as compact JSON.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::span;
            /// let step = span("step").output(&"draft").start();
            /// step.set_output(&["doc-1", "doc-2"]);
            /// step.end();
            /// assert_eq!(records()[0].output.as_ref().map(|p| p.as_str()), Some(r#"["doc-1","doc-2"]"#));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_output / output <T>(value: &T) => Field::output(value);
            /// Merges metadata: each top-level key of an object becomes its own attribute
            /// (later updates overwrite a key, `null` values are skipped); any other value is
            /// stored whole under the bare metadata key.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::span;
            /// use serde_json::json;
            /// let query = span("db_query").metadata(&json!({"db": "orders", "rows": 1})).start();
            /// query.merge_metadata(&json!({"rows": 42}));
            /// query.end();
            /// let records = records();
            /// let r = &records[0];
            /// assert_eq!(r.metadata().get("db").map(|v| v.as_str()), Some(r#""orders""#));
            /// assert_eq!(r.metadata().get("rows").map(|v| v.as_str()), Some("42"));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            merge_metadata / metadata <T>(value: &T) => Field::metadata(value);
            /// Sets the level; [`Level::Error`] also marks the span status as ERROR.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::{Level, span};
            /// let step = span("fallback").level(Level::Debug).start();
            /// step.set_level(Level::Warning);
            /// step.end();
            /// assert_eq!(records()[0].level, Some(Level::Warning));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_level / level (level: Level) => Field::Level(level);
            /// Sets the status message (the error text for level ERROR).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::span;
            /// let step = span("retry").status_message("first attempt").start();
            /// step.set_status_message("succeeded on attempt 2");
            /// step.end();
            /// assert_eq!(records()[0].status_message(), Some("succeeded on attempt 2"));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_status_message / status_message (message: impl Into<String>) => Field::StatusMessage(message.into());
            /// Sets the version (`langfuse.version`).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::span;
            /// let step = span("rank").version("v1").start();
            /// step.set_version("v2");
            /// step.end();
            /// assert_eq!(records()[0].version(), Some("v2"));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_version / version (version: impl Into<String>) => Field::Version(version.into());
            /// Sets the model name (generation-like types).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::generation;
            /// let llm = generation("chat").model("gpt-4o-mini").start();
            /// llm.set_model("gpt-4o"); // e.g. after a fallback
            /// llm.end();
            /// assert_eq!(records()[0].generation().and_then(|g| g.model.as_deref()), Some("gpt-4o"));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_model / model (model: impl Into<String>) => Field::Model(model.into());
            /// Sets model parameters, a JSON object such as `{"temperature": 0.2}`.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::generation;
            /// use serde_json::json;
            /// let llm = generation("chat").model_parameters(&json!({"temperature": 0.2})).start();
            /// llm.set_model_parameters(&json!({"temperature": 0.2, "max_tokens": 256}));
            /// llm.end();
            /// let params = records()[0].generation().and_then(|g| g.model_parameters.as_deref().map(str::to_owned));
            /// assert_eq!(params.as_deref(), Some(r#"{"max_tokens":256,"temperature":0.2}"#));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_model_parameters / model_parameters <T>(value: &T) => Field::model_parameters(value);
            /// Sets usage details, a JSON object of integers such as
            /// `{"prompt_tokens": 15, "completion_tokens": 60}` or a [`Usage`](crate::Usage).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::{Usage, generation};
            /// let llm = generation("chat").usage_details(&Usage::new(10, 0)).start();
            /// llm.set_usage_details(&Usage::new(15, 60));
            /// llm.end();
            /// let usage = records()[0].generation().and_then(|g| g.usage_details.as_deref().map(str::to_owned));
            /// assert_eq!(usage.as_deref(), Some(r#"{"completion_tokens":60,"prompt_tokens":15,"total_tokens":75}"#));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_usage_details / usage_details <T>(value: &T) => Field::usage_details(value);
            /// Sets cost details in USD, a JSON object of numbers such as `{"input": 0.0015}`.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::generation;
            /// use serde_json::json;
            /// let llm = generation("chat").cost_details(&json!({"input": 0.001})).start();
            /// llm.set_cost_details(&json!({"input": 0.0015, "output": 0.006}));
            /// llm.end();
            /// let cost = records()[0].generation().and_then(|g| g.cost_details.as_deref().map(str::to_owned));
            /// assert_eq!(cost.as_deref(), Some(r#"{"input":0.0015,"output":0.006}"#));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_cost_details / cost_details <T>(value: &T) => Field::cost_details(value);
            /// Sets when the model started answering (time to first token).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use std::time::{Duration, UNIX_EPOCH};
            /// use langfuse_runtime::generation;
            /// let first_token = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            /// let llm = generation("chat").completion_start_time(first_token).start();
            /// llm.set_completion_start_time(first_token + Duration::from_millis(250));
            /// llm.end();
            /// let at = records()[0].generation().and_then(|g| g.completion_start_time);
            /// assert_eq!(at, Some(1_700_000_000_250_000_000));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_completion_start_time / completion_start_time (at: std::time::SystemTime) => Field::completion_start(at);
            /// Links a Langfuse prompt by name and version (shown on generations).
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::generation;
            /// let llm = generation("chat").prompt("qa-prompt", 3).start();
            /// llm.set_prompt("qa-prompt", 4);
            /// llm.end();
            /// let records = records();
            /// let r = &records[0];
            /// let g = r.generation().unwrap();
            /// assert_eq!((g.prompt_name.as_deref(), g.prompt_version), (Some("qa-prompt"), Some(4)));
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_prompt / prompt (name: impl Into<String>, version: i64) => Field::Prompt(name.into(), version);
            /// Sets the observation type, e.g. to turn a span into a generation.
            ///
            /// ```
            /// # use std::sync::{Arc, Mutex};
            /// # use langfuse_runtime::{export::{ExportError, SpanExporter}, ObservationRecord};
            /// # #[derive(Clone, Default)]
            /// # struct Sink(Arc<Mutex<Vec<ObservationRecord>>>);
            /// # impl SpanExporter for Sink {
            /// #     fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            /// #         self.0.lock().unwrap().extend_from_slice(batch);
            /// #         Ok(())
            /// #     }
            /// # }
            /// # let sink = Sink::default();
            /// # let exported = sink.clone();
            /// # let langfuse = langfuse_runtime::Config::builder()
            /// #     .env_source(|_| None)
            /// #     .exporter(move || sink.clone())
            /// #     .init()?;
            /// # let records = || { let _ = langfuse.flush(); exported.0.lock().unwrap().clone() };
            /// use langfuse_runtime::{ObservationType, span};
            /// let step = span("lookup").as_type(ObservationType::Tool).start();
            /// step.set_type(ObservationType::Retriever);
            /// step.end();
            /// assert_eq!(records()[0].observation_type, ObservationType::Retriever);
            /// # Ok::<(), langfuse_runtime::ConfigError>(())
            /// ```
            set_type / as_type (observation_type: ObservationType) => Field::Type(observation_type);
        }
    };
}
pub(crate) use field_setters;
