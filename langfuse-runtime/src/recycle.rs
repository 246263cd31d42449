//! Capture buffers travel from the instrumented thread to the export thread and come back here
//! empty, instead of being freed there.
//!
//! Freeing on another thread than the one that allocated sends glibc's malloc down its slow,
//! locked path on both threads; measured on the `add` benchmark it doubled the cost of a call
//! and let the export thread fall behind. Recycled buffers never meet `free` at all.
//!
//! The pool is bounded in bytes, and a thread keeps at most a small batch of its own, so the
//! memory held for reuse stays small whatever the load.
//!
//! Only values that outgrow the capture buffer's inline start take a buffer here: short ones
//! are captured and sent inline (`capture/utf8.rs`, `payload/compact.rs`), with no buffer to
//! take or give back.

use std::cell::RefCell;
use std::sync::Mutex;

use crate::payload::Payload;
use crate::record::ObservationRecord;

/// Smallest buffer handed out, so recycled buffers rarely need to grow.
const MIN_CAPACITY: usize = 128;
/// Larger buffers are freed, not kept: one big prompt must not pin memory.
const MAX_KEPT_CAPACITY: usize = 4096;
/// Bytes of capacity kept in the shared pool.
const MAX_POOL_BYTES: usize = 16 << 20;
/// Buffers a thread takes from the pool at once (one lock per batch).
const LOCAL_BATCH: usize = 128;

struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { buffers: Vec::new(), bytes: 0 });

thread_local! {
    static LOCAL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `capacity` bytes, recycled when one is available.
#[inline]
pub(crate) fn buffer(capacity: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = LOCAL.try_with(|local| take(&POOL, local, &mut buf));
    buf.reserve(capacity.max(MIN_CAPACITY));
    buf
}

/// Puts a buffer of `local` (refilled from `pool` when empty) into `buf`.
// Written in place rather than returned through `Option`/`Result` layers: each layer moved
// the 24-byte `Vec` through the stack with mismatched widths (a store-forwarding stall).
#[inline]
fn take(pool: &Mutex<Pool>, local: &RefCell<Vec<Vec<u8>>>, buf: &mut Vec<u8>) {
    if let Ok(mut local) = local.try_borrow_mut() {
        if local.is_empty() {
            refill(pool, &mut local);
        }
        if let Some(recycled) = local.pop() {
            *buf = recycled;
        }
    }
}

/// Keeps a buffer this thread has no use for now among its recycled ones, for its next
/// captures: as many as a batch, the rest are freed.
pub(crate) fn keep(mut buf: Vec<u8>) {
    if !(MIN_CAPACITY..=MAX_KEPT_CAPACITY).contains(&buf.capacity()) {
        return;
    }
    buf.clear();
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut local) = local.try_borrow_mut()
            && local.len() < LOCAL_BATCH
        {
            local.push(buf);
        }
    });
}

#[cold]
fn refill(pool: &Mutex<Pool>, local: &mut Vec<Vec<u8>>) {
    // The export thread holds the lock only to append a batch: waiting is brief and cheaper
    // than allocating.
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    let take = pool.buffers.len().min(LOCAL_BATCH);
    let start = pool.buffers.len() - take;
    let taken: usize = pool.buffers[start..].iter().map(Vec::capacity).sum();
    pool.bytes -= taken;
    local.extend(pool.buffers.drain(start..));
}

/// Takes the input and output buffers of exported records back into the pool.
pub(crate) fn reclaim(records: &mut [ObservationRecord]) {
    reclaim_into(&POOL, records);
}

