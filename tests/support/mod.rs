//! Test support shared by the integration tests: a real OTLP/HTTP receiver on loopback.
//!
//! Each test file that needs it declares `mod support;`. Not every file uses every item, hence
//! the `dead_code` allowance for the whole module.
//!
//! [`OtlpReceiver`] is a deliberately small HTTP/1.1 server (thread per connection,
//! keep-alive, `Content-Length` and chunked bodies) that decodes what the exporter sends the
//! way the Langfuse server does — gzip when `content-encoding` contains `gzip`, then protobuf
//! `ExportTraceServiceRequest` — records every request and answers from a script.
//!
//! ```ignore
//! mod support;
//! use support::{OtlpReceiver, Reply};
//!
//! let receiver = OtlpReceiver::start_with_script(vec![Reply::status(503), Reply::ok()]);
//! // point the exporter at receiver.traces_url(), export, then:
//! let spans = receiver.wait_for_spans(1, std::time::Duration::from_secs(5));
//! assert_eq!(spans[0].str_attr("langfuse.observation.type"), Some("span"));
//! assert_eq!(receiver.requests().len(), 2);
//! ```
#![allow(dead_code)]

mod loopback;
mod memory;
mod rest;
#[allow(unused_imports)]
pub use loopback::*;
#[allow(unused_imports)]
pub use memory::*;
#[allow(unused_imports)]
pub use rest::*;

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// The path the Langfuse server serves OTLP traces on.
pub const TRACES_PATH: &str = "/api/public/otel/v1/traces";

/// The `authorization` header value the exporter must send for these keys, computed
/// independently of the SDK's own encoder.
pub fn expected_basic_auth(public_key: &str, secret_key: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{public_key}:{secret_key}").into_bytes();
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::from("Basic ");
    for byte in input {
        bits = (bits << 8) | u32::from(byte);
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 0x3f) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize] as char);
    }
    while !(out.len() - "Basic ".len()).is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// A scripted response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
    /// Wait before answering (after the request was read and recorded).
    pub delay: Duration,
    /// Close the connection after this response.
    pub close: bool,
}

impl Reply {
    /// `200` with an empty body: what every unscripted request gets.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// A reply with this status and an empty body.
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new(), delay: Duration::ZERO, close: false }
    }

    /// Adds a `retry-after` header.
    pub fn retry_after(self, value: &str) -> Self {
        self.header("retry-after", value)
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Closes the connection after answering.
    pub fn close_connection(mut self) -> Self {
        self.close = true;
        self
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `POST`, …
    pub method: String,
    /// Request target, e.g. `/api/public/otel/v1/traces`.
    pub path: String,
    /// Headers in arrival order, names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    /// Body as received (possibly gzip).
    pub raw_body: Vec<u8>,
    /// Body after gzip decoding.
    pub body: Vec<u8>,
    /// The decoded OTLP request, when the body decoded.
    pub export: Option<ExportTraceServiceRequest>,
    /// Why gzip or protobuf decoding failed.
    pub decode_error: Option<String>,
    /// Number of the TCP connection it came on (0, 1, … in accept order).
    pub connection: usize,
    /// When the request was fully read.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The spans of this request, with their resource and scope.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let Some(export) = &self.export else { return Vec::new() };
        let mut out = Vec::new();
        for rs in &export.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    out.push(ReceivedSpan {
                        span: span.clone(),
                        resource: rs.resource.clone(),
                        scope: ss.scope.clone(),
                    });
                }
            }
        }
        out
    }
}

/// A received span with the resource and scope it came under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The span as decoded.
    pub span: Span,
    /// Its resource.
    pub resource: Option<Resource>,
    /// Its instrumentation scope.
    pub scope: Option<InstrumentationScope>,
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref())
}

