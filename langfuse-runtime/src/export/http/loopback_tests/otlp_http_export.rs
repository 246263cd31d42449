//! `OtlpHttpExporter` against a real loopback OTLP/HTTP receiver: headers, body, retries,
//! deadline, request splitting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{OtlpReceiver, Reply, TRACES_PATH, expected_basic_auth};
use crate::export::backlog::Backlog;
use crate::export::gzip::{Gzip, MAX_HELPERS};
use crate::export::http::OtlpHttpStats;
use crate::export::{
    Compression, ExportError, ExportResource, OtlpHttpExporter, OtlpHttpSettings, SpanExporter,
};
use langfuse_runtime::{
    GenerationFields, Level, ObservationId, ObservationRecord, ObservationType, TraceAttributes,
    TraceId,
};

const PK: &str = "pk-lf-1234";
const SK: &str = "sk-lf-5678";
const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const WAIT: Duration = Duration::from_secs(10);

fn settings(receiver: &OtlpReceiver) -> OtlpHttpSettings {
    let mut settings = OtlpHttpSettings::new(receiver.traces_url(), PK, SK);
    // Retries in milliseconds; the policy is the same, only the unit is shorter.
    settings.retry_base_delay = Duration::from_millis(5);
    settings
}

fn resource() -> ExportResource {
    let mut resource = ExportResource::new("checkout-service", PK);
    resource.span_defaults.environment = Some("staging".into());
    resource.resource_attributes.push(("deployment.region".into(), "eu-west-1".into()));
    resource
}

fn exporter(settings: OtlpHttpSettings) -> OtlpHttpExporter {
    OtlpHttpExporter::new(settings, resource())
}

fn span(id: u64, parent: Option<u64>, name: &'static str) -> ObservationRecord {
    let mut record = ObservationRecord::new(
        TraceId::from_u128(TRACE).unwrap(),
        ObservationId::from_u64(id).unwrap(),
        parent.and_then(ObservationId::from_u64),
        name,
        ObservationType::Span,
        1_735_787_045_678_000_000,
    );
    record.end_unix_nanos = record.start_unix_nanos + 42_000_000;
    record
}

fn batch(n: u64) -> Vec<ObservationRecord> {
    (1..=n).map(|i| span(i, None, "work")).collect()
}

fn stats(exporter: &OtlpHttpExporter) -> OtlpHttpStats {
    exporter.stats().snapshot()
}

#[test]
fn sends_langfuse_headers_and_gzipped_protobuf() {
    let receiver = OtlpReceiver::start();
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&batch(2)).expect("export");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, TRACES_PATH);
    for (name, value) in [
        ("authorization", expected_basic_auth(PK, SK).as_str()),
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "gzip"),
        ("x-langfuse-sdk-name", "rust"),
        ("x-langfuse-sdk-version", langfuse_runtime::SDK_VERSION),
        ("x-langfuse-public-key", PK),
        ("x-langfuse-ingestion-version", "4"),
    ] {
        assert_eq!(request.header_values(name), [value], "header {name}");
    }
    assert_eq!(request.header("authorization"), Some("Basic cGstbGYtMTIzNDpzay1sZi01Njc4"));
    assert_eq!(request.raw_body[..2], [0x1f, 0x8b], "gzip magic");
    assert_eq!(request.decode_error, None);
    assert_eq!(request.spans().len(), 2);
    let stats = stats(&exporter);
    assert_eq!((stats.attempts, stats.requests_succeeded, stats.spans_sent), (1, 1, 2));
}

/// A request large enough to be compressed in parts on several threads (`export::gzip`)
/// arrives as one valid gzip body with every span and its exact input.
#[test]
fn a_large_request_compressed_in_parts_arrives_whole() {
    let receiver = OtlpReceiver::start();
    let mut exporter = OtlpHttpExporter {
        compressor: super::super::Compressor::with_gzip(
            Compression::Gzip,
            Backlog::default(),
            Gzip::with_helpers(MAX_HELPERS),
        ),
        ..exporter(settings(&receiver))
    };
    let input =
        |i: u64| format!("{{\"question\":\"what is {i} + {i}? {}\"}}", "context ".repeat(40));
    let batch: Vec<_> = (1..=600)
        .map(|i| {
            let mut record = span(i, None, "ask");
            record.input = Some(input(i).into());
            record
        })
        .collect();
    exporter.export(&batch).expect("export");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.len() >= 2 * crate::export::gzip::PARALLEL_FROM, "body in parts");
    assert_eq!(requests[0].decode_error, None);
    let spans = requests[0].spans();
    assert_eq!(spans.len(), 600);
    for (i, span) in (1..=600).zip(&spans) {
        assert_eq!(span.span_id_hex(), format!("{i:016x}"));
        assert_eq!(span.str_attr("langfuse.observation.input"), Some(input(i).as_str()));
    }
}

