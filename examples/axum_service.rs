//! An axum service: one trace per request, user and session taken from the `x-user-id` and
//! `x-session-id` headers, work spawned onto tasks kept in the request's trace, and a graceful
//! shutdown that flushes what is queued.
//!
//! By default it serves two demo requests it sends itself, then shuts down; `-- --serve`
//! keeps serving on `127.0.0.1:3000` (or `PORT`) until Ctrl-C:
//!
//! ```sh
//! cargo run --example axum_service
//! cargo run --example axum_service -- --serve
//! curl -d 'What is Langfuse?' -H 'x-user-id: u1' -H 'x-session-id: s1' localhost:3000/chat
//! ```
//!
//! Without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` it prints each trace it would send.

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use langfuse_runtime::{
    Config, Langfuse, Usage, current_generation, observe, propagate_attributes,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[observe(as_type = "retriever")]
async fn lookup(question: &str) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    vec![format!("a document about {}", question.trim_end_matches('?'))]
}

#[observe(as_type = "guardrail")]
async fn moderate(question: &str) -> bool {
    tokio::time::sleep(Duration::from_millis(3)).await;
    !question.contains("forbidden")
}

#[observe(as_type = "generation")]
async fn generate(question: &str, documents: Vec<String>) -> String {
    current_generation().set_model("demo-model").set_usage_details(&Usage::new(42, 9));
    tokio::time::sleep(Duration::from_millis(5)).await;
    format!("{} document(s) say hello", documents.len())
}

#[observe(name = "POST /chat", skip(headers))]
async fn chat(headers: HeaderMap, question: String) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut attributes = propagate_attributes();
    if let Some(user) = header("x-user-id") {
        attributes = attributes.user_id(user);
    }
    if let Some(session) = header("x-session-id") {
        attributes = attributes.session_id(session);
    }
    attributes
        .wrap(async move {
            // Runs on another task, still a child of this request's observation.
            let check = langfuse_runtime::spawn({
                let question = question.clone();
                async move { moderate(&question).await }
            });
            let documents = lookup(&question).await;
            if !check.await.unwrap_or(false) {
                return "refused".to_owned();
            }
            generate(&question, documents).await
        })
        .await
}

/// Sends one request the way `curl` would, so the demo needs no HTTP client crate.
async fn demo_request(addr: std::net::SocketAddr, user: &str, session: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("the server listens");
    let request = format!(
        "POST /chat HTTP/1.1\r\nhost: {addr}\r\nx-user-id: {user}\r\nx-session-id: {session}\r\n\
         content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response read");
    response.rsplit("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let sending = config.has_keys();
    // Without keys, show the traces on stdout instead.
    let config = if sending { config } else { Config::builder().console_exporter(true).build()? };
    let langfuse = Langfuse::new(config);

    let serve_forever = std::env::args().any(|a| a == "--serve");
    let port = if serve_forever {
        std::env::var("PORT").unwrap_or_else(|_| "3000".into())
    } else {
        "0".into()
    };
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/chat", post(chat));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    if serve_forever {
        println!("listening on http://{addr}/chat (Ctrl-C stops)");
        tokio::signal::ctrl_c().await?;
    } else {
        for (user, session, question) in [
            ("user-1", "session-a", "What is Langfuse?"),
            ("user-2", "session-b", "How do traces work?"),
        ] {
            let answer = demo_request(addr, user, session, question).await;
            println!("{user}: {question} -> {answer}");
        }
    }
    let _ = stop.send(());
    server.await??;

    // In-flight requests have finished: flush before the process exits.
    let report = langfuse.flush();
    if sending {
        if report.is_success() {
            println!("sent the traces to {}", langfuse.config().base_url());
        } else {
            eprintln!("the traces could not be delivered ({report}); see the warnings above");
        }
    }
    Ok(())
}
