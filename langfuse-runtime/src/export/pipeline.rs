//! Batching pipeline (being written).

/// Counters of the export pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Observations handed to the exporter successfully.
    pub exported: u64,
    /// Observations dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Observations lost in failed exports.
    pub failed: u64,
}
