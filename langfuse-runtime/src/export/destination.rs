//! Extra destinations: exporters with their own filter, queue, thread and counts, so that one
//! that fails, drops or hangs never changes what the built-in exporter delivers or reports.
//!
//! The pipeline hands them batches like any exporter (they always accept, counting their own
//! outcome); the client keeps a [`DestinationHandle`] per destination to read the counts for
//! [`ExportStats`](super::ExportStats) and [`FlushReport`](super::FlushReport).

// Only `OtelExporter` (feature `opentelemetry`) creates destinations.
#![cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::stats::{DestinationCounts, DestinationStats};
use super::{ExportResource, SpanExporter};

/// What a destination takes from the client's configuration when it is installed.
#[derive(Debug, Clone)]
pub(crate) struct DestinationSetup {
    /// Resource, scope and per-span defaults, the built-in exporter's.
    pub(crate) resource: ExportResource,
    /// Export deadline unless the destination sets its own.
    pub(crate) timeout: Duration,
    /// Bounds of the destination's own queue (the pipeline's, per destination).
    pub(crate) max_queue_size: usize,
    pub(crate) max_queue_bytes: usize,
}

/// A destination's counts and the extra state their transitions need, behind one lock taken
/// once per batch.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) counts: DestinationCounts,
    /// Approximate bytes of the queued observations.
    pub(crate) queued_bytes: usize,
    /// Shutdown gave up on the destination: what was queued is counted lost, and results of
    /// exports still running are not counted again.
    pub(crate) abandoned: bool,
}

/// Shared between a destination and the client that reads its counts.
#[derive(Debug, Clone)]
pub(crate) struct DestinationHandle {
    pub(crate) name: Arc<str>,
    pub(crate) ledger: Arc<Mutex<Ledger>>,
}

impl DestinationHandle {
    pub(crate) fn new(name: &str) -> Self {
        Self { name: name.into(), ledger: Arc::default() }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> DestinationStats {
        DestinationStats { name: self.name.to_string(), counts: self.lock().counts }
    }
}

/// Builds a destination at init (exporters are not `Clone`).
type MakeDestination =
    dyn Fn(&DestinationSetup) -> (Box<dyn SpanExporter>, DestinationHandle) + Send + Sync;

/// A destination factory as the configuration keeps it.
#[derive(Clone)]
pub(crate) struct DestinationFactory(pub(crate) Arc<MakeDestination>);

impl std::fmt::Debug for DestinationFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Destination")
    }
}

/// The destinations of one client and the counts at its last report.
#[derive(Debug, Default)]
pub(crate) struct Destinations {
    handles: Vec<DestinationHandle>,
    reported: Mutex<DestinationCounts>,
}

impl Destinations {
    pub(crate) fn new(handles: Vec<DestinationHandle>) -> Self {
        Self { handles, reported: Mutex::default() }
    }

    /// Totals since the client started.
    pub(crate) fn total(&self) -> DestinationCounts {
        let mut total = DestinationCounts::default();
        for handle in &self.handles {
            total.add(&handle.lock().counts);
        }
        total
    }

    /// Totals since the previous report.
    pub(crate) fn report(&self) -> DestinationCounts {
        let now = self.total();
        let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
        let delta = now.since(&reported);
        *reported = now;
        delta
    }

    pub(crate) fn stats(&self) -> Vec<DestinationStats> {
        self.handles.iter().map(DestinationHandle::stats).collect()
    }
}
