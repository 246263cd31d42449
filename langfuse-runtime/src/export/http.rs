//! The built-in OTLP/HTTP protobuf exporter: requests, headers, retries (the policy is in the
//! [`export`](crate::export) module docs, where users read it).
//!
//! Blocking on purpose: it runs on the SDK's own export thread, so it needs no async runtime
//! and cannot fail with "no reactor running" whatever the application uses.

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::backlog::Backlog;
use super::otlp::OtlpEncoder;
use super::{Compression, ExportError, ExportResource, SpanExporter};
use crate::record::ObservationRecord;

mod compressor;
use compressor::Compressor;

/// Attempts per request, the first one included.
pub(crate) const MAX_ATTEMPTS: u32 = 6;
/// HTTP 413 Content Too Large: the request is split.
const TOO_LARGE: u16 = 413;
/// Statuses worth another attempt: the server is overloaded or a proxy lost the upstream.
const RETRYABLE_STATUSES: [u16; 4] = [429, 502, 503, 504];
/// How much of an error response body is kept for the error message.
const ERROR_BODY_BYTES: usize = 512;
/// Response bytes read at most, so that the connection can go back to the pool.
const DRAIN_BYTES: u64 = 64 * 1024;
/// `x-langfuse-ingestion-version`: 4 puts our spans on the server's real-time write path.
const INGESTION_VERSION: &str = "4";
/// `x-langfuse-sdk-name`.
const SDK_NAME: &str = "rust";

/// Headers the exporter sets itself; user headers with these names are left out, whatever
/// their case. The framing headers belong to the HTTP client.
const RESERVED_HEADERS: [&str; 11] = [
    "authorization",
    "content-type",
    "content-encoding",
    "x-langfuse-sdk-name",
    "x-langfuse-sdk-version",
    "x-langfuse-public-key",
    "x-langfuse-ingestion-version",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// Settings of the OTLP/HTTP exporter.
#[derive(Clone)]
pub(crate) struct OtlpHttpSettings {
    /// Full URL, e.g. `https://cloud.langfuse.com/api/public/otel/v1/traces`.
    pub(crate) endpoint: String,
    /// Langfuse public key.
    pub(crate) public_key: String,
    /// Langfuse secret key.
    pub(crate) secret_key: String,
    /// Deadline of one HTTP attempt, from connecting to the last response byte. Each retry
    /// has its own; [`retry_budget`](Self::retry_budget) bounds them all.
    pub(crate) timeout: Duration,
    /// Request compression.
    pub(crate) compression: Compression,
    /// Largest uncompressed request body; larger batches are split, a single larger span dropped.
    pub(crate) max_request_bytes: usize,
    /// Extra headers, applied under the Langfuse ones.
    pub(crate) headers: Vec<(String, String)>,
    /// Unit of the retry backoff: the wait before retry `n` (from 0) is
    /// `2^n × retry_base_delay × uniform(0.8, 1.2)`. One second, as in the OpenTelemetry
    /// exporters; tests shorten it.
    pub(crate) retry_base_delay: Duration,
    /// Longest single wait before a retry, computed or asked for by `Retry-After`; 60 s.
    pub(crate) max_retry_wait: Duration,
    /// Longest time one request may take, all attempts and waits included; 60 s. A batch split
    /// into several requests gives each its own budget.
    pub(crate) retry_budget: Duration,
    /// How full the export queue is (the pipeline keeps it up to date): gzip eases off when it
    /// fills because compressing cannot keep up (see [`effort`](super::effort)).
    pub(crate) backlog: Backlog,
}

impl OtlpHttpSettings {
    /// Settings with the Langfuse defaults: 5 s timeout per attempt, gzip, 64 MiB requests, no
    /// extra headers, 1 s retry backoff unit, waits of at most 60 s, 60 s per request in all.
    pub(crate) fn new(
        endpoint: impl Into<String>,
        public_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            public_key: public_key.into(),
            secret_key: secret_key.into(),
            timeout: Duration::from_secs(5),
            compression: Compression::Gzip,
            max_request_bytes: 67_108_864,
            headers: Vec::new(),
            retry_base_delay: Duration::from_secs(1),
            max_retry_wait: Duration::from_secs(60),
            retry_budget: Duration::from_secs(60),
            backlog: Backlog::default(),
        }
    }
}

