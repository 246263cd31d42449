//! The loopback HTTP/1.1 server under both receivers: thread per connection, keep-alive,
//! `Content-Length` and chunked bodies, `Expect: 100-continue`, scripted replies (status,
//! headers, body, delay, close), and a stop that joins every thread when dropped.
//!
//! What a request becomes is the receiver's business: [`Server::start`] takes a `handle`
//! function that turns each [`RawRequest`] into the record the receiver keeps and the reply to
//! send, given the script. [`OtlpReceiver`](super::OtlpReceiver) decodes OTLP protobuf,
//! [`RestReceiver`](super::RestReceiver) parses JSON scores.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Reply;

/// A request as read off the connection, before the receiver decodes it.
pub struct RawRequest {
    /// `POST`, …
    pub method: String,
    /// Request target.
    pub path: String,
    /// Headers in arrival order, names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    /// Body as received (chunked encoding undone).
    pub body: Vec<u8>,
    /// Number of the TCP connection it came on (0, 1, … in accept order).
    pub connection: usize,
}

impl RawRequest {
    /// The first value of header `name` (lower-case), lower-cased.
    pub fn header_lowercase(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_ascii_lowercase())
    }
}

/// The replies still to give, and the one after them.
#[derive(Default)]
pub struct Script {
    replies: VecDeque<Reply>,
    default_reply: Option<Reply>,
}

impl Script {
    /// The next scripted reply, else the default one, else `fallback`.
    pub fn next_or(&mut self, fallback: impl FnOnce() -> Reply) -> Reply {
        self.replies.pop_front().or_else(|| self.default_reply.clone()).unwrap_or_else(fallback)
    }
}

struct State<R> {
    requests: Vec<R>,
    script: Script,
    connections: usize,
}

type Handler<R> = dyn Fn(RawRequest, &mut Script) -> (R, Reply) + Send + Sync;

struct Shared<R> {
    state: Mutex<State<R>>,
    handle: Box<Handler<R>>,
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

/// A loopback HTTP server keeping one `R` per request. Stops when dropped.
pub struct Server<R: Send + 'static> {
    shared: Arc<Shared<R>>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl<R: Send + 'static> Server<R> {
    /// Listens on `127.0.0.1:<free port>`; `handle` turns each request into its record and
    /// reply (it runs under the state lock, so it must not block).
    pub fn start(
        name: &str,
        script: Vec<Reply>,
        handle: impl Fn(RawRequest, &mut Script) -> (R, Reply) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                script: Script { replies: script.into(), default_reply: None },
                connections: 0,
            }),
            handle: Box::new(handle),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            let name = name.to_owned();
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || accept_loop(listener, shared, &name))
                .expect("spawn acceptor")
        };
        Self { shared, addr, acceptor: Some(acceptor) }
    }

    /// Appends replies to the script.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.state).script.replies.extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default_reply(&self, reply: Reply) {
        lock(&self.shared.state).script.default_reply = Some(reply);
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        lock(&self.shared.state).connections
    }

    /// Reads the records kept so far.
    pub fn with_requests<T>(&self, read: impl FnOnce(&[R]) -> T) -> T {
        read(&lock(&self.shared.state).requests)
    }

    /// Waits until `done` holds for the records or `timeout` passed, then reads them.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[R]) -> bool,
        read: impl FnOnce(&[R]) -> T,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        while !done(&state.requests) {
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
        read(&state.requests)
    }
}

impl<R: Send + 'static> Drop for Server<R> {
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

fn accept_loop<R: Send + 'static>(listener: TcpListener, shared: Arc<Shared<R>>, name: &str) {
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
            std::thread::Builder::new().name(format!("{name}-{connection}")).spawn(move || {
                let _ = serve_connection(stream, connection, &shared);
            })
        };
        if let Ok(worker) = worker {
            lock(&shared.workers).push(worker);
        }
    }
}

/// Serves requests on one connection until the peer closes it, a reply closes it, or stop.
fn serve_connection<R>(stream: TcpStream, connection: usize, shared: &Shared<R>) -> io::Result<()> {
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
        let mut request = RawRequest { method, path, headers, body: Vec::new(), connection };
        if request.header_lowercase("expect").is_some_and(|v| v == "100-continue") {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        request.body =
            if request.header_lowercase("transfer-encoding").is_some_and(|v| v.contains("chunked"))
            {
                read_chunked(&mut reader)?
            } else {
                let len: usize = request
                    .header_lowercase("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body)?;
                body
            };
        let connection_header = request.header_lowercase("connection");
        let client_closes = connection_header.as_ref().is_some_and(|v| v.contains("close"))
            || (version == "HTTP/1.0" && connection_header.is_none_or(|v| v != "keep-alive"));

        let reply = {
            let mut state = lock(&shared.state);
            let (record, reply) = (shared.handle)(request, &mut state.script);
            state.requests.push(record);
            reply
        };
        shared.changed.notify_all();

        if !reply.delay.is_zero() {
            // Interruptible, so that dropping the server does not wait out the delay.
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
