//! One trace across two services: a frontend service calls a backend service over HTTP on
//! loopback; the frontend injects the W3C `traceparent` of its calling observation (and, as
//! it asks for, its user and session as W3C `baggage`), the backend continues the trace and
//! takes the baggage in one line, and runs its handler in that context.
//!
//! Langfuse shows one trace: `frontend` → `call_backend` (tool) → `backend` (marked as the
//! backend's root, `langfuse.internal.as_root`) → `model_call` (generation).
//!
//! The console view prints each service's part as its own tree, the backend's with the id of
//! its remote parent (the frontend's `call_backend`); Langfuse joins them by trace id.
//!
//! Both services run in this one process to keep the example self-contained; across real
//! processes the code is the same. Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it
//! prints the tree it would send; with them it sends it to Langfuse.
//!
//! ```sh
//! cargo run --example distributed
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use http::{HeaderMap, HeaderName, HeaderValue};
use langfuse_runtime::{
    Config, Langfuse, Usage, current_generation, observe, propagate_attributes, w3c,
};

#[observe(as_type = "generation")]
fn model_call(question: &str) -> String {
    current_generation().set_model("gpt-4o-mini").set_usage_details(&Usage::new(9, 4));
    format!("42 is the answer to {question:?}")
}

/// The backend's handler.
#[observe]
fn backend(question: &str) -> String {
    model_call(question)
}

#[observe(as_type = "tool")]
fn call_backend(addr: SocketAddr, question: &str) -> std::io::Result<String> {
    // The calling observation (and the baggage asked for) goes on the request; with reqwest:
    // `client.get(url).headers(w3c::current_headers())`.
    get(addr, question, &w3c::current_headers())
}

/// The frontend's handler. User and session go to the backend too, as baggage: only opaque
/// ids, as baggage travels in plain text in the headers of every request.
#[observe]
fn frontend(backend: SocketAddr) -> std::io::Result<String> {
    propagate_attributes()
        .user_id("user-42")
        .session_id("chat-7")
        .as_baggage()
        .run(|| call_backend(backend, "life, the universe and everything"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    // The backend service: one request, handled in the caller's trace.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        let (question, headers) = read_request(&stream)?;
        // No (valid) traceparent: a new trace starts here instead. The frontend is trusted,
        // so its baggage (user, session) is taken too.
        let cx = w3c::continue_headers_and_baggage(&headers);
        let body = cx.run(|| backend(&question));
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    });

    let answer = frontend(addr)?;
    server.join().map_err(|_| "the backend thread panicked")??;
    println!("answer: {answer}");

    let report = langfuse.flush();
    if sending {
        if report.is_success() {
            println!("sent to Langfuse ({report})");
        } else {
            eprintln!("the trace was not delivered ({report}); see the warnings above");
        }
    }
    Ok(())
}

/// `GET /?<question>` with `headers`; the response body.
fn get(addr: SocketAddr, question: &str, headers: &HeaderMap) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    let path: String = question.chars().map(|c| if c == ' ' { '+' } else { c }).collect();
    let mut request = format!("GET /?{path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or_default()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

/// The question from the request line and the headers of a request head.
fn read_request(stream: &TcpStream) -> std::io::Result<(String, HeaderMap)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let question = line
        .split_whitespace()
        .nth(1)
        .and_then(|target| target.strip_prefix("/?"))
        .unwrap_or_default()
        .replace('+', " ");
    let mut headers = HeaderMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok((question, headers));
        }
        let Some((name, value)) = line.trim_end().split_once(':') else { continue };
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        {
            headers.insert(name, value);
        }
    }
}
