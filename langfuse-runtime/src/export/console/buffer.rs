//! Records held until their trace's tree can be printed, within a bound on how many are held.

use std::collections::{HashMap, HashSet};

use super::printed::Printed;
use super::tree::take_subtree;
use crate::ids::{ObservationId, TraceId};
use crate::record::ObservationRecord;

/// Whether following parents from every record of `records` ends at a root (and not at a
/// missing parent or in a cycle).
fn all_descend_from_roots(
    records: &[ObservationRecord],
    ids: &HashSet<ObservationId>,
    is_root: impl Fn(&ObservationRecord) -> bool,
) -> bool {
    let by_id: HashMap<ObservationId, &ObservationRecord> =
        records.iter().map(|r| (r.id, r)).collect();
    // Records known to reach a root; each is walked once, so this stays linear.
    let mut reaches: HashSet<ObservationId> = HashSet::new();
    for record in records {
        let mut path: HashSet<ObservationId> = HashSet::new();
        let mut at = record;
        loop {
            if reaches.contains(&at.id) || is_root(at) {
                break;
            }
            let next = at.parent_id.filter(|p| ids.contains(p)).and_then(|p| by_id.get(&p));
            match next {
                Some(&parent) if !path.contains(&parent.id) && parent.id != at.id => {
                    path.insert(at.id);
                    at = parent;
                }
                _ => return false,
            }
        }
        reaches.insert(at.id);
        reaches.extend(path);
    }
    true
}

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
    /// Traces that received records since the last [`Buffer::take_complete_touched`], in the
    /// order of their first record: the order they are printed in.
    touched: Vec<TraceId>,
    touched_set: HashSet<TraceId>,
}

impl Buffer {
    pub(super) fn new(max: usize) -> Self {
        Self {
            pending: HashMap::new(),
            buffered: 0,
            next_seq: 0,
            max,
            touched: Vec::new(),
            touched_set: HashSet::new(),
        }
    }

    /// Records held.
    pub(super) fn len(&self) -> usize {
        self.buffered
    }

    /// Traces with records held.
    pub(super) fn traces(&self) -> usize {
        self.pending.len()
    }

    /// Holds the records of `batch`, and appends to `ready` the oldest traces as they are while
    /// the buffer is over its bound. Complete trees are taken at the end of the round
    /// ([`Buffer::take_complete_touched`]): records of one trace recorded on several threads
    /// arrive in no particular order and in several batches, a root often before its children.
    pub(super) fn accept_batch(&mut self, batch: &[ObservationRecord], ready: &mut Vec<Ready>) {
        for record in batch {
            let trace_id = record.trace_id;
            let next_seq = &mut self.next_seq;
            let pending = self.pending.entry(trace_id).or_insert_with(|| {
                *next_seq += 1;
                Pending { seq: *next_seq, records: Vec::new() }
            });
            if self.touched_set.insert(trace_id) {
                self.touched.push(trace_id);
            }
            pending.records.push(record.clone());
            self.buffered += 1;
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

    /// Appends to `ready` every trace that received records this round and whose tree is
    /// complete (see the module docs of `console`), in the order the traces first arrived.
    pub(super) fn take_complete_touched(&mut self, printed: &Printed, ready: &mut Vec<Ready>) {
        self.touched_set.clear();
        for trace_id in std::mem::take(&mut self.touched) {
            self.take_complete(trace_id, printed, ready);
        }
    }

    /// Appends the trees of `trace_id`'s roots to `ready`, one per root in arrival order, when
    /// every record held for the trace descends from one of them. A record still waiting for a
    /// missing parent keeps the whole trace held: that parent is a child of one of the roots,
    /// recorded on another thread and not exported yet.
    fn take_complete(&mut self, trace_id: TraceId, printed: &Printed, ready: &mut Vec<Ready>) {
        let Some(pending) = self.pending.get_mut(&trace_id) else { return };
        let ids: HashSet<ObservationId> = pending.records.iter().map(|r| r.id).collect();
        let is_root = |r: &ObservationRecord| match r.parent_id {
            None => true,
            Some(parent) => {
                (r.parent_is_remote || r.as_root || printed.contains(trace_id, parent))
                    && !ids.contains(&parent)
            }
        };
        let roots: Vec<ObservationId> =
            pending.records.iter().filter(|r| is_root(r)).map(|r| r.id).collect();
        if roots.is_empty() || !all_descend_from_roots(&pending.records, &ids, is_root) {
            return;
        }
        for root in roots {
            let Some(at) = pending.records.iter().position(|r| r.id == root) else { continue };
            let taken = take_subtree(&mut pending.records, at);
            self.buffered = self.buffered.saturating_sub(taken.len());
            ready.push((trace_id, taken));
        }
        if pending.records.is_empty() {
            self.pending.remove(&trace_id);
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
        self.touched.clear();
        self.touched_set.clear();
        all
    }
}
