//! Trace attributes (user, session, tags, trace name, metadata, version, environment) carried
//! by the context and stamped on every observation started under it, like Python's
//! `propagate_attributes`.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::context::{TraceContext, WithContext};
use crate::diag;
use crate::encode;
use crate::payload::JsonText;
use crate::record::TraceAttributes;

/// Longest accepted value of a propagated string attribute (the server's limit).
const MAX_VALUE_LEN: usize = 200;
/// Longest accepted environment name.
const MAX_ENVIRONMENT_LEN: usize = 40;

/// Sets trace attributes for everything started inside [`Propagate::run`] / [`Propagate::wrap`].
///
/// Nested scopes merge: metadata keys and tags accumulate (inner keys win, tags keep their
/// first position), other values are replaced. The values are also written on the observation
/// current when the scope starts. Invalid values (over 200 characters, a bad environment name)
/// are dropped with a warning, as the Python SDK does.
///
/// ```
/// use langfuse_runtime::{propagate_attributes, span};
/// propagate_attributes()
///     .user_id("user-42")
///     .session_id("chat-7")
///     .tags(["beta", "faq"])
///     .run(|| span("handle_request").start().end());
/// ```
#[must_use = "attributes apply only inside `.run()` or `.wrap()`"]
#[derive(Debug, Default, Clone)]
pub struct Propagate {
    update: TraceAttributes,
    /// Whether the attributes set here also travel as W3C baggage ([`Propagate::as_baggage`]).
    as_baggage: bool,
}

/// Starts a [`Propagate`] scope builder.
///
/// ```
/// # async fn answer() {}
/// # async fn demo() {
/// langfuse_runtime::propagate_attributes().session_id("chat-7").wrap(answer()).await;
/// # }
/// ```
pub fn propagate_attributes() -> Propagate {
    Propagate::default()
}

fn checked(what: &str, value: String) -> Option<String> {
    within_limit(what, &value).then_some(value)
}

fn within_limit(what: &str, value: &str) -> bool {
    if value.chars().count() > MAX_VALUE_LEN {
        diag::warn(format_args!("{what} longer than {MAX_VALUE_LEN} characters dropped"));
        false
    } else {
        true
    }
}