fn reclaim_into(pool: &Mutex<Pool>, records: &mut [ObservationRecord]) {
    let mut kept = Vec::with_capacity(records.len() * 2);
    let mut kept_bytes = 0;
    let mut keep = |text: String| {
        let mut buf = text.into_bytes();
        if (MIN_CAPACITY..=MAX_KEPT_CAPACITY).contains(&buf.capacity()) {
            buf.clear();
            kept_bytes += buf.capacity();
            kept.push(buf);
        }
    };
    for record in records.iter_mut() {
        for slot in [&mut record.input, &mut record.output] {
            // Short JSON is inline: only heap buffers come back.
            if let Some(buffer) = slot.take().and_then(Payload::into_buffer) {
                keep(buffer);
            }
        }
        // The JSON texts of a bridged span's details (the `#[observe]` path sets none).
        if record.has_details() {
            record.take_detail_buffers(&mut keep);
        }
    }
    crate::record::give_back_details(records);
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    if pool.bytes + kept_bytes <= MAX_POOL_BYTES {
        pool.bytes += kept_bytes;
        pool.buffers.append(&mut kept);
    }
    // Otherwise the pool is full: `kept` is freed here, on the export thread, as before.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ObservationRecord {
        ObservationRecord::new(
            crate::TraceId::random(),
            crate::ObservationId::random(),
            None,
            "r",
            crate::ObservationType::Span,
            0,
        )
    }

    /// A pool and a thread cache of the test's own, so that no other test can take the
    /// buffers it watches.
    fn private() -> (Mutex<Pool>, RefCell<Vec<Vec<u8>>>) {
        (Mutex::new(Pool { buffers: Vec::new(), bytes: 0 }), RefCell::new(Vec::new()))
    }

    #[test]
    fn an_exported_buffer_is_handed_out_again_not_freed() {
        let (pool, local) = private();
        let mut first = Vec::new();
        take(&pool, &local, &mut first);
        first.reserve(200);
        first.extend_from_slice(b"{\"a\":1}");
        let (pointer, capacity) = (first.as_ptr(), first.capacity());
        let mut r = record();
        r.input = Some(String::from_utf8(first).unwrap().into());
        r.output = Some("x".repeat(10_000).into()); // too big to keep
        reclaim_into(&pool, std::slice::from_mut(&mut r));
        assert!(r.input.is_none() && r.output.is_none());
        assert_eq!(pool.lock().unwrap().buffers.len(), 1, "only the small buffer is kept");
        assert_eq!(pool.lock().unwrap().bytes, capacity);
        let mut again = Vec::new();
        take(&pool, &local, &mut again);
        // The same allocation, emptied: recycling, not a fresh buffer of the same size.
        assert_eq!((again.as_ptr(), again.capacity(), again.len()), (pointer, capacity, 0));
        assert_eq!(pool.lock().unwrap().bytes, 0);
    }

    #[test]
    fn the_json_texts_of_details_come_back_too() {
        let (pool, _) = private();
        let mut r = record();
        let text = |s: &str| {
            let mut buf = String::with_capacity(200);
            buf.push_str(s);
            crate::payload::JsonText::from_encoded(buf)
        };
        r.generation_mut().usage_details = Some(text(r#"{"input":1}"#));
        r.metadata_mut().insert("k", text(r#""v""#));
        reclaim_into(&pool, std::slice::from_mut(&mut r));
        assert_eq!(pool.lock().unwrap().buffers.len(), 2, "usage and the metadata value");
        assert!(!r.has_details(), "the emptied detail box is kept for reuse");
    }

    #[test]
    fn a_full_pool_frees_instead_of_growing() {
        let (pool, _) = private();
        pool.lock().unwrap().bytes = MAX_POOL_BYTES;
        let mut r = record();
        r.input = Some(String::with_capacity(256).into());
        reclaim_into(&pool, std::slice::from_mut(&mut r));
        assert!(pool.lock().unwrap().buffers.is_empty());
    }

    #[test]
    fn a_kept_buffer_is_handed_out_on_the_same_thread() {
        std::thread::spawn(|| {
            let mut buf = Vec::with_capacity(300);
            buf.push(1);
            let pointer = buf.as_ptr();
            keep(buf);
            let again = buffer(16);
            assert_eq!((again.as_ptr(), again.len()), (pointer, 0));
            keep(Vec::with_capacity(MAX_KEPT_CAPACITY + 1)); // too big: freed, not kept
            keep(Vec::new());
            assert!(LOCAL.with_borrow(Vec::is_empty));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_public_entry_points_round_trip() {
        let mut r = record();
        r.input = Some(String::from_utf8(buffer(200)).unwrap().into());
        reclaim(std::slice::from_mut(&mut r));
        let again = buffer(16);
        assert!(again.is_empty() && again.capacity() >= MIN_CAPACITY);
    }
}