/// A prompt of ~330 bytes, numbered.
fn prompt_input(i: u64) -> String {
    format!("{{\"prompt\":\"{i}: {}\"}}", "the weather in Paris ".repeat(15))
}

/// 200 spans with a prompt each, numbered from `from`: a body of ~80 KB, so deflate is timed.
fn prompt_batch(from: u64) -> Vec<ObservationRecord> {
    (from..from + 200)
        .map(|i| {
            let mut record = span(i, None, "answer");
            record.input = Some(prompt_input(i).into());
            record
        })
        .collect()
}

/// Exports a [`prompt_batch`] per `(from, fill in tenths)`, with the queue that full, and
/// checks that each arrived whole as a gzip member; returns the requests.
fn export_prompt_batches(
    receiver: &OtlpReceiver,
    batches: &[(u64, usize)],
) -> Vec<super::support::RecordedRequest> {
    let mut settings = settings(receiver);
    let backlog = Backlog::default();
    settings.backlog = backlog.clone();
    let mut exporter = exporter(settings);
    for &(from, tenths) in batches {
        backlog.set(tenths, 10, 0, 1);
        exporter.export(&prompt_batch(from)).expect("export");
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), batches.len());
    for (request, &(from, _)) in requests.iter().zip(batches) {
        assert_eq!(request.header_values("content-encoding"), ["gzip"]);
        assert_eq!(request.decode_error, None);
        let spans = request.spans();
        assert_eq!(spans.len(), 200);
        for (i, span) in (from..).zip(&spans) {
            assert_eq!(span.span_id_hex(), format!("{i:016x}"));
            let input = prompt_input(i);
            assert_eq!(span.str_attr("langfuse.observation.input"), Some(input.as_str()));
        }
    }
    requests
}

/// With the export queue filling up and nothing yet known about the link, a body is stored
/// rather than deflated (`export::effort`'s probe) and still arrives as one valid gzip member
/// with every span; once the queue is empty again bodies are deflated whole.
#[test]
fn a_filling_queue_eases_deflate_and_loses_nothing() {
    let receiver = OtlpReceiver::start();
    // Empty queue: deflated whole, and deflate gets timed. 90 % full: the probe. Empty again.
    let requests = export_prompt_batches(&receiver, &[(1, 0), (201, 9), (401, 0)]);
    let (deflated, stored, again) = (&requests[0], &requests[1], &requests[2]);
    assert!(deflated.raw_body.len() * 3 < deflated.body.len(), "deflated whole");
    assert!(stored.raw_body.len() > stored.body.len(), "stored whole");
    assert!(again.raw_body.len() * 3 < again.body.len(), "deflated whole again");
}

/// Against a link where bytes cost time (the probe's larger body is answered 200 ms later:
/// thousands of nanoseconds per extra byte, against a few of deflate), a filling queue keeps
/// deflate: sending more bytes would only slow the export further.
#[test]
fn a_slow_link_keeps_deflate_while_the_queue_fills() {
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::ok(),
        Reply::ok().delay(Duration::from_millis(200)),
    ]);
    let requests = export_prompt_batches(&receiver, &[(1, 0), (201, 9), (401, 9), (601, 9)]);
    assert!(requests[1].raw_body.len() > requests[1].body.len(), "the probe, stored whole");
    for request in &requests[2..] {
        assert!(request.raw_body.len() * 3 < request.body.len(), "deflated whole at 90 % full");
    }
}

