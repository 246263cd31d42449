//! Moves finished observations from instrumented threads to the exporters without a per-span
//! cross-thread hand-off.
//!
//! Each thread appends to its own buffer ([`ThreadBuffer`]: no lock, no atomic
//! read-modify-write, no allocation) and hands the whole buffer over when it fills, getting an
//! emptied one back. The export thread is woken at most once per eight requests' worth of
//! queued observations, so producers almost never make a syscall. It also sweeps the buffers
//! of idle threads on every tick and on `flush()`, taking what they have published so far, so
//! nothing waits on a thread that stopped producing. Memory is bounded in count
//! and in bytes: at most `max_queue_size` observations and `max_queue_bytes` (approximately,
//! see [`record_bytes`]) wait for export, plus one partial buffer per thread, itself held under
//! a 64th of the byte bound; beyond that whole hand-offs are dropped and counted by reason.
//!
//! # Accounting
//!
//! Every observation handed to [`Pipeline::submit`] ends up in exactly one counter, so
//! `created = exported + dropped + failed + lost_at_shutdown + pending` (see [`ExportStats`]).
//! `created` is counted when a record leaves its thread buffer (hand-off, sweep or refusal),
//! and records still in thread buffers are added to both `created` and `pending` by
//! [`Pipeline::stats`]; that keeps the submit path free of shared counters.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backlog::Backlog;
use super::stats::{DropCounts, ExportStats};
use super::thread_buffer::{Pushed, ThreadBuffer};
use super::{FlushReport, SpanExporter};
use crate::diag;
use crate::record::ObservationRecord;

/// Export requests' worth of observations queued per wake-up of the export thread.
const WAKE_BATCHES: usize = 8;

/// Most observations a thread collects before handing them over; below it, a thread hands
/// over exactly one export request's worth (`flush_at`), which is then exported in place.
const MAX_LOCAL_BATCH: usize = 4096;

pub(crate) struct PipelineSettings {
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_queue_size: usize,
    pub(crate) max_queue_bytes: usize,
    /// Set to the queue's fill before each export, for the exporters that ease off as it fills.
    pub(crate) backlog: Backlog,
}

/// What a record is taken to cost in the queue besides its text: the record itself, its
/// allocations' headers, the trace attributes it shares. An estimate, not a measurement: the
/// byte bound only has to keep an outage with large payloads from growing without limit.
const RECORD_OVERHEAD_BYTES: usize = 192;

/// The approximate memory of one queued record: its payload texts plus a fixed overhead.
#[inline]
pub(crate) fn record_bytes(record: &ObservationRecord) -> usize {
    let text = |s: Option<&str>| s.map_or(0, str::len);
    let bytes = RECORD_OVERHEAD_BYTES
        + record.name.len()
        + text(record.input.as_deref())
        + text(record.output.as_deref());
    // Most records set none of the rare fields: one branch instead of a walk through each.
    if record.has_details() { bytes + detail_bytes(record) } else { bytes }
}

/// The rare fields' part of [`record_bytes`].
#[inline(never)]
fn detail_bytes(record: &ObservationRecord) -> usize {
    let text = |s: Option<&str>| s.map_or(0, str::len);
    let mut bytes =
        text(record.status_message()) + text(record.metadata_value().map(|v| v.as_str()));
    for (key, value) in record.metadata().iter() {
        bytes += key.len() + value.len();
    }
    if let Some(g) = record.generation() {
        bytes += text(g.model.as_deref())
            + text(g.model_parameters.as_deref())
            + text(g.usage_details.as_deref())
            + text(g.cost_details.as_deref());
    }
    bytes
}

fn batch_bytes(records: &[ObservationRecord]) -> usize {
    records.iter().map(record_bytes).sum()
}

/// How often a drop is logged at most; the line gives the totals by reason.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

