//! Wall-clock timestamps in nanoseconds since the Unix epoch, as OTLP wants them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
///
/// Two reads per observation made the system clock about a tenth of an observed call, so where
/// the kernel itself keeps time with the TSC the clock is extrapolated from it (see [`tsc`]).
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        tsc::now_unix_nanos()
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        system_unix_nanos()
    }
}

#[inline]
fn system_unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The wall clock extrapolated from the CPU's time-stamp counter.
///
/// Each thread keeps an anchor (TSC, wall time, rate) and converts TSC deltas with a rate
/// measured against the system clock. The anchor is renewed from the system clock every
/// [`tsc::REANCHOR_NANOS`], so wall-clock steps are followed and extrapolation error stays
/// well under a microsecond. Used only when the kernel's clocksource is `tsc` (so the counter is
/// invariant and synchronized across cores); otherwise every read is the system clock.
///
/// Per thread the clock never goes back, except when the system clock itself is stepped back
/// by more than [`tsc::STEP_TOLERANCE_NANOS`]: a renewed anchor slightly behind the old
/// extrapolation is held at that extrapolation until it catches up.
///
/// Why not a crate: `quanta` and `fastant` read the same counter but give a monotonic instant,
/// not Unix time (fastant's `as_unix_nanos` anchors once and never follows a wall-clock step),
/// so either would still need this anchoring. Measured per read, release build, 20 million
/// reads in a loop on the 2-core x86_64 VM this was written on (noisy; three runs): `rdtsc`
/// alone 19–25 ns, this clock 21–28 ns, `fastant::Instant::now().as_unix_nanos` 23–30 ns,
/// `quanta::Clock::raw` 20–29 ns, `quanta::Clock::now` 48–66 ns, `SystemTime::now` 88–101 ns.
/// A dependency would buy no speed here.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tsc {
    use std::cell::Cell;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Longest extrapolation before the anchor is renewed.
    pub(super) const REANCHOR_NANOS: u64 = 20_000_000;
    /// Shortest interval the rate is measured over: with anchors good to about a microsecond,
    /// 10 ms gives a rate good to 10⁻⁴, i.e. 2 µs over a whole extrapolation.
    const MIN_CALIBRATION_NANOS: u64 = 10_000_000;
    /// A renewed anchor further behind the old extrapolation than this is a clock step back,
    /// followed rather than held.
    pub(super) const STEP_TOLERANCE_NANOS: u64 = 1_000_000;

    /// Nanoseconds per TSC tick, 32.32 fixed point, as last measured by any thread; 0 until
    /// measured.
    static RATE: AtomicU64 = AtomicU64::new(0);

    /// One thread's extrapolation base.
    #[derive(Clone, Copy)]
    struct Anchor {
        /// TSC of the last system-clock read; 0 = none yet.
        tsc: u64,
        /// Unix nanoseconds read then.
        nanos: u64,
        /// Rate this anchor extrapolates with (a copy, so another thread's recalibration
        /// cannot move this thread's clock back); 0 = not measured yet.
        rate: u64,
        /// No value below this is returned: the old anchor's last extrapolation.
        floor: u64,
    }

    thread_local! {
        static ANCHOR: Cell<Anchor> =
            const { Cell::new(Anchor { tsc: 0, nanos: 0, rate: 0, floor: 0 }) };
    }

    fn usable() -> bool {
        static USABLE: OnceLock<bool> = OnceLock::new();
        *USABLE.get_or_init(|| {
            std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|source| source.trim() == "tsc")
        })
    }

    #[inline]
    fn rdtsc() -> u64 {
        // SAFETY: RDTSC is available on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    /// Nanoseconds from `anchor` to `tsc`; a counter that went backwards wraps to a huge delta.
    #[inline]
    fn elapsed(anchor: &Anchor, tsc: u64) -> u64 {
        ((u128::from(tsc.wrapping_sub(anchor.tsc)) * u128::from(anchor.rate)) >> 32) as u64
    }

    #[inline]
    pub(super) fn now_unix_nanos() -> u64 {
        let tsc = rdtsc();
        let Ok(anchor) = ANCHOR.try_with(Cell::get) else {
            return super::system_unix_nanos();
        };
        if anchor.rate != 0 {
            let elapsed = elapsed(&anchor, tsc);
            if elapsed < REANCHOR_NANOS {
                return (anchor.nanos + elapsed).max(anchor.floor);
            }
        }
        reanchor(anchor, tsc)
    }

    /// A TSC value and the system time read together; retried when the thread was interrupted
    /// between the reads, which would skew every extrapolation from this anchor. `None` when
    /// every try was interrupted (a loaded machine): better no anchor than a skewed one.
    fn paired_read() -> Option<(u64, u64)> {
        /// About 30–50 µs on current CPUs; an uninterrupted pair takes well under 1 µs.
        const MAX_GAP_TICKS: u64 = 100_000;
        let mut best = (0, 0, u64::MAX);
        for _ in 0..4 {
            let before = rdtsc();
            let nanos = super::system_unix_nanos();
            let after = rdtsc();
            let gap = after.wrapping_sub(before);
            if gap < best.2 {
                best = (before / 2 + after / 2, nanos, gap);
            }
            if gap < MAX_GAP_TICKS {
                break;
            }
        }
        (best.2 < MAX_GAP_TICKS).then_some((best.0, best.1))
    }

    #[cold]
    fn reanchor(old: Anchor, read_tsc: u64) -> u64 {
        if !usable() {
            return super::system_unix_nanos();
        }
        // What the old anchor says now: no earlier read on this thread returned more.
        let predicted = if old.rate == 0 {
            old.floor
        } else {
            old.nanos.saturating_add(elapsed(&old, read_tsc)).max(old.floor)
        };
        let held = |nanos: u64| {
            if nanos < predicted && predicted - nanos < STEP_TOLERANCE_NANOS {
                predicted
            } else {
                nanos
            }
        };
        let Some((tsc, nanos)) = paired_read() else {
            // Keep the old anchor; this read (and the next, until a clean pair) is the system's.
            return held(super::system_unix_nanos());
        };
        if old.tsc != 0 && tsc > old.tsc && nanos > old.nanos {
            let span = nanos - old.nanos;
            if span >= MIN_CALIBRATION_NANOS {
                let rate = (u128::from(span) << 32) / u128::from(tsc - old.tsc);
                RATE.store(u64::try_from(rate).unwrap_or(0), Ordering::Relaxed);
            } else if RATE.load(Ordering::Relaxed) == 0 {
                // Too short to measure the rate yet: keep the old anchor.
                let _ = ANCHOR.try_with(|a| a.set(Anchor { floor: held(nanos), ..old }));
                return held(nanos);
            }
        }
        let floor = held(nanos);
        let rate = RATE.load(Ordering::Relaxed);
        let _ = ANCHOR.try_with(|a| a.set(Anchor { tsc, nanos, rate, floor }));
        floor
    }
}

