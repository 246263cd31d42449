//! How much of a request body to deflate: all of it, unless the export queue is filling up
//! *and* deflating is what holds the export back.
//!
//! Deflate at level 1 is most of the export thread's work (~1.5 µs per span with a 300-byte
//! input and output), so against a fast endpoint (a collector on the same host, a loopback
//! test) a burst outruns the export thread and the queue overflows: observations are dropped
//! to save bytes on a link that had room for them. Storing part of a body instead (deflate's
//! uncompressed blocks, still one ordinary gzip member) costs a fraction of that time and sends
//! more bytes. It pays only when sending those bytes takes less time than deflating them would,
//! which this module measures on every request rather than assumes:
//!
//! - **Below a tenth full** ([`EASE_FROM`]) every body is deflated whole: in steady state the
//!   queue is nearly empty and the wire is exactly what it would be without this module.
//! - **Above it**, if sending the bytes deflate saves (per input byte, `1 − ratio` wire bytes at
//!   the measured cost of one more byte sent) takes at least as long as deflating, deflate
//!   stays: the link is the bound (Langfuse Cloud over the internet, a retrying endpoint), and
//!   sending more would only make it worse.
//! - **Otherwise** the deflated share falls linearly with the fill, to nothing at half full
//!   ([`STORE_ALL_AT`]), and rises again as the queue drains. The export then keeps up with
//!   producers that outrun the compressor, and settles where the two rates meet.
//!
//! The cost of one more byte sent is the *marginal* one: a request's time is mostly latency
//! (the round trip, the server's work) when the body is small, so time over bytes would
//! overstate it many times over (10–15 ns per byte for 11 KB gzip bodies on loopback, where one
//! more byte costs well under one). It is measured as the slope between consecutive requests
//! of clearly different sizes. Requests of one size teach nothing, so while the queue is past
//! [`EASE_FROM`] and no slope is known, or every [`PROBE_EVERY`] such requests, one body is
//! stored whole as a probe: one larger request now and then, and only while the queue fills.
//!
//! The estimates are moving averages of the last few requests; until deflate has been timed,
//! bodies are deflated whole.

use std::time::Duration;

/// Fill of the export queue below which bodies are always deflated whole.
pub(crate) const EASE_FROM: f64 = 0.1;
/// Fill from which nothing is deflated (when deflating is the bound). Half, not more: storing
/// raises the export rate by about a third on two cores (BENCHMARKS.md, H_300B), so it has to
/// start while the queue still has room for the burst.
pub(crate) const STORE_ALL_AT: f64 = 0.5;
/// Weight of the newest measurement in the moving averages.
const NEWEST_WEIGHT: f64 = 0.25;
/// Deflated parts smaller than this are not timed: the clock's resolution would dominate.
const MIN_TIMED_BYTES: usize = 16 * 1024;
/// Two requests give a slope when the smaller is at most this share of the larger.
const SLOPE_SIZE_RATIO: f64 = 0.75;
/// While the queue is filling and deflate stays, one body in this many is a probe.
pub(crate) const PROBE_EVERY: u32 = 64;

/// The measurements the choice rests on.
#[derive(Debug, Default)]
pub(crate) struct Effort {
    /// Wall time of deflating one input byte (helper threads included).
    deflate_ns_per_byte: Option<f64>,
    /// Output bytes per input byte of deflated parts (0.26 for typical spans).
    deflated_ratio: Option<f64>,
    /// Time one more byte of request body adds to a request, response included.
    send_ns_per_extra_byte: Option<f64>,
    /// The last request delivered: its body's bytes and the time it took.
    last_sent: Option<(usize, Duration)>,
    /// Bodies deflated whole since the last probe while the queue was past [`EASE_FROM`].
    since_probe: u32,
}

impl Effort {
    /// The share of the next body to deflate, from 0 (store it all) to 1 (deflate it all),
    /// when the export queue is `fill` full (0 to 1).
    pub(crate) fn deflated_share(&mut self, fill: f64) -> f64 {
        if fill < EASE_FROM {
            return 1.0;
        }
        let (Some(deflate), Some(ratio)) = (self.deflate_ns_per_byte, self.deflated_ratio) else {
            return 1.0;
        };
        match self.send_ns_per_extra_byte {
            // Deflate is the bound: ease off with the fill.
            Some(extra_byte) if extra_byte * (1.0 - ratio) < deflate => {
                (1.0 - (fill - EASE_FROM) / (STORE_ALL_AT - EASE_FROM)).clamp(0.0, 1.0)
            }
            // The link is the bound and the last probe is recent: deflate stays.
            Some(_) if self.since_probe + 1 < PROBE_EVERY => {
                self.since_probe += 1;
                1.0
            }
            // Nothing known, or the last probe is old: store this one whole to measure.
            _ => {
                self.since_probe = 0;
                0.0
            }
        }
    }

    /// `input` bytes were deflated into `output` in `took`.
    pub(crate) fn deflated(&mut self, input: usize, output: usize, took: Duration) {
        if input < MIN_TIMED_BYTES {
            return;
        }
        average(&mut self.deflate_ns_per_byte, took.as_nanos() as f64 / input as f64);
        average(&mut self.deflated_ratio, output as f64 / input as f64);
    }

