//! The Python-identical trace-id ratio sampler.
//!
//! `sampled ⇔ low64(trace_id) < round_half_even(rate × 2^64)`, decided from the trace id alone
//! (not parent-based), so every span of a trace — and every service that follows the same rule —
//! agrees, and scores can be dropped with the spans they belong to.

use crate::ids::TraceId;

/// Decides from the trace id whether a trace is recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampler {
    /// Exclusive upper bound of the low 64 bits; `2^64` samples everything.
    bound: u128,
}

impl Sampler {
    pub(crate) fn new(rate: f64) -> Self {
        let rate = if rate.is_nan() { 1.0 } else { rate.clamp(0.0, 1.0) };
        let bound = (rate * 18_446_744_073_709_551_616.0).round_ties_even();
        Self { bound: bound as u128 }
    }

    pub(crate) fn always() -> Self {
        Self { bound: 1 << 64 }
    }

    #[inline]
    pub(crate) fn should_sample(&self, trace_id: TraceId) -> bool {
        u128::from(trace_id.to_u128() as u64) < self.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex: &str) -> TraceId {
        hex.parse().unwrap()
    }

    #[test]
    fn uses_the_low_64_bits_against_the_rounded_bound() {
        let half = Sampler::new(0.5);
        assert!(half.should_sample(id("ffffffffffffffff7fffffffffffffff")));
        assert!(!half.should_sample(id("00000000000000008000000000000000")));
        assert!(Sampler::new(1.0).should_sample(id("0000000000000000ffffffffffffffff")));
        assert!(!Sampler::new(0.0).should_sample(id("00000000000000010000000000000000")));
    }

    #[test]
    fn bound_is_rounded_half_to_even_like_python() {
        // 2^-65 × 2^64 = 0.5 → rounds to 0: nothing sampled, not even the lowest id.
        let tiny = Sampler::new(2f64.powi(-65));
        assert!(!tiny.should_sample(id("00000000000000010000000000000000")));
        // 3 × 2^-65 × 2^64 = 1.5 → rounds to 2.
        let s = Sampler::new(3.0 * 2f64.powi(-65));
        assert!(s.should_sample(id("00000000000000010000000000000001")));
        assert!(!s.should_sample(id("00000000000000010000000000000002")));
    }
}