enum Message {
    /// The queue holds at least `wake_at` observations.
    Wake,
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

/// Whole buffers change hands, so a hand-off moves one pointer, not the records; the copy
/// into export batches happens on the export thread.
#[derive(Default)]
struct Handed {
    full: Vec<Vec<ObservationRecord>>,
    empty: Vec<Vec<ObservationRecord>>,
}

/// Emptied buffers kept for reuse (beyond that they are freed).
const MAX_SPARE_BUFFERS: usize = 64;

/// After shutdown's deadline, how long it still waits for the export thread to count what it
/// abandons (it sends nothing more, so this only covers a request already on the wire).
const ABANDON_GRACE: Duration = Duration::from_millis(250);

struct Shared {
    id: u64,
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    buffers: Mutex<Vec<Arc<ThreadBuffer>>>,
    /// Full thread buffers handed over, and emptied ones coming back for reuse.
    handed: Mutex<Handed>,
    /// A `Wake` is in flight: don't send another until the export thread drains the queue.
    wake_sent: AtomicBool,
    /// Queued observations that wake the export thread before its tick.
    wake_at: usize,
    /// Observations a thread collects before handing them over.
    local_batch: usize,
    /// Bytes a thread collects before handing them over, so large payloads leave early.
    local_bytes: usize,
    /// Observations that left their thread buffer (see the module docs).
    created: AtomicU64,
    /// Observations out of their thread buffer and not yet exported or given up on.
    queued: AtomicUsize,
    max_queue_size: usize,
    /// [`record_bytes`] of the `queued` observations.
    queued_bytes: AtomicUsize,
    max_queue_bytes: usize,
    exported: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_queue_bytes: AtomicU64,
    /// When a drop was last logged, in milliseconds since `started` (plus one; 0: never).
    drop_logged_ms: AtomicU64,
    started: Instant,
    dropped_after_shutdown: AtomicU64,
    failed: AtomicU64,
    lost_at_shutdown: AtomicU64,
    /// `id` while open, `CLOSED_ID` once shut down (or never started): the submit path
    /// compares it with `FAST`'s id, one check for "this pipeline's buffer" and "still open".
    open_id: AtomicU64,
    /// Shutdown ran out of time: the export thread sends nothing more and counts the rest lost.
    abandoned: AtomicBool,
    /// The counters at the last flush or shutdown report, which reports count from.
    reported: Mutex<ExportStats>,
}

impl Shared {
    fn is_closed(&self) -> bool {
        self.open_id.load(Ordering::Relaxed) == CLOSED_ID
    }

    fn send(&self, message: Message) -> bool {
        match &*self.sender.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        }
    }

