//! `tracing` events inside an observation.
//!
//! The rule: an ERROR-level event marks the observation it happens in as failed — level
//! ERROR, with the event's message as the status message (the latest such event wins, as
//! later updates do). An event happens in the observation that is current where it is emitted
//! (an entered exported span's, or an `#[observe]` call's inside it), or in its explicit
//! parent span's. Outside any observation nothing happens.
//!
//! Other events are ignored unless [`Layer::record_events`](super::Layer::record_events)
//! asks for them: then each event at that level or more severe also becomes a Langfuse
//! `event` observation under that observation, named by its message, with its other fields as
//! metadata and the level mapped (WARN → WARNING, INFO → DEFAULT, DEBUG and TRACE → DEBUG).

use std::collections::BTreeMap;

use ::tracing::Event;
use serde_json::Value;

use super::fields::{Collect, SpanFields};
use crate::kind::Level;
use crate::observation::ObservationRef;

/// Longest event name taken from a message; the rest stays in the `message` metadata key.
const MAX_NAME_CHARS: usize = 200;

pub(crate) fn record(
    event: &Event<'_>,
    observation: &ObservationRef,
    record_from: Option<::tracing::Level>,
) {
    let level = *event.metadata().level();
    let is_error = level == ::tracing::Level::ERROR;
    // `Level` orders verbose above severe: TRACE > … > ERROR.
    let as_event = record_from.is_some_and(|from| level <= from);
    if !is_error && !as_event {
        return;
    }
    let mut fields = SpanFields::default();
    event.record(&mut Collect(&mut fields));
    let message = match fields.named("message") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => event.metadata().target().to_owned(),
    };
    if is_error {
        observation.set_error(message.clone());
    }
    if as_event {
        // Key order, whatever serde_json's `preserve_order` says (a `Map` would follow it).
        let mut metadata = BTreeMap::new();
        for (key, value) in fields.iter() {
            if key != "message" || message.chars().count() > MAX_NAME_CHARS {
                metadata.insert(key, value);
            }
        }
        let name: String = message.chars().take(MAX_NAME_CHARS).collect();
        let mut builder =
            crate::observation::event(name).parent(observation.context()).level(map_level(level));
        if !metadata.is_empty() {
            builder = builder.metadata(&metadata);
        }
        builder.emit();
    }
}

fn map_level(level: ::tracing::Level) -> Level {
    match level {
        ::tracing::Level::ERROR => Level::Error,
        ::tracing::Level::WARN => Level::Warning,
        ::tracing::Level::INFO => Level::Default,
        _ => Level::Debug,
    }
}