impl fmt::Debug for OtlpHttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key and header values (often tokens) stay out of logs.
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpHttpSettings")
            .field("endpoint", &self.endpoint)
            .field("public_key", &self.public_key)
            .field("secret_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("headers", &header_names)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("retry_budget", &self.retry_budget)
            .finish()
    }
}

/// Cuts retry waits short, for shutdown.
///
/// Once [`abort`](Self::abort) is called, a pending backoff wait ends at once and no further
/// retries are made; every request still gets its first attempt, so a final flush is tried.
/// Clones share the same state.
#[derive(Clone, Default)]
pub(crate) struct AbortHandle(Arc<(Mutex<bool>, Condvar)>);

impl AbortHandle {
    /// Aborts pending and future retry waits.
    pub(crate) fn abort(&self) {
        let (flag, wake) = &*self.0;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
    }

    /// Whether [`abort`](Self::abort) was called.
    pub(crate) fn is_aborted(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `duration`; `false` if aborted before or during the wait.
    fn sleep(&self, duration: Duration) -> bool {
        let (flag, wake) = &*self.0;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = wake
            .wait_timeout_while(guard, duration, |aborted| !*aborted)
            .unwrap_or_else(PoisonError::into_inner);
        !*guard
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AbortHandle").field(&self.is_aborted()).finish()
    }
}

/// Counters of one [`OtlpHttpExporter`], readable from any thread through
/// [`OtlpHttpExporter::stats`].
// Read only by the tests: the SDK reports its own `ExportStats`, not these counters.
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OtlpHttpStats {
    /// HTTP requests made, retries included.
    pub(crate) attempts: u64,
    /// Requests that ended in a success status.
    pub(crate) requests_succeeded: u64,
    /// Requests given up on (non-retryable status, retries exhausted, deadline, abort).
    pub(crate) requests_failed: u64,
    /// Spans in successful requests.
    pub(crate) spans_sent: u64,
    /// Spans left out because a request holding only that span exceeds `max_request_bytes`.
    pub(crate) spans_oversized: u64,
    /// Requests refused with 413 and sent again as two halves (counted neither as succeeded
    /// nor as failed: their halves are).
    pub(crate) requests_split: u64,
}

#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    requests_succeeded: AtomicU64,
    requests_failed: AtomicU64,
    spans_sent: AtomicU64,
    spans_oversized: AtomicU64,
    requests_split: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Reads the counters of an [`OtlpHttpExporter`] from any thread.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpHttpStatsHandle(Arc<Counters>);

#[cfg(test)]
impl OtlpHttpStatsHandle {
    /// The counters now.
    pub(crate) fn snapshot(&self) -> OtlpHttpStats {
        let c = &*self.0;
        OtlpHttpStats {
            attempts: c.attempts.load(Ordering::Relaxed),
            requests_succeeded: c.requests_succeeded.load(Ordering::Relaxed),
            requests_failed: c.requests_failed.load(Ordering::Relaxed),
            spans_sent: c.spans_sent.load(Ordering::Relaxed),
            spans_oversized: c.spans_oversized.load(Ordering::Relaxed),
            requests_split: c.requests_split.load(Ordering::Relaxed),
        }
    }
}

/// Sends batches to Langfuse over OTLP/HTTP protobuf.
///
/// One blocking HTTP/1.1 agent is built up front and its connections are reused. Each batch is
/// encoded into as few requests as fit in `max_request_bytes`; each request is retried on
/// 429/502/503/504 and connection errors with exponential backoff, and split on 413 (see the
/// [module docs](self) for the whole policy).
///
/// [`export`](SpanExporter::export) returns an error when a request failed; after a failed
/// status the remaining requests of the batch are still sent, after a transport failure or
/// timeout they are not (the server is unreachable). Spans too large for any request are left
/// out and counted in [`OtlpHttpStats::spans_oversized`]; the batch fails with
/// [`ExportError::TooLarge`] only when nothing else was left to send.
pub(crate) struct OtlpHttpExporter {
    transport: Transport,
    resource: ExportResource,
    max_request_bytes: usize,
    encoder: OtlpEncoder,
    body: Vec<u8>,
    compressor: Compressor,
}

impl fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpExporter")
            .field("endpoint", &self.transport.endpoint)
            .field("compression", &self.compressor.compression())
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl OtlpHttpExporter {
    /// Creates the exporter; nothing is sent until the first batch.
    pub(crate) fn new(settings: OtlpHttpSettings, resource: ExportResource) -> Self {
        let headers = request_headers(&settings, resource.sdk_version);
        let transport = Transport::new(&settings, headers, resource.sdk_version);
        Self {
            transport,
            resource,
            max_request_bytes: settings.max_request_bytes,
            encoder: OtlpEncoder::new(),
            body: Vec::new(),
            compressor: Compressor::new(settings.compression, settings.backlog),
        }
    }

    /// A handle that cuts retry waits short (for shutdown from another thread).
    pub(crate) fn abort_handle(&self) -> AbortHandle {
        self.transport.abort.clone()
    }

    /// A handle to this exporter's counters, usable after the exporter moved to its thread.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> OtlpHttpStatsHandle {
        OtlpHttpStatsHandle(self.transport.counters.clone())
    }
}

