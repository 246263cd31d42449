//! What keeps capture from hurting the call it records: a byte budget per captured value,
//! a bound on how deep a user's `Serialize`/`Debug` may recurse, and a count of the captures
//! that failed (a panicking impl), so that losing a value is visible in the SDK's stats.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Default budget of one captured value: far below the server's span limit (~9.5 MB), large
/// enough for any prompt or completion worth reading.
pub(crate) const DEFAULT_FIELD_BUDGET: usize = 1 << 20;

/// Stack a user's impl may use below the capture call before it is stopped. Threads have
/// 2 MiB stacks by default (std and tokio workers): this leaves the caller its share.
const MAX_STACK_DEPTH: usize = 256 << 10;

static FIELD_BUDGET: AtomicUsize = AtomicUsize::new(DEFAULT_FIELD_BUDGET);
static CAPTURE_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Sets the byte budget of one captured value (from the client's configuration).
pub(crate) fn set_field_budget(bytes: usize) {
    FIELD_BUDGET.store(bytes, Ordering::Relaxed);
}

#[inline]
pub(crate) fn field_budget() -> usize {
    FIELD_BUDGET.load(Ordering::Relaxed)
}

/// How many captured values were replaced by a `<capture failed: …>` placeholder because the
/// user's impl panicked, since the process started.
pub(crate) fn capture_failures() -> u64 {
    CAPTURE_FAILURES.load(Ordering::Relaxed)
}

#[cold]
pub(crate) fn count_failure() {
    CAPTURE_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// The explicit end of a truncated value: how long it was, when that is known.
pub(crate) fn truncation_marker(original_len: Option<usize>) -> String {
    match original_len {
        Some(len) => format!("…[truncated, {len} bytes in all]"),
        None => "…[truncated]".to_owned(),
    }
}

/// Where the stack was when a capture began. A runaway `Debug` (an `Rc` cycle) writes at each
/// level of its recursion, so checking at each write stops it long before the stack ends.
pub(crate) struct StackGuard {
    base: usize,
}

impl StackGuard {
    #[inline(always)]
    pub(crate) fn here() -> Self {
        let probe = 0u8;
        Self { base: address(&probe) }
    }

    #[inline]
    pub(crate) fn exceeded(&self) -> bool {
        let probe = 0u8;
        // `abs_diff`: correct whichever way the stack grows.
        address(&probe).abs_diff(self.base) > MAX_STACK_DEPTH
    }
}

#[inline(always)]
fn address(probe: &u8) -> usize {
    // `black_box` keeps the probe in memory, so its address is a real stack address.
    std::hint::black_box(probe) as *const u8 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(guard: &StackGuard, n: usize) -> usize {
        let pad = std::hint::black_box([0u8; 512]);
        if guard.exceeded() { n } else { depth(guard, n + 1) + usize::from(pad[0]) }
    }

    #[test]
    fn the_stack_guard_stops_deep_recursion_and_not_shallow_calls() {
        let guard = StackGuard::here();
        assert!(!guard.exceeded());
        let levels = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(move || depth(&StackGuard::here(), 0))
            .unwrap()
            .join()
            .unwrap();
        // Each level takes at least its 512-byte pad.
        assert!((64..=MAX_STACK_DEPTH / 512 + 1).contains(&levels), "{levels}");
    }

    #[test]
    fn markers_name_the_original_size() {
        assert_eq!(truncation_marker(Some(52_428_800)), "…[truncated, 52428800 bytes in all]");
        assert_eq!(truncation_marker(None), "…[truncated]");
    }
}
