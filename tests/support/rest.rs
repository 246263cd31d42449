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

use std::time::{Duration, Instant};

use super::server::Server;
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

/// The loopback REST receiver. Stops (and joins its threads) when dropped.
pub struct RestReceiver {
    server: Server<RestRequest>,
}

impl RestReceiver {
    /// Answers `202 {"message":"Accepted"}` to every score request, 200 to anything else.
    pub fn start() -> Self {
        Self::start_with_script(Vec::new())
    }

    /// Answers the first score requests from `script`, then 202.
    pub fn start_with_script(script: Vec<Reply>) -> Self {
        let server = Server::start("rest-receiver", script, |raw, script| {
            let reply = if raw.path == SCORES_PATH {
                script.next_or(RestReceiver::accepted)
            } else {
                Reply::ok()
            };
            let request = RestRequest {
                method: raw.method,
                path: raw.path,
                json: serde_json::from_slice(&raw.body).ok(),
                headers: raw.headers,
                body: raw.body,
                status: reply.status,
                received_at: Instant::now(),
            };
            (request, reply)
        });
        Self { server }
    }

    /// `202 Accepted` with the server's body.
    pub fn accepted() -> Reply {
        Reply::status(202).json_body(r#"{"message":"Accepted"}"#)
    }

    /// `207 Multi-Status` reporting `accepted` and `rejected` scores.
    pub fn partial(accepted: usize, rejected: usize) -> Reply {
        let errors: Vec<_> = (0..rejected)
            .map(|i| serde_json::json!({"message": format!("score {i} rejected")}))
            .collect();
        let body =
            serde_json::json!({"accepted": accepted, "rejected": rejected, "errors": errors});
        Reply::status(207).json_body(body.to_string())
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request so far (scores and spans), in arrival order.
    pub fn requests(&self) -> Vec<RestRequest> {
        self.server.with_requests(<[_]>::to_vec)
    }

    /// The score requests so far.
    pub fn score_requests(&self) -> Vec<RestRequest> {
        self.requests().into_iter().filter(RestRequest::is_scores).collect()
    }

    /// Every score object received so far, across requests, in arrival order.
    pub fn scores(&self) -> Vec<serde_json::Value> {
        self.server.with_requests(all_scores)
    }

    /// Waits until at least `n` score objects arrived or `timeout` passed; returns them all.
    pub fn wait_for_scores(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        self.server.wait_until(timeout, |r| all_scores(r).len() >= n, all_scores)
    }
}

fn all_scores(requests: &[RestRequest]) -> Vec<serde_json::Value> {
    requests.iter().flat_map(RestRequest::scores).collect()
}
