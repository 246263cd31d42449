//! One thread's buffer of finished observations: its owner appends without a lock or an atomic
//! read-modify-write, and any other thread can still take what has been appended so far.
//!
//! The records live in a chunk of slots. The owner writes the slot at `filled` and then
//! publishes it by storing `filled + 1` with release ordering. Everyone else (the export
//! thread's sweep, `stats()`, shutdown's leftovers) goes through `gate`, a mutex the owner takes
//! only once per batch: under it they read `filled` with acquire ordering and move out the
//! published records they have not taken yet, noting in the gate how many (`taken`). Slots below
//! `taken` are therefore moved-out memory, `taken..filled` are owned records, and the slot at
//! `filled` and above are the owner's alone.
//!
//! The owner settles up under the gate when the chunk is full or holds too many bytes: it
//! shifts the records not taken to the front, and when a whole batch's worth is left hands the
//! chunk over as a `Vec` and installs an emptied one.
//!
//! # Invariants (what every `SAFETY` comment relies on)
//!
//! 1. Owner calls ([`ThreadBuffer::push`], [`ThreadBuffer::settle`]) come from one thread and
//!    never overlap (the caller guarantees it; see their `# Safety`).
//! 2. `chunk` and the gate's `taken` change only under `gate`; `chunk` and `filled` only on the
//!    owner. So the owner may read `chunk` and `filled` without the gate, and the gate's holder
//!    sees them stable except for `filled` growing.
//! 3. `taken <= filled <= chunk.room <= chunk.capacity`; slots `taken..filled` are
//!    initialized and owned by the buffer, slots below `taken` are not (moved out).
//! 4. A slot is written by the owner only at or above the `filled` it last published (or,
//!    under the gate, anywhere), and read by others only below the `filled` they loaded under
//!    the gate. `filled` only shrinks under the gate, so the two never touch the same slot at
//!    the same time, and the release store / acquire load of `filled` orders the owner's write
//!    of a slot before another thread's read of it.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::pipeline::record_bytes;
use crate::record::ObservationRecord;

/// A `Vec<ObservationRecord>`'s allocation, taken apart so that slots can be written by one
/// thread while another reads others, which a `Vec` behind a reference cannot express.
struct Chunk {
    slots: NonNull<ObservationRecord>,
    capacity: usize,
    /// Slots the owner may fill before it must settle up: the batch size, or 0 when no
    /// allocation is installed.
    room: usize,
}

impl Chunk {
    fn from_vec(records: Vec<ObservationRecord>, room: usize) -> Self {
        debug_assert!(records.is_empty());
        let mut records = ManuallyDrop::new(records);
        let capacity = records.capacity();
        Self {
            // SAFETY: a `Vec`'s pointer is never null (dangling when nothing is allocated).
            slots: unsafe { NonNull::new_unchecked(records.as_mut_ptr()) },
            capacity,
            room: room.min(capacity),
        }
    }

    fn empty() -> Self {
        Self::from_vec(Vec::new(), 0)
    }

    /// Gives the allocation back as a `Vec` holding `len` records, leaving no allocation here.
    ///
    /// # Safety
    /// Slots `0..len` must be initialized and owned by this chunk, nothing else may hold them,
    /// and `len <= capacity`.
    unsafe fn take_vec(&mut self, len: usize) -> Vec<ObservationRecord> {
        let chunk = std::mem::replace(self, Chunk::empty());
        // SAFETY: `slots` and `capacity` came from a `Vec<ObservationRecord>` (`from_vec`) that
        // was not freed; the caller vouches for the first `len` elements.
        unsafe { Vec::from_raw_parts(chunk.slots.as_ptr(), len, chunk.capacity) }
    }
}

/// Copies one record's bytes from `source` to `target`, in two halves: the compiler calls
/// `memcpy` for the whole (160 bytes, about 30 instructions with the call) but copies each
/// half inline with a few vector moves.
///
/// # Safety
/// As for [`ptr::copy_nonoverlapping`] of one `ObservationRecord`.
#[inline(always)]
unsafe fn copy_record(source: *const ObservationRecord, target: *mut ObservationRecord) {
    const SIZE: usize = size_of::<ObservationRecord>();
    const HALF: usize = SIZE / 2;
    let (source, target) = (source.cast::<u8>(), target.cast::<u8>());
    // SAFETY: both halves lie within the one record at each end, which the caller vouches for.
    unsafe {
        ptr::copy_nonoverlapping(source, target, HALF);
        ptr::copy_nonoverlapping(source.add(HALF), target.add(HALF), SIZE - HALF);
    }
}

