//! Wall-clock timestamps in nanoseconds since the Unix epoch, as OTLP wants them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
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
    fn formats_like_python_isoformat() {
        // 2025-01-02T03:04:05.678000Z
        assert_eq!(rfc3339_micros(1_735_787_045_678_000_000), "2025-01-02T03:04:05.678000Z");
        assert_eq!(rfc3339_micros(1_735_787_045_000_000_000), "2025-01-02T03:04:05Z");
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00Z");
        // Leap day.
        assert_eq!(rfc3339_micros(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z");
    }
}
