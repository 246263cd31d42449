//! Traces across services: the W3C trace context (`traceparent`, `tracestate`) on a plain
//! string map; `inject_headers` and `extract_headers` do the same on `http::HeaderMap`
//! (feature `http`).
//!
//! The calling side injects the current observation as `traceparent`; the called side
//! extracts it and runs its handler in the returned context, so its observations join the
//! caller's trace as children of the calling observation. The first observation of the
//! called service is marked `langfuse.internal.as_root`, as the official SDKs mark an
//! observation started under a trace context from elsewhere: the server then treats it as a
//! root of its own service's part of the trace while keeping its parent link.
//!
//! ```
//! use std::collections::HashMap;
//! use langfuse_runtime::{span, w3c};
//!
//! // Service A, inside an observation: put the trace on the outgoing request.
//! let call = span("call_b").start();
//! let mut headers = HashMap::new();
//! call.run(|| w3c::inject(&mut headers));
//!
//! // Service B: continue it.
//! if let Some(cx) = w3c::extract(&headers) {
//!     cx.run(|| span("handle").start().end());
//! }
//! ```
//!
//! Rules:
//! - `traceparent` is `00-<32 hex trace id>-<16 hex observation id>-<flags>`; extraction
//!   accepts what the W3C spec accepts (lower-case hex, no all-zero ids, version not `ff`,
//!   longer values of future versions) and ignores anything else.
//! - The sampled flag is honoured: an unsampled caller's trace is not recorded here either
//!   (our own sampler still decides for sampled ones, from the trace id, so both services
//!   agree on the same rate).
//! - `tracestate` carries other vendors' data, which we add nothing to. A service that
//!   forwards a request should pass it on unchanged: [`forward_tracestate`] does that.
//! - Propagated attributes (user, session, tags, …) stay in the process unless a scope asks
//!   for them to travel with [`Propagate::as_baggage`](crate::Propagate::as_baggage): then
//!   the inject functions also write them as W3C `baggage` members (`langfuse_user_id`, …,
//!   as the Python SDK does), merged into a `baggage` the carrier already has. The called
//!   side reads them only through [`continue_trace_and_baggage`] (or its `HeaderMap` twin),
//!   with the W3C limits (8192 bytes, 64 members, 4096 bytes a member) and the checks of
//!   [`Propagate`](crate::Propagate)'s setters. **Security:** baggage goes in plain text into
//!   the headers of every request the inject functions write to, third parties' included;
//!   and whoever calls a service that reads it chooses the user and session ids it sets.
//!   Mark only opaque ids, read baggage only from callers you trust.
//!
//! One line each side, with `http` (feature `http`): `.headers(w3c::current_headers())` on
//! a reqwest `RequestBuilder`, `w3c::continue_headers(req.headers()).wrap(handler)` in an
//! axum or hyper handler.
//!
//! ```
//! use std::collections::HashMap;
//! use langfuse_runtime::{TraceContext, TraceId, propagate_attributes, span, w3c};
//!
//! // Service A, inside a trace: user and session go along, as baggage.
//! let trace = TraceId::from_seed("order-42");
//! let mut headers = HashMap::new();
//! TraceContext::from_trace_id(trace, None).run(|| {
//!     propagate_attributes()
//!         .user_id("user-42")
//!         .session_id("chat-7")
//!         .as_baggage()
//!         .run(|| w3c::inject(&mut headers));
//! });
//! assert_eq!(headers["baggage"], "langfuse_user_id=user-42,langfuse_session_id=chat-7");
//!
//! // Service B, trusting its caller: the trace and the attributes continue.
//! let cx = w3c::continue_trace_and_baggage(&headers);
//! assert_eq!(cx.trace_id(), Some(trace));
//! cx.run(|| span("handle").start().end()); // user-42, chat-7
//! ```

use std::collections::HashMap;

pub use super::baggage::{BAGGAGE, baggage, parse_baggage};
#[cfg(feature = "http")]
pub use super::http::{
    continue_headers, continue_headers_and_baggage, current_headers, extract_headers,
    forward_tracestate_headers, inject_headers, inject_headers_from,
};
#[cfg(feature = "tower")]
pub use super::tower::{ContinueTrace, ContinueTraceLayer};
use crate::context::{Parent, RemoteParent, TraceContext};
use crate::ids::{ObservationId, TraceId};
use crate::state::{SpanIds, Tracing};

/// The W3C header carrying trace id, parent id and flags.
///
/// ```
/// assert_eq!(langfuse_runtime::w3c::TRACEPARENT, "traceparent");
/// ```
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendor-specific trace data, forwarded unchanged.
///
/// ```
/// assert_eq!(langfuse_runtime::w3c::TRACESTATE, "tracestate");
/// ```
pub const TRACESTATE: &str = "tracestate";

