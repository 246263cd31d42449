//! What has been printed already, so a late record can name its parent and a parent can say
//! how many of its children were printed before it.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use crate::ids::{ObservationId, TraceId};
use crate::record::ObservationRecord;

/// How many printed observations are remembered, so that a late child can name its parent.
const REMEMBERED: usize = 10_000;

/// Observations already printed (bounded, oldest forgotten first).
#[derive(Default)]
pub(super) struct Printed {
    entries: HashMap<(TraceId, ObservationId), PrintedEntry>,
    order: VecDeque<(TraceId, ObservationId)>,
}

#[derive(Default)]
struct PrintedEntry {
    /// Name of the printed observation.
    name: Option<Cow<'static, str>>,
    /// Children printed before this observation finished (flush or eviction).
    early_children: usize,
}

impl Printed {
    pub(super) fn contains(&self, trace_id: TraceId, id: ObservationId) -> bool {
        self.entries.get(&(trace_id, id)).is_some_and(|e| e.name.is_some())
    }

    pub(super) fn name(&self, trace_id: TraceId, id: ObservationId) -> Option<&str> {
        self.entries.get(&(trace_id, id)).and_then(|e| e.name.as_deref())
    }

    pub(super) fn early_children(&self, trace_id: TraceId, id: ObservationId) -> usize {
        self.entries.get(&(trace_id, id)).map_or(0, |e| e.early_children)
    }

    /// Notes `records` as printed, and `orphans_of` (one entry per child printed before its
    /// parent finished) as parents owed a note.
    pub(super) fn remember(
        &mut self,
        trace_id: TraceId,
        records: &[ObservationRecord],
        orphans_of: Vec<ObservationId>,
    ) {
        for record in records {
            self.entry(trace_id, record.id).name = Some(record.name.clone());
        }
        for parent in orphans_of {
            self.entry(trace_id, parent).early_children += 1;
        }
    }

    fn entry(&mut self, trace_id: TraceId, id: ObservationId) -> &mut PrintedEntry {
        let key = (trace_id, id);
        if !self.entries.contains_key(&key) {
            while self.order.len() >= REMEMBERED {
                match self.order.pop_front() {
                    Some(old) => {
                        self.entries.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key);
        }
        self.entries.entry(key).or_default()
    }
}