impl SpanExporter for OtlpHttpExporter {
    fn export(&mut self, batch: &[ObservationRecord]) -> Result<(), ExportError> {
        let Self { transport, resource, max_request_bytes, encoder, body, compressor } = self;
        let counters = transport.counters.clone();
        let sent_before = counters.spans_sent.load(Ordering::Relaxed);
        let mut first_error = None;
        // Spans per request, and which requests were refused as too large, to split them after.
        let mut chunk_spans = Vec::new();
        let mut refused = Vec::new();
        let mut outcome =
            encoder.encode_split(batch, resource, *max_request_bytes, body, |body, spans| {
                chunk_spans.push(spans);
                match compress_and_send(transport, compressor, body) {
                    Err(ExportError::Status { code: TOO_LARGE, .. }) if spans > 1 => {
                        refused.push(chunk_spans.len() - 1);
                        Ok(())
                    }
                    result => transport.settle(result, spans, &mut first_error),
                }
            });
        if !refused.is_empty() && outcome.is_ok() {
            let mut splitter = Splitter {
                transport,
                resource,
                encoder,
                body,
                compressor,
                first_error: &mut first_error,
            };
            let runs = chunk_runs(batch, resource, *max_request_bytes, &chunk_spans, &refused);
            if let Err(error) =
                runs.iter().try_for_each(|runs| splitter.resend_refused(batch, runs))
            {
                outcome = Err(error);
            }
        }
        let sent = (counters.spans_sent.load(Ordering::Relaxed) - sent_before) as usize;
        let partial = |cause: ExportError| {
            if sent == 0 {
                cause
            } else {
                ExportError::Partial { lost: batch.len() - sent, cause: Box::new(cause) }
            }
        };
        let summary = match outcome {
            Ok(summary) => summary,
            Err(error) => return Err(partial(first_error.unwrap_or(error))),
        };
        Counters::add(&counters.spans_oversized, summary.oversized as u64);
        if let Some(error) = first_error {
            return Err(partial(error));
        }
        if summary.oversized > 0 {
            return Err(partial(ExportError::TooLarge {
                bytes: summary.largest_oversized_bytes,
                limit: *max_request_bytes,
            }));
        }
        Ok(())
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.transport.abort.abort();
        Ok(())
    }
}

/// Compresses and sends `body`, telling the compressor what delivering it took.
fn compress_and_send(
    transport: &Transport,
    compressor: &mut Compressor,
    body: &[u8],
) -> Result<(), ExportError> {
    let payload = compressor.compress(body)?;
    let bytes = payload.len();
    let started = Instant::now();
    let result = transport.send(payload);
    if result.is_ok() {
        compressor.sent(bytes, started.elapsed());
    }
    result
}

