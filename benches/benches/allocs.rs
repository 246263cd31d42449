//! Allocations per call, with a counting global allocator (kept out of the timing run).
//!
//! ```sh
//! cargo bench -p langfuse-benches --bench allocs
//! ```
//!
//! For each row: `CALLS` calls after a warm-up, then a flush so that the export thread has
//! handled everything. "caller" counts allocations made on the calling thread only (what the
//! instrumented code pays inline); "all threads" adds the export thread's share (amortized
//! batch hand-offs, the exporter's own work), divided by the number of calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use langfuse_benches::{
    CountingExporter, IMPLEMENTATION, bare_add, clients, observed_add, observed_add_async,
};
use serde_json::json;

struct Counting;

static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALL_BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn count(size: usize) {
    ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
    ALL_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + size as u64));
}

// SAFETY: forwards to the system allocator; counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARMUP: u64 = 10_000;
const CALLS: u64 = 200_000;

#[derive(Clone, Copy)]
struct Snapshot {
    thread_allocs: u64,
    thread_bytes: u64,
    all_allocs: u64,
    all_bytes: u64,
}

fn snapshot() -> Snapshot {
    Snapshot {
        thread_allocs: THREAD_ALLOCS.with(Cell::get),
        thread_bytes: THREAD_BYTES.with(Cell::get),
        all_allocs: ALL_ALLOCS.load(Ordering::Relaxed),
        all_bytes: ALL_BYTES.load(Ordering::Relaxed),
    }
}

struct Row {
    name: &'static str,
    caller: f64,
    caller_bytes: f64,
    all: f64,
    all_bytes: f64,
}

/// Runs `body(CALLS)` after `body(WARMUP)`, calls `settle` (flush) and counts.
fn measure(name: &'static str, mut body: impl FnMut(u64), settle: impl Fn()) -> Row {
    body(WARMUP);
    settle();
    let before = snapshot();
    body(CALLS);
    let caller = snapshot();
    settle();
    let after = snapshot();
    let per = |n: u64| n as f64 / CALLS as f64;
    let row = Row {
        name,
        caller: per(caller.thread_allocs - before.thread_allocs),
        caller_bytes: per(caller.thread_bytes - before.thread_bytes),
        // The flush itself allocates a channel and a few bytes: negligible over CALLS calls.
        all: per(after.all_allocs - before.all_allocs),
        all_bytes: per(after.all_bytes - before.all_bytes),
    };
    eprintln!(
        "{:<28} caller {:>6.3} allocs/call ({:>7.1} B)   all threads {:>6.3} allocs/call ({:>7.1} B)",
        row.name, row.caller, row.caller_bytes, row.all, row.all_bytes
    );
    row
}

fn main() {
    // `cargo test --benches` runs bench targets with `--test`-like flags: keep it short then.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    eprintln!("observed functions: {IMPLEMENTATION}");
    let mut rows = Vec::new();

    rows.push(measure(
        "E0_bare_fn",
        |n| {
            for _ in 0..n {
                black_box(bare_add(black_box(1), black_box(2)));
            }
        },
        || {},
    ));

    // A
    {
        let exporter = CountingExporter::default();
        let langfuse = clients::counting(&exporter);
        let root = langfuse_runtime::span("root").start();
        let root_cx = root.context();
        rows.push(measure(
            "A_langfuse_observe",
            |n| {
                root_cx.clone().run(|| {
                    for _ in 0..n {
                        black_box(observed_add(black_box(1), black_box(2)));
                    }
                })
            },
            || assert!(langfuse.flush().is_success()),
        ));
        drop(root);
        drop(langfuse);
    }

    // E1–E3
    {
        let langfuse = clients::no_keys();
        rows.push(measure("E1_disabled_no_keys", calls, || {}));
        drop(langfuse);
        let langfuse = clients::tracing_disabled();
        rows.push(measure("E2_disabled_tracing_off", calls, || {}));
        drop(langfuse);
        let exporter = CountingExporter::default();
        let langfuse = clients::unsampled(&exporter);
        let root = langfuse_runtime::span("root").start();
        let root_cx = root.context();
        rows.push(measure(
            "E3_disabled_unsampled",
            |n| root_cx.clone().run(|| calls(n)),
            || assert!(langfuse.flush().is_success()),
        ));
        drop(root);
        drop(langfuse);
    }

    // F
    {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let exporter = CountingExporter::default();
        let langfuse = clients::counting(&exporter);
        let root = langfuse_runtime::span("root").start();
        let root_cx = root.context();
        rows.push(measure(
            "F_langfuse_observe_async",
            |n| {
                rt.block_on(root_cx.clone().wrap(async {
                    for _ in 0..n {
                        black_box(observed_add_async(black_box(1), black_box(2)).await);
                    }
                }))
            },
            || assert!(langfuse.flush().is_success()),
        ));
        drop(root);
        drop(langfuse);
    }

    let json_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "row": r.name,
                "caller_allocs_per_call": r.caller,
                "caller_bytes_per_call": r.caller_bytes,
                "all_threads_allocs_per_call": r.all,
                "all_threads_bytes_per_call": r.all_bytes,
            })
        })
        .collect();
    langfuse_benches::write_result(
        "allocs.json",
        &json!({"implementation": IMPLEMENTATION, "calls": CALLS, "rows": json_rows}),
    );
}

fn calls(n: u64) {
    for _ in 0..n {
        black_box(observed_add(black_box(1), black_box(2)));
    }
}
