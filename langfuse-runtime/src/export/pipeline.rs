//! Moves finished observations from instrumented threads to the exporters without a per-span
//! cross-thread hand-off.
//!
//! Each thread appends to its own buffer (an uncontended lock: no syscall, no allocation) and
//! hands the whole buffer over when it fills, getting an emptied one back. The export thread is
//! woken at most once per eight requests' worth of queued observations, so producers almost
//! never make a syscall. It also sweeps the buffers of idle threads on every tick and on
//! `flush()`, so nothing waits on a thread that stopped producing. Memory is bounded in count
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

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::stats::{DropCounts, ExportStats};
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

/// Moves the record out of `slot` to the end of `records` with one copy of its bytes (a
/// `take()` then `push` copies the 160-byte record twice: out of the slot, then into the
/// vector) and returns it where it now lives. Leaves `None` in `slot`.
#[inline(always)]
fn push_taken<'a>(
    records: &'a mut Vec<ObservationRecord>,
    slot: &mut Option<ObservationRecord>,
) -> Option<&'a ObservationRecord> {
    let source: *const ObservationRecord = slot.as_ref()?;
    records.reserve(1);
    let len = records.len();
    // SAFETY: `reserve(1)` left room for one more element at `len`; `source` points to a
    // valid, initialized record that `slot` owns and that cannot overlap the vector's buffer.
    // Its bytes are copied once into the vector, and `slot` is then overwritten with `None`
    // without dropping the old value, so ownership moves exactly once (nothing between the
    // copy and `set_len` can panic, so no double drop or leak is possible).
    unsafe {
        std::ptr::copy_nonoverlapping(source, records.as_mut_ptr().add(len), 1);
        std::ptr::write(slot, None);
        records.set_len(len + 1);
    }
    records.last()
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

/// A thread's records not handed over yet, and their [`record_bytes`].
#[derive(Default)]
struct Local {
    records: Vec<ObservationRecord>,
    bytes: usize,
}

impl Local {
    fn take_into(&mut self, shared: &Shared) {
        let bytes = std::mem::take(&mut self.bytes);
        shared.hand_off(&mut self.records, bytes);
    }
}

struct ThreadBuffer {
    local: Mutex<Local>,
}

impl ThreadBuffer {
    fn lock(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
    closed: AtomicBool,
    /// Shutdown ran out of time: the export thread sends nothing more and counts the rest lost.
    abandoned: AtomicBool,
    /// The counters at the last flush or shutdown report, which reports count from.
    reported: Mutex<ExportStats>,
}

impl Shared {
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
        for buffer in self.buffers.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let mut local = buffer.lock();
            let n = local.records.len() as u64;
            self.created.fetch_add(n, Ordering::SeqCst);
            self.lost_at_shutdown.fetch_add(n, Ordering::SeqCst);
            *local = Local::default();
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
            .map(|b| b.lock().records.len() as u64)
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

/// One registration per (thread, pipeline).
struct LocalEntry {
    pipeline: Weak<Shared>,
    id: u64,
    buffer: Arc<ThreadBuffer>,
}

#[derive(Default)]
struct LocalBuffers(Vec<LocalEntry>);

impl Drop for LocalBuffers {
    fn drop(&mut self) {
        // The thread is ending: hand over what it collected instead of waiting for a sweep.
        for entry in self.0.drain(..) {
            if let Some(shared) = entry.pipeline.upgrade() {
                entry.buffer.lock().take_into(&shared);
            }
        }
    }
}

thread_local! {
    static LOCAL: RefCell<LocalBuffers> = const { RefCell::new(LocalBuffers(Vec::new())) };
}

/// The producer side of one client's export pipeline.
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

static NEXT_PIPELINE_ID: AtomicU64 = AtomicU64::new(1);

impl Pipeline {
    pub(crate) fn start(settings: PipelineSettings, exporters: Vec<Box<dyn SpanExporter>>) -> Self {
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            id: NEXT_PIPELINE_ID.fetch_add(1, Ordering::Relaxed),
            sender: Mutex::new(Some(sender)),
            buffers: Mutex::new(Vec::new()),
            handed: Mutex::new(Handed::default()),
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
            closed: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            reported: Mutex::new(ExportStats::default()),
        });
        let worker = Worker {
            shared: shared.clone(),
            receiver,
            exporters,
            pending: Vec::new(),
            deferred: Default::default(),
            flush_at: settings.flush_at.max(1),
            flush_interval: settings.flush_interval.max(Duration::from_millis(1)),
        };
        let handle = std::thread::Builder::new()
            .name("langfuse-export".into())
            .spawn(move || worker.run())
            .map_err(|e| diag::error(format_args!("could not start the export thread: {e}")))
            .ok();
        if handle.is_none() {
            shared.closed.store(true, Ordering::Relaxed);
            shared.abandoned.store(true, Ordering::Relaxed);
        }
        Self { shared, worker: Mutex::new(handle) }
    }

