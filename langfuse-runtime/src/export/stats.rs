//! What the export pipeline counts: every observation in exactly one bucket, and why those that
//! were dropped were dropped.

/// Counters of the export pipeline, read with [`Langfuse::stats`](crate::Langfuse::stats).
///
/// Totals since the client started. Every observation is in exactly one bucket:
///
/// ```
/// # let stats = langfuse_runtime::export::ExportStats::default();
/// assert_eq!(
///     stats.created,
///     stats.exported + stats.dropped + stats.failed + stats.lost_at_shutdown + stats.queued
/// );
/// ```
///
/// The identity is exact whenever no observation is moving (after a flush or shutdown, with
/// producers idle). While records move between buckets, a snapshot may show `created` above
/// the sum by the ones in motion, never below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Observations finished and handed to the pipeline.
    pub created: u64,
    /// Observations every exporter accepted.
    pub exported: u64,
    /// Observations dropped before export, the sum of [`dropped_by`](Self::dropped_by).
    pub dropped: u64,
    /// Why observations were dropped.
    pub dropped_by: DropCounts,
    /// Observations in batches an exporter rejected or could not deliver.
    pub failed: u64,
    /// Observations abandoned because shutdown ran out of time: still queued, or in a request
    /// whose retry wait shutdown cut short.
    pub lost_at_shutdown: u64,
    /// Observations not yet exported or given up on: in the queue, in a request, or still in
    /// an instrumented thread's buffer.
    pub queued: u64,
    /// Captured values (inputs, outputs) whose `Serialize`, `Debug` or `Display` impl panicked
    /// and that were replaced by a `<capture failed: …>` placeholder, since the process started.
    /// Filled in by [`Langfuse::stats`](crate::Langfuse::stats).
    pub capture_failures: u64,
    /// What the extra destinations ([`ConfigBuilder::otel_exporter`](crate::ConfigBuilder))
    /// did, summed over all of them; per destination in
    /// [`Langfuse::destination_stats`](crate::Langfuse::destination_stats). They have their
    /// own buckets: a destination takes every batch into its own queue, so one that fails,
    /// drops or hangs never changes the counts above, which say what the pipeline's other
    /// exporters did (the built-in one to Langfuse or, in collector mode, to the Collector; the
    /// console; [`ConfigBuilder::exporter`](crate::ConfigBuilder::exporter)s).
    pub destinations: DestinationCounts,
}

/// What extra destinations did with the observations the pipeline handed them
/// ([`ExportStats::destinations`], [`FlushReport::destinations`](crate::export::FlushReport),
/// [`Langfuse::destination_stats`](crate::Langfuse::destination_stats)).
///
/// Every observation offered to a destination is in exactly one bucket:
///
/// ```
/// # let d = langfuse_runtime::export::DestinationCounts::default();
/// assert_eq!(
///     d.offered,
///     d.filtered_out + d.exported + d.failed + d.dropped + d.lost_at_shutdown + d.queued
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationCounts {
    /// Observations the pipeline handed to the destination (what it exported itself: the
    /// built-in exporter's drops never reach a destination).
    pub offered: u64,
    /// Left out by the destination's filter.
    pub filtered_out: u64,
    /// Accepted by the destination's exporter.
    pub exported: u64,
    /// In batches the exporter rejected, did not finish within the destination's timeout, or
    /// panicked on.
    pub failed: u64,
    /// Dropped before export: the destination's queue was full (its exporter is slow or
    /// hanging), its thread could not start, or it was shut down.
    pub dropped: u64,
    /// Still queued when shutdown gave up waiting for the destination.
    pub lost_at_shutdown: u64,
    /// Waiting in the destination's queue or being exported.
    pub queued: u64,
}

