//! The W3C trace context on `http::HeaderMap`, the header type of hyper, axum and reqwest
//! (feature `http`); the rules are those of [`w3c`](crate::w3c), which re-exports these.

use http::{HeaderMap, HeaderValue};

use super::baggage::{BAGGAGE, continue_with, encode};
use super::w3c::{TRACEPARENT, TRACESTATE, parse_traceparent, traceparent};
use crate::context::TraceContext;

/// The headers that carry the current context to a service being called: `traceparent`
/// (none outside a trace) and, when a scope asked for it, `baggage`. Made for reqwest's
/// `RequestBuilder::headers`, which merges them into the request's.
///
/// ```
/// use langfuse_runtime::{TraceContext, TraceId, w3c};
/// // Inside an observation (here: a trace continued from elsewhere).
/// let trace = TraceId::from_seed("order-42");
/// let headers = TraceContext::from_trace_id(trace, None).run(w3c::current_headers);
/// assert!(headers[w3c::TRACEPARENT].to_str().unwrap().starts_with(&format!("00-{trace}-")));
/// // With reqwest: `client.get(url).headers(w3c::current_headers()).send().await`
/// assert!(w3c::current_headers().is_empty(), "outside a trace there is nothing to carry");
/// ```
pub fn current_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    inject_headers(&mut headers);
    headers
}

/// Sets `traceparent` (and `baggage`, when asked for) on outgoing request headers from the
/// current context (nothing outside a trace).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// langfuse_runtime::span("call").start().run(|| langfuse_runtime::w3c::inject_headers(&mut headers));
/// # let _ = headers;
/// ```
pub fn inject_headers(headers: &mut HeaderMap) {
    inject_headers_from(&TraceContext::current(), headers);
}

/// Sets `traceparent` from `cx` (nothing outside a trace), and the `baggage` members of the
/// scopes that asked for it ([`Propagate::as_baggage`](crate::Propagate::as_baggage)),
/// merged into a `baggage` header already there.
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
    if let Some(ours) = cx.trace_attributes.as_deref().map(|a| &a.baggage).filter(|b| !b.is_empty())
    {
        let existing = headers.get(BAGGAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        // Percent-encoded members are visible ASCII, always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&encode(ours.iter(), existing)) {
            headers.insert(BAGGAGE, value);
        }
    }
}

/// The context an incoming request continues: the caller's trace when `headers` has a valid
/// `traceparent` (the handler's first observation is then marked as the SDKs mark a
/// continued root, `langfuse.internal.as_root` and `is_app_root`, with the caller's
/// observation as its parent), else the current context (a new trace starts). Baggage is
/// not read: see [`continue_headers_and_baggage`].
///
/// ```
/// use langfuse_runtime::{observe, w3c};
///
/// #[observe]
/// async fn answer(question: String) -> String {
///     format!("42 is the answer to {question}")
/// }
///
/// // An axum handler (`headers: http::HeaderMap` is an extractor); hyper's is the same
/// // with `req.headers()`.
/// async fn handler(headers: http::HeaderMap, question: String) -> String {
///     w3c::continue_headers(&headers).wrap(answer(question)).await
/// }
/// # let mut headers = http::HeaderMap::new();
/// # headers.insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap());
/// # assert_eq!(w3c::continue_headers(&headers).trace_id().unwrap().to_string(), "0af7651916cd43dd8448eb211c80319c");
/// # let _ = futures::executor::block_on(handler(headers, "why?".into()));
/// ```
pub fn continue_headers(headers: &HeaderMap) -> TraceContext {
    extract_headers(headers).unwrap_or_else(TraceContext::current)
}

/// [`continue_headers`], plus the trace attributes the caller sent as `langfuse_*` baggage
/// members (user, session, tags, metadata, version, …; the W3C limits and the checks of
/// [`Propagate`](crate::Propagate) apply). Observations started in the returned context get
/// them, and they travel on as baggage to the services it calls. Read baggage only from
/// callers you trust: they choose the user and session ids it sets.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("baggage", "langfuse_session_id=chat-7".parse().unwrap());
/// let cx = langfuse_runtime::w3c::continue_headers_and_baggage(&headers);
/// assert_eq!(langfuse_runtime::w3c::baggage(&cx).as_deref(), Some("langfuse_session_id=chat-7"));
/// ```
pub fn continue_headers_and_baggage(headers: &HeaderMap) -> TraceContext {
    // Several `baggage` headers are one list (W3C).
    let values: Vec<&str> =
        headers.get_all(BAGGAGE).iter().filter_map(|v| v.to_str().ok()).collect();
    let baggage = (!values.is_empty()).then(|| values.join(","));
    continue_with(continue_headers(headers), baggage.as_deref())
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
