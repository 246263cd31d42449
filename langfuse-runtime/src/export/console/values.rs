//! How the console reads the JSON texts and timestamps that records carry, each behind one
//! function: [`object_members`] and [`nanos_after`].
//!
//! Records hold JSON as text and the completion start as RFC 3339 text, so this file has its own
//! small object splitter and timestamp parser. When records carry typed values (parsed JSON,
//! integer nanoseconds), those two functions change to use them and the parsers below go; no
//! other file of the console reads JSON or dates.

use super::format::display_key;

/// The top-level members of a JSON object, in order, keys made displayable, values as their JSON
/// text; `None` when `json` is not an object (it is then shown as plain text).
pub(super) fn object_members(json: &str) -> Option<Vec<(String, &str)>> {
    split_object(json)
}

/// How long after `start_unix_nanos` the timestamp `time` is; `None` when it is unreadable or
/// earlier (it is then shown as given).
pub(super) fn nanos_after(time: &str, start_unix_nanos: u64) -> Option<u64> {
    parse_rfc3339_nanos(time).and_then(|t| u64::try_from(t - i128::from(start_unix_nanos)).ok())
}

/// The top-level members of a JSON object, in order, keys made displayable; `None` when the
/// text is not an object.
fn split_object<'j>(json: &'j str) -> Option<Vec<(String, &'j str)>> {
    let inner = json.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut members = Vec::new();
    if inner.trim().is_empty() {
        return Some(members);
    }
    let member = |text: &'j str, colon: Option<usize>| -> Option<(String, &'j str)> {
        let colon = colon?;
        let key = text.get(..colon)?.trim();
        let value = text.get(colon + 1..)?.trim();
        let raw = key.strip_prefix('"')?.strip_suffix('"')?;
        if value.is_empty() {
            return None;
        }
        let key = if raw.contains('\\') {
            serde_json::from_str::<String>(key)
                .ok()
                .map_or_else(|| key.to_owned(), |k| display_key(&k))
        } else {
            display_key(raw)
        };
        Some((key, value))
    };
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut start, mut colon) = (0, None);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b':' if depth == 0 && colon.is_none() => colon = Some(i - start),
            b',' if depth == 0 => {
                members.push(member(inner.get(start..i)?, colon)?);
                start = i + 1;
                colon = None;
            }
            _ => {}
        }
    }
    if in_string || depth != 0 {
        return None;
    }
    members.push(member(inner.get(start..)?, colon)?);
    Some(members)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, quoted or not, to Unix nanoseconds.
fn parse_rfc3339_nanos(text: &str) -> Option<i128> {
    let s = text.trim();
    let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    let digits = |from: usize, to: usize| -> Option<i128> {
        let part = s.get(from..to)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        for (i, b) in frac.bytes().take(len).enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i128::from(b - b'0');
            }
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = frac.get(len..)?;
    }
    let offset_secs: i128 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let off = rest.get(1..)?;
            if off.len() != 5 || off.as_bytes()[2] != b':' {
                return None;
            }
            let h: i128 = off.get(..2)?.parse().ok()?;
            let m: i128 = off.get(3..)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1_000_000_000 + nanos)
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian), the inverse of `clock`'s.
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-01-02T03:04:05Z
    const T0: u64 = 1_735_787_045_000_000_000;

    #[test]
    fn parses_completion_start_times() {
        assert_eq!(parse_rfc3339_nanos("\"2025-01-02T03:04:05Z\""), Some(i128::from(T0)));
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T03:04:05.678000Z"),
            Some(i128::from(T0) + 678_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T04:04:05.5+01:00"),
            Some(i128::from(T0) + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2000-02-29T00:00:00.000001Z"),
            Some(951_782_400_000_001_000)
        );
        for bad in [
            "",
            "2025-01-02",
            "2025-13-02T03:04:05Z",
            "2025-01-02T03:04:05",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+0100",
            "2025-01-02T03:04:0é",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_before_the_start_are_none() {
        assert_eq!(nanos_after("2025-01-02T03:04:05.002Z", T0), Some(2_000_000));
        assert_eq!(nanos_after("2025-01-02T03:04:04Z", T0), None);
        assert_eq!(nanos_after("\"yesterday\"", T0), None);
    }

    #[test]
    fn object_members_keep_order_and_raw_values() {
        assert_eq!(
            object_members(r#"{"b":1,"a b":[1,{"c":2}]}"#),
            Some(vec![("b".to_owned(), "1"), ("\"a b\"".to_owned(), r#"[1,{"c":2}]"#)])
        );
        assert_eq!(object_members("[1]"), None);
    }
}