impl DestinationCounts {
    /// Whether nothing was lost: no failure, drop or loss at shutdown.
    ///
    /// ```
    /// use langfuse_runtime::export::DestinationCounts;
    /// let mut counts = DestinationCounts::default();
    /// assert!(counts.is_clean());
    /// counts.failed = 1;
    /// assert!(!counts.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.failed == 0 && self.dropped == 0 && self.lost_at_shutdown == 0
    }

    /// Counter by counter sum, for totals over destinations.
    pub(crate) fn add(&mut self, other: &DestinationCounts) {
        self.offered += other.offered;
        self.filtered_out += other.filtered_out;
        self.exported += other.exported;
        self.failed += other.failed;
        self.dropped += other.dropped;
        self.lost_at_shutdown += other.lost_at_shutdown;
        self.queued += other.queued;
    }

    /// `self - earlier`, counter by counter (`queued` stays as it is).
    pub(crate) fn since(&self, earlier: &DestinationCounts) -> DestinationCounts {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        DestinationCounts {
            offered: d(self.offered, earlier.offered),
            filtered_out: d(self.filtered_out, earlier.filtered_out),
            exported: d(self.exported, earlier.exported),
            failed: d(self.failed, earlier.failed),
            dropped: d(self.dropped, earlier.dropped),
            lost_at_shutdown: d(self.lost_at_shutdown, earlier.lost_at_shutdown),
            queued: self.queued,
        }
    }
}

/// One extra destination's name and counts, from
/// [`Langfuse::destination_stats`](crate::Langfuse::destination_stats).
///
/// ```
/// use langfuse_runtime::export::DestinationStats;
/// let stats = DestinationStats::default();
/// assert!(stats.counts.is_clean());
/// assert_eq!(stats.name, "");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// The name the destination was given (`OtelExporter::name`), e.g. `tempo`.
    pub name: String,
    /// Its counts since the client started.
    pub counts: DestinationCounts,
}

/// Observations dropped before export, by reason ([`ExportStats::dropped_by`]).
///
/// ```
/// use langfuse_runtime::export::DropCounts;
/// let mut drops = DropCounts::default();
/// drops.queue_full_count = 3;
/// assert_eq!(drops.total(), 3);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DropCounts {
    /// The queue held `max_queue_size` observations (raise it, or flush more often).
    pub queue_full_count: u64,
    /// The queue held `max_queue_bytes` of observations (large inputs and outputs during an
    /// outage; raise it, or lower `max_field_bytes`).
    pub queue_full_bytes: u64,
    /// Finished after the client shut down (or with its export thread gone).
    pub after_shutdown: u64,
}

impl DropCounts {
    /// Every drop, whatever the reason.
    ///
    /// ```
    /// use langfuse_runtime::export::DropCounts;
    /// let mut drops = DropCounts::default();
    /// drops.queue_full_count = 3;
    /// drops.after_shutdown = 1;
    /// assert_eq!(drops.total(), 4);
    /// ```
    pub fn total(&self) -> u64 {
        self.queue_full_count + self.queue_full_bytes + self.after_shutdown
    }
}

impl ExportStats {
    /// `self - earlier`, counter by counter (`queued` and `capture_failures` stay as they are).
    pub(super) fn since(&self, earlier: &ExportStats) -> ExportStats {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        ExportStats {
            created: d(self.created, earlier.created),
            exported: d(self.exported, earlier.exported),
            dropped: d(self.dropped, earlier.dropped),
            dropped_by: DropCounts {
                queue_full_count: d(
                    self.dropped_by.queue_full_count,
                    earlier.dropped_by.queue_full_count,
                ),
                queue_full_bytes: d(
                    self.dropped_by.queue_full_bytes,
                    earlier.dropped_by.queue_full_bytes,
                ),
                after_shutdown: d(
                    self.dropped_by.after_shutdown,
                    earlier.dropped_by.after_shutdown,
                ),
            },
            failed: d(self.failed, earlier.failed),
            lost_at_shutdown: d(self.lost_at_shutdown, earlier.lost_at_shutdown),
            queued: self.queued,
            capture_failures: self.capture_failures,
            destinations: self.destinations.since(&earlier.destinations),
        }
    }
}