#[test]
fn extra_headers_go_under_the_langfuse_ones() {
    let receiver = OtlpReceiver::start();
    let mut settings = settings(&receiver);
    settings.headers = vec![
        ("X-Tenant".into(), "acme".into()),
        ("Authorization".into(), "Bearer not-this-one".into()),
        ("X-LANGFUSE-PUBLIC-KEY".into(), "pk-other".into()),
        ("x-langfuse-ingestion-version".into(), "5".into()),
        ("x-langfuse-sdk-name".into(), "python".into()),
    ];
    let mut exporter = exporter(settings);
    exporter.export(&batch(1)).expect("export");

    let request = &receiver.requests()[0];
    assert_eq!(request.header_values("x-tenant"), ["acme"]);
    assert_eq!(request.header_values("authorization"), [expected_basic_auth(PK, SK)]);
    assert_eq!(request.header_values("x-langfuse-public-key"), [PK]);
    assert_eq!(request.header_values("x-langfuse-ingestion-version"), ["4"]);
    assert_eq!(request.header_values("x-langfuse-sdk-name"), ["rust"]);
}

#[test]
fn without_compression_the_body_is_plain_protobuf() {
    let receiver = OtlpReceiver::start();
    let mut settings = settings(&receiver);
    settings.compression = Compression::None;
    let mut exporter = exporter(settings);
    exporter.export(&batch(3)).expect("export");

    let request = &receiver.requests()[0];
    assert_eq!(request.header("content-encoding"), None);
    assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(request.raw_body, request.body);
    assert_eq!(request.decode_error, None);
    assert_eq!(request.spans().len(), 3);
}

#[test]
// Built field by field, as code outside the crate must build these `#[non_exhaustive]` types.
#[allow(clippy::field_reassign_with_default)]
fn spans_arrive_with_ids_times_attributes_resource_and_scope() {
    let receiver = OtlpReceiver::start();
    let mut exporter = exporter(settings(&receiver));

    let mut root = span(0xa1, None, "handle_request ✓");
    root.input = Some("Wie spät ist es? 日本語 🚀".into());
    root.output = Some(String::new().into());
    root.metadata_mut().insert("http.route", "\"/chat\"".into());
    root.metadata_mut().insert("attempt", "2".into());

    let mut generation = span(0xb2, Some(0xa1), "llm");
    generation.observation_type = ObservationType::Generation;
    generation.level = Some(Level::Error);
    generation.set_status_message(Some("RateLimitError: slow down".into()));
    let mut fields = GenerationFields::default();
    fields.model = Some("gpt-4o-mini".into());
    fields.prompt_name = Some("qa".into());
    fields.prompt_version = Some(3);
    fields.usage_details = Some(r#"{"input":12,"output":3}"#.into());
    *generation.generation_mut() = fields;
    let mut trace = TraceAttributes::default();
    trace.user_id = Some("user-1".into());
    trace.tags = vec!["conformance".into(), "ünïcode".into()];
    generation.trace = Some(Arc::new(trace));

    let mut remote_child = span(0xc3, Some(0xfeed), "from-upstream");
    remote_child.parent_is_remote = true;
    remote_child.as_root = true;

    exporter.export(&[root, generation, remote_child]).expect("export");
    let spans = receiver.wait_for_spans(3, WAIT);
    assert_eq!(spans.len(), 3);

    let root = &spans[0];
    assert_eq!(root.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(root.span_id_hex(), "00000000000000a1");
    assert_eq!(root.parent_id_hex(), None);
    assert_eq!(root.name(), "handle_request ✓");
    assert_eq!(root.span.kind, 1, "SPAN_KIND_INTERNAL");
    assert_eq!(root.span.start_time_unix_nano, 1_735_787_045_678_000_000);
    assert_eq!(root.span.end_time_unix_nano, 1_735_787_045_720_000_000);
    assert_eq!(root.span.flags, 0x100);
    assert_eq!(root.span.status, None);
    assert_eq!(root.str_attr("langfuse.observation.type"), Some("span"));
    assert_eq!(root.str_attr("langfuse.observation.input"), Some("Wie spät ist es? 日本語 🚀"));
    assert_eq!(root.str_attr("langfuse.observation.output"), Some(""));
    assert_eq!(root.str_attr("langfuse.environment"), Some("staging"));
    assert_eq!(root.str_attr("langfuse.observation.metadata.http.route"), Some("\"/chat\""));
    assert_eq!(root.str_attr("langfuse.observation.metadata.attempt"), Some("2"));
    assert_eq!(root.resource_attr("service.name"), Some("checkout-service"));
    assert_eq!(root.resource_attr("telemetry.sdk.language"), Some("rust"));
    assert_eq!(root.resource_attr("telemetry.sdk.name"), Some("langfuse-rust"));
    assert_eq!(root.resource_attr("telemetry.sdk.version"), Some(langfuse_runtime::SDK_VERSION));
    assert_eq!(root.resource_attr("langfuse.environment"), Some("staging"));
    assert_eq!(root.resource_attr("deployment.region"), Some("eu-west-1"));
    assert_eq!(root.scope_name(), Some("langfuse-sdk"));
    assert_eq!(root.scope_version(), Some(langfuse_runtime::SDK_VERSION));
    assert_eq!(root.scope_attr("public_key"), Some(PK));

    let generation = &spans[1];
    assert_eq!(generation.parent_id_hex().as_deref(), Some("00000000000000a1"));
    assert_eq!(generation.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(generation.str_attr("langfuse.observation.level"), Some("ERROR"));
    assert_eq!(generation.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini"));
    assert_eq!(generation.str_attr("langfuse.observation.prompt.name"), Some("qa"));
    assert_eq!(generation.int_attr("langfuse.observation.prompt.version"), Some(3));
    assert_eq!(generation.str_attr("langfuse.observation.prompt.version"), None);
    assert_eq!(generation.str_attr("user.id"), Some("user-1"));
    assert_eq!(
        generation.str_array_attr("langfuse.trace.tags"),
        Some(vec!["conformance", "ünïcode"])
    );
    let status = generation.span.status.as_ref().expect("error status");
    assert_eq!((status.code, status.message.as_str()), (2, "RateLimitError: slow down"));

    let remote_child = &spans[2];
    assert_eq!(remote_child.parent_id_hex().as_deref(), Some("000000000000feed"));
    assert_eq!(remote_child.span.flags, 0x300);
    assert_eq!(remote_child.bool_attr("langfuse.internal.as_root"), Some(true));

    for span in &spans {
        for key in span.attr_keys() {
            assert_eq!(span.attr_count(key), 1, "{key} written more than once");
        }
    }
}

#[test]
fn retries_retryable_statuses_until_success() {
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(503),
        Reply::status(429),
        Reply::status(502),
        Reply::status(504),
        Reply::ok(),
    ]);
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&batch(2)).expect("succeeds on the fifth attempt");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r.raw_body == requests[0].raw_body), "same body each time");
    let stats = stats(&exporter);
    assert_eq!((stats.attempts, stats.requests_succeeded, stats.requests_failed), (5, 1, 0));
    assert_eq!(receiver.spans().len(), 10);
}

