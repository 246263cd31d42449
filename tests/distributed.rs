//! Traces across services: two real HTTP services on loopback in one test, the first calling
//! the second with a W3C `traceparent` it injected, the second continuing the trace from the
//! headers it extracted — asserted as one trace with exact parent links on the loopback
//! OTLP receiver; and the same with axum services (one continuing in its handler, one
//! through `ContinueTraceLayer`) called by reqwest, with user and session as baggage.

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

/// Service D's model call.
#[observe(as_type = "generation")]
async fn downstream_model(question: String) -> String {
    format!("42 is the answer to {question}")
}

/// Service D's handler: an axum route under `ContinueTraceLayer::new().with_baggage()`.
#[observe]
async fn downstream(question: String) -> String {
    downstream_model(question).await
}

/// Service C's outgoing call, carrying the trace with reqwest.
#[observe(as_type = "tool", skip(client))]
async fn call_downstream(client: &reqwest::Client, url: &str, question: &str) -> String {
    let request = client.post(url).headers(w3c::current_headers()).body(question.to_owned());
    let response = request.send().await.expect("service D answers");
    response.text().await.expect("a text body")
}

/// Service C's handler body: sends the user and session on as baggage only when `share`
/// says so.
#[observe(skip(client))]
async fn upstream(client: reqwest::Client, url: String, share: bool) -> String {
    let scope = langfuse_runtime::propagate_attributes().user_id("user-42").session_id("chat-7");
    let scope = if share { scope.as_baggage() } else { scope };
    scope.wrap(call_downstream(&client, &url, "why?")).await
}

#[test]
fn an_axum_service_continues_a_reqwest_callers_trace_with_baggage() {
    use axum::routing::post;

    let mut lf = Loopback::start(|b| b);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answers = rt.block_on(async {
        let serve = |app: axum::Router| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        };
        // Service D trusts its caller's baggage.
        let d = serve(
            axum::Router::new()
                .route("/answer", post(downstream))
                .layer(w3c::ContinueTraceLayer::new().with_baggage()),
        )
        .await;
        let client = reqwest::Client::new();
        let url = format!("http://{d}/answer");
        // Service C continues its caller's trace in its handler, without the layer.
        let c = serve(axum::Router::new().route(
            "/ask",
            post(move |headers: http::HeaderMap, share: String| {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let cx = w3c::continue_headers(&headers);
                    cx.wrap(upstream(client, url, share == "share")).await
                }
            }),
        ))
        .await;
        // An edge proxy calls C twice: once sharing user and session with D, once not.
        let edge = reqwest::Client::new();
        let mut answers = Vec::new();
        for (share, span) in [("share", "00f067aa0ba902b7"), ("keep", "00f067aa0ba902b8")] {
            let traceparent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span}-01");
            let response = edge
                .post(format!("http://{c}/ask"))
                .header("traceparent", traceparent)
                .body(share)
                .send()
                .await
                .unwrap();
            answers.push(response.text().await.unwrap());
        }
        answers
    });
    drop(rt);
    assert_eq!(answers, ["42 is the answer to why?", "42 is the answer to why?"]);

    let spans = lf.finish();
    assert_eq!(spans.len(), 8, "{spans:#?}");
    let edge_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert!(spans.iter().all(|s| s.trace_id_hex() == edge_trace), "one trace: {spans:#?}");
    for (edge_span, shared) in [("00f067aa0ba902b7", true), ("00f067aa0ba902b8", false)] {
        let root = spans
            .iter()
            .find(|s| s.name() == "upstream" && s.parent_id_hex().as_deref() == Some(edge_span))
            .expect("C's handler under the edge's span");
        let child_of = |parent: &ReceivedSpan, name: &str| -> ReceivedSpan {
            let found: Vec<_> = spans
                .iter()
                .filter(|s| s.name() == name && s.parent_id_hex() == Some(parent.span_id_hex()))
                .collect();
            assert_eq!(found.len(), 1, "one {name} under {}", parent.name());
            found[0].clone()
        };
        let call = child_of(root, "call_downstream");
        let handler = child_of(&call, "downstream");
        let model = child_of(&handler, "downstream_model");
        // Each service's first observation is a continued root, as the SDKs mark one.
        for continued in [root, &handler] {
            assert_eq!(continued.bool_attr("langfuse.internal.as_root"), Some(true));
            assert_eq!(continued.bool_attr("langfuse.internal.is_app_root"), Some(true));
        }
        for inner in [&call, &model] {
            assert_eq!(inner.bool_attr("langfuse.internal.as_root"), None);
            assert_eq!(inner.bool_attr("langfuse.internal.is_app_root"), None);
        }
        // In C the scope's user and session are on the call either way; D gets them only
        // as baggage, when C asked for it.
        assert_eq!(call.str_attr("user.id"), Some("user-42"));
        assert_eq!(call.str_attr("session.id"), Some("chat-7"));
        for downstream in [&handler, &model] {
            let expected = |v: &'static str| shared.then_some(v);
            assert_eq!(
                downstream.str_attr("user.id"),
                expected("user-42"),
                "{}",
                downstream.name()
            );
            assert_eq!(downstream.str_attr("session.id"), expected("chat-7"));
        }
    }
}