/// For each refused request (by index), the record ranges it held: the spans `encode_split`
/// put in it, in runs between the oversized spans it left out. Only computed after a 413.
fn chunk_runs(
    batch: &[ObservationRecord],
    resource: &ExportResource,
    max_request_bytes: usize,
    chunk_spans: &[usize],
    refused: &[usize],
) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut runs: Vec<Vec<std::ops::Range<usize>>> = vec![Vec::new(); refused.len()];
    let (mut chunk, mut left) = (0, chunk_spans.first().copied().unwrap_or(0));
    for (i, record) in batch.iter().enumerate() {
        if super::otlp::encoded_request_len(std::slice::from_ref(record), resource)
            > max_request_bytes
        {
            continue; // left out by encode_split, in no request
        }
        while left == 0 && chunk + 1 < chunk_spans.len() {
            chunk += 1;
            left = chunk_spans[chunk];
        }
        left = left.saturating_sub(1);
        if let Some(slot) = refused.iter().position(|&r| r == chunk) {
            match runs[slot].last_mut() {
                Some(run) if run.end == i => run.end = i + 1,
                _ => runs[slot].push(i..i + 1),
            }
        }
    }
    runs
}

/// Sends again, in halves, what the server refused as too large.
struct Splitter<'a> {
    transport: &'a Transport,
    resource: &'a ExportResource,
    encoder: &'a mut OtlpEncoder,
    body: &'a mut Vec<u8>,
    compressor: &'a mut Compressor,
    first_error: &'a mut Option<ExportError>,
}

impl Splitter<'_> {
    /// A refused request of these record runs: split into its runs, or its one run in halves.
    fn resend_refused(
        &mut self,
        batch: &[ObservationRecord],
        runs: &[std::ops::Range<usize>],
    ) -> Result<(), ExportError> {
        Counters::add(&self.transport.counters.requests_split, 1);
        match runs {
            [run] => self.send_halves(&batch[run.clone()]),
            runs => runs.iter().try_for_each(|run| self.send(&batch[run.clone()])),
        }
    }

    fn send_halves(&mut self, records: &[ObservationRecord]) -> Result<(), ExportError> {
        let (first, second) = records.split_at(records.len() / 2);
        self.send(first)?;
        self.send(second)
    }

    /// Sends `records` as one request, splitting again on 413 while more than one is left.
    fn send(&mut self, records: &[ObservationRecord]) -> Result<(), ExportError> {
        if records.is_empty() {
            return Ok(());
        }
        self.body.clear();
        self.encoder.encode(records, self.resource, self.body);
        match compress_and_send(self.transport, self.compressor, self.body) {
            Err(ExportError::Status { code: TOO_LARGE, .. }) if records.len() > 1 => {
                Counters::add(&self.transport.counters.requests_split, 1);
                self.send_halves(records)
            }
            result => self.transport.settle(result, records.len(), self.first_error),
        }
    }
}

/// The final header list: user headers not shadowed by ours, then ours.
pub(crate) fn request_headers(
    settings: &OtlpHttpSettings,
    sdk_version: &str,
) -> Vec<(String, String)> {
    // Without keys (collector mode) there are no credentials of ours, and a user's own
    // `authorization` header (a token for the Collector) goes through.
    let with_keys = !settings.public_key.is_empty() && !settings.secret_key.is_empty();
    let mut headers: Vec<(String, String)> = settings
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.trim();
            !RESERVED_HEADERS.iter().any(|r| {
                r.eq_ignore_ascii_case(name)
                    && (with_keys || !r.eq_ignore_ascii_case("authorization"))
            })
        })
        .cloned()
        .collect();
    if with_keys {
        let credentials = format!("{}:{}", settings.public_key, settings.secret_key);
        headers.push(("authorization".into(), format!("Basic {}", base64(credentials.as_bytes()))));
    }
    headers.push(("content-type".into(), "application/x-protobuf".into()));
    if settings.compression == Compression::Gzip {
        headers.push(("content-encoding".into(), "gzip".into()));
    }
    headers.push(("x-langfuse-sdk-name".into(), SDK_NAME.into()));
    headers.push(("x-langfuse-sdk-version".into(), sdk_version.into()));
    if !settings.public_key.is_empty() {
        headers.push(("x-langfuse-public-key".into(), settings.public_key.clone()));
    }
    headers.push(("x-langfuse-ingestion-version".into(), INGESTION_VERSION.into()));
    headers
}