#[test]
fn retry_after_replaces_the_backoff() {
    // A computed backoff of >= 48 s could never fit in the 5 s deadline: only honouring
    // `Retry-After` lets these exports succeed.
    for retry_after in ["0", "0.01", "-3", "Sun, 06 Nov 1994 08:49:37 GMT"] {
        let receiver = OtlpReceiver::start_with_script(vec![
            Reply::status(503).retry_after(retry_after),
            Reply::status(429).retry_after(retry_after),
        ]);
        let mut settings = settings(&receiver);
        settings.retry_base_delay = Duration::from_secs(60);
        let mut exporter = exporter(settings);
        let started = Instant::now();
        exporter.export(&batch(1)).unwrap_or_else(|e| panic!("Retry-After {retry_after}: {e}"));
        assert_eq!(receiver.request_count(), 3, "Retry-After {retry_after}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

#[test]
fn retry_after_beyond_the_deadline_fails_at_once() {
    let receiver = OtlpReceiver::start_with_script(vec![Reply::status(503).retry_after("30")]);
    let mut settings = settings(&receiver);
    settings.timeout = Duration::from_secs(3);
    settings.retry_budget = Duration::from_secs(3);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("cannot wait 30 s");
    assert!(matches!(error, ExportError::Status { code: 503, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(receiver.request_count(), 1);
}

#[test]
fn other_statuses_fail_without_retry() {
    for code in [400, 401, 403, 404, 413, 500, 501] {
        let receiver = OtlpReceiver::start();
        receiver.set_default_reply(
            Reply::status(code).body(format!("{{\"message\":\"status {code} ✗\"}}")),
        );
        let mut exporter = exporter(settings(&receiver));
        let error = exporter.export(&batch(1)).expect_err("fails");
        assert_eq!(
            error,
            ExportError::Status { code, body: format!("{{\"message\":\"status {code} ✗\"}}") }
        );
        assert_eq!(receiver.request_count(), 1, "status {code} must not be retried");
        assert_eq!(stats(&exporter).requests_failed, 1);
    }
}

#[test]
fn error_body_is_cut_to_512_bytes() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(400).body("x".repeat(10_000)));
    let mut exporter = exporter(settings(&receiver));
    match exporter.export(&batch(1)) {
        Err(ExportError::Status { code: 400, body }) => assert_eq!(body, "x".repeat(512)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn redirect_statuses_count_as_success() {
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(307).header("location", "http://127.0.0.1:1/elsewhere"),
    ]);
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&batch(1)).expect("2xx and 3xx are success");
    assert_eq!(receiver.request_count(), 1);
}

#[test]
fn gives_up_after_six_attempts() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(503).body("overloaded"));
    let mut settings = settings(&receiver);
    settings.retry_base_delay = Duration::from_millis(1);
    settings.timeout = Duration::from_secs(30);
    let mut exporter = exporter(settings);
    let error = exporter.export(&batch(1)).expect_err("fails");
    assert_eq!(error, ExportError::Status { code: 503, body: "overloaded".into() });
    assert_eq!(receiver.request_count(), 6);
    assert_eq!(stats(&exporter).attempts, 6);
}

#[test]
fn deadline_stops_retries() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(503));
    let mut settings = settings(&receiver);
    // Waits of ~0.2 s, ~0.4 s, ~0.8 s: the second one would end past the 0.5 s deadline.
    settings.retry_base_delay = Duration::from_millis(200);
    settings.timeout = Duration::from_millis(500);
    settings.retry_budget = Duration::from_millis(500);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("fails");
    assert!(matches!(error, ExportError::Status { code: 503, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let attempts = receiver.request_count();
    assert!((1..=3).contains(&attempts), "{attempts} attempts");
}

#[test]
fn slow_server_hits_the_deadline() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::ok().delay(Duration::from_secs(20)));
    let mut settings = settings(&receiver);
    settings.timeout = Duration::from_millis(300);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("times out");
    assert_eq!(error, ExportError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(receiver.request_count(), 1, "a timed-out request is not retried");
}

fn unreachable_endpoint() -> String {
    // A port nobody listens on: every connect is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}{TRACES_PATH}")
}

#[test]
fn a_connection_error_is_retried_once_at_once() {
    let mut settings = OtlpHttpSettings::new(unreachable_endpoint(), PK, SK);
    // The first backoff (8-12 s) cannot fit in the deadline: only the immediate retry happens.
    settings.retry_base_delay = Duration::from_secs(10);
    settings.timeout = Duration::from_secs(3);
    settings.retry_budget = Duration::from_secs(3);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("nobody listens");
    assert!(matches!(error, ExportError::Transport(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(stats(&exporter).attempts, 2);
}

#[test]
fn connection_errors_are_retried_within_the_deadline() {
    let mut settings = OtlpHttpSettings::new(unreachable_endpoint(), PK, SK);
    settings.retry_base_delay = Duration::from_millis(20);
    settings.timeout = Duration::from_millis(400);
    settings.retry_budget = Duration::from_millis(400);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("nobody listens");
    assert!(matches!(error, ExportError::Transport(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Two tries per attempt (the immediate one included), and at least one backoff retry.
    let attempts = stats(&exporter).attempts;
    assert!((4..=12).contains(&attempts), "{attempts} attempts");
}

#[test]
fn a_dropped_connection_is_retried() {
    // The first reply closes the connection with a retryable status; the retry must open a
    // new connection and succeed.
    let receiver = OtlpReceiver::start_with_script(vec![Reply::status(503).close_connection()]);
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&batch(1)).expect("export");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_ne!(requests[0].connection, requests[1].connection);
}

#[test]
fn abort_handle_cuts_a_backoff_wait_short() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(503));
    let mut settings = settings(&receiver);
    settings.retry_base_delay = Duration::from_secs(20);
    settings.timeout = Duration::from_secs(120);
    let mut exporter = exporter(settings);
    let abort = exporter.abort_handle();
    let aborter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        abort.abort();
    });
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("aborted");
    assert!(matches!(error, ExportError::Status { code: 503, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(receiver.request_count(), 1);
    aborter.join().unwrap();

    // After the abort, a final flush still gets one attempt, without retries.
    receiver.set_default_reply(Reply::ok());
    exporter.export(&batch(1)).expect("one attempt still made");
}

#[test]
fn reuses_the_connection_across_exports() {
    let receiver = OtlpReceiver::start();
    let mut exporter = exporter(settings(&receiver));
    for _ in 0..5 {
        exporter.export(&batch(3)).expect("export");
    }
    assert_eq!(receiver.request_count(), 5);
    assert_eq!(receiver.connection_count(), 1);
}

#[test]
fn empty_batch_sends_nothing() {
    let receiver = OtlpReceiver::start();
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&[]).expect("nothing to do");
    exporter.force_flush().expect("flush");
    exporter.shutdown().expect("shutdown");
    assert_eq!(receiver.request_count(), 0);
}

fn span_with_input(id: u64, input_len: usize) -> ObservationRecord {
    let mut record = span(id, None, "big");
    record.input = Some("i".repeat(input_len).into());
    record
}

fn received_ids(receiver: &OtlpReceiver) -> Vec<u64> {
    receiver
        .spans()
        .iter()
        .map(|s| u64::from_str_radix(&s.span_id_hex(), 16).expect("hex span id"))
        .collect()
}

#[test]
fn splits_a_batch_over_max_request_bytes() {
    let receiver = OtlpReceiver::start();
    let mut settings = settings(&receiver);
    settings.max_request_bytes = 10_000;
    let mut exporter = exporter(settings);
    let records: Vec<_> = (1..=40).map(|i| span_with_input(i, 1_000)).collect();
    exporter.export(&records).expect("export");

    let requests = receiver.requests();
    assert!(requests.len() >= 4, "{} requests", requests.len());
    for request in &requests {
        assert!(request.body.len() <= 10_000, "{} bytes uncompressed", request.body.len());
        assert_eq!(request.header("content-encoding"), Some("gzip"));
        assert!(!request.spans().is_empty());
    }
    assert_eq!(received_ids(&receiver), (1..=40).collect::<Vec<_>>());
    let stats = stats(&exporter);
    assert_eq!(stats.requests_succeeded, requests.len() as u64);
    assert_eq!(stats.spans_sent, 40);
}

#[test]
fn an_oversized_span_is_dropped_and_the_rest_sent() {
    let receiver = OtlpReceiver::start();
    let mut settings = settings(&receiver);
    settings.max_request_bytes = 20_000;
    let mut exporter = exporter(settings);
    let records = vec![
        span_with_input(1, 100),
        span_with_input(2, 100_000),
        span_with_input(3, 100),
        span_with_input(4, 15_000),
    ];
    match exporter.export(&records) {
        // The rest of the batch is sent; the error says exactly what was lost and why.
        Err(ExportError::Partial { lost: 1, cause }) => {
            assert!(matches!(*cause, ExportError::TooLarge { limit: 20_000, .. }), "{cause:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(received_ids(&receiver), [1, 3, 4]);
    let stats = stats(&exporter);
    assert_eq!((stats.spans_sent, stats.spans_oversized), (3, 1));

    // A batch of nothing but oversized spans fails as too large, without a request.
    let before = receiver.request_count();
    match exporter.export(&[span_with_input(5, 50_000)]) {
        Err(ExportError::TooLarge { bytes, limit: 20_000 }) => assert!(bytes > 50_000),
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.request_count(), before);
}

#[test]
fn a_rejected_request_does_not_stop_the_rest_of_a_split_batch() {
    let receiver = OtlpReceiver::start_with_script(vec![Reply::status(400)]);
    let mut settings = settings(&receiver);
    settings.max_request_bytes = 5_000;
    let mut exporter = exporter(settings);
    let records: Vec<_> = (1..=6).map(|i| span_with_input(i, 2_000)).collect();
    let error = exporter.export(&records).expect_err("first request rejected");
    let rejected = receiver.requests()[0].spans().len();
    match error {
        ExportError::Partial { lost, cause } => {
            assert_eq!(lost, rejected);
            assert!(matches!(*cause, ExportError::Status { code: 400, .. }), "{cause:?}");
        }
        other => panic!("{other:?}"),
    }
    let accepted: usize = receiver.requests()[1..].iter().map(|r| r.spans().len()).sum();
    assert_eq!(accepted, 6 - rejected);
    let requests = receiver.requests();
    assert!(requests.len() >= 3, "{} requests", requests.len());
    let stats = stats(&exporter);
    assert_eq!(stats.requests_failed, 1);
    assert_eq!(stats.requests_succeeded, requests.len() as u64 - 1);
}
