//! The capture limits set in the configuration reach `#[observe]`, and lost values show in
//! the client's stats.

use std::sync::{Arc, Mutex, MutexGuard};

use langfuse_runtime::export::{ExportError, SpanExporter};
use langfuse_runtime::{Config, Langfuse, ObservationRecord, observe};
use serde::{Serialize, Serializer};

/// Collects every exported record.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ObservationRecord>>>);

impl SpanExporter for Collector {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        self.0.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

impl Collector {
    fn input_of(&self, name: &str) -> String {
        let records = self.0.lock().unwrap();
        let record = records.iter().find(|r| r.name == name).expect("the observation");
        record.input.clone().expect("an input")
    }
}

/// The global client and the field budget are process-wide: this binary's tests take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn client(collector: &Collector, max_field_bytes: Option<usize>) -> Langfuse {
    let sink = collector.clone();
    let mut builder = Config::builder()
        .env_source(|_| None)
        .console_exporter(false)
        .exporter(move || sink.clone());
    if let Some(bytes) = max_field_bytes {
        builder = builder.max_field_bytes(bytes);
    }
    builder.init().expect("valid config")
}

#[observe]
fn takes_text(text: String) -> usize {
    text.len()
}

#[test]
fn max_field_bytes_truncates_captured_arguments() {
    let _serial = serial();
    let collector = Collector::default();
    let langfuse = client(&collector, Some(2048));
    assert_eq!(takes_text("x".repeat(10_000)), 10_000);
    assert!(langfuse.flush().is_success());
    drop(langfuse);

    let input = collector.input_of("takes_text");
    assert!(input.len() <= 2048 + 64, "{} bytes: {input}", input.len());
    assert!(input.contains("truncated"), "{input}");

    // A client with the default budget lifts the small one again.
    let collector = Collector::default();
    let langfuse = client(&collector, None);
    takes_text("x".repeat(10_000));
    assert!(langfuse.flush().is_success());
    drop(langfuse);
    let input = collector.input_of("takes_text");
    assert!(input.len() > 10_000 && !input.contains("truncated"), "{} bytes", input.len());
}

struct PanicsInSerialize;

impl Serialize for PanicsInSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("user bug in Serialize")
    }
}

#[observe]
fn takes_bad(value: PanicsInSerialize) -> u8 {
    let _ = value;
    7
}

#[test]
fn a_panicking_serialize_is_counted_in_stats() {
    let _serial = serial();
    let collector = Collector::default();
    let langfuse = client(&collector, None);
    let before = langfuse.stats().capture_failures;
    assert_eq!(takes_bad(PanicsInSerialize), 7);
    assert!(langfuse.flush().is_success());
    assert_eq!(langfuse.stats().capture_failures, before + 1);
    drop(langfuse);

    let input = collector.input_of("takes_bad");
    assert!(input.contains("capture failed"), "{input}");
}
