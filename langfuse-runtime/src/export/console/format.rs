//! Text shown for durations, values and keys: readable units, control characters escaped, long
//! values cut for display.

use std::fmt::Write as _;

/// `850 ns`, `12.3 µs`, `1.234 ms`, `2.500 s`.
pub(super) fn format_duration(nanos: u64) -> String {
    if nanos < 1_000 {
        return format!("{nanos} ns");
    }
    if nanos < 1_000_000 {
        let tenths = (nanos + 50) / 100;
        if tenths < 10_000 {
            return format!("{}.{} µs", tenths / 10, tenths % 10);
        }
    }
    if nanos < 1_000_000_000 {
        let micros = (nanos + 500) / 1_000;
        if micros < 1_000_000 {
            return format!("{}.{:03} ms", micros / 1_000, micros % 1_000);
        }
    }
    let millis = nanos / 1_000_000 + u64::from(nanos % 1_000_000 >= 500_000);
    format!("{}.{:03} s", millis / 1_000, millis % 1_000)
}

/// Control characters escaped, cut after `max` characters with `… (N chars)`.
pub(super) fn display_value(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)) + 16);
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        push_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        let total = text.chars().count();
        let _ = write!(out, "… ({total} chars)");
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// A key unquoted when it is a plain word, else JSON-quoted.
pub(super) fn display_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().count() <= 64
        && key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain { key.to_owned() } else { serde_json::to_string(key).unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_a_readable_unit() {
        let cases = [
            (0, "0 ns"),
            (999, "999 ns"),
            (1_000, "1.0 µs"),
            (12_345, "12.3 µs"),
            (999_949, "999.9 µs"),
            (999_950, "1.000 ms"),
            (1_234_567, "1.235 ms"),
            (999_999_499, "999.999 ms"),
            (999_999_500, "1.000 s"),
            (61_234_000_000, "61.234 s"),
            (u64::MAX, "18446744073.710 s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_duration(nanos), text, "{nanos}");
        }
    }
}
