//! The score sender: a bounded queue, a background thread that batches scores into JSON
//! arrays and POSTs them to `/api/public/scores` through the span exporter's transport (same
//! headers apart from content type, same retry policy), and its counters.
//!
//! Callers only encode the score and push it on a channel: they never wait for the network,
//! and a sender thread that died only makes later scores count as dropped.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::body::{self, Resolved};
use super::{Draft, ScoreError, ScoreStats, ScoreValue};
use crate::config::Config;
use crate::diag;
use crate::export::console::scores::{self, ScoreLine};
use crate::export::http::{AbortHandle, OtlpHttpSettings, Reply, Transport, request_headers};
use crate::export::{Compression, ExportError};
use crate::ids::{ObservationId, TraceId};
use crate::sampling::Sampler;

/// Largest request body, the JSON array as serialised (§7.1: under the server's 1 MiB).
pub(crate) const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Scores waiting to be sent before new ones are dropped, as in the Python SDK.
const MAX_QUEUE: usize = 100_000;
/// `Multi-Status`: some scores were accepted, some rejected; retrying would duplicate the rest.
const PARTIAL: u16 = 207;
/// Path of the scores endpoint under the base URL.
const SCORES_PATH: &str = "api/public/scores";

/// What the sender is set up with.
pub(crate) struct SenderSettings {
    /// Where and how to POST; `None` without keys (scores are then only printed, if at all).
    pub(crate) http: Option<OtlpHttpSettings>,
    /// Why scores cannot be sent at all (no keys and no console), when so: each is counted
    /// as dropped.
    pub(crate) unsendable: Option<&'static str>,
    /// Print each score on stdout as it is sent.
    pub(crate) console: bool,
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    /// The client's environment, the last default of a score's.
    pub(crate) environment: Option<String>,
    pub(crate) max_queue: usize,
    pub(crate) max_request_bytes: usize,
    /// The client's sampler: scores of traces it drops are dropped too (§7.4).
    pub(crate) sampler: Sampler,
}

impl SenderSettings {
    /// The settings for `config`; `None` when scores go nowhere (tracing off, or neither keys
    /// nor the console exporter).
    pub(crate) fn for_config(config: &Config, sampler: Sampler) -> Option<Self> {
        if !config.tracing_enabled() {
            return None;
        }
        let http = match (config.public_key(), config.secret_key()) {
            (Some(public_key), Some(secret_key)) => {
                let base = config.base_url().trim_end_matches('/');
                let mut http = OtlpHttpSettings::new(
                    format!("{base}/{SCORES_PATH}"),
                    public_key,
                    secret_key.expose(),
                );
                http.timeout = config.timeout();
                http.headers = config.headers().to_vec();
                http.compression = Compression::None;
                Some(http)
            }
            _ => None,
        };
        // Collector mode (or only other destinations) without keys: spans are recorded, but
        // scores have nowhere to go, as only the REST API takes them. They are counted as
        // dropped, with the reason logged once, so a score never disappears silently.
        let records_elsewhere = (config.langfuse_export() && config.otlp_endpoint().is_some())
            || !config.destinations().is_empty()
            || !config.extra_exporters().is_empty();
        let unsendable = (http.is_none() && !config.console_exporter()).then_some(
            "scores need the Langfuse REST API, which needs LANGFUSE_PUBLIC_KEY and \
             LANGFUSE_SECRET_KEY; without keys (collector mode) they are dropped",
        );
        if unsendable.is_some() && !records_elsewhere {
            return None;
        }
        Some(Self {
            http,
            unsendable,
            console: config.console_exporter(),
            flush_at: config.score_flush_at(),
            flush_interval: config.score_flush_interval(),
            environment: config.environment().map(str::to_owned),
            max_queue: MAX_QUEUE,
            max_request_bytes: MAX_REQUEST_BYTES,
            sampler,
        })
    }
}

/// One encoded score on its way to the sender thread.
struct Queued {
    json: String,
    console: Console,
}