/// Formats a Unix-nanosecond timestamp as RFC 3339 UTC with microseconds, the way Python's
/// `datetime.isoformat()` does for UTC (`2025-01-02T03:04:05.678000Z`; no fraction when the
/// microseconds are zero). The one place the SDK turns a timestamp into text.
pub(crate) fn rfc3339_micros(unix_nanos: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_nanos(unix_nanos);
    if (unix_nanos % 1_000_000_000) / 1_000 == 0 {
        humantime::format_rfc3339_seconds(at).to_string()
    } else {
        humantime::format_rfc3339_micros(at).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrapolated_clock_follows_the_system_clock() {
        // Long enough to calibrate and to renew the anchor several times.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(120);
        let mut checked = 0;
        while std::time::Instant::now() < deadline {
            let before = system_unix_nanos();
            let ours = now_unix_nanos();
            let after = system_unix_nanos();
            if after - before > 20_000 {
                continue; // preempted between the reads: nothing to compare against
            }
            // Within 100 µs of the system clock read around it.
            assert!(
                ours + 100_000 >= before && ours <= after + 100_000,
                "{ours} not within [{before}, {after}] ± 100 µs"
            );
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn never_goes_back_on_one_thread() {
        // Several anchor renewals (every 20 ms) and at least one recalibration.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(150);
        let mut last = now_unix_nanos();
        let mut reads = 0u64;
        while std::time::Instant::now() < deadline {
            let now = now_unix_nanos();
            assert!(now >= last, "went back by {} ns after {reads} reads", last - now);
            last = now;
            reads += 1;
        }
        assert!(reads > 1_000);
    }

    #[test]
    fn threads_agree_within_tolerance() {
        // Each thread has its own anchor; all follow the same system clock.
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    let mut worst = 0u64;
                    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(60);
                    while std::time::Instant::now() < deadline {
                        let before = system_unix_nanos();
                        let ours = now_unix_nanos();
                        let after = system_unix_nanos();
                        if after - before < 20_000 {
                            worst = worst
                                .max(before.saturating_sub(ours))
                                .max(ours.saturating_sub(after));
                        }
                    }
                    worst
                })
            })
            .collect();
        for handle in handles {
            let worst = handle.join().unwrap();
            // Calibrated: within 100 µs of the system clock read around it.
            assert!(worst < 100_000, "{worst} ns off the system clock");
        }
    }

    #[test]
    fn formats_like_python_isoformat() {
        // 2025-01-02T03:04:05.678000Z
        assert_eq!(rfc3339_micros(1_735_787_045_678_000_000), "2025-01-02T03:04:05.678000Z");
        assert_eq!(rfc3339_micros(1_735_787_045_000_000_000), "2025-01-02T03:04:05Z");
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00Z");
        // Leap day.
        assert_eq!(rfc3339_micros(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z");
        // Nanoseconds below a microsecond are cut, not rounded.
        assert_eq!(rfc3339_micros(1_735_787_045_000_000_999), "2025-01-02T03:04:05Z");
        assert_eq!(rfc3339_micros(1_735_787_045_999_999_999), "2025-01-02T03:04:05.999999Z");
        assert_eq!(rfc3339_micros(u64::MAX), "2554-07-21T23:34:33.709551Z");
    }
}
