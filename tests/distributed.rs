//! Traces across services: two real HTTP services on loopback in one test, the first calling
//! the second with a W3C `traceparent` it injected, the second continuing the trace from the
//! headers it extracted — asserted as one trace with exact parent links on the loopback
//! OTLP receiver.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

use http::{HeaderMap, HeaderName, HeaderValue};
use langfuse_runtime::{observe, w3c};
use support::{Loopback, ReceivedSpan};

/// Reads one HTTP/1.1 request head (no body is sent in this test) into a header map.
fn read_headers(stream: &TcpStream) -> HeaderMap {
    let mut reader = BufReader::new(stream);
    let mut headers = HeaderMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).expect("request line");
    loop {
        line.clear();
        if reader.read_line(&mut line).expect("header line") == 0 || line.trim().is_empty() {
            return headers;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).expect("header name");
            headers.insert(name, HeaderValue::from_str(value.trim()).expect("header value"));
        }
    }
}

/// `GET /` with `headers`, returning the response body (`Connection: close`).
fn get(addr: SocketAddr, headers: &HeaderMap) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// Serves `requests` requests on `listener`, one connection each, answering `handler`'s body.
fn serve(
    listener: TcpListener,
    requests: usize,
    handler: impl Fn(&HeaderMap) -> String + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..requests {
            let (mut stream, _) = listener.accept().expect("accept");
            let headers = read_headers(&stream);
            let body = handler(&headers);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
    })
}

#[observe(as_type = "generation")]
fn model_call(question: &str) -> String {
    format!("answer to {question}")
}

/// Service B's handler body.
#[observe]
fn answer(question: &str) -> String {
    model_call(question)
}

#[observe(as_type = "tool")]
fn call_service_b(b: SocketAddr, incoming: &HeaderMap) -> String {
    let mut headers = HeaderMap::new();
    w3c::inject_headers(&mut headers);
    w3c::forward_tracestate_headers(incoming, &mut headers);
    get(b, &headers)
}

/// Service A's handler body.
#[observe]
fn frontend(b: SocketAddr, incoming: &HeaderMap) -> String {
    call_service_b(b, incoming)
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name() == name).collect()
}

fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_id_hex(),
        Some(parent.span_id_hex()),
        "{} under {}",
        child.name(),
        parent.name()
    );
    assert_eq!(child.trace_id_hex(), parent.trace_id_hex(), "{} in one trace", child.name());
}

#[test]
fn two_services_over_loopback_http_make_one_trace() {
    let mut lf = Loopback::start(|b| b);
    let listener_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr_b = listener_b.local_addr().unwrap();
    let service_b = serve(listener_b, 2, |headers| {
        let cx = w3c::extract_headers(headers).unwrap_or_default();
        let state = headers.get("tracestate").map_or("", |v| v.to_str().unwrap()).to_owned();
        format!("{}|{state}", cx.run(|| answer("why?")))
    });
    let listener_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr_a = listener_a.local_addr().unwrap();
    let service_a = serve(listener_a, 2, move |headers| {
        let cx = w3c::extract_headers(headers).unwrap_or_default();
        cx.run(|| frontend(addr_b, headers))
    });

    // An edge proxy's trace context, with another vendor's tracestate.
    let edge_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let edge_span = "00f067aa0ba902b7";
    let mut continued = HeaderMap::new();
    continued.insert("traceparent", format!("00-{edge_trace}-{edge_span}-01").parse().unwrap());
    continued.insert("tracestate", HeaderValue::from_static("edge=1"));
    assert_eq!(get(addr_a, &continued), "answer to why?|edge=1", "tracestate passed through");
    // And a request that starts a trace in service A.
    assert_eq!(get(addr_a, &HeaderMap::new()), "answer to why?|");
    service_a.join().unwrap();
    service_b.join().unwrap();

    let spans = lf.finish();
    assert_eq!(spans.len(), 8, "{spans:#?}");
    let frontends = by_name(&spans, "frontend");
    let continued_root =
        frontends.iter().find(|s| s.trace_id_hex() == edge_trace).expect("continued");
    let fresh_root = frontends.iter().find(|s| s.trace_id_hex() != edge_trace).expect("fresh");

    // Continued from the edge: parent is the edge's span, marked as a root as the SDKs do.
    assert_eq!(continued_root.parent_id_hex().as_deref(), Some(edge_span));
    assert_eq!(continued_root.bool_attr("langfuse.internal.as_root"), Some(true));
    // Started here: a plain root.
    assert_eq!(fresh_root.parent_id_hex(), None);
    assert_eq!(fresh_root.bool_attr("langfuse.internal.as_root"), None);

    for root in [continued_root, fresh_root] {
        let in_trace: Vec<_> =
            spans.iter().filter(|s| s.trace_id_hex() == root.trace_id_hex()).collect();
        assert_eq!(in_trace.len(), 4, "one trace per request across both services");
        let find = |name: &str| *in_trace.iter().find(|s| s.name() == name).unwrap();
        let (call, answer, model) = (find("call_service_b"), find("answer"), find("model_call"));
        assert_child(call, root);
        // Service B's first observation continues under service A's calling observation…
        assert_child(answer, call);
        assert_eq!(answer.bool_attr("langfuse.internal.as_root"), Some(true));
        // …and what it calls nests as usual.
        assert_child(model, answer);
        assert_eq!(model.bool_attr("langfuse.internal.as_root"), None);
        assert_eq!(call.bool_attr("langfuse.internal.as_root"), None);
    }
}