/// What the console shows of a score when it is sent.
enum Console {
    /// The console exporter is off.
    Off,
    /// Held for the tree of its observation; printed as a line only if no tree showed it.
    Held(u64),
    /// Printed as this line.
    Line(String),
}

enum Message {
    Score(Queued),
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

struct Shared {
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    closed: AtomicBool,
    queued: AtomicUsize,
    max_queue: usize,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Shared {
    fn send(&self, message: Message) -> bool {
        match &*self.sender.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(sender) => sender.send(message).is_ok(),
            None => false,
        }
    }

    fn count_dropped(&self, why: &str) {
        if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            diag::warn(format_args!("score dropped: {why}"));
        }
    }
}

/// A client's score queue and the thread that empties it.
pub(crate) struct ScoreSender {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
    environment: Option<String>,
    console: bool,
    unsendable: Option<&'static str>,
    max_request_bytes: usize,
    sampler: Sampler,
    /// Cuts the transport's retry waits short when shutdown runs out of time.
    abort: Option<AbortHandle>,
}

impl std::fmt::Debug for ScoreSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreSender").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl ScoreSender {
    /// The sender for `config`, started; `None` when scores go nowhere.
    pub(crate) fn for_config(config: &Config, sampler: Sampler) -> Option<Arc<Self>> {
        SenderSettings::for_config(config, sampler).map(|s| Arc::new(Self::start(s)))
    }

    /// Whether scores of this trace are sent (the trace's spans are).
    pub(crate) fn samples(&self, trace_id: TraceId) -> bool {
        self.sampler.should_sample(trace_id)
    }

    /// Starts the sender thread.
    pub(crate) fn start(settings: SenderSettings) -> Self {
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            sender: Mutex::new(Some(sender)),
            closed: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            max_queue: settings.max_queue,
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let transport = settings.http.as_ref().map(|http| {
            Transport::new(http, rest_headers(http, crate::SDK_VERSION), crate::SDK_VERSION)
        });
        let abort = transport.as_ref().map(Transport::abort_handle);
        let worker = Worker {
            shared: shared.clone(),
            receiver,
            transport,
            batch: Batch::new(settings.flush_at, settings.max_request_bytes),
            flush_interval: settings.flush_interval.max(Duration::from_millis(1)),
        };
        let handle = std::thread::Builder::new()
            .name("langfuse-scores".into())
            .spawn(move || worker.run())
            .map_err(|e| diag::error(format_args!("could not start the score thread: {e}")))
            .ok();
        if handle.is_none() {
            shared.closed.store(true, Ordering::Relaxed);
        }
        Self {
            shared,
            worker: Mutex::new(handle),
            environment: settings.environment,
            console: settings.console,
            unsendable: settings.unsendable,
            max_request_bytes: settings.max_request_bytes,
            sampler: settings.sampler,
            abort,
        }
    }

    /// Fills in id, timestamp and environment, encodes the score and queues it.
    pub(crate) fn submit(&self, draft: Draft) -> Result<(), ScoreError> {
        if let Some(why) = self.unsendable {
            self.shared.count_dropped(why);
            return Ok(());
        }
        let id = match &draft.id {
            Some(id) => id.clone(),
            None => ObservationId::random().to_string(),
        };
        let environment = draft
            .environment
            .as_deref()
            .or(draft.inherited_environment.as_deref())
            .or(self.environment.as_deref());
        let json = body::encode(&Resolved {
            draft: &draft,
            id: &id,
            environment,
            timestamp: draft.timestamp.unwrap_or_else(SystemTime::now),
        });
        // `[` and `]` around it.
        if json.len() + 2 > self.max_request_bytes {
            return Err(ScoreError::TooLarge(json.len()));
        }
        let shared = &self.shared;
        if shared.closed.load(Ordering::Relaxed) {
            shared.count_dropped("the client has shut down");
            return Ok(());
        }
        if shared.queued.fetch_add(1, Ordering::Relaxed) >= shared.max_queue {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            shared.count_dropped("the score queue is full");
            return Ok(());
        }
        let console = match self.console {
            false => Console::Off,
            true => hold_for_console(&draft),
        };
        let held = match console {
            Console::Held(key) => Some(key),
            _ => None,
        };
        if !shared.send(Message::Score(Queued { json, console })) {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            shared.count_dropped("the score thread is not running");
            if let Some(key) = held {
                scores::release(key);
            }
        }
        Ok(())
    }

    /// Sends every score queued so far; waits at most `timeout`. True when done in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        if self.shared.closed.load(Ordering::Acquire) {
            // Shut down: nothing is queued any more (later scores were dropped and counted).
            return true;
        }
        let (ack, done) = mpsc::channel();
        self.shared.send(Message::Flush(ack)) && done.recv_timeout(timeout).is_ok()
    }

    /// Sends what is queued and stops the thread; waits at most `timeout`, then cuts retry
    /// waits short. Later scores are dropped (and counted).
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return true;
        }
        let (ack, done) = mpsc::channel();
        let finished =
            self.shared.send(Message::Shutdown(ack)) && done.recv_timeout(timeout).is_ok();
        *self.shared.sender.lock().unwrap_or_else(PoisonError::into_inner) = None;
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
        if finished {
            if let Some(worker) = worker {
                let _ = worker.join();
            }
        } else if let Some(abort) = &self.abort {
            abort.abort();
        }
        let stats = self.stats();
        if stats.failed > 0 || stats.dropped > 0 || !finished {
            diag::warn(format_args!(
                "shutdown: {} scores sent, {} failed, {} dropped{}",
                stats.sent,
                stats.failed,
                stats.dropped,
                if finished { "" } else { ", and sending did not finish in time" }
            ));
        }
        finished
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> ScoreStats {
        let s = &self.shared;
        ScoreStats {
            sent: s.sent.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            queued: s.queued.load(Ordering::Relaxed) as u64,
        }
    }
}

