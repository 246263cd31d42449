//! H: a 200,000-observation burst from the producer to a loopback OTLP/HTTP receiver, at the
//! default settings, through the real HTTP exporter; throughput, drops and peak memory.
//!
//! ```sh
//! cargo bench -p langfuse-benches --bench end_to_end
//! ```
//!
//! The receiver runs in a child process (this same binary, `LANGFUSE_BENCH_ROLE=receiver`), so
//! the peak RSS measured here is the producer's and the SDK's alone. It is a plain HTTP/1.1
//! server on 127.0.0.1 that answers every POST with 200 and an empty protobuf body, keeps the
//! bodies, and decodes them (gzip + `ExportTraceServiceRequest`) only when asked for its counts,
//! after the burst, so decoding never competes with the export for the two CPUs.
//!
//! Variant `H_300B`: the same burst with ~300 bytes of input and ~300 bytes of output per
//! child (`observed_answer`), where the tiny `add` spans of H are ~20 bytes of payload: what
//! the export costs per span when the payload is the size of a short chat turn.
//!
//! Paced `H_300B` rows hold the producer to 0.7 and 1.0 M observations/s ([`PACED_RATES`]):
//! unpaced, the producer outruns any export on two cores, and the question is what rate the
//! export sustains with nothing dropped. Every row also reports where the CPU went (producer,
//! export thread, gzip helpers, receiver; time runnable without a core; the hypervisor's steal).
//!
//! `LANGFUSE_BENCH_TRACES` (default 2,000) shortens the burst for a quick check, and `H_ROWS`
//! (any of `H`, `H_300B`, `H_300B_paced`, `H_ref`, comma-separated) runs only those rows.
//!
//! Reference row `H_ref`: the same burst through `opentelemetry_sdk`'s default
//! `BatchSpanProcessor` (queue 2,048, batch 512) into a minimal OTLP/HTTP protobuf exporter
//! (the SDK's own proto transform, a keep-alive HTTP/1.1 POST, no compression) and the same
//! receiver.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use langfuse_benches::{IMPLEMENTATION, observed_add, observed_answer};
use serde_json::{Value, json};

const PER_TRACE: usize = 100; // 1 root + 99 children
/// Producer rates of the paced H_300B rows, observations per second: issue 13's target (0.65 M/s)
/// with a margin, and one beyond it.
const PACED_RATES: [u64; 2] = [700_000, 1_000_000];
const RUNS: usize = 3;

