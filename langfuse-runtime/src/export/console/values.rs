//! How the console reads the JSON texts that records carry, behind one function:
//! [`object_members`]. No other file of the console reads JSON; times are integer nanoseconds
//! in the record and need no parsing.

use super::format::display_key;

/// The top-level members of a JSON object, in order, keys made displayable, values as their JSON
/// text; `None` when `json` is not an object (it is then shown as plain text).
pub(super) fn object_members(json: &str) -> Option<Vec<(String, &str)>> {
    split_object(json)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_members_keep_order_and_raw_values() {
        assert_eq!(
            object_members(r#"{"b":1,"a b":[1,{"c":2}]}"#),
            Some(vec![("b".to_owned(), "1"), ("\"a b\"".to_owned(), r#"[1,{"c":2}]"#)])
        );
        assert_eq!(object_members("[1]"), None);
    }
}
