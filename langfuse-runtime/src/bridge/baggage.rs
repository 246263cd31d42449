//! Opt-in W3C `baggage` for propagated trace attributes, as the Python SDK's
//! `propagate_attributes(..., as_baggage=True)` writes them: `langfuse_user_id`,
//! `langfuse_session_id`, `langfuse_version`, `langfuse_trace_name`, `langfuse_environment`,
//! `langfuse_tags` (joined with `,`), `langfuse_metadata_<key>` (the JSON-encoded value),
//! `langfuse_prompt_name`, `langfuse_prompt_version`.
//!
//! Sending is opt-in per scope ([`Propagate::as_baggage`]); reading is opt-in per request
//! ([`continue_trace_and_baggage`](super::w3c::continue_trace_and_baggage) and its `HeaderMap`
//! twin). Both sides apply the W3C limits: at most 8192 bytes in the header, 64 members, 4096
//! bytes per member; values are percent-encoded.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::context::TraceContext;
use crate::diag;
use crate::payload::JsonText;
use crate::propagation::Propagate;
use crate::record::TraceAttributes;

/// The W3C header carrying baggage.
///
/// ```
/// assert_eq!(langfuse_runtime::w3c::BAGGAGE, "baggage");
/// ```
pub const BAGGAGE: &str = "baggage";

/// Longest `baggage` header accepted or written (W3C).
const MAX_BYTES: usize = 8192;
/// Most members accepted or written (W3C).
const MAX_MEMBERS: usize = 64;
/// Longest member accepted or written (W3C).
const MAX_MEMBER_BYTES: usize = 4096;
/// The prefix of our members.
const PREFIX: &str = "langfuse_";

/// Bytes a baggage value cannot carry as they are: anything outside `baggage-octet` (controls,
/// space, `"`, `,`, `;`, `\`, non-ASCII) and `%` itself, so that decoding is exact.
const VALUE: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b',').add(b';').add(b'\\').add(b'%').add(0x7f);

/// The members of ours a context sends, in the order they were set: `langfuse_<name>` and
/// the decoded value. Kept on the trace attributes (which the context already carries) so
/// that the hot path pays nothing for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Baggage(Vec<(String, String)>);

