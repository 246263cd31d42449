//! Row A for `valgrind --tool=callgrind`: instructions per observed call, a number that does
//! not drift with the machine's speed the way timings do. Run it with `benches/instructions.sh`.
//!
//! Warms up (so that frames, capture buffers and thread buffers are recycled, as in a long
//! run), then calls `observed_add` in `measured` 100 × 1,000 times, flushing between the
//! rounds outside `measured`: under valgrind the threads take turns, so without the flushes the
//! export thread would fall behind and the count would include allocations a real run does
//! not make.

use langfuse_benches::{CountingExporter, clients, observed_add};
use std::hint::black_box;

/// Calls counted by callgrind (printed; the script divides the total by it).
const MEASURED_CALLS: u64 = 100 * 1000;

#[inline(never)]
fn warm_up(n: i64) {
    for i in 0..n {
        black_box(observed_add(black_box(i), 2));
    }
}

/// The only function callgrind collects in (`--toggle-collect`).
#[inline(never)]
fn measured(n: i64) {
    for i in 0..n {
        black_box(observed_add(black_box(i), 2));
    }
}

fn main() {
    let exporter = CountingExporter::default();
    let client = clients::counting(&exporter);
    let root = langfuse_runtime::span("root").start();
    root.run(|| {
        warm_up(300_000);
        assert!(client.flush().is_success());
        for _ in 0..MEASURED_CALLS / 1000 {
            measured(1000);
            assert!(client.flush().is_success());
        }
    });
    drop(root);
    assert!(client.flush().is_success());
    println!("calls: {MEASURED_CALLS}, exported: {}", exporter.count());
}