/// What the gate's holders have moved out of the chunk since the owner last settled up.
#[derive(Default)]
struct Taken {
    count: usize,
    /// Their [`record_bytes`], which the owner's running total still includes.
    bytes: usize,
}

/// What [`ThreadBuffer::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Appended (or there was nothing to append).
    Stored,
    /// Appended, and the buffer has reached its count or byte bound: settle up.
    Settle,
    /// Not appended (the record is still in the slot): the chunk has no room left.
    NoRoom,
}

pub(super) struct ThreadBuffer {
    chunk: UnsafeCell<Chunk>,
    /// The [`record_bytes`] of the records appended since the owner last settled up. Only the
    /// owner touches it.
    bytes: UnsafeCell<usize>,
    /// Slots written and published (see the module docs).
    filled: AtomicUsize,
    gate: Mutex<Taken>,
}

// SAFETY: the records are `Send`, and every access to the cells follows the invariants in the
// module docs: the owner-only cells are touched by one thread at a time (invariant 1), `chunk`
// is written only under `gate` and slots are shared through the release/acquire on `filled`.
unsafe impl Send for ThreadBuffer {}
// SAFETY: as above.
unsafe impl Sync for ThreadBuffer {}

const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<ObservationRecord>();
};

impl ThreadBuffer {
    /// A buffer holding up to `batch` records (at least one) before it must be settled.
    pub(super) fn new(batch: usize) -> Self {
        let batch = batch.max(1);
        Self {
            chunk: UnsafeCell::new(Chunk::from_vec(Vec::with_capacity(batch), batch)),
            bytes: UnsafeCell::new(0),
            filled: AtomicUsize::new(0),
            gate: Mutex::new(Taken::default()),
        }
    }

    fn gate(&self) -> MutexGuard<'_, Taken> {
        // The counts under the gate are updated together with the records they describe, by
        // code that does not panic in between, so a poisoned gate still holds good counts.
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the record out of `slot` (leaving `None`) to the end of the chunk with a single
    /// copy of its bytes.
    ///
    /// # Safety
    /// Only the owner thread may call it, and not while another owner call on this buffer is
    /// running (see invariant 1).
    #[inline(always)]
    pub(super) unsafe fn push(
        &self,
        slot: &mut Option<ObservationRecord>,
        max_bytes: usize,
    ) -> Pushed {
        let Some(record) = slot.as_ref() else { return Pushed::Stored };
        // SAFETY: only the owner writes `chunk`, and we are the owner (invariant 2), so there
        // is no concurrent write; others only read it.
        let chunk = unsafe { &*self.chunk.get() };
        // Only the owner stores `filled`: a relaxed load reads its own last store.
        let filled = self.filled.load(Ordering::Relaxed);
        if filled >= chunk.room {
            return Pushed::NoRoom;
        }
        let bytes = record_bytes(record);
        // SAFETY: `filled < room <= capacity`, so the slot is inside the allocation; it is at
        // the published `filled`, so no other thread reads it (invariant 4). The record is
        // copied once and `slot` overwritten with `None` without dropping it, so ownership
        // moves exactly once (nothing in between can panic).
        unsafe {
            copy_record(record, chunk.slots.as_ptr().add(filled));
            ptr::write(slot, None);
        }
        // Read before the release store, which the compiler does not move loads across.
        let full = filled + 1 >= chunk.room;
        // Publishes the slot to the gate's holders (invariant 4).
        self.filled.store(filled + 1, Ordering::Release);
        // SAFETY: owner-only cell, and no other owner call is running (invariant 1).
        let total = unsafe { &mut *self.bytes.get() };
        *total += bytes;
        if full || *total >= max_bytes { Pushed::Settle } else { Pushed::Stored }
    }