/// Traces per burst: 2,000 (200,000 observations) unless `LANGFUSE_BENCH_TRACES` says otherwise.
fn traces() -> usize {
    std::env::var("LANGFUSE_BENCH_TRACES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

fn total() -> usize {
    traces() * PER_TRACE
}

/// The child each burst repeats: H's tiny `add`, or `observed_answer` with a ~300-byte prompt.
#[derive(Clone, Copy)]
enum Payload {
    Tiny,
    Realistic,
}

/// 1,024 different prompts of ~300 bytes: English-like words in pseudo-random order, with a
/// few characters JSON must escape. They differ so that gzip cannot reduce each span to a
/// back-reference to the previous one (one repeated prompt came out at 30 B/span on the wire);
/// 1,024 × 300 B is ten times gzip's 32 KiB window.
fn prompts() -> Vec<String> {
    const WORDS: &[&str] = &[
        "the",
        "user",
        "asks",
        "how",
        "to",
        "rotate",
        "an",
        "API",
        "key",
        "without",
        "downtime",
        "for",
        "their",
        "production",
        "service",
        "and",
        "whether",
        "old",
        "tokens",
        "expire",
        "\"quoted\"",
        "immediately",
        "or",
        "after",
        "a",
        "grace",
        "period;",
        "they",
        "also",
        "mention",
        "rate",
        "limits,",
        "retries",
        "with",
        "backoff",
        "logs\n",
        "dashboard",
        "project",
        "settings",
        "team",
        "members",
        "permissions",
        "billing",
        "invoice",
        "region",
        "latency",
        "timeout",
        "error",
        "message:",
        "connection",
        "refused",
        "at",
        "10:42",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..1024)
        .map(|_| {
            let mut text = String::new();
            while text.len() < 300 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
                text.push(' ');
            }
            text
        })
        .collect()
}

fn main() {
    if std::env::var("LANGFUSE_BENCH_ROLE").as_deref() == Ok("receiver") {
        receiver::run();
        return;
    }
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let mut receiver = Receiver::spawn();
    eprintln!("observed functions: {IMPLEMENTATION}");
    eprintln!("receiver on {}", receiver.base_url);

    // `H_ROWS=H_300B` (any of H, H_300B, H_300B_paced, H_ref, comma-separated) runs only those rows, for
    // profiling one of them.
    let rows = std::env::var("H_ROWS").unwrap_or_else(|_| "H,H_300B,H_300B_paced,H_ref".into());
    let runs = |row: &str| if rows.split(',').any(|r| r.trim() == row) { RUNS } else { 0 };
    let mut langfuse_runs = Vec::new();
    for run in 1..=runs("H") {
        let result = langfuse_burst(&mut receiver, Payload::Tiny, None);
        eprintln!("H run {run}: {}", summary(&result));
        langfuse_runs.push(result);
    }
    let mut realistic_runs = Vec::new();
    for run in 1..=runs("H_300B") {
        let result = langfuse_burst(&mut receiver, Payload::Realistic, None);
        eprintln!("H_300B run {run}: {}", summary(&result));
        realistic_runs.push(result);
    }
    // The same burst with the producer held to a steady rate: what the export sustains with
    // nothing dropped, where the unpaced producer (1.3-2 M/s) outruns any export on two cores.
    let mut paced_runs = Vec::new();
    for rate in PACED_RATES {
        for run in 1..=runs("H_300B_paced") {
            let result = langfuse_burst(&mut receiver, Payload::Realistic, Some(rate));
            eprintln!("H_300B paced at {rate}/s run {run}: {}", summary(&result));
            paced_runs.push(json!({ "rate": rate, "result": result }));
        }
    }
    let mut otel_runs = Vec::new();
    for run in 1..=runs("H_ref") {
        let result = otel::burst(&mut receiver);
        eprintln!("H_ref run {run}: {}", summary(&result));
        otel_runs.push(result);
    }
    receiver.quit();

    langfuse_benches::write_result(
        "end_to_end.json",
        &json!({
            "implementation": IMPLEMENTATION,
            "observations": total(),
            "shape": format!("{} traces x (1 root + {} children)", traces(), PER_TRACE - 1),
            "langfuse": langfuse_runs,
            "langfuse_300b": realistic_runs,
            "langfuse_300b_paced": paced_runs,
            "payload_300b": "children: observed_answer(prompt) with a 300-byte prompt (input) and a 300-byte answer (output)",
            "otel_bsp_reference": otel_runs,
        }),
    );
}

fn summary(r: &Value) -> String {
    format!(
        "{:.0} obs/s end to end ({:.0} obs/s producer), exported {} ({:.0}/s) dropped {} failed {}, \
         receiver got {} spans in {} requests ({} B/span on the wire), peak RSS {} KiB (+{} KiB); \
         CPU {}",
        r["obs_per_sec"].as_f64().unwrap_or(0.0),
        r["producer_obs_per_sec"].as_f64().unwrap_or(0.0),
        r["exported"],
        r["exported_per_sec"].as_f64().unwrap_or(0.0),
        r["dropped"],
        r["failed"],
        r["received_spans"],
        r["requests"],
        r["wire_bytes_per_span"],
        r["peak_rss_kib"],
        r["peak_rss_growth_kib"],
        r["cpu"],
    )
}

/// One burst through the Langfuse client at its defaults (only keys and base URL set), as fast
/// as the producer goes or at `pace` observations per second.
fn langfuse_burst(receiver: &mut Receiver, payload: Payload, pace: Option<u64>) -> Value {
    let prompts = prompts();
    let mut prompt = prompts.iter().cycle();
    let before = receiver.stats();
    langfuse_benches::reset_peak_rss();
    let rss_before = langfuse_benches::rss_kib().unwrap_or(0);
    let langfuse = langfuse_runtime::Config::builder()
        .env_source(|_| None)
        .public_key("pk-lf-bench")
        .secret_key("sk-lf-bench")
        .base_url(receiver.base_url.clone())
        .init()
        .expect("valid configuration");

    let cpu = CpuMeter::start(receiver);
    let start = Instant::now();
    for trace in 0..traces() {
        if let Some(rate) = pace {
            // Sleeps only when a trace or more ahead, so the rate holds on average.
            let due = Duration::from_secs_f64((trace * PER_TRACE) as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
        let root = langfuse_runtime::span("burst").start();
        root.run(|| {
            for _ in 1..PER_TRACE {
                match payload {
                    Payload::Tiny => drop(black_box(observed_add(black_box(1), black_box(2)))),
                    Payload::Realistic => {
                        let text = prompt.next().expect("cycle");
                        drop(black_box(observed_answer(black_box(text))))
                    }
                }
            }
        });
        root.end();
    }
    let produced = start.elapsed();
    let flushed = !langfuse.flush().deadline_hit;
    let exported_at = start.elapsed();
    let cpu = cpu.stop(receiver, exported_at);
    let stats = langfuse.stats();
    drop(langfuse);
    let peak = langfuse_benches::peak_rss_kib().unwrap_or(0);
    let after = receiver.stats();
    result(
        produced,
        exported_at,
        flushed,
        stats.exported,
        stats.dropped,
        stats.failed,
        &before,
        &after,
        rss_before,
        peak,
        cpu,
    )
}

/// CPU time of the burst's parts, from the scheduler's per-thread counters: the producer (this
/// process's main thread), the export thread (the SDK's or the BSP's), gzip helpers, anything
/// else in this process, and the receiver process. Says where the two cores went.
struct CpuMeter {
    own: Vec<(u32, String, u64)>,
    own_waits: Vec<(u32, String, u64)>,
    receiver: Vec<(u32, String, u64)>,
    stolen_ms: Option<u64>,
}

impl CpuMeter {
    fn start(receiver: &Receiver) -> Self {
        Self {
            own: langfuse_benches::thread_cpu_ns(std::process::id()),
            own_waits: langfuse_benches::thread_runqueue_ns(std::process::id()),
            receiver: langfuse_benches::thread_cpu_ns(receiver.child.id()),
            stolen_ms: langfuse_benches::stolen_ms(),
        }
    }

    /// Read before the client is dropped: its threads end with it and take their counters along.
    fn stop(self, receiver: &Receiver, wall: Duration) -> Value {
        let own = langfuse_benches::thread_cpu_ns(std::process::id());
        let receiver_now = langfuse_benches::thread_cpu_ns(receiver.child.id());
        let main = std::process::id();
        let is_export = |name: &str| name == "langfuse-export" || name.starts_with("OpenTelemetry");
        let ms = |ns: u64| ns as f64 / 1e6;
        let producer = langfuse_benches::ns_between(&self.own, &own, |tid, _| tid == main);
        let export = langfuse_benches::ns_between(&self.own, &own, |_, n| is_export(n));
        let gzip = langfuse_benches::ns_between(&self.own, &own, |_, n| n == "langfuse-gzip");
        let all = langfuse_benches::ns_between(&self.own, &own, |_, _| true);
        let waits = langfuse_benches::thread_runqueue_ns(main);
        let export_waited =
            langfuse_benches::ns_between(&self.own_waits, &waits, |_, n| is_export(n));
        let producer_waited =
            langfuse_benches::ns_between(&self.own_waits, &waits, |tid, _| tid == main);
        let receiving = langfuse_benches::ns_between(&self.receiver, &receiver_now, |_, _| true);
        json!({
            "wall_ms": ms(wall.as_nanos() as u64),
            "producer_ms": ms(producer),
            "export_ms": ms(export),
            "gzip_helpers_ms": ms(gzip),
            // Runnable but not running: the thread wanted a core that was busy.
            "export_waited_for_a_core_ms": ms(export_waited),
            "producer_waited_for_a_core_ms": ms(producer_waited),
            "other_ms": ms(all - producer - export - gzip),
            "receiver_ms": ms(receiving),
            "cores_busy": (all + receiving) as f64 / wall.as_nanos() as f64,
            // The hypervisor's share: a noisy neighbour shows here, not in the rows' own times.
            "stolen_ms": langfuse_benches::stolen_ms()
                .zip(self.stolen_ms)
                .map(|(now, then)| now.saturating_sub(then)),
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn result(
    produced: Duration,
    exported_at: Duration,
    flushed: bool,
    exported: u64,
    dropped: u64,
    failed: u64,
    before: &Value,
    after: &Value,
    rss_before: u64,
    peak: u64,
    cpu: Value,
) -> Value {
    let diff = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
    let received = diff("spans");
    let total = total();
    json!({
        "producer_secs": produced.as_secs_f64(),
        "end_to_end_secs": exported_at.as_secs_f64(),
        "producer_obs_per_sec": total as f64 / produced.as_secs_f64(),
        // Delivered: what the receiver decoded, over the time from the first observation to
        // the end of the flush.
        "obs_per_sec": received as f64 / exported_at.as_secs_f64(),
        "flushed_in_time": flushed,
        "exported": exported,
        "dropped": dropped,
        "failed": failed,
        "received_spans": received,
        // Exported per second: what the pipeline reports as sent, over the same time.
        "exported_per_sec": exported as f64 / exported_at.as_secs_f64(),
        "lost": total as u64 - received.min(total as u64),
        "requests": diff("requests"),
        "wire_bytes": diff("wire_bytes"),
        "wire_bytes_per_span": diff("wire_bytes").checked_div(received).unwrap_or(0),
        "decoded_bytes_per_span": diff("decoded_bytes").checked_div(received).unwrap_or(0),
        "rss_before_kib": rss_before,
        "peak_rss_kib": peak,
        "peak_rss_growth_kib": peak.saturating_sub(rss_before),
        "cpu": cpu,
    })
}

// ---------------------------------------------------------------------------------------------
// The receiver process and the parent's handle on it

struct Receiver {
    child: Child,
    base_url: String,
    addr: String,
}

impl Receiver {
    fn spawn() -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .env("LANGFUSE_BENCH_ROLE", "receiver")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the receiver process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("receiver address");
        let addr = line.trim().to_owned();
        Self { child, base_url: format!("http://{addr}"), addr }
    }

    fn request(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to the receiver");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
    }

    /// Cumulative counts since the receiver started (decodes what arrived since the last call).
    fn stats(&self) -> Value {
        serde_json::from_str(&self.request("GET", "/stats")).expect("receiver stats")
    }

    fn quit(&mut self) {
        let _ = self.request("POST", "/quit");
        let _ = self.child.wait();
    }
}

mod receiver {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    #[derive(Default)]
    struct State {
        /// Bodies not decoded yet: (gzip?, bytes).
        pending: Vec<(bool, Vec<u8>)>,
        requests: u64,
        wire_bytes: u64,
        decoded_bytes: u64,
        spans: u64,
        bad_bodies: u64,
        bad_headers: u64,
    }

    pub fn run() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        println!("{}", listener.local_addr().expect("addr"));
        std::io::stdout().flush().expect("stdout");
        let state = Arc::new(Mutex::new(State::default()));
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let state = state.clone();
            std::thread::spawn(move || serve(stream, &state));
        }
    }

    fn serve(stream: TcpStream, state: &Mutex<State>) {
        let _ = stream.set_nodelay(true);
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let (mut length, mut gzip, mut close, mut auth) = (0usize, false, false, false);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or((header, ""));
                let (name, value) = (name.to_ascii_lowercase(), value.trim());
                match name.as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "content-encoding" => gzip = value.eq_ignore_ascii_case("gzip"),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    "authorization" => auth = value.starts_with("Basic "),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (content_type, reply) = if request_line.starts_with("POST /quit") {
                std::process::exit(0);
            } else if request_line.starts_with("GET /stats") {
                ("application/json", stats(state).into_bytes())
            } else {
                let mut s = state.lock().expect("state");
                s.requests += 1;
                s.wire_bytes += body.len() as u64;
                if !auth || !path.ends_with("/v1/traces") {
                    s.bad_headers += 1;
                }
                s.pending.push((gzip, body));
                ("application/x-protobuf", Vec::new())
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            );
            if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&reply).is_err() {
                return;
            }
            if close {
                return;
            }
        }
    }

    fn stats(state: &Mutex<State>) -> String {
        let mut s = state.lock().expect("state");
        for (gzip, body) in std::mem::take(&mut s.pending) {
            let bytes = if gzip {
                let mut out = Vec::new();
                if flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
                    s.bad_bodies += 1;
                    continue;
                }
                out
            } else {
                body
            };
            s.decoded_bytes += bytes.len() as u64;
            match ExportTraceServiceRequest::decode(&bytes[..]) {
                Ok(request) => {
                    s.spans += request
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len() as u64)
                        .sum::<u64>()
                }
                Err(_) => s.bad_bodies += 1,
            }
        }
        json!({
            "requests": s.requests,
            "wire_bytes": s.wire_bytes,
            "decoded_bytes": s.decoded_bytes,
            "spans": s.spans,
            "bad_bodies": s.bad_bodies,
            "bad_headers": s.bad_headers,
        })
        .to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// H_ref: opentelemetry_sdk default BatchSpanProcessor into a minimal OTLP/HTTP exporter

mod otel {
    use super::*;
    use langfuse_benches::{AddInput, bare_add};
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
    use prost::Message as _;

    /// OTLP/HTTP protobuf over one keep-alive connection, uncompressed (opentelemetry-otlp's
    /// default), with the SDK's own SpanData → proto transform.
    #[derive(Debug)]
    struct MinimalOtlpHttp {
        addr: String,
        connection: Mutex<Option<BufReader<TcpStream>>>,
        resource: ResourceAttributesWithSchema,
    }

    impl MinimalOtlpHttp {
        fn post(&self, body: &[u8]) -> Result<(), String> {
            let mut slot = self.connection.lock().map_err(|e| e.to_string())?;
            if slot.is_none() {
                let stream = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
                let _ = stream.set_nodelay(true);
                *slot = Some(BufReader::new(stream));
            }
            let conn = slot.as_mut().expect("connected");
            let head = format!(
                "POST /api/public/otel/v1/traces HTTP/1.1\r\nHost: {}\r\n\
                 Authorization: Basic cGs6c2s=\r\nContent-Type: application/x-protobuf\r\n\
                 Content-Length: {}\r\n\r\n",
                self.addr,
                body.len()
            );
            let stream = conn.get_mut();
            stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            stream.write_all(body).map_err(|e| e.to_string())?;
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                conn.read_line(&mut line).map_err(|e| e.to_string())?;
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut rest = vec![0; length];
            conn.read_exact(&mut rest).map_err(|e| e.to_string())
        }
    }

    impl SpanExporter for MinimalOtlpHttp {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            let request = ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
            };
            let result = self.post(&request.encode_to_vec()).map_err(OTelSdkError::InternalFailure);
            std::future::ready(result)
        }
    }

    #[inline(never)]
    fn add(tracer: &SdkTracer, a: i64, b: i64) -> i64 {
        let parent = Context::current();
        let mut span = tracer.start_with_context("add", &parent);
        if span.is_recording() {
            span.set_attribute(KeyValue::new("langfuse.observation.type", "span"));
            let input = serde_json::to_string(&AddInput { a, b }).unwrap_or_default();
            span.set_attribute(KeyValue::new("langfuse.observation.input", input));
        }
        let _guard = parent.with_span(span).attach();
        let result = bare_add(a, b);
        opentelemetry::trace::get_active_span(|span| {
            if span.is_recording() {
                let output = serde_json::to_string(&result).unwrap_or_default();
                span.set_attribute(KeyValue::new("langfuse.observation.output", output));
            }
            span.end();
        });
        result
    }

    pub fn burst(receiver: &mut Receiver) -> Value {
        let before = receiver.stats();
        langfuse_benches::reset_peak_rss();
        let rss_before = langfuse_benches::rss_kib().unwrap_or(0);
        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        let exporter = MinimalOtlpHttp {
            addr: receiver.addr.clone(),
            connection: Mutex::new(None),
            resource: (&resource).into(),
        };
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("bench");

        let cpu = CpuMeter::start(receiver);
        let start = Instant::now();
        for _ in 0..traces() {
            let root = tracer.start("burst");
            let _root = Context::current_with_span(root).attach();
            for _ in 1..PER_TRACE {
                black_box(add(&tracer, black_box(1), black_box(2)));
            }
            opentelemetry::trace::get_active_span(|span| span.end());
        }
        let produced = start.elapsed();
        let flushed = provider.force_flush().is_ok();
        let exported_at = start.elapsed();
        let cpu = cpu.stop(receiver, exported_at);
        let _ = provider.shutdown();
        let peak = langfuse_benches::peak_rss_kib().unwrap_or(0);
        let after = receiver.stats();
        let received = after["spans"].as_u64().unwrap_or(0) - before["spans"].as_u64().unwrap_or(0);
        // The BSP reports its drop count only in its internal log; what did not arrive was dropped.
        let dropped = total() as u64 - received.min(total() as u64);
        result(
            produced,
            exported_at,
            flushed,
            received,
            dropped,
            0,
            &before,
            &after,
            rss_before,
            peak,
            cpu,
        )
    }
}
