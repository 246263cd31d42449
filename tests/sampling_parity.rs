//! Sampling (wire format §8.3): for a seeded set of trace ids, which traces reach the receiver
//! at rates 0.5 and 0.1 is exactly what Python's `TraceIdRatioBased` decides — the rule is
//! written out here from the spec, independently of the SDK — and an unsampled trace records
//! and allocates nothing.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;

use langfuse_runtime::{TraceContext, TraceId, observe, span};
use support::Loopback;

/// Python: `bound = round(rate * 2**64)` (round half to even), sampled iff the low 64 bits of
/// the trace id (its last 16 hex characters, big-endian) are below the bound.
fn python_samples(trace_hex: &str, rate: f64) -> bool {
    let bound = (rate * 18_446_744_073_709_551_616.0).round_ties_even() as u128;
    let low = u128::from_str_radix(&trace_hex[16..], 16).unwrap();
    low < bound
}

fn seeded_ids() -> Vec<TraceId> {
    (0..200).map(|i| TraceId::from_seed(&format!("sampling-parity-{i}"))).collect()
}

#[test]
fn the_rule_as_written_here_matches_worked_examples() {
    // conformance-seed-1 → 656f344917362c3f 5f8cd92a351d471d; low 64 bits 0x5f8c… .
    let hex = "656f344917362c3f5f8cd92a351d471d";
    assert!(python_samples(hex, 0.5), "0x5f8c… < 2^63");
    // 0.1 × 2^64 in binary floating point is exactly 0x1999999999999a00.
    assert!(!python_samples(hex, 0.1));
    assert!(python_samples("ffffffffffffffff19999999999999ff", 0.1));
    assert!(!python_samples("00000000000000001999999999999a00", 0.1));
    assert!(python_samples("0000000000000000ffffffffffffffff", 1.0));
    assert!(!python_samples("00000000000000000000000000000000", 0.0));
}

fn sampled_at(rate: f64) {
    let mut h = Loopback::start(|b| b.sample_rate(rate));
    let ids = seeded_ids();
    for id in &ids {
        let root = span("root").parent(TraceContext::from_trace_id(*id, None)).start();
        assert_eq!(root.trace_id(), Some(*id), "unsampled observations keep their ids");
        root.start_child("child").start().end();
        drop(root);
    }
    let spans = h.finish();
    let expected: BTreeSet<String> =
        ids.iter().map(ToString::to_string).filter(|hex| python_samples(hex, rate)).collect();
    let received: BTreeSet<String> = spans.iter().map(|s| s.trace_id_hex()).collect();
    assert_eq!(received, expected, "rate {rate}");
    // Whole traces: the child is kept or dropped with its root.
    assert_eq!(spans.len(), expected.len() * 2);
    assert!(!expected.is_empty() && expected.len() < ids.len(), "both outcomes occur at {rate}");
}

#[test]
fn decisions_at_rate_one_half_match_python() {
    sampled_at(0.5);
}

#[test]
fn decisions_at_rate_one_tenth_match_python() {
    sampled_at(0.1);
}

/// Counts allocations made by the calling thread only (the export thread does its own).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[observe]
fn summarize(text: &str, words: usize) -> String {
    inner(words);
    text.chars().take(words).collect()
}

#[observe]
fn inner(n: usize) -> usize {
    n
}

#[test]
fn an_unsampled_trace_records_and_allocates_nothing() {
    let mut h = Loopback::start(|b| b.sample_rate(0.1));
    let unsampled = seeded_ids()
        .into_iter()
        .find(|id| !python_samples(&id.to_string(), 0.1))
        .expect("an unsampled id");
    let cx = TraceContext::from_trace_id(unsampled, None);
    // Warm up thread-locals and lazy statics outside the measurement.
    cx.clone().run(|| summarize("", 0));
    let before = allocations();
    let out = cx.run(|| summarize("hello world", 0));
    let during = allocations() - before;
    assert_eq!(out, "");
    assert_eq!(during, 0, "an unsampled #[observe] call and its nested call allocate nothing");
    let spans = h.finish();
    assert!(spans.is_empty(), "nothing exported: {spans:?}");
}
