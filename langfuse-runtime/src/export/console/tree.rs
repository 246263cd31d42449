//! Parent/child structure of a set of records of one trace.

use std::collections::{HashMap, HashSet};

use crate::ids::ObservationId;
use crate::record::ObservationRecord;

/// Records arranged by parent: which are tops (parent absent from the set) and each one's
/// children, both in start order.
pub(super) struct Forest {
    /// Ids present in the set.
    pub(super) ids: HashSet<ObservationId>,
    /// Indices of each parent's children, sorted by start time.
    pub(super) children: HashMap<ObservationId, Vec<usize>>,
    /// Indices of records whose parent is not in the set, sorted by start time.
    pub(super) tops: Vec<usize>,
}

impl Forest {
    pub(super) fn new(records: &[ObservationRecord]) -> Self {
        let ids: HashSet<ObservationId> = records.iter().map(|r| r.id).collect();
        let mut children: HashMap<ObservationId, Vec<usize>> = HashMap::new();
        let mut tops = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match r.parent_id {
                Some(parent) if ids.contains(&parent) => {
                    children.entry(parent).or_default().push(i);
                }
                _ => tops.push(i),
            }
        }
        // Ties keep arrival order, so output is deterministic.
        let by_start = |&i: &usize| (records[i].start_unix_nanos, i);
        tops.sort_by_key(by_start);
        for kids in children.values_mut() {
            kids.sort_by_key(by_start);
        }
        Self { ids, children, tops }
    }
}

/// Removes the sub-tree rooted at `records[root]` from `records` and returns it.
pub(super) fn take_subtree(
    records: &mut Vec<ObservationRecord>,
    root: usize,
) -> Vec<ObservationRecord> {
    let mut children: HashMap<ObservationId, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(parent) = r.parent_id {
            children.entry(parent).or_default().push(i);
        }
    }
    let mut take = vec![false; records.len()];
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        let Some(slot) = take.get_mut(i) else { continue };
        if std::mem::replace(slot, true) {
            continue;
        }
        if let Some(kids) = children.get(&records[i].id) {
            stack.extend(kids);
        }
    }
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(records.len());
    for (record, take) in records.drain(..).zip(take) {
        if take { taken.push(record) } else { kept.push(record) }
    }
    *records = kept;
    taken
}
