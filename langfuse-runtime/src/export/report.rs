//! What a flush or a shutdown says happened: the one value callers check before claiming that
//! observations were delivered.

use std::fmt;

/// The outcome of [`Langfuse::flush`](crate::Langfuse::flush) or
/// [`Langfuse::shutdown`](crate::Langfuse::shutdown): what happened to the observations since
/// the previous report (or since the client started), and what is still waiting.
///
/// Counts are deltas, so a long-running app that flushes now and then sees each period on its
/// own; [`Langfuse::stats`](crate::Langfuse::stats) has the totals.
///
/// ```no_run
/// let langfuse = langfuse_runtime::init()?;
/// // ... observed calls ...
/// let report = langfuse.flush();
/// if !report.is_success() {
///     eprintln!("tracing: {report}");
/// }
/// # Ok::<(), langfuse_runtime::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Observations every exporter accepted.
    pub exported: u64,
    /// Observations an exporter rejected or could not deliver (after its retries).
    pub failed: u64,
    /// Observations dropped before export (queue full in count or bytes, or recorded after
    /// shutdown).
    pub dropped: u64,
    /// Observations abandoned because shutdown ran out of time (still queued, or in a request
    /// whose retries shutdown cut short). Always 0 for a flush.
    pub lost_at_shutdown: u64,
    /// Observations neither exported nor given up on when the report was taken: recorded by
    /// other threads meanwhile, or still in a request when the deadline passed.
    pub pending: u64,
    /// The wait ended at its deadline (twice the export timeout plus a second) before the
    /// export thread finished.
    pub deadline_hit: bool,
    /// What the extra destinations ([`ConfigBuilder::otel_exporter`](crate::ConfigBuilder))
    /// did in the same period, summed over all of them (`queued`: what they still hold).
    /// Their failures never change the counts above.
    pub destinations: super::DestinationCounts,
}

impl FlushReport {
    /// True when everything the flush covered was delivered in time: no deadline hit, nothing
    /// failed, dropped or abandoned, by the built-in exporter or by any extra destination. A
    /// flush that exported nothing because there was nothing to export is a success.
    ///
    /// ```
    /// use langfuse_runtime::export::FlushReport;
    /// assert!(FlushReport::default().is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        !self.deadline_hit
            && self.failed == 0
            && self.dropped == 0
            && self.lost_at_shutdown == 0
            && self.destinations.is_clean()
    }
}

impl fmt::Display for FlushReport {
    /// One line, as the shutdown log writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} exported, {} failed, {} dropped, {} lost at shutdown, {} pending",
            self.exported, self.failed, self.dropped, self.lost_at_shutdown, self.pending
        )?;
        let d = &self.destinations;
        if *d != super::DestinationCounts::default() {
            write!(
                f,
                "; extra destinations: {} exported, {} failed, {} dropped, {} lost at shutdown, \
                 {} filtered out, {} queued",
                d.exported, d.failed, d.dropped, d.lost_at_shutdown, d.filtered_out, d.queued
            )?;
        }
        if self.deadline_hit {
            f.write_str(" (deadline hit)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_failure_drop_loss_or_deadline_is_not_success() {
        let ok = FlushReport { exported: 5, pending: 3, ..Default::default() };
        assert!(ok.is_success(), "pending work of other threads does not fail a flush");
        for bad in [
            FlushReport { failed: 1, ..ok },
            FlushReport { dropped: 1, ..ok },
            FlushReport { lost_at_shutdown: 1, ..ok },
            FlushReport { deadline_hit: true, ..ok },
            FlushReport {
                destinations: super::super::DestinationCounts { failed: 1, ..Default::default() },
                ..ok
            },
        ] {
            assert!(!bad.is_success(), "{bad}");
        }
    }

    #[test]
    fn display_is_one_line_with_every_count() {
        let report = FlushReport {
            exported: 1,
            failed: 2,
            dropped: 3,
            lost_at_shutdown: 4,
            pending: 5,
            deadline_hit: true,
            destinations: Default::default(),
        };
        assert_eq!(
            report.to_string(),
            "1 exported, 2 failed, 3 dropped, 4 lost at shutdown, 5 pending (deadline hit)"
        );
    }
}
