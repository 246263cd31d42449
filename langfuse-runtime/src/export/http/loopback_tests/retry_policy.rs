//! The OTLP/HTTP exporter's retry policy against a loopback receiver that misbehaves on
//! purpose: backoff on 429/502/503/504 within a budget separate from the per-attempt timeout,
//! `Retry-After` honoured up to a cap, 413 split down to single observations, other 4xx final.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::support::{Loopback, OtlpReceiver, RecordedRequest, Reply};
use crate::export::http::OtlpHttpStats;
use crate::export::{
    ExportError, ExportResource, OtlpHttpExporter, OtlpHttpSettings, SpanExporter,
};
use langfuse_runtime::{ObservationId, ObservationRecord, ObservationType, TraceId, span};

const PK: &str = "pk-lf-1234";
const SK: &str = "sk-lf-5678";

fn settings(receiver: &OtlpReceiver) -> OtlpHttpSettings {
    let mut settings = OtlpHttpSettings::new(receiver.traces_url(), PK, SK);
    // Milliseconds instead of seconds: the same policy, quicker.
    settings.retry_base_delay = Duration::from_millis(5);
    settings
}

fn exporter(settings: OtlpHttpSettings) -> OtlpHttpExporter {
    OtlpHttpExporter::new(settings, ExportResource::new("retry-tests", PK))
}

fn batch(n: u64) -> Vec<ObservationRecord> {
    (1..=n)
        .map(|i| {
            let mut record = ObservationRecord::new(
                TraceId::from_u128(7).unwrap(),
                ObservationId::from_u64(i).unwrap(),
                None,
                "work",
                ObservationType::Span,
                1_735_787_045_678_000_000,
            );
            record.end_unix_nanos = record.start_unix_nanos + 1_000;
            record
        })
        .collect()
}

fn stats(exporter: &OtlpHttpExporter) -> OtlpHttpStats {
    exporter.stats().snapshot()
}

/// Span ids (as numbers) in each request, in arrival order.
fn ids_per_request(requests: &[RecordedRequest]) -> Vec<Vec<u64>> {
    requests
        .iter()
        .map(|r| {
            r.spans().iter().map(|s| u64::from_str_radix(&s.span_id_hex(), 16).unwrap()).collect()
        })
        .collect()
}

#[test]
fn ten_thousand_observations_survive_three_503s_at_default_settings() {
    // Default timeout (5 s) and backoff (1 s, 2 s, 4 s): the third wait ends past 5 s, which
    // used to lose the first batch.
    let mut h = Loopback::start(|b| b);
    h.receiver.script([Reply::status(503), Reply::status(503), Reply::status(503)]);
    for _ in 0..10_000 {
        span("work").start().end();
    }
    let spans = h.finish(); // asserts nothing dropped or failed
    let requests = h.receiver.requests();
    // The three refused requests were the same batch, sent again; nothing else is repeated.
    assert_eq!(requests[0].raw_body, requests[3].raw_body);
    let delivered: Vec<String> =
        requests[3..].iter().flat_map(|r| r.spans()).map(|s| s.span_id_hex()).collect();
    assert_eq!(delivered.len(), 10_000);
    assert_eq!(delivered.iter().collect::<HashSet<_>>().len(), 10_000, "each exactly once");
    assert_eq!(spans.len(), 10_000 + 3 * requests[0].spans().len());
}

#[test]
fn backoffs_longer_than_the_attempt_timeout_still_retry() {
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(503),
        Reply::status(502),
        Reply::status(504),
    ]);
    let mut settings = settings(&receiver);
    // Waits of about 50, 100 and 200 ms, each longer than an attempt may take.
    settings.retry_base_delay = Duration::from_millis(50);
    settings.timeout = Duration::from_millis(100);
    let mut exporter = exporter(settings);
    exporter.export(&batch(3)).expect("delivered on the fourth attempt");
    assert_eq!(receiver.request_count(), 4);
    assert_eq!(stats(&exporter).requests_succeeded, 1);
}

