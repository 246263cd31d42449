//! The console exporter prints a trace recorded on several threads as one tree.
//!
//! The root's thread registers its export buffer first (a warm-up observation), so the sweep at
//! `flush()` hands the exporter the root before the child its worker thread recorded earlier:
//! the order in which a multi-threaded trace really reaches the exporter.

mod support;

use std::time::Duration;

use langfuse_runtime::export::ConsoleExporter;
use langfuse_runtime::{Config, Langfuse, observe};
use support::{SharedBuf, serial};

/// A client that prints to `buf` and exports nothing before `flush()`.
fn console_client(buf: &SharedBuf) -> Langfuse {
    let sink = buf.clone();
    Config::builder()
        .env_source(|_| None)
        .console_exporter(false)
        .flush_interval(Duration::from_secs(600))
        .exporter(move || ConsoleExporter::new(sink.clone()))
        .init()
        .expect("valid config")
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
    let _serial = serial();
    let buf = SharedBuf::default();
    // Nothing is exported before `flush()`: root and child meet in one sweep.
    let langfuse = console_client(&buf);

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

#[observe]
fn child_on_a_live_worker() -> u32 {
    3
}

#[observe(capture_input = false)]
fn root_on_an_exiting_thread(
    worker: &std::sync::mpsc::Sender<langfuse_runtime::TraceContext>,
    child_done: &std::sync::mpsc::Receiver<()>,
) {
    worker.send(langfuse_runtime::TraceContext::current()).unwrap();
    // The child runs on the worker inside this observation's scope.
    child_done.recv().unwrap();
}

/// The root's thread exits (its records are handed over) while the child's worker lives on
/// (its records are swept): two `export` calls of one round, printed as one tree.
#[test]
fn a_root_and_a_child_exported_in_two_calls_of_one_round_print_one_tree() {
    let _serial = serial();
    let buf = SharedBuf::default();
    let langfuse = console_client(&buf);

    let (to_worker, contexts) = std::sync::mpsc::channel::<langfuse_runtime::TraceContext>();
    let (child_done, wait_child) = std::sync::mpsc::channel::<()>();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let cx = contexts.recv().unwrap();
        assert_eq!(cx.run(child_on_a_live_worker), 3);
        child_done.send(()).unwrap();
        // Alive until after the flush, so its buffer is swept, not handed over at exit.
        let _ = stopped.recv();
    });
    std::thread::spawn(move || root_on_an_exiting_thread(&to_worker, &wait_child)).join().unwrap();
    assert!(langfuse.flush().is_success());
    stop.send(()).unwrap();
    worker.join().unwrap();
    drop(langfuse);

    let out = buf.text();
    assert_eq!(out.lines().filter(|l| l.starts_with("trace ")).count(), 1, "{out}");
    assert!(out.contains("\nroot_on_an_exiting_thread [span] "), "{out}");
    assert!(out.contains("\n└─ child_on_a_live_worker [span] "), "{out}");
    assert!(!out.contains("printed earlier"), "{out}");
}