    /// A request body of `bytes` was sent and answered in `took`.
    pub(crate) fn sent(&mut self, bytes: usize, took: Duration) {
        if let Some((last_bytes, last_took)) = self.last_sent.replace((bytes, took)) {
            let (small, large) = (bytes.min(last_bytes), bytes.max(last_bytes));
            if (small as f64) <= large as f64 * SLOPE_SIZE_RATIO {
                let extra_ns = took.as_nanos() as f64 - last_took.as_nanos() as f64;
                let extra_bytes = bytes as f64 - last_bytes as f64;
                // Jitter can make the larger request the quicker one: no cost, not a gain.
                average(&mut self.send_ns_per_extra_byte, (extra_ns / extra_bytes).max(0.0));
            }
        }
    }
}

fn average(estimate: &mut Option<f64>, newest: f64) {
    *estimate = Some(match *estimate {
        Some(old) => old + (newest - old) * NEWEST_WEIGHT,
        None => newest,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: usize = 400_000;
    const LATENCY_NS: f64 = 200_000.0;
    /// Halfway between easing and storing everything: half the body deflated.
    const MIDWAY: f64 = (EASE_FROM + STORE_ALL_AT) / 2.0;

    /// Deflate at 2 ns per byte to a quarter of the size; two requests (gzip, then stored) on
    /// a link with 200 µs of latency and `extra_ns` per byte.
    fn measured(extra_ns: f64) -> Effort {
        let mut effort = Effort::default();
        effort.deflated(BODY, BODY / 4, Duration::from_nanos(2 * BODY as u64));
        for bytes in [BODY / 4, BODY] {
            effort.sent(bytes, Duration::from_nanos((LATENCY_NS + extra_ns * bytes as f64) as u64));
        }
        effort
    }

    #[test]
    fn bodies_are_deflated_whole_below_the_easing_fill_or_before_deflate_is_timed() {
        let mut fast_link = measured(0.1);
        assert_eq!(fast_link.deflated_share(0.0), 1.0);
        assert_eq!(fast_link.deflated_share(EASE_FROM - 0.01), 1.0);
        assert_eq!(Effort::default().deflated_share(1.0), 1.0);
    }

    #[test]
    fn a_fast_link_gets_less_deflate_the_fuller_the_queue() {
        let mut fast_link = measured(0.1);
        assert_eq!(fast_link.deflated_share(EASE_FROM), 1.0);
        assert!((fast_link.deflated_share(MIDWAY) - 0.5).abs() < 1e-9);
        assert_eq!(fast_link.deflated_share(STORE_ALL_AT), 0.0);
        assert_eq!(fast_link.deflated_share(1.0), 0.0);
    }

    #[test]
    fn a_slow_link_keeps_deflate_but_for_a_probe_now_and_then() {
        // Sending 0.75 of a byte more at 2.7 ns per byte costs more than 2 ns of deflate.
        let mut slow_link = measured(2.7);
        let shares: Vec<f64> =
            (0..2 * PROBE_EVERY).map(|_| slow_link.deflated_share(1.0)).collect();
        let probes: Vec<usize> =
            shares.iter().enumerate().filter(|(_, s)| **s == 0.0).map(|(i, _)| i).collect();
        let last = PROBE_EVERY as usize - 1;
        assert_eq!(probes, [last, last + PROBE_EVERY as usize]);
        assert!(shares.iter().all(|s| *s == 0.0 || *s == 1.0));
        // At 2.6 ns it costs less: store.
        assert_eq!(measured(2.6).deflated_share(1.0), 0.0);
        assert!((measured(2.6).deflated_share(MIDWAY) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn without_a_slope_the_first_filling_request_is_a_probe() {
        let mut effort = Effort::default();
        effort.deflated(BODY, BODY / 4, Duration::from_micros(800));
        // Requests of one size: latency, no slope.
        for _ in 0..3 {
            effort.sent(BODY / 4, Duration::from_micros(150));
        }
        assert_eq!(effort.send_ns_per_extra_byte, None);
        assert_eq!(effort.deflated_share(EASE_FROM / 2.0), 1.0);
        assert_eq!(effort.deflated_share(MIDWAY), 0.0, "probe");
        // The probe's stored body took 30 µs longer for 300,000 more bytes: 0.1 ns per byte.
        effort.sent(BODY, Duration::from_micros(180));
        let slope = effort.send_ns_per_extra_byte.unwrap();
        assert!((slope - 0.1).abs() < 1e-9, "{slope}");
        assert!((effort.deflated_share(MIDWAY) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn estimates_follow_the_latest_requests_and_ignore_noise_and_tiny_parts() {
        let mut effort = measured(0.1);
        // The link slows down (a congested network): after a few requests deflate is back.
        for i in 0..10 {
            let bytes = if i % 2 == 0 { BODY / 4 } else { BODY };
            effort.sent(bytes, Duration::from_nanos(100 * bytes as u64));
        }
        assert_eq!(effort.deflated_share(1.0), 1.0);
        // A larger request that came back sooner says "free", not "faster".
        let mut jitter = Effort::default();
        jitter.sent(BODY / 4, Duration::from_micros(300));
        jitter.sent(BODY, Duration::from_micros(200));
        assert_eq!(jitter.send_ns_per_extra_byte, Some(0.0));
        let before = effort.deflate_ns_per_byte;
        effort.deflated(100, 25, Duration::from_secs(1));
        assert_eq!(effort.deflate_ns_per_byte, before);
    }
}
