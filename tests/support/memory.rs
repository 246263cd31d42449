//! An in-process exporter and a serialized client for the `#[observe]` behaviour tests.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use langfuse_runtime::export::{ExportError, SpanExporter};
use langfuse_runtime::{Config, ConfigBuilder, Langfuse, ObservationRecord};

/// Collects every exported record.
#[derive(Clone, Default)]
pub struct Collector(Arc<Mutex<Vec<ObservationRecord>>>);

impl SpanExporter for Collector {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        self.0.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

/// The global client is process-wide: tests of one binary take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with a recording client configured by `configure`; returns what it exported.
pub fn record_with<R>(
    configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    f: impl FnOnce() -> R,
) -> (R, Records) {
    with_client(configure, |_| f())
}

/// [`record_with`], with the client handed to `f` (for its stats, or to flush early).
pub fn with_client<R>(
    configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    f: impl FnOnce(&Langfuse) -> R,
) -> (R, Records) {
    let _serial = serial();
    let collector = Collector::default();
    let sink = collector.clone();
    let builder = Config::builder()
        .env_source(|_| None)
        .console_exporter(false)
        .exporter(move || sink.clone());
    let langfuse = configure(builder).init().expect("valid config");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&langfuse)));
    assert!(langfuse.flush().is_success());
    drop(langfuse);
    let records = collector.0.lock().unwrap().clone();
    match result {
        Ok(r) => (r, Records(records)),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Runs `f` with a recording client (default configuration).
pub fn record<R>(f: impl FnOnce() -> R) -> (R, Records) {
    record_with(|b| b, f)
}

/// Runs `f` with no client at all.
pub fn without_client<R>(f: impl FnOnce() -> R) -> R {
    let _serial = serial();
    f()
}

/// The exported records.
#[derive(Debug)]
pub struct Records(pub Vec<ObservationRecord>);

impl Records {
    /// The only record named `name`.
    pub fn one(&self, name: &str) -> &ObservationRecord {
        let found: Vec<_> = self.0.iter().filter(|r| r.name == name).collect();
        assert_eq!(found.len(), 1, "expected one `{name}` in {:#?}", self.names());
        found[0]
    }

    /// Every record named `name`, in export order.
    pub fn all(&self, name: &str) -> Vec<&ObservationRecord> {
        self.0.iter().filter(|r| r.name == name).collect()
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|r| &*r.name).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Asserts that `child` is a direct child of `parent` in the same trace.
pub fn assert_child(child: &ObservationRecord, parent: &ObservationRecord) {
    assert_eq!(child.parent_id, Some(parent.id), "{} under {}", child.name, parent.name);
    assert_eq!(child.trace_id, parent.trace_id, "{} in the trace of {}", child.name, parent.name);
}

/// A writer the test reads back after handing clones to an exporter (the console's output).
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()).unwrap()
    }
}
