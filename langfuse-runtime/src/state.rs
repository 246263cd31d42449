//! Whether an observation is recorded: the one three-way state that contexts, handles, the
//! macro's calls and observed sequences share.
//!
//! Every layer of the SDK has to tell the same three cases apart: nothing records (tracing
//! off, or no trace at all), the trace is not sampled (ids exist so that children and
//! propagation stay consistent, but nothing is recorded or allocated), or the observation is
//! live. Each layer carries its own payload for the live and unsampled cases, so the enum is
//! generic over both instead of being written once per layer.

use crate::ids::{ObservationId, TraceId};

/// Off, unsampled (with `U`, the ids children need) or live (with `L`, what records).
#[derive(Clone, Debug, Default)]
pub(crate) enum Tracing<L, U = SpanIds> {
    /// Nothing records: no ids, no work.
    #[default]
    Off,
    /// In a trace that is not sampled.
    Unsampled(U),
    /// Recorded.
    Live(L),
}

impl<L, U> Tracing<L, U> {
    /// The same state with the live payload converted.
    #[inline]
    pub(crate) fn map_live<M>(self, f: impl FnOnce(L) -> M) -> Tracing<M, U> {
        match self {
            Tracing::Off => Tracing::Off,
            Tracing::Unsampled(u) => Tracing::Unsampled(u),
            Tracing::Live(l) => Tracing::Live(f(l)),
        }
    }

    /// Whether this is [`Tracing::Live`].
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, Tracing::Live(_))
    }
}

/// The ids of an observation that is not recorded (an unsampled one).
///
/// Packed to 8-byte alignment (24 bytes, not 32): a [`Tracing`] of it then fits its tag beside
/// the ids, so a handle stays 32 bytes and a context 48, as they were before this type existed
/// (measured: unpacked, a context is 80 bytes and row A costs ~130 instructions more per call).
/// Fields are read by value only; a reference into a packed field does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(8))]
pub(crate) struct SpanIds {
    pub(crate) trace_id: TraceId,
    pub(crate) id: ObservationId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_live_converts_only_the_live_payload() {
        let ids = SpanIds { trace_id: TraceId::random(), id: ObservationId::random() };
        let unsampled: Tracing<u8> = Tracing::Unsampled(ids);
        assert!(matches!(unsampled.map_live(u16::from), Tracing::Unsampled(i) if i == ids));
        let live: Tracing<u8> = Tracing::Live(7);
        assert!(matches!(live.map_live(|v| u16::from(v) * 2), Tracing::Live(14)));
        assert!(matches!(Tracing::<u8>::Off.map_live(u16::from), Tracing::Off));
        assert!(Tracing::<u8>::Live(1).is_live() && !Tracing::<u8>::default().is_live());
    }

    #[test]
    fn contexts_and_handles_stay_small() {
        // The hot path moves these by value on every call: growth shows up in row A.
        assert_eq!(size_of::<crate::frame::Handle>(), 32);
        assert!(size_of::<crate::context::TraceContext>() <= 48);
    }
}
