//! How full the export queue is, as the export thread last saw it: the one thing the pipeline
//! tells the Langfuse exporter, which compresses less when compressing is what makes the queue
//! overflow (see [`effort`](super::effort)).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The queue's fill, shared by the pipeline (which sets it before each export) and the
/// exporter (which reads it). A fresh gauge reads empty, so an exporter nobody updates
/// compresses as it would without one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Backlog(Arc<AtomicU32>);

/// Resolution of the gauge: fills are kept in millionths.
const SCALE: f64 = 1_000_000.0;

impl Backlog {
    /// Records the fill: the fuller of the two bounds, observations and bytes, from 0 to 1.
    pub(crate) fn set(&self, queued: usize, max_queued: usize, bytes: usize, max_bytes: usize) {
        let share = |n: usize, max: usize| n as f64 / max.max(1) as f64;
        let fill = share(queued, max_queued).max(share(bytes, max_bytes)).clamp(0.0, 1.0);
        self.0.store((fill * SCALE) as u32, Ordering::Relaxed);
    }

    /// The fill last recorded, from 0 (empty) to 1 (at a bound).
    pub(crate) fn fill(&self) -> f64 {
        f64::from(self.0.load(Ordering::Relaxed)) / SCALE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuller_bound_decides_and_clones_share_the_gauge() {
        let gauge = Backlog::default();
        let reader = gauge.clone();
        assert_eq!(reader.fill(), 0.0);
        gauge.set(10, 100, 3 << 20, 4 << 20);
        assert!((reader.fill() - 0.75).abs() < 1e-6, "{}", reader.fill());
        gauge.set(90, 100, 0, 4 << 20);
        assert!((reader.fill() - 0.9).abs() < 1e-6);
        // Over a bound (records counted in before the drop) and degenerate bounds stay in 0..=1.
        gauge.set(200, 100, 0, 0);
        assert_eq!(reader.fill(), 1.0);
    }
}