    /// Settles up: forgets what the gate's holders took, and when the rest reaches `batch`
    /// records or `max_bytes` (or `force`), hands it to `hand_over` as a `Vec` with its
    /// [`record_bytes`]. Whatever `Vec` `hand_over` leaves in its place (an emptied buffer, say)
    /// becomes the new chunk, with room for `batch` records, unless `refill` is false (the
    /// owner thread is ending). Everything happens under the gate, so `hand_over` may count
    /// the records somewhere and a reader of [`ThreadBuffer::pending`] sees them in one place
    /// or the other.
    ///
    /// # Safety
    /// As for [`ThreadBuffer::push`]; `hand_over` may run any code except an owner call on this
    /// buffer.
    pub(super) unsafe fn settle(
        &self,
        batch: usize,
        max_bytes: usize,
        force: bool,
        refill: bool,
        hand_over: impl FnOnce(&mut Vec<ObservationRecord>, usize),
    ) {
        let batch = batch.max(1);
        let mut taken = self.gate();
        // SAFETY: we are the owner and hold the gate: nobody else reads or writes `chunk`
        // (invariant 2). The owner-only `bytes` is ours (invariant 1).
        let (chunk, bytes) = unsafe { (&mut *self.chunk.get(), &mut *self.bytes.get()) };
        let mut filled = self.filled.load(Ordering::Relaxed);
        if taken.count > 0 {
            let rest = filled - taken.count;
            // SAFETY: slots `taken..filled` are initialized and ours (invariant 3), slots below
            // `taken` were moved out; `ptr::copy` allows the overlap. Afterwards `0..rest` are
            // the records and nothing above them is (`filled` is lowered to match before the
            // gate is released, and no other thread looks at slots without the gate).
            unsafe {
                let slots = chunk.slots.as_ptr();
                ptr::copy(slots.add(taken.count), slots, rest);
            }
            filled = rest;
            *bytes = bytes.saturating_sub(taken.bytes);
            *taken = Taken::default();
            self.filled.store(filled, Ordering::Release);
        }
        let hand = filled > 0 && (force || filled >= batch || *bytes >= max_bytes);
        // No room is left only after a thread-ending settle or a panic in `hand_over`.
        if hand || (refill && filled == 0 && chunk.room < batch) {
            // SAFETY: `taken` is 0, so slots `0..filled` are initialized and ours (invariant
            // 3), and `filled <= capacity`. The chunk is empty from here until a new one is
            // installed, and `filled` is 0 before anyone else can look (we hold the gate).
            let mut records = unsafe { chunk.take_vec(filled) };
            self.filled.store(0, Ordering::Release);
            let handed_bytes = std::mem::take(bytes);
            if hand {
                hand_over(&mut records, handed_bytes);
            }
            // `hand_over` should leave an empty buffer; one it did not empty is dropped here.
            records.clear();
            if refill {
                records.reserve(batch);
                *chunk = Chunk::from_vec(records, batch);
            }
        }
    }

    /// Moves the published records nobody has taken yet to the end of `out` and calls
    /// `counted` with their number and [`record_bytes`], still under the gate. Any thread.
    pub(super) fn take_published(
        &self,
        out: &mut Vec<ObservationRecord>,
        counted: impl FnOnce(usize, usize),
    ) {
        let mut taken = self.gate();
        let filled = self.filled.load(Ordering::Acquire);
        let n = filled - taken.count;
        if n == 0 {
            return;
        }
        // SAFETY: under the gate `chunk` is stable (invariant 2).
        let chunk = unsafe { &*self.chunk.get() };
        out.reserve(n);
        let start = out.len();
        // SAFETY: slots `taken..filled` are initialized and owned by the buffer (invariant 3);
        // the acquire load above makes the owner's writes of them visible, and the owner does
        // not touch them until it holds the gate again (invariant 4). Their bytes are copied
        // into `out`'s reserved room and `taken` is raised past them below, before the gate is
        // released, so each record has exactly one owner at every point.
        unsafe {
            ptr::copy_nonoverlapping(
                chunk.slots.as_ptr().add(taken.count),
                out.as_mut_ptr().add(start),
                n,
            );
            out.set_len(start + n);
        }
        let bytes = out[start..].iter().map(record_bytes).sum();
        taken.count = filled;
        taken.bytes += bytes;
        counted(n, bytes);
    }

    /// Published records nobody has taken yet. Any thread.
    pub(super) fn pending(&self) -> usize {
        let taken = self.gate();
        self.filled.load(Ordering::Acquire) - taken.count
    }
}