/// The span exporter's headers (auth, SDK name and version, public key, user headers) with
/// the REST API's content type, and without the OTLP-only ingestion version (§7.1).
fn rest_headers(http: &OtlpHttpSettings, sdk_version: &str) -> Vec<(String, String)> {
    let mut headers = request_headers(http, sdk_version);
    // Ours are lower-case and user headers of these names were already left out.
    headers.retain(|(name, _)| name != "x-langfuse-ingestion-version");
    for (name, value) in &mut headers {
        if name == "content-type" {
            *value = "application/json".into();
        }
    }
    headers
}

/// Hands the score to the console, to show under its observation or as a line.
fn hold_for_console(draft: &Draft) -> Console {
    let value = match &draft.value {
        Some(ScoreValue::Number(n)) => n.to_string(),
        Some(ScoreValue::String(s)) => serde_json::to_string(s).unwrap_or_default(),
        None => String::new(),
    };
    let line = ScoreLine {
        name: &draft.name,
        value: &value,
        data_type: draft.data_type.map(|t| t.as_str()),
        trace_id: draft.trace_id.as_deref(),
        observation_id: draft.observation_id.as_deref(),
        session_id: draft.session_id.as_deref(),
        dataset_run_id: draft.dataset_run_id.as_deref(),
        comment: draft.comment.as_deref(),
    };
    match scores::hold(&line) {
        Ok(key) => Console::Held(key),
        Err(line) => Console::Line(line),
    }
}

/// The scores of the next request, cut by count and by bytes.
struct Batch {
    scores: Vec<Queued>,
    /// Length of the JSON array of `scores`.
    bytes: usize,
    /// When the first score of the batch arrived.
    started: Option<Instant>,
    flush_at: usize,
    max_bytes: usize,
}

impl Batch {
    fn new(flush_at: usize, max_bytes: usize) -> Self {
        Self { scores: Vec::new(), bytes: 2, started: None, flush_at: flush_at.max(1), max_bytes }
    }

    /// Whether a score of `len` bytes still fits in this request.
    fn fits(&self, len: usize) -> bool {
        let separator = usize::from(!self.scores.is_empty());
        self.bytes + separator + len <= self.max_bytes
    }

    fn push(&mut self, score: Queued) {
        self.bytes += usize::from(!self.scores.is_empty()) + score.json.len();
        self.started.get_or_insert_with(Instant::now);
        self.scores.push(score);
    }