impl Baggage {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn set(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Marks what `update` sets to travel, with the values of `merged` (the scope's values
    /// after merging: tags accumulated, scalars replaced).
    pub(crate) fn mark(&mut self, update: &TraceAttributes, merged: &TraceAttributes) {
        let scalars = [
            ("user_id", &update.user_id, &merged.user_id),
            ("session_id", &update.session_id, &merged.session_id),
            ("version", &update.version, &merged.version),
            ("trace_name", &update.name, &merged.name),
            ("environment", &update.environment, &merged.environment),
            ("prompt_name", &update.prompt_name, &merged.prompt_name),
        ];
        for (name, set, value) in scalars {
            if let (Some(_), Some(value)) = (set, value) {
                self.set(format!("{PREFIX}{name}"), value.clone());
            }
        }
        if update.prompt_version.is_some()
            && let Some(version) = merged.prompt_version
        {
            self.set(format!("{PREFIX}prompt_version"), version.to_string());
        }
        if !update.tags.is_empty() {
            self.set(format!("{PREFIX}tags"), merged.tags.join(","));
        }
        for (key, _) in update.metadata.iter() {
            if let Some(value) = merged.metadata.get(key) {
                self.set(format!("{PREFIX}metadata_{key}"), value.as_str().to_owned());
            }
        }
    }
}

/// The `baggage` header value `cx` sends: the attributes of the scopes that asked for it with
/// [`Propagate::as_baggage`]; `None` when there are none.
///
/// ```
/// use langfuse_runtime::{propagate_attributes, w3c};
/// let cx = propagate_attributes().user_id("user 42").session_id("chat-7").as_baggage().context();
/// assert_eq!(
///     w3c::baggage(&cx).as_deref(),
///     Some("langfuse_user_id=user%2042,langfuse_session_id=chat-7")
/// );
/// // Without `as_baggage` nothing travels.
/// let cx = propagate_attributes().user_id("user-42").context();
/// assert_eq!(w3c::baggage(&cx), None);
/// ```
pub fn baggage(cx: &TraceContext) -> Option<String> {
    let value = encode(cx.trace_attributes.as_deref()?.baggage.iter(), "");
    (!value.is_empty()).then_some(value)
}

/// `ours` as baggage members, followed by the members of `existing` (another header value
/// being extended) whose keys are not ours; members over the limits are left out.
pub(crate) fn encode<'a>(ours: impl Iterator<Item = (&'a str, &'a str)>, existing: &str) -> String {
    let mut out = String::new();
    let mut members = 0;
    let mut push = |member: &str| {
        if members == MAX_MEMBERS
            || member.len() > MAX_MEMBER_BYTES
            || out.len() + member.len() + 1 > MAX_BYTES
        {
            diag::warn(format_args!(
                "a baggage member over the W3C limits was not sent ({} bytes)",
                member.len()
            ));
            return;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(member);
        members += 1;
    };
    let mut keys = Vec::new();
    for (key, value) in ours {
        push(&format!("{key}={}", utf8_percent_encode(value, VALUE)));
        keys.push(key);
    }
    for member in existing.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let key = member.split(['=', ';']).next().unwrap_or_default().trim();
        if !keys.contains(&key) {
            push(member);
        }
    }
    out
}

/// The members of a `baggage` header value, keys and percent-decoded values, properties left
/// out; empty when the value is over 8192 bytes. Malformed members and members over 4096
/// bytes are skipped, members after the 64th ignored.
///
/// ```
/// use langfuse_runtime::w3c::parse_baggage;
/// let members = parse_baggage("langfuse_user_id=user%2042;prop=1, other = x ,broken");
/// assert_eq!(
///     members,
///     [
///         ("langfuse_user_id".to_string(), "user 42".to_string()),
///         ("other".to_string(), "x".to_string()),
///     ]
/// );
/// assert!(parse_baggage(&"k=v,".repeat(3000)).is_empty(), "over 8192 bytes");
/// ```
pub fn parse_baggage(value: &str) -> Vec<(String, String)> {
    if value.len() > MAX_BYTES {
        diag::warn(format_args!("a baggage header of {} bytes was ignored", value.len()));
        return Vec::new();
    }
    value
        .split(',')
        .filter(|member| member.len() <= MAX_MEMBER_BYTES)
        .filter_map(|member| {
            let pair = member.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            let key = key.trim();
            let token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
            if key.is_empty() || !key.bytes().all(token) {
                return None;
            }
            let value = percent_decode_str(value.trim()).decode_utf8().ok()?;
            Some((key.to_owned(), value.into_owned()))
        })
        .take(MAX_MEMBERS)
        .collect()
}

/// The trace attributes our members in `members` set, as a scope that sends them on
/// (baggage received is baggage forwarded); `None` when there are none. Values go through
/// the same checks as [`Propagate`]'s setters (length, environment name).
pub(crate) fn attributes(members: &[(String, String)]) -> Option<Propagate> {
    let mut scope = Propagate::default();
    let mut any = false;
    let mut prompt: (Option<String>, Option<i64>) = (None, None);
    for (key, value) in members {
        let Some(name) = key.strip_prefix(PREFIX) else { continue };
        // The SDKs' own app-root claim, never an attribute.
        if name == "trace_id" {
            continue;
        }
        any = true;
        scope = match name {
            "user_id" => scope.user_id(value.as_str()),
            "session_id" => scope.session_id(value.as_str()),
            "version" => scope.version(value.as_str()),
            "trace_name" => scope.trace_name(value.as_str()),
            "environment" => scope.environment(value.as_str()),
            "tags" => scope.tags(tags(value)),
            "prompt_name" => {
                prompt.0 = Some(value.clone());
                scope
            }
            "prompt_version" => {
                prompt.1 = value.parse().ok();
                scope
            }
            other => {
                let key = other.strip_prefix("metadata_").unwrap_or(other);
                // The encoded JSON value as sent; a bare string from another sender is quoted.
                let json = value
                    .parse::<JsonText>()
                    .unwrap_or_else(|_| crate::encode::json_text(value.as_str()));
                scope.metadata_json(key, json)
            }
        };
    }
    if let (Some(name), Some(version)) = prompt {
        scope = scope.prompt(name, version);
    }
    any.then(|| scope.as_baggage())
}

/// Tags as JS sends them (`a,b`) or as Python's propagator writes its list (`['a', 'b']`).
fn tags(value: &str) -> Vec<String> {
    let list = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
    list.split(',')
        .map(|t| t.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `cx` with the attributes `value` (a `baggage` header) carries, if any.
pub(crate) fn continue_with(cx: TraceContext, value: Option<&str>) -> TraceContext {
    match value.map(parse_baggage).as_deref().and_then(attributes) {
        Some(scope) => scope.apply_to(cx),
        None => cx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate_attributes;

    fn attrs(cx: &TraceContext) -> TraceAttributes {
        cx.trace_attributes.as_deref().cloned().unwrap_or_default()
    }

    #[test]
    fn every_attribute_round_trips_with_percent_encoding() {
        let sent = propagate_attributes()
            .user_id("ü 1,2;3=\"4\"\\%")
            .session_id("s")
            .version("v1")
            .trace_name("t")
            .environment("staging")
            .tags(["a", "b c"])
            .metadata("tenant", &"acme")
            .metadata("n", &3)
            .prompt("p", 2)
            .as_baggage()
            .context();
        let header = baggage(&sent).expect("sent");
        assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header}");
        assert!(header.starts_with("langfuse_user_id=%C3%BC%201%2C2%3B3=%224%22%5C%25,"));
        let received = continue_with(TraceContext::default(), Some(&header));
        let (a, b) = (attrs(&sent), attrs(&received));
        assert_eq!(b.user_id, a.user_id);
        assert_eq!(
            (b.session_id, b.version, b.name, b.environment),
            (a.session_id, a.version, a.name, a.environment)
        );
        assert_eq!(b.tags, ["a", "b c"]);
        assert_eq!(b.metadata, a.metadata);
        assert_eq!((b.prompt_name.as_deref(), b.prompt_version), (Some("p"), Some(2)));
        // Received baggage is sent on, unchanged.
        assert_eq!(baggage(&received).as_deref(), Some(header.as_str()));
    }

    #[test]
    fn only_what_asked_travels_and_nested_scopes_merge() {
        propagate_attributes().user_id("u").tags(["a"]).as_baggage().run(|| {
            let cx = propagate_attributes().session_id("private").tags(["b"]).context();
            assert_eq!(baggage(&cx).as_deref(), Some("langfuse_user_id=u,langfuse_tags=a"));
            let cx = propagate_attributes().tags(["b"]).as_baggage().context();
            // The joining `,` is percent-encoded, as in any value.
            assert_eq!(baggage(&cx).as_deref(), Some("langfuse_user_id=u,langfuse_tags=a%2Cb"));
        });
    }

    #[test]
    fn received_values_are_checked_and_limits_apply() {
        let long = "x".repeat(201);
        let cx = continue_with(
            TraceContext::default(),
            Some(&format!(
                "langfuse_user_id={long},langfuse_environment=Not%20Valid,langfuse_session_id=ok,\
                 langfuse_trace_id=abc,langfuse_custom=plain,langfuse_tags=%5B%27x%27%2C%20%27y%27%5D"
            )),
        );
        let a = attrs(&cx);
        assert_eq!((a.user_id, a.environment), (None, None), "invalid values dropped");
        assert_eq!(a.session_id.as_deref(), Some("ok"));
        assert_eq!(a.tags, ["x", "y"], "Python's list form");
        assert_eq!(a.metadata.get("custom").map(|v| v.as_str()), Some(r#""plain""#));
        assert_eq!(a.metadata.get("trace_id"), None);
        // Only the app-root claim: nothing to continue with.
        assert!(
            continue_with(TraceContext::default(), Some("langfuse_trace_id=1"))
                .trace_attributes
                .is_none()
        );

        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_baggage(&many.join(",")).len(), 64);
        let big = format!("big={},small=1", "v".repeat(4100));
        assert_eq!(parse_baggage(&big), [("small".to_owned(), "1".to_owned())]);
        assert!(parse_baggage("bad key=1,=2,k=%FF").is_empty(), "bad keys and bad UTF-8");

        // Writing: a member over 4096 bytes is left out, other vendors' members are kept.
        let written = encode(
            [("langfuse_user_id", "u"), ("langfuse_metadata_big", &*"v".repeat(4100))].into_iter(),
            "vendor=1;p, langfuse_user_id=stale",
        );
        assert_eq!(written, "langfuse_user_id=u,vendor=1;p");
    }
}
