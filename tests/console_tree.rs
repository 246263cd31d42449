//! The console exporter prints a trace recorded on several threads as one tree.
//!
//! The root's thread registers its export buffer first (a warm-up observation), so the sweep at
//! `flush()` hands the exporter the root before the child its worker thread recorded earlier:
//! the order in which a multi-threaded trace really reaches the exporter.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use langfuse_runtime::export::ConsoleExporter;
use langfuse_runtime::{Config, observe};

/// A writer the test reads back after handing clones to the exporter.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

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
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()).unwrap()
    }
}

#[observe]
fn warm_up() {}

#[observe]
async fn worker_child() -> u32 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    7
}

#[observe]
async fn threaded_root() -> u32 {
    let child = langfuse_runtime::spawn(worker_child());
    child.await.unwrap() + 1
}

#[test]
fn a_child_recorded_on_a_worker_prints_under_its_root() {
    let buf = SharedBuf::default();
    let sink = buf.clone();
    let langfuse = Config::builder()
        .env_source(|_| None)
        .console_exporter(false)
        // Nothing is exported before `flush()`: root and child meet in one sweep.
        .flush_interval(Duration::from_secs(600))
        .exporter(move || ConsoleExporter::new(sink.clone()))
        .init()
        .expect("valid config");

    warm_up();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(threaded_root()), 8);
    // Flushed while the workers live: an exiting thread would hand its records over early.
    assert!(langfuse.flush().is_success());
    drop(runtime);
    drop(langfuse);

    let out = buf.text();
    let trace_headers = out.lines().filter(|l| l.starts_with("trace ")).count();
    assert_eq!(trace_headers, 2, "one tree for warm_up, one for threaded_root:\n{out}");
    let roots: Vec<&str> = out.lines().filter(|l| l.starts_with("threaded_root ")).collect();
    assert_eq!(roots.len(), 1, "{out}");
    assert!(!roots[0].contains("printed earlier"), "{out}");
    let children: Vec<&str> = out.lines().filter(|l| l.contains("worker_child [span]")).collect();
    assert_eq!(children.len(), 1, "{out}");
    assert!(children[0].starts_with("└─ worker_child [span] "), "{out}");
    let root_at = out.find("threaded_root ").unwrap();
    let child_at = out.find("└─ worker_child").unwrap();
    let header_before_child = out[..child_at].rfind("\ntrace ").unwrap();
    assert!(header_before_child < root_at, "the child is in the root's tree:\n{out}");
}
