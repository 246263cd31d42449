//! The start decision: where a new observation goes (trace, parent), whether it is recorded,
//! and the record it starts from.

use std::borrow::Cow;
use std::sync::Arc;

use crate::client::ClientInner;
use crate::context::{Parent, TraceContext};
use crate::frame::{Frame, FreshFrame};
use crate::ids::{ObservationId, TraceId};
use crate::kind::{Level, ObservationType};
use crate::record::ObservationRecord;
use crate::state::{SpanIds, Tracing};

/// What [`start_with`] produced: a recorded frame not shared yet, the ids of an unsampled
/// observation, or nothing.
pub(crate) type Begun = Tracing<FreshFrame>;

fn global_client() -> Option<Cow<'static, Arc<ClientInner>>> {
    crate::client::global().map(Cow::Owned)
}

/// Starts an observation under `parent`: decides ids, parent and sampling, then builds the
/// record from `seed` in its frame.
pub(crate) fn start_with(
    parent: &TraceContext,
    client: Option<Arc<ClientInner>>,
    seed: impl Seed,
) -> Begun {
    // The active OpenTelemetry span, where it should parent this observation.
    #[cfg(feature = "opentelemetry")]
    let otel = crate::bridge::opentelemetry::context::otel_parent(parent);
    #[cfg(feature = "opentelemetry")]
    let parent = otel.as_ref().map_or(parent, |(cx, _)| cx);
    let client = client.map(Cow::Owned);
    let unsampled =
        |trace_id| Tracing::Unsampled(SpanIds { trace_id, id: ObservationId::random() });
    let (trace_id, parent_id, client, remote_root) = match &parent.parent {
        Parent::Ours(Tracing::Live(frame)) => {
            (frame.trace_id, Some(frame.id), Some(Cow::Borrowed(&frame.client)), None)
        }
        Parent::Ours(Tracing::Unsampled(ids)) => return unsampled(ids.trace_id),
        Parent::Remote(remote) => {
            if !remote.sampled {
                return unsampled(remote.ids.trace_id);
            }
            let ids = remote.ids;
            (ids.trace_id, Some(ids.id), client.or_else(global_client), Some(remote.as_root))
        }
        Parent::Ours(Tracing::Off) => {
            (TraceId::random(), None, client.or_else(global_client), None)
        }
    };
    let Some(client) = client.filter(|c| c.is_recording()) else {
        return Tracing::Off;
    };
    let id = ObservationId::random();
    // Local children inherit their root's decision; every other start decides from the trace id.
    let local_parent = matches!(parent.parent, Parent::Ours(Tracing::Live(_)));
    if !local_parent && !client.sampler.should_sample(trace_id) {
        return Tracing::Unsampled(SpanIds { trace_id, id });
    }
    let place = |record: &mut ObservationRecord| {
        record.trace_id = trace_id;
        record.id = id;
        record.parent_id = parent_id;
        // Python's processor marks a span whose parent is not an open exported span of this
        // process: here, a new trace or a remote/explicit parent. A local parent that already
        // ended still counts as a parent, as Python's context claim (baggage) does.
        record.is_app_root = parent_id.is_none() || remote_root.is_some();
        if let Some(as_root) = remote_root {
            record.parent_is_remote = true;
            record.as_root = as_root;
        }
        if record.trace.is_none() {
            record.trace = parent.trace_attributes.clone();
        }
        #[cfg(feature = "opentelemetry")]
        if let Some((_, placement)) = &otel {
            record.parent_is_remote = placement.parent_is_remote;
            record.is_app_root = placement.is_app_root;
            if placement.without_parent {
                record.parent_id = None;
            }
        }
    };
    Tracing::Live(Frame::fresh(client, || seed.into_record(), place))
}

/// What a new observation's record starts from: an `#[observe]` call's [`CallSeed`], or a
/// record the builder prepared.
///
/// A trait, not an enum: an enum with a record variant is as large as the record, so the
/// call's few constants used to travel as 160 bytes and were copied once more before the
/// record was built (~25 instructions per observed call).
pub(crate) trait Seed {
    /// The record, built where the caller stores it.
    fn into_record(self) -> ObservationRecord;
}

/// An `#[observe]` call: only the call site's constants and the start time.
pub(crate) struct CallSeed {
    pub(crate) name: &'static str,
    pub(crate) observation_type: ObservationType,
    pub(crate) level: Option<Level>,
    pub(crate) start_unix_nanos: u64,
}

impl Seed for CallSeed {
    #[inline(always)]
    fn into_record(self) -> ObservationRecord {
        let mut record = ObservationRecord::new(
            PLACEHOLDER_TRACE,
            PLACEHOLDER_ID,
            None,
            self.name,
            self.observation_type,
            self.start_unix_nanos,
        );
        record.level = self.level;
        record
    }
}

impl Seed for ObservationRecord {
    #[inline(always)]
    fn into_record(self) -> ObservationRecord {
        self
    }
}

/// Ids a record carries until [`start_with`] places it.
const PLACEHOLDER_TRACE: TraceId = match TraceId::from_u128(1) {
    Some(id) => id,
    None => panic!("1 is a valid trace id"),
};
const PLACEHOLDER_ID: ObservationId = match ObservationId::from_u64(1) {
    Some(id) => id,
    None => panic!("1 is a valid observation id"),
};