    fn is_full(&self) -> bool {
        self.scores.len() >= self.flush_at
    }

    /// The scores, leaving the batch empty.
    fn take(&mut self) -> Vec<Queued> {
        self.bytes = 2;
        self.started = None;
        std::mem::take(&mut self.scores)
    }
}

struct Worker {
    shared: Arc<Shared>,
    receiver: mpsc::Receiver<Message>,
    transport: Option<Transport>,
    batch: Batch,
    flush_interval: Duration,
}

impl Worker {
    fn run(mut self) {
        loop {
            let message = match self.batch.started {
                None => match self.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return,
                },
                Some(started) => {
                    let wait =
                        (started + self.flush_interval).saturating_duration_since(Instant::now());
                    match self.receiver.recv_timeout(wait) {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => {
                            self.deliver();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            self.deliver();
                            return;
                        }
                    }
                }
            };
            match message {
                Message::Score(score) => {
                    if !self.batch.fits(score.json.len()) {
                        self.deliver();
                    }
                    self.batch.push(score);
                    if self.batch.is_full() {
                        self.deliver();
                    }
                }
                Message::Flush(ack) => {
                    self.deliver();
                    let _ = ack.send(());
                }
                Message::Shutdown(ack) => {
                    self.deliver();
                    let _ = ack.send(());
                    self.drop_late();
                    return;
                }
            }
        }
    }

    /// Counts as dropped the scores that raced with shutdown into the channel.
    fn drop_late(&self) {
        while let Ok(message) = self.receiver.try_recv() {
            match message {
                Message::Score(score) => {
                    self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                    self.shared.count_dropped("the client has shut down");
                    if let Console::Held(key) = score.console {
                        scores::release(key);
                    }
                }
                Message::Flush(ack) | Message::Shutdown(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// Prints and sends the batch, and counts the outcome.
    fn deliver(&mut self) {
        let batch = self.batch.take();
        if batch.is_empty() {
            return;
        }
        let n = batch.len();
        let lines: Vec<String> = batch
            .iter()
            .filter_map(|s| match &s.console {
                Console::Off => None,
                Console::Held(key) => scores::release(*key),
                Console::Line(line) => Some(line.clone()),
            })
            .collect();
        if !lines.is_empty() {
            let mut out = std::io::stdout().lock();
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        }
        let (sent, failed) = match &self.transport {
            None => (n, 0),
            Some(transport) => {
                let mut body = String::with_capacity(self.batch.max_bytes.min(64 * 1024));
                body.push('[');
                for (i, score) in batch.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(&score.json);
                }
                body.push(']');
                outcome(n, transport.send_for_reply(body.as_bytes()))
            }
        };
        let s = &self.shared;
        s.sent.fetch_add(sent as u64, Ordering::Relaxed);
        s.failed.fetch_add(failed as u64, Ordering::Relaxed);
        s.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

/// `(sent, failed)` of a request of `n` scores, logged when not all arrived.
fn outcome(n: usize, result: Result<Reply, ExportError>) -> (usize, usize) {
    match result {
        Ok(reply) if reply.status == PARTIAL => {
            let body = String::from_utf8_lossy(&reply.body);
            let rejected = rejected_count(&body).unwrap_or(0).min(n);
            diag::warn(format_args!(
                "scores partly rejected ({rejected} of {n}, not retried): {}",
                body.chars().take(512).collect::<String>()
            ));
            (n - rejected, rejected)
        }
        Ok(_) => (n, 0),
        Err(error) => {
            diag::warn(format_args!("{n} scores not delivered: {error}"));
            (0, n)
        }
    }
}

/// `rejected` of a 207 body `{"accepted": n, "rejected": m, "errors": […]}`.
fn rejected_count(body: &str) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    usize::try_from(value.get("rejected")?.as_u64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(len: usize) -> Queued {
        Queued { json: "x".repeat(len), console: Console::Off }
    }

    fn settings(max_queue: usize, max_request_bytes: usize) -> SenderSettings {
        SenderSettings {
            http: None,
            unsendable: None,
            console: false,
            flush_at: 100,
            flush_interval: Duration::from_secs(3600),
            environment: None,
            max_queue,
            max_request_bytes,
            sampler: Sampler::always(),
        }
    }

    fn draft() -> Draft {
        Draft {
            name: "s".into(),
            value: Some(ScoreValue::Number(1.0)),
            session_id: Some("session".into()),
            ..Draft::default()
        }
    }

    #[test]
    fn full_queues_and_shut_down_senders_count_their_drops() {
        let sender = ScoreSender::start(settings(2, MAX_REQUEST_BYTES));
        for _ in 0..3 {
            assert_eq!(sender.submit(draft()), Ok(()));
        }
        let stats = sender.stats();
        assert_eq!((stats.sent, stats.dropped, stats.queued), (0, 1, 2));
        assert!(sender.flush(Duration::from_secs(10)));
        let stats = sender.stats();
        assert_eq!((stats.sent, stats.dropped, stats.queued), (2, 1, 0));
        assert!(sender.shutdown(Duration::from_secs(10)));
        assert_eq!(sender.submit(draft()), Ok(()));
        let stats = sender.stats();
        assert_eq!((stats.sent, stats.dropped, stats.queued), (2, 2, 0));
        // Nothing is left to wait for: a flush after shutdown returns at once (the drop is
        // already counted), as the span pipeline's does.
        assert!(sender.flush(Duration::from_secs(1)));
    }

    #[test]
    fn a_score_larger_than_a_request_is_refused() {
        let sender = ScoreSender::start(settings(10, 100));
        let mut big = draft();
        big.comment = Some("c".repeat(100));
        assert!(matches!(sender.submit(big), Err(ScoreError::TooLarge(n)) if n > 100));
        assert_eq!(sender.stats(), ScoreStats::default());
        assert!(sender.shutdown(Duration::from_secs(10)));
    }

    #[test]
    fn batches_are_cut_by_count_and_by_array_bytes() {
        let mut batch = Batch::new(3, 20);
        assert!(batch.fits(18) && !batch.fits(19), "[ + 18 + ] = 20");
        batch.push(queued(5));
        assert_eq!(batch.bytes, 7);
        assert!(batch.fits(12) && !batch.fits(13), "[5,12] = 20");
        batch.push(queued(4));
        assert!(!batch.is_full());
        batch.push(queued(1));
        assert!(batch.is_full());
        assert_eq!(batch.bytes, "[xxxxx,xxxx,x]".len());
        assert_eq!(batch.take().len(), 3);
        assert_eq!((batch.bytes, batch.started), (2, None));
    }

    #[test]
    fn partial_success_counts_the_rejected() {
        let reply = |status, body: &str| Ok(Reply { status, body: body.as_bytes().to_vec() });
        let body = r#"{"accepted":2,"rejected":1,"errors":[{"message":"bad"}]}"#;
        assert_eq!(outcome(3, reply(207, body)), (2, 1));
        assert_eq!(outcome(3, reply(207, "not json")), (3, 0));
        assert_eq!(outcome(3, reply(207, r#"{"rejected":9}"#)), (0, 3));
        assert_eq!(outcome(3, reply(202, r#"{"message":"Accepted"}"#)), (3, 0));
        assert_eq!(outcome(3, Err(ExportError::Timeout)), (0, 3));
    }

    #[test]
    fn rest_headers_are_json_without_the_ingestion_version() {
        let mut http = OtlpHttpSettings::new("http://x/api/public/scores", "pk", "sk");
        http.compression = Compression::None;
        http.headers = vec![("x-tenant".into(), "acme".into())];
        let headers = rest_headers(&http, "1.2.3");
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("x-tenant", "acme"),
                ("authorization", "Basic cGs6c2s="),
                ("content-type", "application/json"),
                ("x-langfuse-sdk-name", "rust"),
                ("x-langfuse-sdk-version", "1.2.3"),
                ("x-langfuse-public-key", "pk"),
            ]
        );
    }
}