impl Drop for ThreadBuffer {
    fn drop(&mut self) {
        let taken = self.gate.get_mut().unwrap_or_else(|e| e.into_inner()).count;
        let filled = *self.filled.get_mut();
        let chunk = self.chunk.get_mut();
        // SAFETY: `&mut self`: nobody else can look. Slots `taken..filled` are initialized and
        // ours (invariant 3) and are dropped once here; the allocation is then freed as the
        // empty `Vec` it came from.
        unsafe {
            let slots = chunk.slots.as_ptr();
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(slots.add(taken), filled - taken));
            drop(chunk.take_vec(0));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ids::{ObservationId, TraceId};
    use crate::kind::ObservationType;
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// Record number `n` (its start time) with `text_len` bytes of output and, if `details`,
    /// a status message (a record with details takes the pipeline's outlined path).
    pub(in crate::export) fn numbered_record(
        n: u64,
        text_len: usize,
        details: bool,
    ) -> ObservationRecord {
        let mut r = ObservationRecord::new(
            TraceId::from_bytes([1; 16]).unwrap(),
            ObservationId::from_bytes((n + 1).to_be_bytes()).unwrap(),
            None,
            "r",
            ObservationType::Span,
            n,
        );
        if text_len > 0 {
            r.output = Some("y".repeat(text_len).into());
        }
        if details {
            r.set_status_message(Some("failed".into()));
        }
        r
    }

    fn record(n: u64, text_len: usize) -> ObservationRecord {
        numbered_record(n, text_len, false)
    }

    /// A tiny xorshift: the tests need varied sizes and timings, not good randomness.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn push_settle_and_take_move_each_record_once() {
        let buffer = ThreadBuffer::new(4);
        let mut handed = Vec::new();
        let mut taken = Vec::new();
        for n in 0..3 {
            // SAFETY: this test's thread is the only owner.
            assert_eq!(unsafe { buffer.push(&mut Some(record(n, 0)), usize::MAX) }, Pushed::Stored);
        }
        let mut counted = (0, 0);
        buffer.take_published(&mut taken, |n, b| counted = (n, b));
        assert_eq!(counted, (3, 3 * record_bytes(&record(0, 0))));
        assert_eq!(buffer.pending(), 0);
        // SAFETY: as above.
        assert_eq!(unsafe { buffer.push(&mut Some(record(3, 0)), usize::MAX) }, Pushed::Settle);
        // SAFETY: as above.
        unsafe {
            buffer.settle(4, usize::MAX, false, true, |records, _| handed.append(records));
        }
        assert!(handed.is_empty(), "one record left is not a batch");
        for n in 4..7 {
            // SAFETY: as above.
            let _ = unsafe { buffer.push(&mut Some(record(n, 0)), usize::MAX) };
        }
        // SAFETY: as above.
        unsafe {
            buffer.settle(4, usize::MAX, false, true, |records, _| handed.append(records));
        }
        let order: Vec<u64> = taken.iter().chain(&handed).map(|r| r.start_unix_nanos).collect();
        assert_eq!(order, (0..7).collect::<Vec<_>>());
        assert_eq!(buffer.pending(), 0);
    }

    #[test]
    fn a_full_chunk_refuses_and_the_byte_bound_asks_to_settle() {
        let buffer = ThreadBuffer::new(2);
        let big = record_bytes(&record(0, 1000));
        // SAFETY: this test's thread is the only owner.
        unsafe {
            assert_eq!(buffer.push(&mut Some(record(0, 1000)), big), Pushed::Settle);
            assert_eq!(buffer.push(&mut Some(record(1, 0)), usize::MAX), Pushed::Settle);
            let mut slot = Some(record(2, 0));
            assert_eq!(buffer.push(&mut slot, usize::MAX), Pushed::NoRoom);
            assert!(slot.is_some(), "a refused record stays with the caller");
            let mut handed = (0, 0);
            buffer.settle(2, usize::MAX, false, true, |records, bytes| {
                handed = (records.len(), bytes);
                records.clear();
            });
            assert_eq!(handed, (2, big + record_bytes(&record(1, 0))));
            assert_eq!(buffer.push(&mut slot, usize::MAX), Pushed::Stored);
        }
        assert_eq!(buffer.pending(), 1);
    }