fn as_str(value: &AnyValue) -> Option<&str> {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ReceivedSpan {
    /// Span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        find(&self.span.attributes, key)
    }

    /// How many times `key` occurs (Langfuse spans must write each key once).
    pub fn attr_count(&self, key: &str) -> usize {
        self.span.attributes.iter().filter(|a| a.key == key).count()
    }

    /// Attribute keys in order.
    pub fn attr_keys(&self) -> Vec<&str> {
        self.span.attributes.iter().map(|a| a.key.as_str()).collect()
    }

    /// A `stringValue` attribute; `None` if missing or of another kind.
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(as_str)
    }

    /// An `intValue` attribute; `None` if missing or of another kind.
    pub fn int_attr(&self, key: &str) -> Option<i64> {
        match self.attr(key)?.value {
            Some(any_value::Value::IntValue(i)) => Some(i),
            _ => None,
        }
    }

    /// A `boolValue` attribute; `None` if missing or of another kind.
    pub fn bool_attr(&self, key: &str) -> Option<bool> {
        match self.attr(key)?.value {
            Some(any_value::Value::BoolValue(b)) => Some(b),
            _ => None,
        }
    }

    /// An `arrayValue` of strings; `None` if missing, of another kind, or holding non-strings.
    pub fn str_array_attr(&self, key: &str) -> Option<Vec<&str>> {
        match &self.attr(key)?.value {
            Some(any_value::Value::ArrayValue(array)) => array.values.iter().map(as_str).collect(),
            _ => None,
        }
    }

    /// Trace id as 32 lower-case hex characters.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// Span id as 16 lower-case hex characters.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    /// Parent span id as hex, `None` for a root.
    pub fn parent_id_hex(&self) -> Option<String> {
        (!self.span.parent_span_id.is_empty()).then(|| hex(&self.span.parent_span_id))
    }

    /// A `stringValue` resource attribute.
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        find(&self.resource.as_ref()?.attributes, key).and_then(as_str)
    }

    /// Instrumentation scope name.
    pub fn scope_name(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.name.as_str())
    }

    /// Instrumentation scope version.
    pub fn scope_version(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.version.as_str())
    }

    /// A `stringValue` scope attribute.
    pub fn scope_attr(&self, key: &str) -> Option<&str> {
        find(&self.scope.as_ref()?.attributes, key).and_then(as_str)
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    script: VecDeque<Reply>,
    default_reply: Option<Reply>,
    connections: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled on every recorded request and on stop.
    changed: Condvar,
    stop: AtomicBool,
    /// Clones of open connections, shut down on drop so blocked reads return.
    streams: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback OTLP/HTTP receiver. Stops (and joins its threads) when dropped.
pub struct OtlpReceiver {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts a receiver on `127.0.0.1:<free port>` answering 200 to everything.
    pub fn start() -> Self {
        Self::start_with_script(Vec::new())
    }

    /// Starts a receiver that answers the first requests from `script`, then 200.
    pub fn start_with_script(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        lock(&shared.state).script = script.into();
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("otlp-receiver".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn acceptor")
        };
        Self { shared, addr, acceptor: Some(acceptor) }
    }

    /// Appends replies to the script.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.state).script.extend(replies);
    }

    /// The reply once the script is used up (default: [`Reply::ok`]).
    pub fn set_default_reply(&self, reply: Reply) {
        lock(&self.shared.state).default_reply = Some(reply);
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url()` + `/api/public/otel/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}{TRACES_PATH}", self.base_url())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// Number of requests so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.state).requests.len()
    }

    /// TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        lock(&self.shared.state).connections
    }

    /// Every span received so far, flattened across requests in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.shared.state).requests.iter().flat_map(RecordedRequest::spans).collect()
    }

    /// Waits until at least `n` requests arrived or `timeout` passed; returns all requests.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let state = self.wait_until(timeout, |s| s.requests.len() >= n);
        state.requests.clone()
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns all spans.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let count = |s: &State| s.requests.iter().map(|r| r.spans().len()).sum::<usize>();
        let state = self.wait_until(timeout, |s| count(s) >= n);
        state.requests.iter().flat_map(RecordedRequest::spans).collect()
    }

    fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the acceptor out of `accept`.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = lock(&self.shared.workers).drain(..).collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let connection = {
            let mut state = lock(&shared.state);
            state.connections += 1;
            state.connections - 1
        };
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push(clone);
        }
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("otlp-receiver-{connection}")).spawn(
                move || {
                    let _ = serve_connection(stream, connection, &shared);
                },
            )
        };
        if let Ok(worker) = worker {
            lock(&shared.workers).push(worker);
        }
    }
}

/// Serves requests on one connection until the peer closes it, a reply closes it, or stop.
fn serve_connection(stream: TcpStream, connection: usize, shared: &Shared) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 || shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let request_line = request_line.trim_end();
        if request_line.is_empty() {
            continue; // tolerated stray CRLF between requests
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let version = parts.next().unwrap_or_default().to_owned();

        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |name: &str| {
            headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_ascii_lowercase())
        };
        if header("expect").is_some_and(|v| v == "100-continue") {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let raw_body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)?
        } else {
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        };
        let client_closes = header("connection").is_some_and(|v| v.contains("close"))
            || (version == "HTTP/1.0" && header("connection").is_none_or(|v| v != "keep-alive"));

        let gzipped = header("content-encoding").is_some_and(|v| v.contains("gzip"));
        let (body, export, decode_error) = decode(&raw_body, gzipped);
        let reply = {
            let mut state = lock(&shared.state);
            state.requests.push(RecordedRequest {
                method,
                path,
                headers,
                raw_body,
                body,
                export,
                decode_error,
                connection,
                received_at: Instant::now(),
            });
            let reply = state.script.pop_front();
            reply.or_else(|| state.default_reply.clone()).unwrap_or_else(Reply::ok)
        };
        shared.changed.notify_all();

        if !reply.delay.is_zero() {
            // Interruptible, so that dropping the receiver does not wait out the delay.
            let state = lock(&shared.state);
            let _ = shared
                .changed
                .wait_timeout_while(state, reply.delay, |_| !shared.stop.load(Ordering::SeqCst));
            if shared.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
        let close = reply.close || client_closes;
        let mut response = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
        response.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        for (name, value) in &reply.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            response.push_str("connection: close\r\n");
        }
        response.push_str("\r\n");
        writer.write_all(response.as_bytes())?;
        writer.write_all(&reply.body)?;
        writer.flush()?;
        if close {
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn decode(
    raw: &[u8],
    gzipped: bool,
) -> (Vec<u8>, Option<ExportTraceServiceRequest>, Option<String>) {
    let body = if gzipped {
        let mut out = Vec::new();
        match flate2::read::MultiGzDecoder::new(raw).read_to_end(&mut out) {
            Ok(_) => out,
            Err(e) => return (Vec::new(), None, Some(format!("gzip: {e}"))),
        }
    } else {
        raw.to_vec()
    };
    match ExportTraceServiceRequest::decode(body.as_slice()) {
        Ok(export) => (body, Some(export), None),
        Err(e) => (body, None, Some(format!("protobuf: {e}"))),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        207 => "Multi-Status",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