    /// Queues a finished observation. Never blocks on the network, never panics.
    ///
    /// Takes the record out of `slot`: moving it straight from the observation into the thread
    /// buffer saves copies of a few hundred bytes per observation.
    pub(crate) fn submit(&self, slot: &mut Option<ObservationRecord>) {
        if self.shared.closed.load(Ordering::Relaxed) {
            if slot.take().is_some() {
                self.shared.created.fetch_add(1, Ordering::SeqCst);
                self.shared.count_dropped_after_shutdown(1);
            }
            return;
        }
        let record = slot;
        let _ = LOCAL.try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else { return };
            let index = match local.0.iter().position(|e| e.id == self.shared.id) {
                Some(index) => index,
                None => {
                    local.0.retain(|e| e.pipeline.strong_count() > 0);
                    let buffer = Arc::new(ThreadBuffer {
                        local: Mutex::new(Local {
                            records: Vec::with_capacity(self.shared.local_batch),
                            bytes: 0,
                        }),
                    });
                    self.shared
                        .buffers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(buffer.clone());
                    local.0.push(LocalEntry {
                        pipeline: Arc::downgrade(&self.shared),
                        id: self.shared.id,
                        buffer,
                    });
                    local.0.len() - 1
                }
            };
            let mut buffer = local.0[index].buffer.lock();
            if let Some(pushed) = push_taken(&mut buffer.records, record) {
                buffer.bytes += record_bytes(pushed);
            }
            if buffer.records.len() >= self.shared.local_batch
                || buffer.bytes >= self.shared.local_bytes
            {
                buffer.take_into(&self.shared);
            }
        });
        // Thread-local storage is gone (thread teardown) or re-entered: hand it over directly.
        if let Some(record) = record.take() {
            let bytes = record_bytes(&record);
            self.shared.hand_off(&mut vec![record], bytes);
        }
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
        if self.shared.closed.swap(true, Ordering::AcqRel) {
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
            // Raced past `closed` into a buffer after the final sweep: nobody exports it now.
            self.shared.abandoned.store(true, Ordering::Release);
            self.shared.abandon_leftovers();
        }
        Some(self.shared.report(deadline_hit))
    }

    pub(crate) fn stats(&self) -> ExportStats {
        self.shared.stats()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
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
    flush_at: usize,
    flush_interval: Duration,
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
        let full =
            std::mem::take(&mut self.shared.handed.lock().unwrap_or_else(|e| e.into_inner()).full);
        self.shared.wake_sent.store(false, Ordering::Release);
        let mut emptied = Vec::with_capacity(full.len());
        for mut buffer in full {
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
            let mut local = buffer.lock();
            // Under the buffer's lock, so `stats()` sees these either buffered or queued.
            self.shared.created.fetch_add(local.records.len() as u64, Ordering::SeqCst);
            self.shared.queued.fetch_add(local.records.len(), Ordering::SeqCst);
            self.shared.queued_bytes.fetch_add(std::mem::take(&mut local.bytes), Ordering::Relaxed);
            swept.append(&mut local.records);
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
        self.shared.queued_bytes.fetch_sub(batch_bytes(chunk), Ordering::Relaxed);
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
        bucket.fetch_add(lost as u64, Ordering::SeqCst);
        self.shared.exported.fetch_add((n - lost) as u64, Ordering::SeqCst);
        self.shared.queued.fetch_sub(n, Ordering::SeqCst);
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