    #[test]
    fn dropping_the_buffer_drops_the_records_left() {
        let payload: Arc<str> = Arc::from("shared");
        let buffer = ThreadBuffer::new(8);
        let mut out = Vec::new();
        for n in 0..5 {
            let mut r = record(n, 0);
            r.input = Some(payload.to_string().into());
            // SAFETY: this test's thread is the only owner.
            let _ = unsafe { buffer.push(&mut Some(r), usize::MAX) };
        }
        buffer.take_published(&mut out, |_, _| {});
        // SAFETY: as above.
        let _ = unsafe { buffer.push(&mut Some(record(5, 0)), usize::MAX) };
        drop(buffer);
        assert_eq!(out.len(), 5);
    }

    /// Producers push records with random payload sizes and settle with random bounds while a
    /// sweeper keeps taking what is published: every record must come out exactly once, and
    /// the bytes handed over plus the bytes taken must equal the bytes pushed.
    #[test]
    fn producers_and_a_sweeper_hammering_lose_and_duplicate_nothing() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 20_000 };
        let buffers: Vec<Arc<ThreadBuffer>> =
            (0..THREADS).map(|t| Arc::new(ThreadBuffer::new(1 + t as usize * 7))).collect();
        let done = Arc::new(AtomicBool::new(false));
        let sweeper = {
            let buffers = buffers.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let (mut count, mut bytes) = (0, 0);
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
                loop {
                    let finished = done.load(Ordering::Acquire);
                    for buffer in &buffers {
                        buffer.take_published(&mut out, |n, b| {
                            count += n;
                            bytes += b;
                        });
                        let _ = buffer.pending();
                    }
                    if finished {
                        break;
                    }
                    if rng.below(4) == 0 {
                        std::thread::yield_now();
                    }
                }
                assert_eq!(count, out.len());
                (out, bytes)
            })
        };
        let producers: Vec<_> = buffers
            .iter()
            .enumerate()
            .map(|(t, buffer)| {
                let buffer = buffer.clone();
                std::thread::spawn(move || {
                    let batch = 1 + t * 7;
                    let mut rng = Rng(0x1234_5678 + t as u64);
                    let mut bounds = Rng(0x8765_4321 + t as u64);
                    let (mut handed, mut handed_bytes, mut pushed_bytes) = (Vec::new(), 0, 0);
                    let mut settle = |buffer: &ThreadBuffer, force: bool, refill: bool| {
                        let max_bytes = 200 + bounds.below(3000) as usize;
                        // SAFETY: this thread is the buffer's only owner and makes no other
                        // owner call meanwhile.
                        unsafe {
                            buffer.settle(batch, max_bytes, force, refill, |records, bytes| {
                                assert_eq!(bytes, records.iter().map(record_bytes).sum::<usize>());
                                handed_bytes += bytes;
                                handed.append(records);
                            });
                        }
                    };
                    for i in 0..PER_THREAD {
                        let mut slot = Some(record(t as u64 * PER_THREAD + i, 0));
                        if i % 3 == 0 {
                            slot = Some(record(t as u64 * PER_THREAD + i, i as usize % 500));
                        }
                        let bytes = record_bytes(slot.as_ref().unwrap());
                        loop {
                            // SAFETY: as above.
                            match unsafe { buffer.push(&mut slot, 1000) } {
                                Pushed::Stored => break,
                                Pushed::Settle => {
                                    settle(&buffer, false, true);
                                    break;
                                }
                                Pushed::NoRoom => settle(&buffer, false, true),
                            }
                        }
                        pushed_bytes += bytes;
                        if rng.below(64) == 0 {
                            std::thread::yield_now();
                        }
                    }
                    // Like a thread ending: hand over everything, install nothing.
                    settle(&buffer, true, false);
                    assert_eq!(buffer.pending(), 0);
                    (handed, handed_bytes, pushed_bytes)
                })
            })
            .collect();
        let mut seen = HashSet::new();
        let (mut handed_bytes, mut pushed_bytes) = (0, 0);
        for producer in producers {
            let (handed, h, p) = producer.join().unwrap();
            handed_bytes += h;
            pushed_bytes += p;
            for r in handed {
                assert!(seen.insert(r.start_unix_nanos), "handed over twice");
            }
        }
        done.store(true, Ordering::Release);
        let (swept, swept_bytes) = sweeper.join().unwrap();
        for r in swept {
            assert!(seen.insert(r.start_unix_nanos), "taken twice");
        }
        assert_eq!(seen.len() as u64, THREADS * PER_THREAD, "records lost");
        assert_eq!(handed_bytes + swept_bytes, pushed_bytes);
    }
}
