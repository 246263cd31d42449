//! A misbehaving Langfuse on loopback, seen from the public API: for each fault, what arrives,
//! what `flush()` reports and what `stats()` counts. The exporter's retry mechanics themselves
//! (backoff, budget, `Retry-After` cap, splitting) are tested in the crate's
//! `export/http/loopback_tests`; connection refused and a `Retry-After` pending at shutdown in
//! `tests/accounting.rs`.
//!
//! Every loop is bounded in count and time; the whole file runs in well under a minute.

mod support;

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use langfuse_runtime::export::ExportStats;
use langfuse_runtime::{Compression, Config, ConfigBuilder, Langfuse, observe};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use support::{OtlpReceiver, PUBLIC_KEY, Reply, SECRET_KEY, exclusive};

#[observe]
fn work(i: usize) -> usize {
    i * 2
}

fn client(base_url: String, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Langfuse {
    let builder = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(base_url)
        .flush_interval(Duration::from_secs(3600));
    configure(builder).init().expect("valid test configuration")
}

fn produce(n: usize) {
    for i in 0..n {
        assert_eq!(work(i), i * 2);
    }
}

fn assert_accounted(s: &ExportStats, created: u64) {
    assert_eq!(s.created, created, "{s:?}");
    assert_eq!(s.exported + s.dropped + s.failed + s.lost_at_shutdown + s.queued, created, "{s:?}");
}

/// Span ids of every span received, asserting none arrived twice.
fn unique_span_ids(receiver: &OtlpReceiver, skip_requests: usize) -> HashSet<String> {
    let ids: Vec<String> = receiver.requests()[skip_requests..]
        .iter()
        .flat_map(|r| r.spans())
        .map(|s| s.span_id_hex())
        .collect();
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a span arrived twice");
    unique
}

#[test]
fn ten_thousand_observations_arrive_exactly_once_through_503_502_504_at_default_settings() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(503),
        Reply::status(502),
        Reply::status(504).body("<html>upstream timed out</html>"),
    ]);
    // Default timeout, batch size, interval and retry policy (backoff 1 s, 2 s, 4 s).
    let langfuse = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(receiver.base_url())
        .init()
        .expect("valid configuration");
    produce(10_000);
    let report = langfuse.flush();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 10_000, "{report}");
    assert_eq!(unique_span_ids(&receiver, 3).len(), 10_000);
    let requests = receiver.requests();
    assert_eq!(requests[0].raw_body, requests[3].raw_body, "the refused batch was sent again");
    assert_accounted(&langfuse.stats(), 10_000);
}

#[test]
fn retry_after_429_is_waited_out_and_the_batch_delivered() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start_with_script(vec![Reply::status(429).retry_after("1")]);
    let langfuse = client(receiver.base_url(), |b| b);
    produce(100);
    let started = Instant::now();
    let report = langfuse.flush();
    let took = started.elapsed();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 100);
    // Retry-After (1 s) replaced the backoff (0.8 to 1.2 s) and nothing was given up early.
    assert!(took >= Duration::from_millis(750), "{took:?}");
    assert_eq!(receiver.request_count(), 2);
    assert_eq!(unique_span_ids(&receiver, 1).len(), 100);
}

#[test]
fn final_statuses_are_not_retried_and_count_as_failed() {
    for status in [500, 401, 403, 400, 404] {
        let _serial = exclusive();
        let receiver = OtlpReceiver::start();
        receiver.set_default_reply(Reply::status(status).body("{\"message\":\"no\"}"));
        let langfuse = client(receiver.base_url(), |b| b.flush_at(100));
        produce(100);
        let report = langfuse.flush();
        assert!(!report.deadline_hit, "{status}: {report}");
        assert!(!report.is_success(), "{status}: {report}");
        assert_eq!((report.exported, report.failed), (0, 100), "{status}: {report}");
        assert_eq!(receiver.request_count(), 1, "{status} is not retried");
        assert_accounted(&langfuse.stats(), 100);
    }
}

#[test]
fn too_large_is_split_down_to_one_observation_which_is_dropped_and_counted() {
    let _serial = exclusive();
    // 4 refused → 2 + 2; the first 2 refused → 1 + 1; the first single refused → dropped.
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(413),
        Reply::status(413),
        Reply::status(413),
    ]);
    let langfuse = client(receiver.base_url(), |b| b.flush_at(4));
    produce(4);
    let report = langfuse.flush();
    assert!(!report.is_success() && !report.deadline_hit, "{report}");
    assert_eq!((report.exported, report.failed), (3, 1), "{report}");
    let sizes: Vec<usize> = receiver.requests().iter().map(|r| r.spans().len()).collect();
    assert_eq!(sizes, [4, 2, 1, 1, 2]);
    assert_eq!(unique_span_ids(&receiver, 3).len(), 3);
    assert_accounted(&langfuse.stats(), 4);
}

