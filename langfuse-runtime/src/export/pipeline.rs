//! Moves finished observations from instrumented threads to the exporters without a per-span
//! cross-thread hand-off.
//!
//! Each thread appends to its own buffer (an uncontended lock: no syscall, no allocation) and
//! hands the whole buffer over when it fills, getting an emptied one back. The export thread is
//! woken at most once per eight requests' worth of queued observations, so producers almost
//! never make a syscall. It also sweeps the buffers of idle threads on every tick and on
//! `flush()`, so nothing waits on a thread that stopped producing. Memory is bounded: at most
//! `max_queue_size` observations wait for export (plus one partial buffer per thread); beyond
//! that whole hand-offs are dropped and counted.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SpanExporter;
use crate::diag;
use crate::record::ObservationRecord;

/// Export requests' worth of observations queued per wake-up of the export thread.
const WAKE_BATCHES: usize = 8;

/// Most observations a thread collects before handing them over; below it, a thread hands
/// over exactly one export request's worth (`flush_at`), which is then exported in place.
const MAX_LOCAL_BATCH: usize = 4096;

/// Counters of the export pipeline, read with [`Langfuse::stats`](crate::Langfuse::stats).
///
/// ```
/// let langfuse = langfuse_runtime::Config::builder().env_source(|_| None).init().unwrap();
/// let stats = langfuse.stats();
/// assert_eq!(stats.dropped + stats.failed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Observations every exporter accepted.
    pub exported: u64,
    /// Observations dropped because the queue was full (raise `max_queue_size`).
    pub dropped: u64,
    /// Observations in batches an exporter rejected or could not deliver.
    pub failed: u64,
    /// Observations handed over and not yet exported.
    pub queued: u64,
    /// Captured values (inputs, outputs) whose `Serialize`, `Debug` or `Display` impl panicked
    /// and that were replaced by a `<capture failed: …>` placeholder, since the process started.
    /// Filled in by [`Langfuse::stats`](crate::Langfuse::stats).
    pub capture_failures: u64,
}

pub(crate) struct PipelineSettings {
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_queue_size: usize,
}

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

struct ThreadBuffer {
    records: Mutex<Vec<ObservationRecord>>,
}

impl ThreadBuffer {
    fn lock(&self) -> MutexGuard<'_, Vec<ObservationRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
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
    queued: AtomicUsize,
    max_queue_size: usize,
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    closed: AtomicBool,
}

impl Shared {
    fn send(&self, message: Message) -> bool {
        match &*self.sender.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        }
    }

    /// Moves `batch` into the shared queue and leaves an emptied buffer (or a new one) in its place.
    fn hand_off(&self, batch: &mut Vec<ObservationRecord>) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let before = self.queued.fetch_add(n, Ordering::Relaxed);
        if before + n > self.max_queue_size {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            batch.clear();
            self.count_dropped(n);
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

    fn count_dropped(&self, n: usize) {
        if self.dropped.fetch_add(n as u64, Ordering::Relaxed) == 0 {
            diag::warn(format_args!(
                "export queue full ({} observations): dropping observations; \
                 raise max_queue_size (OTEL_BSP_MAX_QUEUE_SIZE) or flush more often",
                self.max_queue_size
            ));
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
                shared.hand_off(&mut entry.buffer.lock());
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
            queued: AtomicUsize::new(0),
            max_queue_size: settings.max_queue_size,
            exported: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            closed: AtomicBool::new(false),
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
                self.shared.count_dropped(1);
            }
            return;
        }
        let record = slot;
        let _ = LOCAL.try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else { return };
            let buffer = match local.0.iter().find(|e| e.id == self.shared.id) {
                Some(entry) => &entry.buffer,
                None => {
                    local.0.retain(|e| e.pipeline.strong_count() > 0);
                    let buffer = Arc::new(ThreadBuffer {
                        records: Mutex::new(Vec::with_capacity(self.shared.local_batch)),
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
                    &local.0.last().expect("just pushed").buffer
                }
            };
            let mut records = buffer.lock();
            if let Some(record) = record.take() {
                records.push(record);
            }
            if records.len() >= self.shared.local_batch {
                self.shared.hand_off(&mut records);
            }
        });
        // Thread-local storage is gone (thread teardown) or re-entered: hand it over directly.
        if let Some(record) = record.take() {
            self.shared.hand_off(&mut vec![record]);
        }
    }

    /// Exports everything finished so far; waits at most `timeout`. True when done in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::channel();
        self.shared.send(Message::Flush(ack)) && done.recv_timeout(timeout).is_ok()
    }

    /// Flushes, shuts the exporters down and stops the thread; waits at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return true;
        }
        let (ack, done) = mpsc::channel();
        let sent = self.shared.send(Message::Shutdown(ack));
        let finished = sent && done.recv_timeout(timeout).is_ok();
        *self.shared.sender.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if finished && let Some(worker) = worker {
            let _ = worker.join();
        }
        let stats = self.stats();
        if stats.dropped > 0 || stats.failed > 0 || !finished {
            diag::warn(format_args!(
                "shutdown: {} observations exported, {} dropped (queue full), {} failed to export{}",
                stats.exported,
                stats.dropped,
                stats.failed,
                if finished { "" } else { ", and the export did not finish in time" }
            ));
        }
        finished
    }

    pub(crate) fn stats(&self) -> ExportStats {
        let s = &self.shared;
        ExportStats {
            exported: s.exported.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            queued: s.queued.load(Ordering::Relaxed) as u64,
            // Process-wide, not per pipeline: the client adds it.
            capture_failures: 0,
        }
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
                    self.export(chunk, true);
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
            self.export(chunk, true);
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
            self.export(chunk, false);
        }
        crate::recycle::reclaim(&mut swept);
        self.for_each_exporter(|e| e.end_of_round());
    }

    fn sweep_thread_buffers(&self) -> Vec<ObservationRecord> {
        let mut buffers = self.shared.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let mut swept = Vec::new();
        for buffer in buffers.iter() {
            swept.append(&mut buffer.lock());
        }
        // A buffer only the registry still holds belongs to a thread that has exited.
        buffers.retain(|b| Arc::strong_count(b) > 1);
        swept
    }

    fn export(&mut self, chunk: &[ObservationRecord], counted: bool) {
        if chunk.is_empty() {
            return;
        }
        // An observation counts as lost when any exporter lost it (the worst exporter decides).
        let mut lost = 0;
        for exporter in &mut self.exporters {
            if let Err(e) = exporter.export(chunk) {
                lost = lost.max(e.lost(chunk.len()));
                diag::error(format_args!("export of {} observations failed: {e}", chunk.len()));
            }
        }
        self.shared.failed.fetch_add(lost as u64, Ordering::Relaxed);
        self.shared.exported.fetch_add((chunk.len() - lost) as u64, Ordering::Relaxed);
        if counted {
            self.shared.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
        }
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
