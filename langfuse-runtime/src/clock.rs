//! Wall-clock timestamps in nanoseconds since the Unix epoch, as OTLP wants them.

use std::time::{SystemTime, UNIX_EPOCH};

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
/// Each thread keeps an anchor (TSC, wall time) and converts TSC deltas with a shared rate
/// measured against the system clock. The anchor is renewed from the system clock every
/// [`tsc::REANCHOR_NANOS`], so wall-clock steps are followed and extrapolation error stays
/// well under a microsecond. Used only when the kernel's clocksource is `tsc` (so the counter is
/// invariant and synchronized across cores); otherwise every read is the system clock.
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

    /// Nanoseconds per TSC tick, 32.32 fixed point; 0 until measured.
    static RATE: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        /// (tsc, unix nanos) of the last system-clock read; tsc 0 = none yet.
        static ANCHOR: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
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

    #[inline]
    pub(super) fn now_unix_nanos() -> u64 {
        let rate = RATE.load(Ordering::Relaxed);
        let tsc = rdtsc();
        let Ok((anchor_tsc, anchor_nanos)) = ANCHOR.try_with(Cell::get) else {
            return super::system_unix_nanos();
        };
        if rate != 0 && anchor_tsc != 0 {
            // A counter that went backwards wraps to a huge delta and takes the slow path.
            let elapsed =
                ((u128::from(tsc.wrapping_sub(anchor_tsc)) * u128::from(rate)) >> 32) as u64;
            if elapsed < REANCHOR_NANOS {
                return anchor_nanos + elapsed;
            }
        }
        reanchor(anchor_tsc, anchor_nanos)
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
    fn reanchor(anchor_tsc: u64, anchor_nanos: u64) -> u64 {
        if !usable() {
            return super::system_unix_nanos();
        }
        let Some((tsc, nanos)) = paired_read() else {
            // Keep the old anchor; this read (and the next, until a clean pair) is the system's.
            return super::system_unix_nanos();
        };
        if anchor_tsc != 0 && tsc > anchor_tsc && nanos > anchor_nanos {
            let span = nanos - anchor_nanos;
            if span >= MIN_CALIBRATION_NANOS {
                let rate = (u128::from(span) << 32) / u128::from(tsc - anchor_tsc);
                RATE.store(u64::try_from(rate).unwrap_or(0), Ordering::Relaxed);
            } else if RATE.load(Ordering::Relaxed) == 0 {
                // Too short to measure the rate yet: keep the old anchor.
                return nanos;
            }
        }
        let _ = ANCHOR.try_with(|a| a.set((tsc, nanos)));
        nanos
    }
}

/// Formats a Unix-nanosecond timestamp as RFC 3339 UTC with microseconds, the way Python's
/// `datetime.isoformat()` does for UTC (`2025-01-02T03:04:05.678000Z`; no fraction when the
/// microseconds are zero).
pub(crate) fn rfc3339_micros(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let micros = (unix_nanos % 1_000_000_000) / 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    if micros == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{micros:06}Z")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
    fn formats_like_python_isoformat() {
        // 2025-01-02T03:04:05.678000Z
        assert_eq!(rfc3339_micros(1_735_787_045_678_000_000), "2025-01-02T03:04:05.678000Z");
        assert_eq!(rfc3339_micros(1_735_787_045_000_000_000), "2025-01-02T03:04:05Z");
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00Z");
        // Leap day.
        assert_eq!(rfc3339_micros(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z");
    }
}
