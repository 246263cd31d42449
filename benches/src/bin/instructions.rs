//! Rows A and E for `valgrind --tool=callgrind`: instructions per call, a number that does not
//! drift with the machine's speed the way timings do. Run it with `benches/instructions.sh`.
//!
//! `instructions [A|F|G|H300|E0|E1|E2|E3]` (default A; F is the async variant of A, G a short
//! string argument, H300 the realistic burst's call). Warms up (so that frames, capture buffers and
//! thread buffers are recycled, as in a long run), then calls the row's function in
//! `measured` 100 × 1,000 times, flushing between the rounds outside `measured`: under
//! valgrind the threads take turns, so without the flushes the export thread would fall
//! behind and the count would include allocations a real run does not make. The off rows
//! (E1 no keys, E2 tracing off, E3 inside an unsampled trace) are the same `observed_add`;
//! E0 is the bare function, so E − E0 is what `#[observe]` costs when nothing records.

use langfuse_benches::{CountingExporter, bare_add, clients, observed_add};
use std::future::Future;
use std::hint::black_box;

/// Calls counted by callgrind (printed; the script divides the total by it).
const MEASURED_CALLS: u64 = 100 * 1000;

/// Not the same code as `measured` (3, not 2), or the two would be merged into one symbol
/// and callgrind would collect in both.
#[inline(never)]
fn warm_up(f: fn(i64, i64) -> i64, n: i64) {
    for i in 0..n {
        black_box(f(black_box(i), 3));
    }
}

/// The only function callgrind collects in (`--toggle-collect`).
#[inline(never)]
fn measured(f: fn(i64, i64) -> i64, n: i64) {
    for i in 0..n {
        black_box(f(black_box(i), 2));
    }
}

/// Row G with a short argument (input `{"s":"Langfuse"}`, output `8`), in row A's shape: what
/// a string argument costs beyond row A's integers.
#[inline(never)]
fn observed_len_of_name(a: i64, _: i64) -> i64 {
    langfuse_benches::observed_len(black_box("Langfuse")) as i64 + a
}

/// Waits until everything submitted is exported. Under valgrind the threads take turns, so
/// one flush (its deadline) may not be enough for the warm-up's backlog: it is asked again.
fn drain(client: &langfuse_runtime::Langfuse) {
    let drained = (0..60).any(|_| client.flush().is_success() || !client.is_recording());
    assert!(drained, "the export thread did not catch up");
}

/// Warm-up and the measured rounds, inside `root` if there is one, flushing `client`.
fn run(f: fn(i64, i64) -> i64, client: &langfuse_runtime::Langfuse) {
    let root = langfuse_runtime::span("root").start();
    root.run(|| {
        // In rounds too: under valgrind 300,000 calls in one go outgrow the queue's bound.
        for _ in 0..300 {
            warm_up(f, 1000);
            drain(client);
        }
        for _ in 0..MEASURED_CALLS / 1000 {
            measured(f, 1000);
            drain(client);
        }
    });
    drop(root);
}

/// Row F: the async `#[observe] add`, polled once with a no-op waker (it completes on the first
/// poll), so the count is the observed future's own and no executor's.
#[inline(never)]
fn polled_add_async(a: i64, b: i64) -> i64 {
    let future = std::pin::pin!(langfuse_benches::observed_add_async(a, b));
    match future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(sum) => sum,
        std::task::Poll::Pending => unreachable!("observed_add_async completes on its first poll"),
    }
}

/// Row H_300B's call: `#[observe] answer(prompt)` with a 300-byte prompt (input, with quotes
/// that JSON escapes) and its 300-byte reversal (output), as in the realistic burst.
#[inline(never)]
fn answer_300b(_: i64, _: i64) -> i64 {
    const PROMPT: &str = "the user asks how to rotate an API key without downtime for their production service \
        and whether old tokens expire \"quoted\" immediately or after the grace period, given \
        that the gateway caches credentials for five minutes and the mobile clients retry \
        with backoff; which \"audit\" events are emitted? x";
    const _: () = assert!(PROMPT.len() == 300);
    black_box(langfuse_benches::observed_answer(black_box(PROMPT))).len() as i64
}

fn main() {
    let row = std::env::args().nth(1).unwrap_or_else(|| "A".to_owned());
    let exporter = CountingExporter::default();
    let (client, f): (_, fn(i64, i64) -> i64) = match row.as_str() {
        "A" => (clients::counting(&exporter), observed_add),
        "F" => (clients::counting(&exporter), polled_add_async),
        "G" => (clients::counting(&exporter), observed_len_of_name),
        "H300" => (clients::counting(&exporter), answer_300b),
        "E0" => (clients::no_keys(), bare_add),
        "E1" => (clients::no_keys(), observed_add),
        "E2" => (clients::tracing_disabled(), observed_add),
        "E3" => (clients::unsampled(&exporter), observed_add),
        other => panic!("unknown row {other:?}: A, F, G, H300, E0, E1, E2 or E3"),
    };
    run(f, &client);
    drain(&client);
    let expected = if matches!(row.as_str(), "A" | "F" | "G" | "H300") {
        MEASURED_CALLS + 300_000 + 1
    } else {
        0
    };
    assert_eq!(exporter.count(), expected, "row {row} exported what it should not, or lost");
    println!("calls: {MEASURED_CALLS}, exported: {}", exporter.count());
}