#[test]
fn a_response_slower_than_the_timeout_fails_the_batch_without_a_retry() {
    let _serial = exclusive();
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::ok().delay(Duration::from_secs(10)));
    let langfuse = client(receiver.base_url(), |b| b.timeout(Duration::from_millis(300)));
    produce(50);
    let started = Instant::now();
    let report = langfuse.flush();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(!report.is_success(), "{report}");
    assert_eq!((report.exported, report.failed), (0, 50), "{report}");
    // The server may have stored a timed-out request: sending it again could duplicate it.
    assert_eq!(receiver.request_count(), 1);
    assert_accounted(&langfuse.stats(), 50);
}

/// What the raw server does with one request.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Reads only the request line, then closes with the rest unread (the kernel sends RST).
    ResetMidRequest,
    /// Reads the request, then answers bytes that are not HTTP.
    Garbage,
    /// Reads the request and answers 200 with a body that is not OTLP.
    OkWithGarbageBody,
    /// Reads the request and answers 200.
    Ok,
}

/// A loopback server misbehaving below HTTP, which the scripted receiver cannot do. Requests
/// it accepts must be uncompressed (the client is configured so).
struct RawServer {
    addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Act>>>,
    /// Bodies of the requests answered 200.
    accepted: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawServer {
    fn start(script: &[Act]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = Self {
            addr,
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            accepted: Arc::default(),
        };
        let (script, accepted) = (server.script.clone(), server.accepted.clone());
        std::thread::spawn(move || {
            // Bounded: the tests make a handful of connections.
            for stream in listener.incoming().take(64).flatten() {
                let (script, accepted) = (script.clone(), accepted.clone());
                std::thread::spawn(move || serve(stream, &script, &accepted));
            }
        });
        server
    }

    /// Whether every scripted misbehaviour was acted out.
    fn script_used_up(&self) -> bool {
        self.script.lock().unwrap().is_empty()
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted_span_ids(&self) -> Vec<Vec<u8>> {
        let bodies = self.accepted.lock().unwrap().clone();
        bodies
            .iter()
            .map(|b| ExportTraceServiceRequest::decode(b.as_slice()).expect("OTLP protobuf"))
            .flat_map(|r| r.resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .map(|span| span.span_id)
            .collect()
    }
}

fn serve(stream: TcpStream, script: &Mutex<VecDeque<Act>>, accepted: &Mutex<Vec<Vec<u8>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    // Bounded: a connection serves at most this many requests.
    for _ in 0..64 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let act = script.lock().unwrap().pop_front().unwrap_or(Act::Ok);
        if let Act::ResetMidRequest = act {
            return; // headers and body unread: closing now resets the connection
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let response: &[u8] = match act {
            Act::Garbage => b"\x00\x01garbage, not HTTP\r\n\r\n",
            Act::OkWithGarbageBody => {
                b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n\xff\xfe{not json"
            }
            Act::Ok | Act::ResetMidRequest => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        };
        if !matches!(act, Act::Garbage) {
            accepted.lock().unwrap().push(body);
        }
        if writer.write_all(response).and_then(|()| writer.flush()).is_err() {
            return;
        }
        if let Act::Garbage = act {
            return;
        }
    }
}

fn raw_client(server: &RawServer) -> Langfuse {
    client(server.base_url(), |b| b.compression(Compression::None).flush_at(100))
}

#[test]
fn connections_reset_mid_request_are_retried_and_delivered_once() {
    let _serial = exclusive();
    // The first attempt and its immediate retry are both reset; the backoff retry succeeds.
    let server = RawServer::start(&[Act::ResetMidRequest, Act::ResetMidRequest]);
    let langfuse = raw_client(&server);
    produce(100);
    let report = langfuse.flush();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 100);
    assert!(server.script_used_up(), "both resets happened");
    let ids = server.accepted_span_ids();
    assert_eq!(ids.len(), 100);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 100, "each exactly once");
    assert_accounted(&langfuse.stats(), 100);
}

#[test]
fn a_response_that_is_not_http_is_retried_and_a_garbage_body_on_200_is_success() {
    let _serial = exclusive();
    let server = RawServer::start(&[Act::Garbage, Act::OkWithGarbageBody]);
    let langfuse = raw_client(&server);
    produce(100);
    let report = langfuse.flush();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 100);
    assert!(server.script_used_up(), "the garbage answer was sent");
    // The garbage answer came after the request was read: it was retried, and only the
    // answered copy counts here.
    assert_eq!(server.accepted_span_ids().len(), 100);
    assert_accounted(&langfuse.stats(), 100);
}
