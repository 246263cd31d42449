//! Seeded ids (wire format §8.1), observations in an explicit trace context, and the trace URL
//! helper (§8.2) against a loopback REST server that answers `GET /api/public/projects`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use langfuse_runtime::{
    Config, ObservationId, TraceContext, TraceId, observe, propagate_attributes, span,
};
use support::{Loopback, PUBLIC_KEY, ReceivedSpan, SECRET_KEY, expected_basic_auth};

#[observe]
fn handle_order(order: u32) -> u32 {
    check_stock(order)
}

#[observe]
fn check_stock(order: u32) -> u32 {
    order + 1
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn seeded_ids_match_the_sdks() {
    // Python: create_trace_id(seed="conformance-seed-1"); the observation id is its first half.
    assert_eq!(
        TraceId::from_seed("conformance-seed-1").to_string(),
        "656f344917362c3f5f8cd92a351d471d"
    );
    assert_eq!(ObservationId::from_seed("conformance-seed-1").to_string(), "656f344917362c3f");
}

#[test]
fn manual_and_observe_calls_start_in_an_explicit_trace_context() {
    let mut h = Loopback::start(|b| b);
    let trace_id = TraceId::from_seed("order-42");
    let parent = ObservationId::from_seed("checkout-service:order-42");
    // `#[observe]` takes no extra argument: the context helper makes the explicit one current.
    propagate_attributes().user_id("user-7").run(|| {
        TraceContext::from_trace_id(trace_id, Some(parent)).run(|| handle_order(42));
    });
    // A manual start with no parent given: a fresh synthetic parent id.
    span("refund").parent(TraceContext::from_trace_id(trace_id, None)).start().end();
    let spans = h.finish();
    assert_eq!(spans.len(), 3);
    for s in &spans {
        assert_eq!(s.trace_id_hex(), trace_id.to_string(), "{}", s.name());
    }
    let handle = find(&spans, "handle_order");
    assert_eq!(handle.parent_id_hex(), Some(parent.to_string()));
    assert_eq!(handle.bool_attr("langfuse.internal.as_root"), Some(true));
    assert_eq!(handle.span.flags, 0x300, "the explicit parent is remote");
    // Propagated attributes reach observations under the explicit context, as in Python.
    assert_eq!(handle.str_attr("user.id"), Some("user-7"));
    let child = find(&spans, "check_stock");
    assert_eq!(child.parent_id_hex(), Some(handle.span_id_hex()));
    assert_eq!(child.attr("langfuse.internal.as_root"), None);
    assert_eq!(child.str_attr("user.id"), Some("user-7"));
    let refund = find(&spans, "refund");
    let synthetic = refund.parent_id_hex().expect("a synthetic parent id");
    assert_eq!(synthetic.len(), 16);
    assert_ne!(synthetic, parent.to_string());
    assert_eq!(refund.bool_attr("langfuse.internal.as_root"), Some(true));
}

/// What the REST server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server answering every request with `body` (200, JSON), one request
/// per connection, recording what it saw.
struct RestServer {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RestServer {
    fn start(body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, path) =
                    (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut discard = vec![0; len];
                let _ = reader.read_exact(&mut discard);
                record.lock().unwrap().push(Seen { method, path, headers });
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Self { base_url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn client(base_url: &str) -> langfuse_runtime::Langfuse {
    Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(base_url)
        .flush_interval(Duration::from_secs(3600))
        .init()
        .unwrap()
}

/// Calls `trace_url` until it answers or two seconds have passed.
fn poll_url(langfuse: &langfuse_runtime::Langfuse, trace_id: TraceId) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Some(url) = langfuse.trace_url(trace_id) {
            return Some(url);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn trace_url_uses_the_project_id_fetched_once() {
    let _turn = support::exclusive();
    let server = RestServer::start(
        r#"{"data":[{"id":"cl-proj-123","name":"demo","metadata":{}}],"meta":{"page":1}}"#,
    );
    let langfuse = client(&server.base_url);
    let trace_id = TraceId::from_seed("conformance-seed-1");
    assert_eq!(langfuse.trace_url(trace_id), None, "not known before the server answered");
    let url = poll_url(&langfuse, trace_id);
    assert_eq!(
        url.as_deref(),
        Some(
            format!(
                "{}/project/cl-proj-123/traces/656f344917362c3f5f8cd92a351d471d",
                server.base_url
            )
            .as_str()
        )
    );
    let other = TraceId::from_seed("other");
    assert_eq!(
        langfuse.trace_url(other),
        Some(format!("{}/project/cl-proj-123/traces/{other}", server.base_url))
    );
    drop(langfuse);
    // A second client with the same keys and server reuses the answer.
    let again = client(&server.base_url);
    assert!(again.trace_url(other).is_some());
    drop(again);
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "one lookup: {seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("GET", "/api/public/projects"));
    assert_eq!(
        seen[0].header("authorization"),
        Some(expected_basic_auth(PUBLIC_KEY, SECRET_KEY).as_str())
    );
    assert_eq!(seen[0].header("x-langfuse-public-key"), Some(PUBLIC_KEY));
}

#[test]
fn trace_url_is_none_when_the_server_lists_no_project() {
    let _turn = support::exclusive();
    let server = RestServer::start(r#"{"data":[]}"#);
    let langfuse = client(&server.base_url);
    let trace_id = TraceId::random();
    assert_eq!(langfuse.trace_url(trace_id), None);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.seen().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(langfuse.trace_url(trace_id), None);
    assert_eq!(server.seen().len(), 1, "asked once, not again");
}

#[test]
fn trace_url_is_none_without_keys_and_sends_nothing() {
    let _turn = support::exclusive();
    let server = RestServer::start(r#"{"data":[{"id":"p"}]}"#);
    let langfuse =
        Config::builder().env_source(|_| None).base_url(&server.base_url).init().unwrap();
    assert_eq!(langfuse.trace_url(TraceId::random()), None);
    std::thread::sleep(Duration::from_millis(50));
    assert!(server.seen().is_empty());
}
