//! The W3C trace context on `http::HeaderMap`, the header type of hyper, axum and reqwest
//! (feature `http`); the rules are those of [`w3c`](crate::w3c), which re-exports these.

use http::{HeaderMap, HeaderValue};

use super::w3c::{TRACEPARENT, TRACESTATE, parse_traceparent, traceparent};
use crate::context::TraceContext;

/// Sets `traceparent` on outgoing request headers from the current context (nothing outside
/// a trace).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// langfuse_runtime::span("call").start().run(|| langfuse_runtime::w3c::inject_headers(&mut headers));
/// # let _ = headers;
/// ```
pub fn inject_headers(headers: &mut HeaderMap) {
    inject_headers_from(&TraceContext::current(), headers);
}

/// Sets `traceparent` from `cx` (nothing outside a trace).
///
/// ```
/// use langfuse_runtime::w3c;
/// let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/// let cx = w3c::parse_traceparent(value).unwrap();
/// let mut headers = http::HeaderMap::new();
/// w3c::inject_headers_from(&cx, &mut headers);
/// assert_eq!(headers[w3c::TRACEPARENT], value);
/// ```
pub fn inject_headers_from(cx: &TraceContext, headers: &mut HeaderMap) {
    if let Some(value) = traceparent(cx).and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(TRACEPARENT, value);
    }
}

/// The context incoming request headers continue; `None` without a valid `traceparent`.
///
/// ```
/// # fn handle() {}
/// # let headers = http::HeaderMap::new();
/// // In a hyper or axum handler:
/// let cx = langfuse_runtime::w3c::extract_headers(&headers).unwrap_or_default();
/// cx.run(handle); // or `cx.wrap(future)` for an async handler
/// ```
pub fn extract_headers(headers: &HeaderMap) -> Option<TraceContext> {
    parse_traceparent(headers.get(TRACEPARENT)?.to_str().ok()?)
}

/// Copies `tracestate` from incoming to outgoing headers, unchanged.
///
/// ```
/// let mut incoming = http::HeaderMap::new();
/// incoming.insert("tracestate", http::HeaderValue::from_static("vendor=abc"));
/// let mut outgoing = http::HeaderMap::new();
/// langfuse_runtime::w3c::forward_tracestate_headers(&incoming, &mut outgoing);
/// assert_eq!(outgoing["tracestate"], "vendor=abc");
/// ```
pub fn forward_tracestate_headers(incoming: &HeaderMap, outgoing: &mut HeaderMap) {
    if let Some(state) = incoming.get(TRACESTATE) {
        outgoing.insert(TRACESTATE, state.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ObservationId, TraceId};

    #[test]
    fn headers_round_trip() {
        let cx = TraceContext::from_trace_id(TraceId::random(), Some(ObservationId::random()));
        let mut headers = HeaderMap::new();
        inject_headers_from(&cx, &mut headers);
        let back = extract_headers(&headers).expect("valid");
        assert_eq!(back.ids(), cx.ids());
        let mut incoming = HeaderMap::new();
        incoming.insert(TRACESTATE, HeaderValue::from_static("v=1"));
        forward_tracestate_headers(&incoming, &mut headers);
        assert_eq!(headers.get(TRACESTATE).unwrap(), "v=1");
    }
}