    /// Moves `batch` (of `bytes`, by [`record_bytes`]) into the shared queue and leaves an
    /// emptied buffer (or a new one) in its place.
    fn hand_off(&self, batch: &mut Vec<ObservationRecord>, bytes: usize) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        self.created.fetch_add(n as u64, Ordering::SeqCst);
        if self.abandoned.load(Ordering::Relaxed) {
            // Nobody will export it any more.
            batch.clear();
            self.count_dropped_after_shutdown(n);
            return;
        }
        let before = self.queued.fetch_add(n, Ordering::SeqCst);
        let bytes_before = self.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
        let full_count = before + n > self.max_queue_size;
        if full_count || bytes_before + bytes > self.max_queue_bytes {
            self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.queued.fetch_sub(n, Ordering::SeqCst);
            batch.clear();
            let counter =
                if full_count { &self.dropped_queue_full } else { &self.dropped_queue_bytes };
            counter.fetch_add(n as u64, Ordering::SeqCst);
            self.log_drop();
            return;
        }
        let mut handed = self.handed.lock().unwrap_or_else(|e| e.into_inner());
        let spare = handed.empty.pop().unwrap_or_default();
        let full = std::mem::replace(batch, spare);
        handed.full.push(full);
        drop(handed);
        if before + n >= self.wake_at && !self.wake_sent.swap(true, Ordering::AcqRel) {
            self.send(Message::Wake);
        }
    }

    /// Settles `buffer` up, handing its records over once they reach a batch or the byte bound
    /// (or when `force`); `refill` unless its thread is ending.
    ///
    /// # Safety
    /// As for [`ThreadBuffer::settle`]: on the owning thread, no other owner call meanwhile.
    unsafe fn settle(&self, buffer: &ThreadBuffer, force: bool, refill: bool) {
        // SAFETY: passed on to the caller. `hand_off` makes no owner call on any buffer.
        unsafe {
            buffer.settle(self.local_batch, self.local_bytes, force, refill, |records, bytes| {
                self.hand_off(records, bytes)
            });
        }
    }

    /// Logs the drops so far, at most once per [`DROP_LOG_INTERVAL`].
    fn log_drop(&self) {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.drop_logged_ms.load(Ordering::Relaxed);
        let interval = DROP_LOG_INTERVAL.as_millis() as u64;
        if last != 0 && now.saturating_sub(last) < interval {
            return;
        }
        // One thread logs per interval.
        if self
            .drop_logged_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        diag::warn(format_args!(
            "export queue full: {} observations dropped at the bound of {} observations \
             (OTEL_BSP_MAX_QUEUE_SIZE), {} at the bound of {} bytes (LANGFUSE_MAX_QUEUE_BYTES), \
             so far; the export cannot keep up or the endpoint is unreachable",
            self.dropped_queue_full.load(Ordering::SeqCst),
            self.max_queue_size,
            self.dropped_queue_bytes.load(Ordering::SeqCst),
            self.max_queue_bytes,
        ));
    }

    fn count_dropped_after_shutdown(&self, n: usize) {
        if self.dropped_after_shutdown.fetch_add(n as u64, Ordering::SeqCst) == 0 {
            diag::debug(format_args!(
                "observations finished after the client shut down are dropped (and counted)"
            ));
        }
    }

    /// Takes whatever waits in the queue and in thread buffers and counts it lost at shutdown.
    /// Only once the export thread is gone, so nothing is counted twice.
    fn abandon_leftovers(&self) {
        let full = std::mem::take(&mut self.handed.lock().unwrap_or_else(|e| e.into_inner()).full);
        let queued: usize = full.iter().map(Vec::len).sum();
        let bytes: usize = full.iter().map(|b| batch_bytes(b)).sum();
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.queued.fetch_sub(queued, Ordering::SeqCst);
        self.lost_at_shutdown.fetch_add(queued as u64, Ordering::SeqCst);
        let mut leftovers = Vec::new();
        for buffer in self.buffers.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            buffer.take_published(&mut leftovers, |n, _| {
                self.created.fetch_add(n as u64, Ordering::SeqCst);
                self.lost_at_shutdown.fetch_add(n as u64, Ordering::SeqCst);
            });
        }
    }

    fn stats(&self) -> ExportStats {
        // Read the thread buffers first: a record moving out of one meanwhile is then counted
        // in `created` (and `queued`) rather than nowhere.
        let buffered: u64 = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|b| b.pending() as u64)
            .sum();
        let dropped_by = DropCounts {
            queue_full_count: self.dropped_queue_full.load(Ordering::SeqCst),
            queue_full_bytes: self.dropped_queue_bytes.load(Ordering::SeqCst),
            after_shutdown: self.dropped_after_shutdown.load(Ordering::SeqCst),
        };
        // Results before `queued` before `created`, the reverse of the order records move in
        // (counted as created, then queued, then out of the queue, then as a result): a record
        // moving meanwhile is then missed by the sum or counted in `created` twice, so a
        // snapshot may show `created` above the sum but never below it.
        let exported = self.exported.load(Ordering::SeqCst);
        let failed = self.failed.load(Ordering::SeqCst);
        let lost_at_shutdown = self.lost_at_shutdown.load(Ordering::SeqCst);
        let queued = self.queued.load(Ordering::SeqCst) as u64 + buffered;
        let created = self.created.load(Ordering::SeqCst) + buffered;
        ExportStats {
            created,
            exported,
            dropped: dropped_by.total(),
            dropped_by,
            failed,
            lost_at_shutdown,
            queued,
            // Process-wide, not per pipeline: the client adds it.
            capture_failures: 0,
            // Extra destinations count themselves: the client adds them.
            destinations: Default::default(),
        }
    }

    /// What happened since the previous report.
    fn report(&self, deadline_hit: bool) -> FlushReport {
        let now = self.stats();
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        let delta = now.since(&reported);
        *reported = now;
        FlushReport {
            exported: delta.exported,
            failed: delta.failed,
            dropped: delta.dropped,
            lost_at_shutdown: delta.lost_at_shutdown,
            pending: now.queued,
            deadline_hit,
            destinations: Default::default(),
        }
    }
}

/// One registration per (thread, pipeline): this thread owns `buffer`.
struct LocalEntry {
    pipeline: Weak<Shared>,
    id: u64,
    buffer: Arc<ThreadBuffer>,
}

/// This thread's buffers, one per pipeline it submitted to.
///
/// Every owner call on a buffer ([`ThreadBuffer::push`], [`ThreadBuffer::settle`]) is made
/// from here, on the owning thread, and never while another is running on the same buffer:
/// `push` runs no other code, and `settle` (which can log, so in principle re-enter `submit`)
/// runs only with `entries` borrowed and [`FAST`] cleared, so a re-entrant `submit` finds
/// neither and hands its record over directly.
struct LocalBuffers {
    entries: RefCell<Vec<LocalEntry>>,
}

/// Pipeline ids start at 1.
const NO_FAST: (u64, *const ThreadBuffer) = (0, std::ptr::null());

impl Drop for LocalBuffers {
    fn drop(&mut self) {
        // `FAST` outlives `LOCAL` (it has no destructor): it must not name these buffers.
        let _ = FAST.try_with(|fast| fast.set(NO_FAST));
        // The thread is ending: hand over what it collected instead of waiting for a sweep.
        for entry in self.entries.get_mut().drain(..) {
            if let Some(shared) = entry.pipeline.upgrade() {
                // SAFETY: this thread owns the buffer, and no other owner call can run: `LOCAL`
                // is being destroyed, so a `submit` from here on cannot reach it.
                unsafe { shared.settle(&entry.buffer, true, false) };
            }
        }
    }
}

