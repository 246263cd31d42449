//! A loopback fake of an OpenAI-compatible server: answers each request with the next
//! scripted reply (JSON or server-sent events) and records what it was sent.
//!
//! One thread per connection, one request per connection (`connection: close`), so an SSE
//! body simply ends when the socket closes — the way a proxy-less server streams.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the fake answers one request with.
#[derive(Debug, Clone)]
pub enum FakeReply {
    /// A JSON body with this status.
    Json(u16, String),
    /// `200 text/event-stream`: each item is sent as one `data:` event after `gap`, then
    /// `data: [DONE]`.
    Sse { events: Vec<String>, gap: Duration },
}

impl FakeReply {
    /// `200` with this JSON body.
    pub fn ok(body: serde_json::Value) -> Self {
        Self::Json(200, body.to_string())
    }

    /// An OpenAI error object with this status.
    pub fn error(status: u16, kind: &str, message: &str, code: &str) -> Self {
        let body = serde_json::json!({
            "error": {"message": message, "type": kind, "param": null, "code": code}
        });
        Self::Json(status, body.to_string())
    }

    /// An SSE stream of these chunks, `gap` apart.
    pub fn sse(chunks: Vec<serde_json::Value>, gap: Duration) -> Self {
        Self::Sse { events: chunks.iter().map(|c| c.to_string()).collect(), gap }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// Request line target, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Lower-cased header names with their values.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: serde_json::Value,
}

impl FakeRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The fake server; it stops accepting when dropped.
pub struct FakeOpenAi {
    base_url: String,
    requests: Arc<Mutex<Vec<FakeRequest>>>,
}

impl FakeOpenAi {
    /// Starts on an ephemeral loopback port with these replies, in order (a request beyond
    /// the script gets a 500 error object).
    pub fn start(replies: Vec<FakeReply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (seen, script) = (seen.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &seen, &script));
            }
        });
        Self { base_url, requests }
    }

    /// The `api_base` to configure the client with (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<FakeRequest>>, script: &Mutex<VecDeque<FakeReply>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone socket"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    seen.lock().unwrap_or_else(PoisonError::into_inner).push(FakeRequest { path, headers, body });
    let reply = script.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
    let reply = reply.unwrap_or_else(|| FakeReply::error(500, "server_error", "unscripted", "x"));
    let mut out = stream;
    let _ = match reply {
        FakeReply::Json(status, body) => write!(
            out,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        ),
        FakeReply::Sse { events, gap } => (|| {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
            )?;
            out.flush()?;
            for event in events.iter().map(String::as_str).chain(["[DONE]"]) {
                std::thread::sleep(gap);
                write!(out, "data: {event}\n\n")?;
                out.flush()?;
            }
            Ok(())
        })(),
    };
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}