#[test]
fn a_long_retry_after_is_honoured_up_to_the_cap_not_given_up() {
    for retry_after in ["30", "3600", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        let receiver =
            OtlpReceiver::start_with_script(vec![Reply::status(429).retry_after(retry_after)]);
        let mut settings = settings(&receiver);
        settings.max_retry_wait = Duration::from_millis(300);
        let mut exporter = exporter(settings);
        let started = Instant::now();
        exporter.export(&batch(1)).unwrap_or_else(|e| panic!("Retry-After {retry_after}: {e}"));
        let took = started.elapsed();
        assert_eq!(receiver.request_count(), 2, "Retry-After {retry_after}");
        // Waited the cap, not the backoff (5 ms) and not the header.
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}

#[test]
fn the_defaults_leave_room_for_a_thirty_second_retry_after() {
    let settings = OtlpHttpSettings::new("http://127.0.0.1:1/", PK, SK);
    assert!(settings.max_retry_wait >= Duration::from_secs(30));
    assert!(settings.retry_budget > Duration::from_secs(30) + settings.timeout);
}

#[test]
fn the_budget_bounds_all_attempts_and_waits() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(503));
    let mut settings = settings(&receiver);
    // Waits of ~100, ~200, ~400 ms: the second ends past the 230 ms budget even at the lowest jitter.
    settings.retry_base_delay = Duration::from_millis(100);
    settings.retry_budget = Duration::from_millis(230);
    let mut exporter = exporter(settings);
    let started = Instant::now();
    let error = exporter.export(&batch(1)).expect_err("budget spent");
    assert!(matches!(error, ExportError::Status { code: 503, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(receiver.request_count(), 2);
}

#[test]
fn too_large_requests_are_split_in_halves_and_delivered() {
    // 8 spans refused, then its first half (4) refused: 8 → 4 → 2 + 2, then 4.
    let receiver = OtlpReceiver::start_with_script(vec![Reply::status(413), Reply::status(413)]);
    let mut exporter = exporter(settings(&receiver));
    exporter.export(&batch(8)).expect("every half accepted");
    let ids = ids_per_request(&receiver.requests());
    assert_eq!(
        ids,
        [vec![1, 2, 3, 4, 5, 6, 7, 8], vec![1, 2, 3, 4], vec![1, 2], vec![3, 4], vec![5, 6, 7, 8]]
    );
    let stats = stats(&exporter);
    assert_eq!(stats.requests_split, 2);
    assert_eq!((stats.requests_succeeded, stats.requests_failed, stats.spans_sent), (3, 0, 8));
}

#[test]
fn a_single_observation_refused_as_too_large_is_dropped_and_counted() {
    // 4 → 2 (refused) → [1] ok, [2] refused alone → dropped; then [3, 4] ok.
    let receiver = OtlpReceiver::start_with_script(vec![
        Reply::status(413),
        Reply::status(413),
        Reply::ok(),
        Reply::status(413),
        Reply::ok(),
    ]);
    let mut exporter = exporter(settings(&receiver));
    let error = exporter.export(&batch(4)).expect_err("one observation lost");
    match &error {
        ExportError::Partial { lost: 1, cause } => {
            assert!(matches!(**cause, ExportError::Status { code: 413, .. }), "{cause:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.lost(4), 1);
    let ids = ids_per_request(&receiver.requests());
    assert_eq!(ids, [vec![1, 2, 3, 4], vec![1, 2], vec![1], vec![2], vec![3, 4]]);
    let stats = stats(&exporter);
    assert_eq!((stats.requests_succeeded, stats.requests_failed, stats.spans_sent), (2, 1, 3));
}

#[test]
fn a_server_refusing_everything_as_too_large_costs_a_bounded_number_of_requests() {
    let receiver = OtlpReceiver::start();
    receiver.set_default_reply(Reply::status(413));
    let mut exporter = exporter(settings(&receiver));
    let error = exporter.export(&batch(4)).expect_err("nothing accepted");
    assert!(matches!(error, ExportError::Status { code: 413, .. }), "{error:?}");
    // 4, 2, 1, 1, 2, 1, 1: a binary tree, 2n - 1 requests, no retries of a 413.
    assert_eq!(receiver.request_count(), 7);
    assert_eq!(stats(&exporter).requests_failed, 4);
}

#[test]
fn bad_request_is_not_retried_or_split() {
    for code in [400, 401, 403, 404, 422] {
        let receiver = OtlpReceiver::start();
        receiver.set_default_reply(Reply::status(code));
        let mut exporter = exporter(settings(&receiver));
        let error = exporter.export(&batch(5)).expect_err("refused");
        assert!(matches!(error, ExportError::Status { code: c, .. } if c == code), "{error:?}");
        assert_eq!(receiver.request_count(), 1, "{code} must not be retried");
        let stats = stats(&exporter);
        assert_eq!((stats.attempts, stats.requests_split, stats.requests_failed), (1, 0, 1));
    }
}

#[test]
fn a_refused_request_of_a_split_batch_is_split_further() {
    // The size limit makes two requests of four; the server refuses the second as too large.
    let receiver = OtlpReceiver::start_with_script(vec![Reply::ok(), Reply::status(413)]);
    let mut settings = settings(&receiver);
    let records = batch(8);
    let resource = ExportResource::new("retry-tests", PK);
    settings.max_request_bytes = crate::export::otlp::encoded_request_len(&records[..4], &resource);
    let mut exporter = exporter(settings);
    exporter.export(&records).expect("all delivered");
    let ids = ids_per_request(&receiver.requests());
    assert_eq!(ids, [vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![5, 6], vec![7, 8]]);
    assert_eq!(stats(&exporter).spans_sent, 8);
}