/// Standard base64 (RFC 4648 §4) with padding, as Basic authentication wants it.
fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// Why one HTTP attempt did not succeed.
struct Failure {
    error: ExportError,
    retryable: bool,
    /// No response at all (refused, reset, DNS, TLS): the pooled connection may have been stale.
    connection: bool,
    /// Server-requested wait, replacing the backoff.
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: ExportError) -> Self {
        Self { error, retryable: false, connection: false, retry_after: None }
    }
}

/// The request loop and retry policy, shared by the OTLP exporter and the score sender.
pub(crate) struct Transport {
    agent: ureq::Agent,
    endpoint: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry_base_delay: Duration,
    max_retry_wait: Duration,
    retry_budget: Duration,
    abort: AbortHandle,
    counters: Arc<Counters>,
}

/// What the server answered to a request that succeeded (200–399).
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The start of the response body (at most 64 KiB).
    pub(crate) body: Vec<u8>,
}

impl Transport {
    /// Posts to `settings.endpoint` with exactly `headers`, under the settings' retry policy.
    pub(crate) fn new(
        settings: &OtlpHttpSettings,
        headers: Vec<(String, String)>,
        sdk_version: &str,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            // Statuses are the retry policy's business, not errors of the client.
            .http_status_as_error(false)
            // 3xx counts as success (§1.6); following a redirect would drop or re-send the body.
            .max_redirects(0)
            .user_agent(format!("langfuse-rust/{sdk_version}"))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            endpoint: settings.endpoint.clone(),
            headers,
            timeout: settings.timeout,
            retry_base_delay: settings.retry_base_delay,
            max_retry_wait: settings.max_retry_wait,
            retry_budget: settings.retry_budget,
            abort: AbortHandle::default(),
            counters: Arc::default(),
        }
    }

    /// A handle that cuts this transport's retry waits short.
    pub(crate) fn abort_handle(&self) -> AbortHandle {
        self.abort.clone()
    }

    /// Counts the outcome of a request of `spans` spans. A refused request (a status) is kept
    /// in `first_error` and the export goes on, as the next body may pass; a transport failure
    /// is returned, as the server is unreachable.
    fn settle(
        &self,
        result: Result<(), ExportError>,
        spans: usize,
        first_error: &mut Option<ExportError>,
    ) -> Result<(), ExportError> {
        match result {
            Ok(()) => {
                Counters::add(&self.counters.requests_succeeded, 1);
                Counters::add(&self.counters.spans_sent, spans as u64);
                Ok(())
            }
            Err(error) => {
                Counters::add(&self.counters.requests_failed, 1);
                match error {
                    ExportError::Status { .. } => {
                        first_error.get_or_insert(error);
                        Ok(())
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// POSTs `payload` until success, a final failure, [`MAX_ATTEMPTS`] attempts or the end
    /// of the retry budget (the module docs give the policy).
    fn send(&self, payload: &[u8]) -> Result<(), ExportError> {
        self.send_for_reply(payload).map(drop)
    }

    /// [`send`](Self::send), keeping what a successful request got back.
    pub(crate) fn send_for_reply(&self, payload: &[u8]) -> Result<Reply, ExportError> {
        // `None`: a budget too long to represent, i.e. none.
        let budget_end = Instant::now().checked_add(self.retry_budget);
        let mut retry = 0;
        loop {
            let failure = match self.attempt(payload, budget_end) {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            retry += 1;
            if !failure.retryable || retry >= MAX_ATTEMPTS || self.abort.is_aborted() {
                return Err(failure.error);
            }
            let wait = failure
                .retry_after
                .unwrap_or_else(|| backoff(self.retry_base_delay, retry - 1))
                .min(self.max_retry_wait);
            // Waiting only to be cut off by the budget would just delay the failure.
            let past_budget = match (Instant::now().checked_add(wait), budget_end) {
                (Some(wakes_at), Some(end)) => wakes_at >= end,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            if past_budget || !self.abort.sleep(wait) {
                return Err(failure.error);
            }
        }
    }

    /// One attempt, with its own timeout but not past the budget; a connection error is tried
    /// again at once, as a stale pooled connection says nothing about the server.
    fn attempt(&self, payload: &[u8], budget_end: Option<Instant>) -> Result<Reply, Failure> {
        let deadline = match (Instant::now().checked_add(self.timeout), budget_end) {
            (Some(own), Some(end)) => Some(own.min(end)),
            (own, end) => own.or(end),
        };
        match self.post(payload, deadline) {
            Err(failure) if failure.connection && deadline.is_none_or(|d| Instant::now() < d) => {
                self.post(payload, deadline)
            }
            result => result,
        }
    }

    /// One POST; `deadline` `None` = no time limit.
    fn post(&self, payload: &[u8], deadline: Option<Instant>) -> Result<Reply, Failure> {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|r| r.is_zero()) {
            return Err(Failure::fatal(ExportError::Timeout));
        }
        Counters::add(&self.counters.attempts, 1);
        let mut request =
            self.agent.post(&self.endpoint).config().timeout_global(remaining).build();
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let mut response = match request.send(payload) {
            Ok(response) => response,
            Err(error) => return Err(transport_failure(error)),
        };
        let status = response.status().as_u16();
        let mut body = Vec::new();
        // Reading what is left lets the connection go back to the pool; a read error only
        // costs that connection.
        let _ = response.body_mut().as_reader().take(DRAIN_BYTES).read_to_end(&mut body);
        if (200..400).contains(&status) {
            return Ok(Reply { status, body });
        }
        let retryable = RETRYABLE_STATUSES.contains(&status);
        let retry_after = if retryable {
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
        } else {
            None
        };
        body.truncate(ERROR_BODY_BYTES);
        let body = String::from_utf8_lossy(&body).into_owned();
        Err(Failure {
            error: ExportError::Status { code: status, body },
            retryable,
            connection: false,
            retry_after,
        })
    }
}

fn transport_failure(error: ureq::Error) -> Failure {
    match error {
        ureq::Error::Timeout(_) => Failure::fatal(ExportError::Timeout),
        ureq::Error::Io(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_)
        | ureq::Error::Tls(_) => Failure {
            error: ExportError::Transport(error.to_string()),
            retryable: true,
            connection: true,
            retry_after: None,
        },
        // Bad URL, invalid header, …: trying again cannot help.
        other => Failure::fatal(ExportError::Transport(other.to_string())),
    }
}

/// `2^retry × base × uniform(0.8, 1.2)`.
fn backoff(base: Duration, retry: u32) -> Duration {
    // Any decent random bits do: the id generator is fast, seeded and already here.
    let random = crate::ids::ObservationId::random().to_u64();
    let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 2f64.powi(retry.min(62) as i32) * (0.8 + 0.4 * unit);
    Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// `Retry-After` as a wait: delay-seconds (decimal allowed, negative = 0) or an HTTP date
/// (a past date = 0). `None` when unparseable, so the computed backoff applies.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_nan() {
            return None;
        }
        return Some(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the HTTP date formats (RFC 9110 §5.6.7): IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`,
/// the obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("pk-lf-1234:sk-lf-5678", "cGstbGYtMTIzNDpzay1sZi01Njc4"),
            ("ü:🚀", "w7w68J+agA=="),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
        // Every byte value, against the alphabet's `+` and `/`.
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64(&all).len(), 344);
    }

    #[test]
    fn langfuse_headers_win_over_user_headers() {
        let mut settings = OtlpHttpSettings::new("http://x/", "pk", "sk");
        settings.headers = vec![
            ("X-Tenant".into(), "acme".into()),
            ("Authorization".into(), "Bearer nope".into()),
            ("x-langfuse-ingestion-version".into(), "5".into()),
            ("Content-Encoding".into(), "br".into()),
            ("x-extra".into(), "1".into()),
        ];
        let headers = request_headers(&settings, "1.2.3");
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("X-Tenant", "acme"),
                ("x-extra", "1"),
                ("authorization", "Basic cGs6c2s="),
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
                ("x-langfuse-sdk-name", "rust"),
                ("x-langfuse-sdk-version", "1.2.3"),
                ("x-langfuse-public-key", "pk"),
                ("x-langfuse-ingestion-version", "4"),
            ]
        );
        settings.compression = Compression::None;
        let headers = request_headers(&settings, "1.2.3");
        assert!(!headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-encoding")));
    }

    #[test]
    fn without_keys_no_credentials_are_sent_and_a_user_authorization_goes_through() {
        let mut settings = OtlpHttpSettings::new("http://collector:4318/v1/traces", "", "");
        settings.headers = vec![
            ("Authorization".into(), "Bearer collector".into()),
            ("x-langfuse-ingestion-version".into(), "5".into()),
        ];
        let headers = request_headers(&settings, "1.2.3");
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("Authorization", "Bearer collector"),
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
                ("x-langfuse-sdk-name", "rust"),
                ("x-langfuse-sdk-version", "1.2.3"),
                ("x-langfuse-ingestion-version", "4"),
            ]
        );
    }

    #[test]
    fn settings_defaults_and_debug_redaction() {
        let settings = OtlpHttpSettings::new("http://x/", "pk-lf", "sk-secret");
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.compression, Compression::Gzip);
        assert_eq!(settings.max_request_bytes, 67_108_864);
        assert!(settings.headers.is_empty());
        assert_eq!(settings.retry_base_delay, Duration::from_secs(1));
        assert_eq!(settings.max_retry_wait, Duration::from_secs(60));
        assert_eq!(settings.retry_budget, Duration::from_secs(60));
        let debug = format!("{settings:?}");
        assert!(debug.contains("pk-lf") && !debug.contains("sk-secret"), "{debug}");
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let base = Duration::from_secs(1);
        for retry in 0..5 {
            let nominal = f64::from(1u32 << retry);
            for _ in 0..200 {
                let wait = backoff(base, retry).as_secs_f64();
                assert!(wait >= nominal * 0.8 && wait <= nominal * 1.2, "{retry}: {wait}");
            }
        }
        assert_eq!(backoff(Duration::MAX, 60), Duration::MAX);
    }

    use std::time::UNIX_EPOCH;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn retry_after_seconds() {
        let now = at(1_000);
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("1.5", now), Some(Duration::from_millis(1_500)));
        assert_eq!(parse_retry_after("-4", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1e400", now), Some(Duration::MAX));
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_http_dates() {
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (the RFC 9110 example).
        let date = at(784_111_777);
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(text), Some(date), "{text}");
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", date),
            Some(Duration::from_secs(10))
        );
        // A date in the past means "now".
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", date), Some(Duration::ZERO));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(UNIX_EPOCH));
        assert_eq!(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"), Some(at(951_825_600)));
        assert_eq!(parse_http_date("Fri, 31 Dec 2038 23:59:59 GMT"), Some(at(2_177_452_799)));
        // Only the three formats of RFC 9110: no numeric zone, no missing zone.
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 10:49:37 +0200"), None);
        assert_eq!(parse_http_date("06 Nov 1994 08:49:37"), None);
        for bad in [
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 CEST",
            "Sun, 06 Nov 1994",
            "tomorrow",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init, reason = "runs of records are ranges")]
    fn refused_requests_are_mapped_back_to_their_records() {
        use crate::ids::{ObservationId, TraceId};
        use crate::kind::ObservationType;
        let resource = ExportResource::new("svc", "pk");
        let record = |i: u64, input_len: usize| {
            let mut r = ObservationRecord::new(
                TraceId::from_u128(1).unwrap(),
                ObservationId::from_u64(i).unwrap(),
                None,
                "work",
                ObservationType::Span,
                1_700_000_000_000_000_000,
            );
            r.input = Some(format!("\"{}\"", "x".repeat(input_len)).into());
            r
        };
        // Record 1 is too large for any request and was left out by `encode_split`; requests
        // held [0, 2] (around it) and [3, 4].
        let batch = [record(1, 10), record(2, 5_000), record(3, 10), record(4, 10), record(5, 10)];
        let max = 2_000;
        assert!(super::super::otlp::encoded_request_len(&batch[1..2], &resource) > max);
        assert_eq!(chunk_runs(&batch, &resource, max, &[2, 2], &[0]), [vec![0..1, 2..3]]);
        assert_eq!(chunk_runs(&batch, &resource, max, &[2, 2], &[1]), [vec![3..5]]);
        assert_eq!(
            chunk_runs(&batch, &resource, max, &[2, 2], &[0, 1]),
            [vec![0..1, 2..3], vec![3..5]]
        );
        assert_eq!(chunk_runs(&batch, &resource, max, &[4], &[0]), [vec![0..1, 2..5]]);
    }

    #[test]
    fn abort_ends_a_wait_at_once() {
        let handle = AbortHandle::default();
        assert!(handle.sleep(Duration::from_millis(1)));
        let remote = handle.clone();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            remote.abort();
        });
        assert!(!handle.sleep(Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(handle.is_aborted());
        assert!(!handle.sleep(Duration::from_secs(30)));
        thread.join().unwrap();
    }

    /// Encode + gzip of 512-span requests with H_300B-sized payloads (~300 bytes of input and
    /// of output per span, word salad), alone on the export thread and with gzip helpers:
    /// `cargo test -p langfuse-runtime --release --lib gzip_throughput -- --ignored --nocapture`
    #[test]
    #[ignore = "throughput measurement; run in release mode"]
    fn gzip_throughput() {
        use crate::ids::TraceId;
        use crate::kind::ObservationType;
        const WORDS: &[&str] =
            &["the", "model", "answer", "question", "tool", "Paris", "\"quoted\"", "weather"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut text = || {
            let mut t = String::new();
            while t.len() < 300 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
                t.push(' ');
            }
            t
        };
        let resource = ExportResource::new("svc", "pk");
        let batch: Vec<_> = (1..=512u64)
            .map(|i| {
                let mut r = ObservationRecord::new(
                    TraceId::random(),
                    crate::ids::ObservationId::from_u64(i).unwrap(),
                    None,
                    "answer",
                    ObservationType::Span,
                    1_700_000_000_000_000_000 + i,
                );
                r.input = Some(serde_json::json!({ "prompt": text() }).to_string().into());
                r.output = Some(text().into());
                r
            })
            .collect();
        let mut encoder = OtlpEncoder::new();
        // Deflated whole on 0, 1 and all helpers, then half and nothing deflated (the export
        // thread's cost when the queue is filling up, `effort`).
        let max = super::super::gzip::MAX_HELPERS;
        for (helpers, share) in [(0, 1.0), (1, 1.0), (max, 1.0), (0, 0.5), (0, 0.0)] {
            let mut body = Vec::new();
            let mut gzip = super::super::gzip::Gzip::with_helpers(helpers);
            let rounds = 200;
            let started = Instant::now();
            let (mut raw, mut packed) = (0, 0);
            for _ in 0..rounds {
                body.clear();
                encoder.encode(&batch, &resource, &mut body);
                let deflate_len = (body.len() as f64 * share) as usize;
                let gz = gzip.compress(&body, deflate_len).unwrap();
                raw += body.len();
                packed += gz.len();
            }
            let elapsed = started.elapsed();
            let spans = (rounds * batch.len()) as f64;
            println!(
                "encode+gzip, {helpers} helpers, {share} deflated: {:.0} spans/s ({:.2} us/span), {} B/request, ratio {:.2}",
                spans / elapsed.as_secs_f64(),
                elapsed.as_secs_f64() * 1e6 / spans,
                raw / rounds,
                raw as f64 / packed as f64
            );
        }
    }
}

#[cfg(test)]
mod loopback_tests;
