//! Records held until their trace's tree can be printed, within a bound on how many are held.

use std::collections::HashMap;

use super::printed::Printed;
use super::tree::take_subtree;
use crate::ids::TraceId;
use crate::record::ObservationRecord;

/// Records of one trace waiting for their root.
struct Pending {
    /// Arrival order of the trace's first record (eviction and flush order).
    seq: u64,
    records: Vec<ObservationRecord>,
}

/// Records of one trace ready to be printed together.
pub(super) type Ready = (TraceId, Vec<ObservationRecord>);

/// Records waiting for their trace's root, per trace, at most `max` in all.
pub(super) struct Buffer {
    pending: HashMap<TraceId, Pending>,
    buffered: usize,
    next_seq: u64,
    pub(super) max: usize,
}

impl Buffer {
    pub(super) fn new(max: usize) -> Self {
        Self { pending: HashMap::new(), buffered: 0, next_seq: 0, max }
    }

    /// Records held.
    pub(super) fn len(&self) -> usize {
        self.buffered
    }

    /// Traces with records held.
    pub(super) fn traces(&self) -> usize {
        self.pending.len()
    }

    /// Holds `record`; when it is a root, its sub-tree is appended to `ready`, and when the
    /// buffer is over its bound, the oldest traces are appended as they are.
    pub(super) fn accept(
        &mut self,
        record: &ObservationRecord,
        printed: &Printed,
        ready: &mut Vec<Ready>,
    ) {
        let trace_id = record.trace_id;
        let next_seq = &mut self.next_seq;
        let pending = self.pending.entry(trace_id).or_insert_with(|| {
            *next_seq += 1;
            Pending { seq: *next_seq, records: Vec::new() }
        });
        let is_root = match record.parent_id {
            None => true,
            Some(parent) => {
                (record.parent_is_remote || record.as_root || printed.contains(trace_id, parent))
                    && !pending.records.iter().any(|r| r.id == parent)
            }
        };
        pending.records.push(record.clone());
        self.buffered += 1;
        if is_root {
            let root = pending.records.len() - 1;
            let taken = take_subtree(&mut pending.records, root);
            if pending.records.is_empty() {
                self.pending.remove(&trace_id);
            }
            self.buffered = self.buffered.saturating_sub(taken.len());
            ready.push((trace_id, taken));
        }
        while self.buffered > self.max {
            let Some(oldest) = self.pending.iter().min_by_key(|(_, p)| p.seq).map(|(t, _)| *t)
            else {
                self.buffered = 0;
                break;
            };
            ready.extend(self.take(oldest));
        }
    }

    /// Everything held for `trace_id`, forgotten.
    fn take(&mut self, trace_id: TraceId) -> Option<Ready> {
        let pending = self.pending.remove(&trace_id)?;
        self.buffered = self.buffered.saturating_sub(pending.records.len());
        Some((trace_id, pending.records))
    }

    /// Everything held, oldest trace first, forgotten.
    pub(super) fn take_all(&mut self) -> Vec<Ready> {
        let mut traces: Vec<(u64, TraceId)> =
            self.pending.iter().map(|(t, p)| (p.seq, *t)).collect();
        traces.sort_unstable();
        let all = traces.into_iter().filter_map(|(_, t)| self.take(t)).collect();
        self.buffered = 0;
        all
    }
}