thread_local! {
    static LOCAL: LocalBuffers = const { LocalBuffers { entries: RefCell::new(Vec::new()) } };
    /// The pipeline this thread submitted to last and its buffer, held by one of `LOCAL`'s
    /// entries; `NO_FAST` while they change or a buffer settles up. Apart from `LOCAL`, so
    /// that the common case needs no check of whether `LOCAL` is still alive.
    static FAST: Cell<(u64, *const ThreadBuffer)> = const { Cell::new(NO_FAST) };
}

/// The producer side of one client's export pipeline.
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

static NEXT_PIPELINE_ID: AtomicU64 = AtomicU64::new(1);

/// `Shared::open_id` of a closed pipeline: no id (they count up from 1) and not `NO_FAST`'s.
const CLOSED_ID: u64 = u64::MAX;

impl Pipeline {
    pub(crate) fn start(settings: PipelineSettings, exporters: Vec<Box<dyn SpanExporter>>) -> Self {
        let (sender, receiver) = mpsc::channel();
        let id = NEXT_PIPELINE_ID.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            id,
            sender: Mutex::new(Some(sender)),
            buffers: Mutex::new(Vec::new()),
            handed: Mutex::new(Handed {
                full: Vec::with_capacity(MAX_SPARE_BUFFERS),
                empty: Vec::new(),
            }),
            wake_sent: AtomicBool::new(false),
            // A wake-up costs the producer a syscall: batch several requests' worth per wake,
            // but never more than a quarter of the queue, so bursts are not dropped.
            wake_at: (settings.flush_at.max(1) * WAKE_BATCHES)
                .min(settings.max_queue_size / 4)
                .max(1),
            local_batch: settings.flush_at.clamp(1, MAX_LOCAL_BATCH),
            local_bytes: (settings.max_queue_bytes / 64).max(1),
            created: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            max_queue_size: settings.max_queue_size,
            queued_bytes: AtomicUsize::new(0),
            max_queue_bytes: settings.max_queue_bytes,
            exported: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_queue_bytes: AtomicU64::new(0),
            drop_logged_ms: AtomicU64::new(0),
            started: Instant::now(),
            dropped_after_shutdown: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lost_at_shutdown: AtomicU64::new(0),
            open_id: AtomicU64::new(id),
            abandoned: AtomicBool::new(false),
            reported: Mutex::new(ExportStats::default()),
        });
        let worker = Worker {
            shared: shared.clone(),
            receiver,
            exporters,
            pending: Vec::new(),
            deferred: Default::default(),
            spare_full: Vec::with_capacity(MAX_SPARE_BUFFERS),
            flush_at: settings.flush_at.max(1),
            flush_interval: settings.flush_interval.max(Duration::from_millis(1)),
            backlog: settings.backlog,
        };
        let handle = std::thread::Builder::new()
            .name("langfuse-export".into())
            .spawn(move || worker.run())
            .map_err(|e| diag::error(format_args!("could not start the export thread: {e}")))
            .ok();
        if handle.is_none() {
            shared.open_id.store(CLOSED_ID, Ordering::Relaxed);
            shared.abandoned.store(true, Ordering::Relaxed);
        }
        Self { shared, worker: Mutex::new(handle) }
    }

    /// Queues a finished observation. Never blocks on the network, never panics.
    ///
    /// Takes the record out of `slot`: moving it straight from the observation into the thread
    /// buffer saves copies of a few hundred bytes per observation.
    #[inline]
    pub(crate) fn submit(&self, slot: &mut Option<ObservationRecord>) {
        let shared = &*self.shared;
        let (id, buffer) = FAST.get();
        // Records with details take the outlined path: their byte count needs a call, and a
        // call here would make every submit save and restore registers.
        if id == shared.open_id.load(Ordering::Relaxed)
            && slot.as_ref().is_some_and(|r| !r.has_details())
        {
            // SAFETY: `FAST` names a buffer that one of this thread's `LOCAL` entries holds
            // (it is cleared before an entry can go), so it is alive; pipeline ids are never
            // reused. This thread owns the buffer and no owner call on it is running: `FAST`
            // is cleared while one that can run other code is (see `LocalBuffers`).
            match unsafe { (*buffer).push(slot, shared.local_bytes) } {
                Pushed::Stored => return,
                Pushed::Settle => return self.submit_cold(slot, true),
                Pushed::NoRoom => {}
            }
        }
        self.submit_cold(slot, false);
    }

    /// [`Pipeline::submit`] after shutdown, for a record with details, when `FAST` is not this
    /// pipeline's, or when the buffer must settle up (`settle`, the record already stored) or
    /// had no room.
    #[cold]
    #[inline(never)]
    fn submit_cold(&self, slot: &mut Option<ObservationRecord>, mut settle: bool) {
        let shared = &*self.shared;
        if slot.is_none() && !settle {
            return;
        }
        if slot.is_some() && shared.is_closed() {
            slot.take();
            shared.created.fetch_add(1, Ordering::SeqCst);
            shared.count_dropped_after_shutdown(1);
            return;
        }
        let (id, buffer) = FAST.get();
        if !settle && id == shared.id {
            // SAFETY: as in `submit`.
            match unsafe { (*buffer).push(slot, shared.local_bytes) } {
                Pushed::Stored => return,
                Pushed::Settle => settle = true,
                Pushed::NoRoom => {}
            }
        }
        let _ = LOCAL.try_with(|local| self.submit_local(local, slot, settle));
        // Thread-local storage is gone (thread teardown) or re-entered: hand it over directly.
        if let Some(record) = slot.take() {
            let bytes = record_bytes(&record);
            shared.hand_off(&mut vec![record], bytes);
        }
    }

    /// Finds or registers this thread's buffer, pushes the record if it is still in `slot`,
    /// and settles up when the buffer is at a bound or had no room.
    fn submit_local(
        &self,
        local: &LocalBuffers,
        slot: &mut Option<ObservationRecord>,
        settle: bool,
    ) {
        let shared = &*self.shared;
        // Re-entered from a settle or a registration: the caller hands the record over.
        let Ok(mut entries) = local.entries.try_borrow_mut() else { return };
        FAST.set(NO_FAST);
        let index = match entries.iter().position(|e| e.id == shared.id) {
            Some(index) => index,
            None => {
                entries.retain(|e| e.pipeline.strong_count() > 0);
                let buffer = Arc::new(ThreadBuffer::new(shared.local_batch));
                shared.buffers.lock().unwrap_or_else(|e| e.into_inner()).push(buffer.clone());
                entries.push(LocalEntry {
                    pipeline: Arc::downgrade(&self.shared),
                    id: shared.id,
                    buffer,
                });
                entries.len() - 1
            }
        };
        let buffer = &*entries[index].buffer;
        // SAFETY (all three owner calls): this thread owns the buffer, and no other owner call
        // on it runs meanwhile: `fast` is cleared and `entries` borrowed, so a re-entrant
        // `submit` reaches neither (see `LocalBuffers`).
        unsafe {
            // A no-op when the fast path already stored the record.
            let mut pushed = buffer.push(slot, shared.local_bytes);
            if settle || pushed != Pushed::Stored {
                shared.settle(buffer, false, true);
            }
            if pushed == Pushed::NoRoom {
                pushed = buffer.push(slot, shared.local_bytes);
                if pushed == Pushed::Settle {
                    shared.settle(buffer, false, true);
                }
            }
        }
        FAST.set((shared.id, buffer));
    }

    /// Exports everything finished so far; waits at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> FlushReport {
        if self.is_closed() {
            // Shut down (say by the global `shutdown()`): nothing is left to wait for.
            return self.shared.report(false);
        }
        let (ack, done) = mpsc::channel();
        let finished = self.shared.send(Message::Flush(ack)) && done.recv_timeout(timeout).is_ok();
        self.shared.report(!finished)
    }

    /// Flushes, shuts the exporters down and stops the thread; waits at most `timeout`, then
    /// calls `on_deadline` (to cut the exporters' retry waits short) and abandons the rest,
    /// counting it. `None` when the pipeline was already shut down.
    pub(crate) fn shutdown(
        &self,
        timeout: Duration,
        on_deadline: impl FnOnce(),
    ) -> Option<FlushReport> {
        if self.shared.open_id.swap(CLOSED_ID, Ordering::AcqRel) == CLOSED_ID {
            return None;
        }
        let (ack, done) = mpsc::channel();
        let sent = self.shared.send(Message::Shutdown(ack));
        let mut finished = sent && done.recv_timeout(timeout).is_ok();
        let deadline_hit = sent && !finished;
        if deadline_hit {
            self.shared.abandoned.store(true, Ordering::Release);
            on_deadline();
            // The export thread now only counts what is left; give it a moment to do so.
            finished = done.recv_timeout(ABANDON_GRACE).is_ok();
        }
        *self.shared.sender.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if finished || !sent {
            if let Some(worker) = worker {
                let _ = worker.join();
            }
            // Raced past the close into a buffer after the final sweep: nobody exports it now.
            self.shared.abandoned.store(true, Ordering::Release);
            self.shared.abandon_leftovers();
        }
        Some(self.shared.report(deadline_hit))
    }

    pub(crate) fn stats(&self) -> ExportStats {
        self.shared.stats()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

struct Worker {
    shared: Arc<Shared>,
    receiver: mpsc::Receiver<Message>,
    exporters: Vec<Box<dyn SpanExporter>>,
    /// Observations received through the channel and not yet exported.
    pending: Vec<ObservationRecord>,
    /// A flush or shutdown met while draining the channel, answered next.
    deferred: std::collections::VecDeque<Message>,
    /// The emptied list of handed-over buffers, swapped with the shared one on each drain.
    spare_full: Vec<Vec<ObservationRecord>>,
    flush_at: usize,
    flush_interval: Duration,
    backlog: Backlog,
}

impl Worker {
    fn run(mut self) {
        let mut next_tick = Instant::now() + self.flush_interval;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let message = match self.deferred.pop_front() {
                Some(message) => Ok(message),
                None => self.receiver.recv_timeout(wait),
            };
            match message {
                Ok(Message::Wake) => {
                    self.take_handed();
                    self.export_full_batches();
                }
                Ok(Message::Flush(ack)) => {
                    self.export_everything();
                    self.for_each_exporter(|e| e.force_flush());
                    let _ = ack.send(());
                }
                Ok(Message::Shutdown(ack)) => {
                    self.export_everything();
                    self.for_each_exporter(|e| e.force_flush());
                    self.for_each_exporter(|e| e.shutdown());
                    let _ = ack.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.export_everything();
                    next_tick = Instant::now() + self.flush_interval;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.export_everything();
                    self.for_each_exporter(|e| e.shutdown());
                    return;
                }
            }
        }
    }

    /// Drains the shared queue: whole requests' worth are exported where they are, remainders go
    /// to `pending`, and the emptied buffers go back for the producers to reuse.
    fn take_handed(&mut self) {
        // Swapped with an emptied list that keeps its room, not taken: a producer pushing onto
        // a list left with no capacity allocated once per wake-up on its own thread (the
        // calling thread's only allocations in row A, `benches/allocs.rs`).
        let mut full = std::mem::take(&mut self.spare_full);
        std::mem::swap(
            &mut full,
            &mut self.shared.handed.lock().unwrap_or_else(|e| e.into_inner()).full,
        );
        self.shared.wake_sent.store(false, Ordering::Release);
        let mut emptied = Vec::with_capacity(full.len());
        for mut buffer in full.drain(..) {
            if buffer.len() >= self.flush_at {
                // A whole request's worth: export it where it is, without copying.
                let whole = buffer.len() / self.flush_at * self.flush_at;
                for chunk in buffer[..whole].chunks(self.flush_at) {
                    self.export(chunk);
                }
                crate::recycle::reclaim(&mut buffer[..whole]);
                buffer.drain(..whole);
            }
            self.pending.append(&mut buffer);
            emptied.push(buffer);
        }
        self.spare_full = full;
        let mut handed = self.shared.handed.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_SPARE_BUFFERS.saturating_sub(handed.empty.len());
        handed.empty.extend(emptied.into_iter().take(room));
    }

    /// Exports whole batches of `flush_at`; a smaller tail waits for the next tick.
    fn export_full_batches(&mut self) {
        let full = self.pending.len() / self.flush_at * self.flush_at;
        self.export_pending_prefix(full);
    }

    fn export_pending_prefix(&mut self, n: usize) {
        let mut pending = std::mem::take(&mut self.pending);
        for chunk in pending[..n].chunks(self.flush_at) {
            self.export(chunk);
        }
        crate::recycle::reclaim(&mut pending[..n]);
        pending.drain(..n);
        self.pending = pending;
    }

    /// Everything queued and in every thread's buffer, in batches of `flush_at`.
    fn export_everything(&mut self) {
        while let Ok(message) = self.receiver.try_recv() {
            if !matches!(message, Message::Wake) {
                self.deferred.push_back(message);
            }
        }
        self.take_handed();
        self.export_pending_prefix(self.pending.len());
        let mut swept = self.sweep_thread_buffers();
        for chunk in swept.chunks(self.flush_at) {
            self.export(chunk);
        }
        crate::recycle::reclaim(&mut swept);
        self.for_each_exporter(|e| e.end_of_round());
    }

    /// Takes every thread's buffer, counting the records as created and queued on the way.
    fn sweep_thread_buffers(&self) -> Vec<ObservationRecord> {
        let mut buffers = self.shared.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let mut swept = Vec::new();
        for buffer in buffers.iter() {
            // Counted under the buffer's gate, so `stats()` sees these either buffered or queued.
            buffer.take_published(&mut swept, |n, bytes| {
                self.shared.created.fetch_add(n as u64, Ordering::SeqCst);
                self.shared.queued.fetch_add(n, Ordering::SeqCst);
                self.shared.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
            });
        }
        // A buffer only the registry still holds belongs to a thread that has exited.
        buffers.retain(|b| Arc::strong_count(b) > 1);
        swept
    }

    fn export(&mut self, chunk: &[ObservationRecord]) {
        if chunk.is_empty() {
            return;
        }
        let n = chunk.len();
        let shared = &*self.shared;
        let bytes = batch_bytes(chunk);
        let bytes_left = shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed) - bytes;
        // What is still waiting besides this chunk: how far behind the export is.
        self.backlog.set(
            shared.queued.load(Ordering::Relaxed).saturating_sub(n),
            shared.max_queue_size,
            bytes_left,
            shared.max_queue_bytes,
        );
        if self.shared.abandoned.load(Ordering::Acquire) {
            // Shutdown gave up waiting: count the rest instead of sending it.
            self.shared.queued.fetch_sub(n, Ordering::SeqCst);
            self.shared.lost_at_shutdown.fetch_add(n as u64, Ordering::SeqCst);
            return;
        }
        // An observation counts as lost when any exporter lost it (the worst exporter decides).
        let mut lost = 0;
        for exporter in &mut self.exporters {
            if let Err(e) = exporter.export(chunk) {
                lost = lost.max(e.lost(n));
                diag::error(format_args!("export of {n} observations failed: {e}"));
            }
        }
        // A failure while shutdown abandons the export is its doing (a retry wait cut short),
        // not the server's verdict.
        let bucket = if lost > 0 && self.shared.abandoned.load(Ordering::Acquire) {
            &self.shared.lost_at_shutdown
        } else {
            &self.shared.failed
        };
        // Out of the queue before counted as a result (see `Shared::stats`): the other way
        // round, a snapshot could count the batch twice and show `created` below the sum.
        self.shared.queued.fetch_sub(n, Ordering::SeqCst);
        bucket.fetch_add(lost as u64, Ordering::SeqCst);
        self.shared.exported.fetch_add((n - lost) as u64, Ordering::SeqCst);
    }

    fn for_each_exporter(
        &mut self,
        mut f: impl FnMut(&mut Box<dyn SpanExporter>) -> Result<(), super::ExportError>,
    ) {
        for exporter in &mut self.exporters {
            if let Err(e) = f(exporter) {
                diag::error(format_args!("exporter error: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ExportError;
    use std::collections::HashSet;

    /// Collects the exported records' numbers (their start times).
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<u64>>>);

    impl SpanExporter for Collect {
        fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
            self.0.lock().unwrap().extend(batch.iter().map(|r| r.start_unix_nanos));
            Ok(())
        }
    }

    use super::super::thread_buffer::tests::numbered_record as record;

    fn accounted(s: &ExportStats) -> u64 {
        s.exported + s.dropped + s.failed + s.lost_at_shutdown + s.queued
    }

    fn start(collect: &Collect, flush_at: usize, max_queue_bytes: usize) -> Pipeline {
        let settings = PipelineSettings {
            flush_at,
            flush_interval: Duration::from_millis(3),
            max_queue_size: 1 << 30,
            max_queue_bytes,
            backlog: Backlog::default(),
        };
        Pipeline::start(settings, vec![Box::new(collect.clone())])
    }

    /// Producer threads submit records of random sizes (some with details, some to a second
    /// pipeline) while other threads read the stats and flush, and the export thread sweeps
    /// every few milliseconds: no record may arrive twice, every one must be exported or
    /// counted dropped, and the stats may never show less created than accounted for.
    #[test]
    fn concurrent_submits_sweeps_flushes_and_thread_exits_account_for_every_record() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 4_000;
        let (first, second) = (Collect::default(), Collect::default());
        // The first hands over by count (7 records) and has room for everything; the second by
        // bytes (a 64th of 2 MiB: about 20 records) and drops when the export falls behind.
        let pipelines = Arc::new([start(&first, 7, 1 << 30), start(&second, 500, 2 << 20)]);
        let done = Arc::new(AtomicBool::new(false));
        let watchers: Vec<_> = (0..2)
            .map(|w| {
                let (pipelines, done) = (pipelines.clone(), done.clone());
                std::thread::spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        for pipeline in pipelines.iter() {
                            let s = pipeline.stats();
                            assert!(s.created >= accounted(&s), "{s:?}");
                            if w == 1 {
                                pipeline.flush(Duration::from_millis(20));
                            }
                        }
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..THREADS)
            .map(|t| {
                let pipelines = pipelines.clone();
                std::thread::spawn(move || {
                    let mut state = 0x2545_f491_4f6c_dd1d ^ (t + 1);
                    for i in 0..PER_THREAD {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let n = t * PER_THREAD + i;
                        let mut slot = Some(record(n, (state % 3000) as usize, state % 5 == 0));
                        pipelines[usize::from(state % 3 == 0)].submit(&mut slot);
                        assert!(slot.is_none(), "submit takes the record");
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        done.store(true, Ordering::Release);
        for watcher in watchers {
            watcher.join().unwrap();
        }
        let mut seen = HashSet::new();
        let mut created = 0;
        for (pipeline, collect) in pipelines.iter().zip([&first, &second]) {
            assert!(!pipeline.flush(Duration::from_secs(10)).deadline_hit);
            let s = pipeline.stats();
            assert_eq!(s.queued, 0, "{s:?}");
            assert_eq!(s.created, accounted(&s), "{s:?}");
            assert_eq!(s.failed + s.lost_at_shutdown, 0, "{s:?}");
            if std::ptr::eq(collect, &first) {
                assert_eq!(s.dropped, 0, "the first pipeline has room for everything: {s:?}");
            }
            let exported = collect.0.lock().unwrap();
            assert_eq!(exported.len() as u64, s.exported, "{s:?}");
            for &n in exported.iter() {
                assert!(seen.insert(n), "record {n} exported twice");
            }
            created += s.created;
            pipeline.shutdown(Duration::from_secs(5), || {});
        }
        assert_eq!(created, THREADS * PER_THREAD, "records neither exported nor counted");
    }

    /// Records a thread leaves in its buffer reach the exporter when the thread ends and when
    /// it idles (the sweep), without waiting for a batch to fill.
    #[test]
    fn partial_buffers_are_handed_over_at_thread_exit_and_swept_when_idle() {
        let collect = Collect::default();
        let pipeline = Arc::new(start(&collect, 1000, 1 << 30));
        let submitter = pipeline.clone();
        std::thread::spawn(move || {
            for n in 0..5 {
                submitter.submit(&mut Some(record(n, 10, false)));
            }
        })
        .join()
        .unwrap();
        for n in 5..8 {
            pipeline.submit(&mut Some(record(n, 10, n == 6)));
        }
        let report = pipeline.flush(Duration::from_secs(10));
        assert_eq!((report.exported, report.pending), (8, 0));
        let mut exported = collect.0.lock().unwrap().clone();
        exported.sort_unstable();
        assert_eq!(exported, (0..8).collect::<Vec<_>>());
        // Still this thread's buffer, partly swept: the rest follows on the next flush.
        pipeline.submit(&mut Some(record(8, 0, false)));
        assert_eq!(pipeline.flush(Duration::from_secs(10)).exported, 1);
        pipeline.shutdown(Duration::from_secs(5), || {});
        let s = pipeline.stats();
        assert_eq!((s.created, s.exported, s.queued), (9, 9, 0), "{s:?}");
    }

    /// Before each batch the exporters' gauge shows what still waits behind it: most of the
    /// queue while the export is behind, nothing for the last batch.
    #[test]
    fn the_backlog_gauge_shows_what_waits_behind_each_batch() {
        /// Records the gauge at each batch; the first batch waits for the test's go-ahead, so
        /// the rest of the burst is queued behind it however the threads are scheduled.
        struct Fills {
            backlog: Backlog,
            seen: Arc<Mutex<Vec<f64>>>,
            go: Option<mpsc::Receiver<()>>,
        }
        impl SpanExporter for Fills {
            fn export(&mut self, _batch: &[ObservationRecord]) -> Result<(), ExportError> {
                self.seen.lock().unwrap().push(self.backlog.fill());
                if let Some(go) = self.go.take() {
                    let _ = go.recv();
                }
                Ok(())
            }
        }
        let backlog = Backlog::default();
        let seen = Arc::<Mutex<Vec<f64>>>::default();
        let (go, wait) = mpsc::channel();
        let fills = Fills { backlog: backlog.clone(), seen: seen.clone(), go: Some(wait) };
        let settings = PipelineSettings {
            flush_at: 100,
            flush_interval: Duration::from_secs(3600),
            max_queue_size: 1000,
            max_queue_bytes: 1 << 30,
            backlog,
        };
        let pipeline = Pipeline::start(settings, vec![Box::new(fills)]);
        for n in 0..400 {
            pipeline.submit(&mut Some(record(n, 10, false)));
        }
        // Every record handed over (queued) while the first batch is held: 400 of 1,000.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pipeline.stats().queued < 400 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(pipeline.stats().queued, 400);
        go.send(()).unwrap();
        assert_eq!(pipeline.flush(Duration::from_secs(10)).exported, 400);
        let seen = seen.lock().unwrap().clone();
        // The first batch was taken while the burst was still arriving: at most 300 behind it.
        // Then 200, 100 and none behind the other three.
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen[0] <= 0.3, "{seen:?}");
        assert_eq!(seen[1..], [0.2, 0.1, 0.0]);
        pipeline.shutdown(Duration::from_secs(5), || {});
    }
}
