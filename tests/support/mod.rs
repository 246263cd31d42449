//! Test support shared by the integration tests: a real OTLP/HTTP receiver on loopback.
//!
//! Each test file that needs it declares `mod support;`. Not every file uses every item, hence
//! the `dead_code` allowance for the whole module.
//!
//! [`OtlpReceiver`] is a deliberately small HTTP/1.1 server (`server.rs`: thread per
//! connection, keep-alive, `Content-Length` and chunked bodies) that decodes what the exporter sends the
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
mod server;
#[allow(unused_imports)]
pub use loopback::*;
#[allow(unused_imports)]
pub use memory::*;
#[allow(unused_imports)]
pub use rest::*;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use server::Server;

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

    /// Sets a JSON response body, with its content type.
    pub fn json_body(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").body(body)
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

/// A loopback OTLP/HTTP receiver. Stops (and joins its threads) when dropped.
pub struct OtlpReceiver {
    server: Server<RecordedRequest>,
}

impl OtlpReceiver {
    /// Starts a receiver on `127.0.0.1:<free port>` answering 200 to everything.
    pub fn start() -> Self {
        Self::start_with_script(Vec::new())
    }

    /// Starts a receiver that answers the first requests from `script`, then 200.
    pub fn start_with_script(script: Vec<Reply>) -> Self {
        let server = Server::start("otlp-receiver", script, |raw, script| {
            let gzipped =
                raw.header_lowercase("content-encoding").is_some_and(|v| v.contains("gzip"));
            let (body, export, decode_error) = decode(&raw.body, gzipped);
            let request = RecordedRequest {
                method: raw.method,
                path: raw.path,
                headers: raw.headers,
                raw_body: raw.body,
                body,
                export,
                decode_error,
                connection: raw.connection,
                received_at: Instant::now(),
            };
            (request, script.next_or(Reply::ok))
        });
        Self { server }
    }

    /// Appends replies to the script.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.server.script(replies);
    }

    /// The reply once the script is used up (default: [`Reply::ok`]).
    pub fn set_default_reply(&self, reply: Reply) {
        self.server.set_default_reply(reply);
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `base_url()` + `/api/public/otel/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}{TRACES_PATH}", self.base_url())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.with_requests(<[_]>::to_vec)
    }

    /// Number of requests so far.
    pub fn request_count(&self) -> usize {
        self.server.with_requests(<[_]>::len)
    }

    /// TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.server.connection_count()
    }

    /// Every span received so far, flattened across requests in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.server.with_requests(all_spans)
    }

    /// Waits until at least `n` requests arrived or `timeout` passed; returns all requests.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.server.wait_until(timeout, |r| r.len() >= n, <[_]>::to_vec)
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns all spans.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let count = |r: &[RecordedRequest]| r.iter().map(|r| r.spans().len()).sum::<usize>();
        self.server.wait_until(timeout, |r| count(r) >= n, all_spans)
    }
}

fn all_spans(requests: &[RecordedRequest]) -> Vec<ReceivedSpan> {
    requests.iter().flat_map(RecordedRequest::spans).collect()
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