/// The `traceparent` value for `cx`: its trace and current observation; `None` outside a
/// trace. The sampled flag is set unless the trace is known not to be sampled.
///
/// ```
/// use langfuse_runtime::{TraceContext, w3c};
/// let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/// let cx = w3c::parse_traceparent(value).unwrap();
/// assert_eq!(w3c::traceparent(&cx).as_deref(), Some(value));
/// assert_eq!(w3c::traceparent(&TraceContext::default()), None);
/// ```
pub fn traceparent(cx: &TraceContext) -> Option<String> {
    let (trace_id, id) = cx.ids()?;
    let sampled = match &cx.parent {
        Parent::Ours(Tracing::Unsampled(_)) => false,
        Parent::Remote(remote) => remote.sampled,
        Parent::Ours(_) => true,
    };
    Some(format!("00-{trace_id}-{id}-{}", if sampled { "01" } else { "00" }))
}

/// A context that continues the trace of a `traceparent` value (see the module docs);
/// `None` when the value is not a valid one.
///
/// ```
/// use langfuse_runtime::w3c::parse_traceparent;
/// let cx = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
/// assert_eq!(cx.trace_id().unwrap().to_string(), "0af7651916cd43dd8448eb211c80319c");
/// assert_eq!(cx.observation_id().unwrap().to_string(), "b7ad6b7169203331");
/// assert!(parse_traceparent("not a traceparent").is_none());
/// ```
pub fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let value = value.trim();
    let bytes = value.as_bytes();
    if bytes.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = &value[..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; later versions may append `-…`.
    if (version == "00" && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    let (trace, parent, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !is_lower_hex(trace) || !is_lower_hex(parent) || !is_lower_hex(flags) {
        return None;
    }
    let trace_id: TraceId = trace.parse().ok()?;
    let id: ObservationId = parent.parse().ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceContext {
        parent: Parent::Remote(RemoteParent {
            ids: SpanIds { trace_id, id },
            sampled: flags & 1 == 1,
            as_root: true,
        }),
        trace_attributes: None,
    })
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Writes the current context's `traceparent` into `carrier` (nothing outside a trace).
///
/// ```
/// use std::collections::HashMap;
/// use langfuse_runtime::{TraceContext, TraceId, w3c};
/// let mut headers = HashMap::new();
/// w3c::inject(&mut headers);
/// assert!(headers.is_empty(), "outside a trace nothing is written");
///
/// let trace = TraceId::from_seed("order-42");
/// TraceContext::from_trace_id(trace, None).run(|| w3c::inject(&mut headers));
/// assert!(headers["traceparent"].starts_with(&format!("00-{trace}-")));
/// ```
pub fn inject(carrier: &mut HashMap<String, String>) {
    inject_context(&TraceContext::current(), carrier);
}

/// Writes `cx`'s `traceparent` into `carrier` (nothing outside a trace), replacing any
/// earlier value whatever its case; and its `baggage` members when a scope asked for them
/// ([`Propagate::as_baggage`](crate::Propagate::as_baggage)), merged into the carrier's.
///
/// ```
/// use std::collections::HashMap;
/// use langfuse_runtime::w3c;
/// let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/// let cx = w3c::parse_traceparent(value).unwrap();
/// let mut headers = HashMap::from([("TraceParent".to_string(), "stale".to_string())]);
/// w3c::inject_context(&cx, &mut headers);
/// assert_eq!(headers.len(), 1);
/// assert_eq!(headers["traceparent"], value);
/// ```
pub fn inject_context(cx: &TraceContext, carrier: &mut HashMap<String, String>) {
    if let Some(value) = traceparent(cx) {
        carrier.retain(|k, _| !k.eq_ignore_ascii_case(TRACEPARENT));
        carrier.insert(TRACEPARENT.to_owned(), value);
    }
    if let Some(ours) = cx.trace_attributes.as_deref().map(|a| &a.baggage).filter(|b| !b.is_empty())
    {
        let existing = get(carrier, BAGGAGE).unwrap_or_default().to_owned();
        let value = super::baggage::encode(ours.iter(), &existing);
        carrier.retain(|k, _| !k.eq_ignore_ascii_case(BAGGAGE));
        carrier.insert(BAGGAGE.to_owned(), value);
    }
}

/// The context a request with these headers continues: the caller's trace when `carrier`
/// has a valid `traceparent` (its first observation marked as the SDKs mark a continued
/// root, `langfuse.internal.as_root`), else the current context (a new trace starts). Baggage
/// is not read: see [`continue_trace_and_baggage`].
///
/// ```
/// use std::collections::HashMap;
/// use langfuse_runtime::{span, w3c};
/// let headers = HashMap::from([(
///     "traceparent".to_string(),
///     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
/// )]);
/// let cx = w3c::continue_trace(&headers);
/// assert_eq!(cx.trace_id().unwrap().to_string(), "0af7651916cd43dd8448eb211c80319c");
/// cx.run(|| span("handle").start().end());
/// assert_eq!(w3c::continue_trace(&HashMap::new()).trace_id(), None, "no trace outside one");
/// ```
pub fn continue_trace(carrier: &HashMap<String, String>) -> TraceContext {
    extract(carrier).unwrap_or_else(TraceContext::current)
}

/// [`continue_trace`], plus the trace attributes the caller sent as `langfuse_*` baggage
/// members (user, session, tags, metadata, …), which observations started in the returned
/// context get and which travel on to the services it calls. Read baggage only from callers
/// you trust: they choose the ids it sets.
///
/// ```
/// use std::collections::HashMap;
/// let headers = HashMap::from([
///     ("traceparent".to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string()),
///     ("baggage".to_string(), "langfuse_user_id=user-42,langfuse_tags=a,vendor=x".to_string()),
/// ]);
/// let cx = langfuse_runtime::w3c::continue_trace_and_baggage(&headers);
/// assert_eq!(cx.trace_id().unwrap().to_string(), "0af7651916cd43dd8448eb211c80319c");
/// assert_eq!(
///     langfuse_runtime::w3c::baggage(&cx).as_deref(),
///     Some("langfuse_user_id=user-42,langfuse_tags=a")
/// );
/// ```
pub fn continue_trace_and_baggage(carrier: &HashMap<String, String>) -> TraceContext {
    super::baggage::continue_with(continue_trace(carrier), get(carrier, BAGGAGE))
}

/// The context `carrier`'s `traceparent` continues (header names in any case); `None`
/// without a valid one.
///
/// ```
/// use std::collections::HashMap;
/// let headers = HashMap::from([(
///     "Traceparent".to_string(),
///     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
/// )]);
/// let cx = langfuse_runtime::w3c::extract(&headers).unwrap();
/// assert_eq!(cx.trace_id().unwrap().to_string(), "0af7651916cd43dd8448eb211c80319c");
/// assert!(langfuse_runtime::w3c::extract(&HashMap::new()).is_none());
/// ```
pub fn extract(carrier: &HashMap<String, String>) -> Option<TraceContext> {
    parse_traceparent(get(carrier, TRACEPARENT)?)
}

/// Copies `tracestate` from an incoming carrier to an outgoing one, unchanged.
///
/// ```
/// use std::collections::HashMap;
/// let incoming = HashMap::from([("tracestate".to_string(), "vendor=abc".to_string())]);
/// let mut outgoing = HashMap::new();
/// langfuse_runtime::w3c::forward_tracestate(&incoming, &mut outgoing);
/// assert_eq!(outgoing["tracestate"], "vendor=abc");
/// ```
pub fn forward_tracestate(
    incoming: &HashMap<String, String>,
    outgoing: &mut HashMap<String, String>,
) {
    if let Some(state) = get(incoming, TRACESTATE) {
        outgoing.insert(TRACESTATE.to_owned(), state.to_owned());
    }
}

fn get<'a>(carrier: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    carrier
        .get(name)
        .or_else(|| carrier.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips_and_marks_the_continuation_as_root() {
        let cx = parse_traceparent(VALID).expect("valid");
        assert_eq!(traceparent(&cx).as_deref(), Some(VALID));
        assert!(cx.is_recording());
        assert!(matches!(cx.parent, Parent::Remote(RemoteParent { as_root: true, .. })));
        let unsampled = parse_traceparent(&VALID.replace("-01", "-00")).unwrap();
        assert!(!unsampled.is_recording());
        assert!(traceparent(&unsampled).unwrap().ends_with("-00"));
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
        // A future version may append fields.
        assert!(parse_traceparent(&format!("01{}-what-comes-next", &VALID[2..])).is_some());
    }

    #[test]
    fn maps_are_read_in_any_case_and_tracestate_is_forwarded_unchanged() {
        let incoming = HashMap::from([
            ("TraceParent".to_owned(), VALID.to_owned()),
            ("TraceState".to_owned(), "vendor=a,other=b".to_owned()),
        ]);
        let cx = extract(&incoming).expect("found");
        let mut outgoing = HashMap::from([("TRACEPARENT".to_owned(), "stale".to_owned())]);
        inject_context(&cx, &mut outgoing);
        forward_tracestate(&incoming, &mut outgoing);
        assert_eq!(outgoing.len(), 2, "{outgoing:?}");
        assert_eq!(outgoing["traceparent"], VALID);
        assert_eq!(outgoing["tracestate"], "vendor=a,other=b");
        let mut none = HashMap::new();
        inject_context(&TraceContext::default(), &mut none);
        assert!(none.is_empty(), "nothing outside a trace");
    }
}