impl Propagate {
    /// `user.id`.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().user_id("user-42").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.user_id.as_deref(), Some("user-42"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.update.user_id = checked("user_id", user_id.into());
        self
    }

    /// `session.id`.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().session_id("chat-7").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.session_id.as_deref(), Some("chat-7"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.update.session_id = checked("session_id", session_id.into());
        self
    }

    /// `langfuse.trace.name`.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().trace_name("support-bot").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.name.as_deref(), Some("support-bot"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn trace_name(mut self, name: impl Into<String>) -> Self {
        self.update.name = checked("trace_name", name.into());
        self
    }

    /// `langfuse.version`.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().version("2024-06").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.version.as_deref(), Some("2024-06"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.update.version = checked("version", version.into());
        self
    }

    /// `langfuse.trace.tags`.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().tags(["beta", "faq"]).tags(["beta"]).run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.tags, ["beta", "faq"]);
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        for tag in tags {
            if let Some(tag) = checked("tag", tag.into())
                && !self.update.tags.contains(&tag)
            {
                self.update.tags.push(tag);
            }
        }
        self
    }

    /// `langfuse.trace.metadata.<key>` (JSON-encoded value of at most 200 characters).
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().metadata("tenant", &"acme").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.metadata.get("tenant").map(|v| v.as_str()), Some(r#""acme""#));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn metadata<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Self {
        self.metadata_json(key, encode::json_text(value))
    }

    /// [`Propagate::metadata`] with the value already encoded (baggage received).
    pub(crate) fn metadata_json(mut self, key: &str, json: JsonText) -> Self {
        if json != "null" && within_limit("trace metadata value", &json) {
            self.update.metadata.insert(key, json);
        }
        self
    }

    /// Also sends the attributes set in this scope to the services it calls, as W3C
    /// `baggage` members (`langfuse_user_id`, `langfuse_session_id`, `langfuse_tags`,
    /// `langfuse_metadata_<key>`, … as the Python SDK's `as_baggage=True` writes them) next to
    /// `traceparent` wherever [`w3c::inject`](crate::w3c::inject) and its `HeaderMap` twins
    /// write it. The receiving service reads them only if it asks to
    /// ([`w3c::continue_trace_and_baggage`](crate::w3c::continue_trace_and_baggage)).
    ///
    /// **Security:** baggage is sent in plain text in the headers of every outgoing request
    /// the helpers inject into, including requests to third parties. Put nothing in a scope
    /// marked `as_baggage` that those services must not see (no secrets, no personal data
    /// beyond an opaque id), and read baggage only from callers you trust: whoever sends the
    /// request chooses the user and session ids it sets.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use langfuse_runtime::{propagate_attributes, span, w3c};
    /// let mut headers = HashMap::new();
    /// propagate_attributes().user_id("user-42").as_baggage().run(|| {
    ///     span("call_backend").start().run(|| w3c::inject(&mut headers));
    /// });
    /// assert_eq!(headers["baggage"], "langfuse_user_id=user-42");
    /// ```
    pub fn as_baggage(mut self) -> Self {
        self.as_baggage = true;
        self
    }

    /// `langfuse.environment` for observations in the scope (`[a-z0-9_-]+`, at most 40
    /// characters, not starting with `langfuse`).
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().environment("staging").environment("Not Valid!").run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!(trace.environment.as_deref(), Some("staging"), "the invalid name was dropped");
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        let env = environment.into();
        let valid = !env.is_empty()
            && env.len() <= MAX_ENVIRONMENT_LEN
            && !env.starts_with("langfuse")
            && env
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            self.update.environment = Some(env);
        } else {
            diag::warn(format_args!("invalid environment {env:?} dropped"));
        }
        self
    }

    /// A prompt linked to generations started in the scope that do not set their own.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// propagate_attributes().prompt("qa-prompt", 3).run(|| span("handle_request").start().end());
    /// let records = records();
    /// let trace = records[0].trace.as_deref().unwrap();
    /// assert_eq!((trace.prompt_name.as_deref(), trace.prompt_version), (Some("qa-prompt"), Some(3)));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn prompt(mut self, name: impl Into<String>, version: i64) -> Self {
        self.update.prompt_name = Some(name.into()).filter(|n| !n.is_empty());
        self.update.prompt_version = Some(version);
        self
    }

    /// The current context with these attributes merged in; the current observation gets them too.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// let cx = propagate_attributes().user_id("user-42").context();
    /// // Carry it into a worker thread: its observations get the attributes.
    /// std::thread::spawn(move || cx.run(|| span("job").start().end())).join().unwrap();
    /// let records = records();
    /// assert_eq!(records[0].trace.as_deref().and_then(|t| t.user_id.as_deref()), Some("user-42"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn context(self) -> TraceContext {
        self.apply_to(TraceContext::current())
    }

    /// `cx` with these attributes merged in; its observation (if one of ours) gets them too.
    pub(crate) fn apply_to(self, mut cx: TraceContext) -> TraceContext {
        let mut merged = cx.trace_attributes.as_deref().cloned().unwrap_or_default();
        let marked = self.as_baggage.then(|| self.update.clone());
        merge(&mut merged, self.update);
        if let Some(update) = marked {
            let mut baggage = std::mem::take(&mut merged.baggage);
            baggage.mark(&update, &merged);
            merged.baggage = baggage;
        }
        let merged = Arc::new(merged);
        if let Some(frame) = cx.frame() {
            let stamped = merged.clone();
            frame.update(|r| r.trace = Some(stamped));
        }
        cx.trace_attributes = Some(merged);
        cx
    }

    /// Runs `f` in the scope.
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// let answer = propagate_attributes().session_id("chat-7").run(|| {
    ///     span("answer").start().end();
    ///     42
    /// });
    /// assert_eq!(answer, 42);
    /// let records = records();
    /// assert_eq!(records[0].trace.as_deref().and_then(|t| t.session_id.as_deref()), Some("chat-7"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }

    /// Runs `future` in the scope (on every poll).
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
    /// use langfuse_runtime::{propagate_attributes, span};
    /// let future = propagate_attributes().session_id("chat-7").wrap(async {
    ///     span("answer").start().end();
    /// });
    /// futures::executor::block_on(future);
    /// let records = records();
    /// assert_eq!(records[0].trace.as_deref().and_then(|t| t.session_id.as_deref()), Some("chat-7"));
    /// # Ok::<(), langfuse_runtime::ConfigError>(())
    /// ```
    pub fn wrap<F: Future>(self, future: F) -> WithContext<F> {
        self.context().wrap(future)
    }
}

fn merge(into: &mut TraceAttributes, update: TraceAttributes) {
    macro_rules! replace {
        ($($field:ident),*) => {$(
            if update.$field.is_some() {
                into.$field = update.$field;
            }
        )*};
    }
    replace!(name, user_id, session_id, version, environment, prompt_name, prompt_version);
    for tag in update.tags {
        if !into.tags.contains(&tag) {
            into.tags.push(tag);
        }
    }
    into.metadata.merge_from(&update.metadata);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_scopes_merge() {
        let outer = propagate_attributes().user_id("u1").tags(["a", "b"]).metadata("k", &"v");
        outer.run(|| {
            let cx =
                propagate_attributes().tags(["b", "c"]).session_id("s").metadata("n", &1).context();
            let attrs = cx.trace_attributes.as_deref().unwrap();
            assert_eq!(attrs.user_id.as_deref(), Some("u1"));
            assert_eq!(attrs.session_id.as_deref(), Some("s"));
            assert_eq!(attrs.tags, ["a", "b", "c"]);
            assert_eq!(attrs.metadata.get("k").map(|v| v.as_str()), Some("\"v\""));
            assert_eq!(attrs.metadata.get("n").map(|v| v.as_str()), Some("1"));
        });
    }

    #[test]
    fn invalid_values_are_dropped() {
        let p = propagate_attributes()
            .user_id("x".repeat(201))
            .environment("Prod")
            .environment("langfuse-x");
        assert_eq!(p.update.user_id, None);
        assert_eq!(p.update.environment, None);
        assert_eq!(
            propagate_attributes().environment("staging_2").update.environment.as_deref(),
            Some("staging_2")
        );
    }
}
