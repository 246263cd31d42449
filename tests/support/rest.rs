//! A loopback receiver for the REST score endpoint, `POST /api/public/scores`: it records the
//! JSON bodies and answers from a script (202, 207, 429 with `Retry-After`, 5xx, …).
//!
//! Scores and spans share the base URL, so it also takes the OTLP span requests (answered
//! 200, recorded undecoded): the arrival order of both shows that `flush()` sends spans first.
//!
//! ```ignore
//! let receiver = RestReceiver::start_with_script(vec![Reply::status(429).retry_after("0")]);
//! // point a client at receiver.base_url(), send a score, flush, then:
//! let scores = receiver.wait_for_scores(1, Duration::from_secs(5));
//! assert_eq!(scores[0]["name"], "helpfulness");
//! assert_eq!(receiver.score_requests().len(), 2);
//! ```

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Reply, expected_basic_auth};

/// The path the Langfuse server takes scores on.
pub const SCORES_PATH: &str = "/api/public/scores";

/// One request as the REST receiver saw it.
#[derive(Debug, Clone)]
pub struct RestRequest {
    /// `POST`, …
    pub method: String,
    /// Request target.
    pub path: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body as received.
    pub body: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<serde_json::Value>,
    /// The status it was answered with.
    pub status: u16,
    /// When it was fully read.
    pub received_at: Instant,
}

impl RestRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether this is a score request.
    pub fn is_scores(&self) -> bool {
        self.path == SCORES_PATH
    }

    /// The score objects of a score request's JSON array (empty for anything else).
    pub fn scores(&self) -> Vec<serde_json::Value> {
        match &self.json {
            Some(serde_json::Value::Array(items)) if self.is_scores() => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Panics unless this is a score request with the headers of §7.1 for these keys: Basic
    /// auth, JSON content type, SDK name and version, public key; no OTLP ingestion version
    /// and no compression.
    pub fn assert_score_headers(&self, public_key: &str, secret_key: &str) {
        assert_eq!((self.method.as_str(), self.path.as_str()), ("POST", SCORES_PATH));
        let expected_auth = expected_basic_auth(public_key, secret_key);
        assert_eq!(self.header("authorization"), Some(expected_auth.as_str()));
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("x-langfuse-sdk-name"), Some("rust"));
        assert_eq!(self.header("x-langfuse-sdk-version"), Some(langfuse_runtime::SDK_VERSION));
        assert_eq!(self.header("x-langfuse-public-key"), Some(public_key));
        assert_eq!(self.header("x-langfuse-ingestion-version"), None);
        assert_eq!(self.header("content-encoding"), None);
        assert!(
            matches!(self.json, Some(serde_json::Value::Array(_))),
            "body is not a JSON array: {}",
            String::from_utf8_lossy(&self.body)
        );
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RestRequest>,
    script: VecDeque<Reply>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The loopback REST receiver. Stops (and joins its threads) when dropped.
pub struct RestReceiver {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl RestReceiver {
    /// Answers `202 {"message":"Accepted"}` to every score request, 200 to anything else.
    pub fn start() -> Self {
        Self::start_with_script(Vec::new())
    }

    /// Answers the first score requests from `script`, then 202.
    pub fn start_with_script(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        lock(&shared.state).script = script.into();
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("rest-receiver".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn acceptor")
        };
        Self { shared, addr, acceptor: Some(acceptor) }
    }

    /// `202 Accepted` with the server's body.
    pub fn accepted() -> Reply {
        Reply::status(202).body(r#"{"message":"Accepted"}"#)
    }

    /// `207 Multi-Status` reporting `accepted` and `rejected` scores.
    pub fn partial(accepted: usize, rejected: usize) -> Reply {
        let errors: Vec<_> = (0..rejected)
            .map(|i| serde_json::json!({"message": format!("score {i} rejected")}))
            .collect();
        let body =
            serde_json::json!({"accepted": accepted, "rejected": rejected, "errors": errors});
        Reply::status(207).body(body.to_string())
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far (scores and spans), in arrival order.
    pub fn requests(&self) -> Vec<RestRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// The score requests so far.
    pub fn score_requests(&self) -> Vec<RestRequest> {
        self.requests().into_iter().filter(RestRequest::is_scores).collect()
    }

    /// Every score object received so far, across requests, in arrival order.
    pub fn scores(&self) -> Vec<serde_json::Value> {
        self.score_requests().iter().flat_map(RestRequest::scores).collect()
    }

    /// Waits until at least `n` score objects arrived or `timeout` passed; returns them all.
    pub fn wait_for_scores(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        let count = |s: &State| s.requests.iter().map(|r| r.scores().len()).sum::<usize>();
        while count(&state) < n {
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
        state.requests.iter().flat_map(RestRequest::scores).collect()
    }
}

impl Drop for RestReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
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
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push(clone);
        }
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new().name("rest-receiver-conn".into()).spawn(move || {
                let _ = serve_connection(stream, &shared);
            })
        };
        if let Ok(worker) = worker {
            lock(&shared.workers).push(worker);
        }
    }
}

/// Serves keep-alive requests with `Content-Length` or chunked bodies until the peer closes.
fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 || shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        if method.is_empty() {
            continue;
        }
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
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)?
        } else {
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        };
        let is_scores = path == SCORES_PATH;
        let reply = {
            let mut state = lock(&shared.state);
            let reply = if is_scores {
                state.script.pop_front().unwrap_or_else(RestReceiver::accepted)
            } else {
                Reply::ok()
            };
            state.requests.push(RestRequest {
                method,
                path,
                json: serde_json::from_slice(&body).ok(),
                headers,
                body,
                status: reply.status,
                received_at: Instant::now(),
            });
            reply
        };
        shared.changed.notify_all();
        if !reply.delay.is_zero() {
            let state = lock(&shared.state);
            let _ = shared
                .changed
                .wait_timeout_while(state, reply.delay, |_| !shared.stop.load(Ordering::SeqCst));
        }
        let mut response = format!("HTTP/1.1 {} Status\r\n", reply.status);
        response.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        if !reply.body.is_empty() {
            response.push_str("content-type: application/json\r\n");
        }
        for (name, value) in &reply.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        if reply.close {
            response.push_str("connection: close\r\n");
        }
        response.push_str("\r\n");
        writer.write_all(response.as_bytes())?;
        writer.write_all(&reply.body)?;
        writer.flush()?;
        if reply.close {
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
