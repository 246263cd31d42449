//! Scores against a loopback REST endpoint: the exact JSON bodies and headers of
//! `POST /api/public/scores`, batching, 207/429/5xx handling, sampling, validation and the
//! order of `flush()` (spans first).

mod support;

use std::sync::MutexGuard;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use langfuse_runtime::{
    Config, ConfigBuilder, Langfuse, ObservationId, ScoreDataType, ScoreError, TraceId, generation,
    propagate_attributes, score, score_current_observation, score_current_trace, span,
};
use serde_json::{Value, json};
use support::{PUBLIC_KEY, Reply, RestReceiver, SECRET_KEY, exclusive};

const WAIT: Duration = Duration::from_secs(10);

/// A global client sending to its own [`RestReceiver`] (no periodic flush: tests flush).
struct Setup {
    langfuse: Langfuse,
    receiver: RestReceiver,
    _serial: MutexGuard<'static, ()>,
}

fn start(script: Vec<Reply>, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Setup {
    let serial = exclusive();
    let receiver = RestReceiver::start_with_script(script);
    let builder = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(receiver.base_url())
        .flush_interval(Duration::from_secs(3600));
    let langfuse = configure(builder).init().expect("valid test configuration");
    Setup { langfuse, receiver, _serial: serial }
}

/// `2025-01-02T03:04:05.067631Z`.
fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_735_787_045_067_631)
}

/// A score object without its generated `id` and `timestamp`, after checking their form.
fn without_generated(mut score: Value) -> Value {
    let object = score.as_object_mut().expect("a score is an object");
    let id = object.remove("id").expect("id");
    let id = id.as_str().expect("id is a string");
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let timestamp = object.remove("timestamp").expect("timestamp");
    let timestamp = timestamp.as_str().expect("timestamp is a string");
    assert!(timestamp.starts_with("20") && timestamp.ends_with('Z'), "{timestamp}");
    score
}

#[test]
fn every_entry_point_sends_the_exact_json() {
    let setup = start(Vec::new(), |b| b.environment("production"));
    let db = span("db_query").start();
    let chat = generation("chat").parent(db.context()).start();
    let (trace, db_id, chat_id) = (
        db.trace_id().unwrap().to_string(),
        db.id().unwrap().to_string(),
        chat.id().unwrap().to_string(),
    );
    assert_eq!(chat.trace_id().unwrap().to_string(), trace);
    db.score("db_latency_ok")
        .boolean(true)
        .comment("Query took 12 ms")
        .id("score-1")
        .timestamp(at())
        .send()
        .unwrap();
    chat.score("helpfulness")
        .numeric(0.8)
        .metadata(&json!({"judge": "gpt-4o", "n": 3}))
        .config_id("cfg-helpfulness")
        .id("score-2")
        .timestamp(at())
        .send()
        .unwrap();
    db.score_trace("tone").categorical("friendly").id("score-3").timestamp(at()).send().unwrap();
    db.run(|| {
        score_current_observation("review").text("Clear.").environment("staging").send()?;
        score_current_trace("raw").value(4).send()
    })
    .unwrap();
    let explicit_trace = TraceId::random();
    let explicit_obs = ObservationId::random();
    score("feedback")
        .trace_id(explicit_trace)
        .observation_id(explicit_obs)
        .value(true)
        .send()
        .unwrap();
    score("session_rating").session_id("session-42").numeric(4.0).send().unwrap();
    score("run_accuracy").dataset_run_id("run-1").numeric(0.93).send().unwrap();
    score("legacy").trace_id("trace-from-v2").value("good").send().unwrap();
    drop((db, chat));
    assert!(setup.langfuse.flush().is_success());

    let requests = setup.receiver.score_requests();
    assert_eq!(requests.len(), 1, "one batch: {requests:?}");
    requests[0].assert_score_headers(PUBLIC_KEY, SECRET_KEY);
    let scores = requests[0].scores();
    assert_eq!(scores.len(), 9);
    let time = "2025-01-02T03:04:05.067631Z";
    assert_eq!(
        scores[..3],
        [
            json!({"id": "score-1", "traceId": trace, "observationId": db_id,
                   "name": "db_latency_ok", "value": 1.0, "comment": "Query took 12 ms",
                   "environment": "production", "dataType": "BOOLEAN", "timestamp": time}),
            json!({"id": "score-2", "traceId": trace, "observationId": chat_id,
                   "name": "helpfulness", "value": 0.8, "environment": "production",
                   "dataType": "NUMERIC", "configId": "cfg-helpfulness", "timestamp": time,
                   "metadata": {"judge": "gpt-4o", "n": 3}}),
            json!({"id": "score-3", "traceId": trace, "name": "tone", "value": "friendly",
                   "environment": "production", "dataType": "CATEGORICAL", "timestamp": time}),
        ]
    );
    let rest: Vec<Value> = scores[3..].iter().cloned().map(without_generated).collect();
    assert_eq!(
        rest,
        [
            json!({"traceId": trace, "observationId": db_id, "name": "review", "value": "Clear.",
                   "environment": "staging", "dataType": "TEXT"}),
            json!({"traceId": trace, "name": "raw", "value": 4.0, "environment": "production"}),
            json!({"traceId": explicit_trace.to_string(),
                   "observationId": explicit_obs.to_string(), "name": "feedback", "value": 1.0,
                   "environment": "production"}),
            json!({"sessionId": "session-42", "name": "session_rating", "value": 4.0,
                   "environment": "production", "dataType": "NUMERIC"}),
            json!({"datasetRunId": "run-1", "name": "run_accuracy", "value": 0.93,
                   "environment": "production", "dataType": "NUMERIC"}),
            json!({"traceId": "trace-from-v2", "name": "legacy", "value": "good",
                   "environment": "production"}),
        ]
    );
    // Floats are sent as floats, as Python sends them.
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    assert!(body.contains(r#""value":1.0,"#) && body.contains(r#""value":4.0,"#), "{body}");
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed, stats.dropped, stats.queued), (9, 0, 0, 0));
}

#[test]
fn the_environment_follows_the_scored_observation() {
    let setup = start(Vec::new(), |b| b.environment("production"));
    propagate_attributes().environment("canary").run(|| {
        let step = span("step").start();
        step.score("inherited").numeric(1.0).send().unwrap();
        step.score("explicit").numeric(1.0).environment("eval").send().unwrap();
    });
    score("by_id").session_id("s").numeric(1.0).send().unwrap();
    assert!(setup.langfuse.flush().is_success());
    let environments: Vec<Value> =
        setup.receiver.scores().iter().map(|s| s["environment"].clone()).collect();
    assert_eq!(environments, [json!("canary"), json!("eval"), json!("production")]);

    // Without a client environment the key is left out (the server writes "default").
    drop(setup);
    let setup = start(Vec::new(), |b| b);
    span("x").start().score("plain").numeric(1.0).send().unwrap();
    assert!(setup.langfuse.flush().is_success());
    let scores = setup.receiver.scores();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0].get("environment"), None, "{}", scores[0]);
}

#[test]
fn flush_sends_spans_before_scores() {
    let setup = start(Vec::new(), |b| b);
    {
        let step = span("step").start();
        step.score("quality").numeric(0.5).send().unwrap();
    }
    assert!(setup.langfuse.flush().is_success());
    let paths: Vec<String> = setup.receiver.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/public/otel/v1/traces", "/api/public/scores"]);
}

#[test]
fn shutdown_sends_what_is_queued_spans_first() {
    let setup = start(Vec::new(), |b| b);
    {
        let step = span("step").start();
        step.score("quality").numeric(0.5).send().unwrap();
    }
    let Setup { langfuse, receiver, _serial } = setup;
    drop(langfuse);
    let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/public/otel/v1/traces", "/api/public/scores"]);
}

#[test]
fn partial_success_is_logged_and_not_retried() {
    let setup = start(vec![RestReceiver::partial(2, 1)], |b| b);
    for name in ["a", "b", "c"] {
        score(name).session_id("s").numeric(1.0).send().unwrap();
    }
    assert!(setup.langfuse.flush().is_success());
    assert_eq!(setup.receiver.score_requests().len(), 1);
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed, stats.queued), (2, 1, 0));
}

#[test]
fn rate_limits_and_unavailable_servers_are_retried() {
    let script =
        vec![Reply::status(429).retry_after("0"), Reply::status(503), RestReceiver::accepted()];
    let setup = start(script, |b| b);
    score("a").session_id("s").numeric(1.0).id("fixed").timestamp(at()).send().unwrap();
    assert!(setup.langfuse.flush().is_success());
    let requests = setup.receiver.score_requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 202]);
    // The same body each time.
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    // The 503 carried no Retry-After: the backoff of retry 1 is 2 × 1 s × (0.8 to 1.2).
    let waited = requests[2].received_at - requests[1].received_at;
    assert!(waited >= Duration::from_millis(1_500), "{waited:?}");
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed), (1, 0));
}

#[test]
fn statuses_the_policy_does_not_retry_fail_the_batch() {
    let setup = start(vec![Reply::status(500), Reply::status(400)], |b| b);
    score("a").session_id("s").numeric(1.0).send().unwrap();
    assert!(setup.langfuse.flush().is_success());
    score("b").session_id("s").numeric(1.0).send().unwrap();
    score("c").session_id("s").numeric(1.0).send().unwrap();
    assert!(setup.langfuse.flush().is_success());
    let statuses: Vec<u16> = setup.receiver.score_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 400]);
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed, stats.queued), (0, 3, 0));
}

#[test]
fn unsampled_traces_drop_their_scores() {
    let setup = start(Vec::new(), |b| b.sample_rate(0.5));
    // Sampled ⇔ the low 64 bits are below 2^63 (§8.3).
    let kept = "0af7651916cd43dd0000000000000001";
    let lost = "0af7651916cd43ddffffffffffffffff";
    score("kept").trace_id(kept).numeric(1.0).send().unwrap();
    score("lost").trace_id(lost).numeric(1.0).send().unwrap();
    score("session").session_id("s").numeric(1.0).send().unwrap();
    score("legacy").trace_id("not-hex").numeric(1.0).send().unwrap();
    // A handle of an unsampled trace: no ids, nothing queued, not counted.
    let unsampled = (0..64)
        .map(|_| span("root").start())
        .find(|s| !s.is_recording())
        .expect("half the traces are unsampled");
    unsampled.score("on_span").numeric(1.0).send().unwrap();
    unsampled.score_trace("on_trace").numeric(1.0).send().unwrap();
    unsampled.run(|| score_current_trace("current").numeric(1.0).send()).unwrap();
    // Validation still applies inside an unsampled trace.
    let refused = unsampled.score("bad").value(2).data_type(ScoreDataType::Boolean).send();
    assert_eq!(refused, Err(ScoreError::NotBoolean(2.0)));
    assert!(setup.langfuse.flush().is_success());
    let names: Vec<Value> = setup.receiver.scores().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, [json!("kept"), json!("session"), json!("legacy")]);
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed, stats.dropped), (3, 0, 0));
}

#[test]
fn values_the_server_rejects_are_refused_before_queueing() {
    let setup = start(Vec::new(), |b| b);
    let step = span("step").start();
    let cases = [
        (step.score("b").value(2).data_type(ScoreDataType::Boolean), ScoreError::NotBoolean(2.0)),
        (
            step.score("b").value("yes").data_type(ScoreDataType::Boolean),
            ScoreError::WrongValueKind(ScoreDataType::Boolean),
        ),
        (
            step.score("n").value("0.8").data_type(ScoreDataType::Numeric),
            ScoreError::WrongValueKind(ScoreDataType::Numeric),
        ),
        (step.score("t").text(""), ScoreError::TextLength(0)),
        (step.score("t").text("x".repeat(501)), ScoreError::TextLength(501)),
        (
            step.score("c").value(1).data_type(ScoreDataType::Categorical),
            ScoreError::WrongValueKind(ScoreDataType::Categorical),
        ),
        (
            step.score("c").value("fixed").data_type(ScoreDataType::Correction).config_id("cfg"),
            ScoreError::CorrectionWithConfigId,
        ),
        (step.score("").numeric(1.0), ScoreError::EmptyName),
        (step.score("v"), ScoreError::MissingValue),
        (
            step.score("e").numeric(1.0).environment("Prod"),
            ScoreError::InvalidEnvironment("Prod".into()),
        ),
        (score("no_target").numeric(1.0), ScoreError::MissingTarget),
        (score("inf").session_id("s").numeric(f64::INFINITY), ScoreError::NotFinite(f64::INFINITY)),
    ];
    for (builder, expected) in cases {
        assert_eq!(builder.send(), Err(expected));
    }
    let huge = "x".repeat(1_000_000);
    let too_large = step.score("huge").numeric(1.0).comment(huge).send();
    assert!(matches!(too_large, Err(ScoreError::TooLarge(n)) if n > 1_000_000), "{too_large:?}");
    assert_eq!(step.score("t").text("x".repeat(500)).send(), Ok(()));
    drop(step);
    assert!(setup.langfuse.flush().is_success());
    assert_eq!(setup.receiver.scores().len(), 1);
    let stats = setup.langfuse.score_stats();
    assert_eq!((stats.sent, stats.failed, stats.dropped, stats.queued), (1, 0, 0, 0));
}

#[test]
fn batches_are_cut_at_flush_at_and_at_a_million_bytes() {
    let setup = start(Vec::new(), |b| b.flush_at(2));
    for i in 0..5 {
        score(format!("s{i}")).session_id("s").numeric(1.0).send().unwrap();
    }
    assert!(setup.langfuse.flush().is_success());
    let sizes: Vec<usize> =
        setup.receiver.score_requests().iter().map(|r| r.scores().len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    drop(setup);

    let setup = start(Vec::new(), |b| b);
    // Three scores of about 400 kB: two fit under the 1,000,000-byte cap, three do not.
    let comment = "c".repeat(400_000);
    for i in 0..3 {
        score(format!("big{i}"))
            .session_id("s")
            .numeric(1.0)
            .comment(comment.clone())
            .send()
            .unwrap();
    }
    assert!(setup.langfuse.flush().is_success());
    let requests = setup.receiver.score_requests();
    let sizes: Vec<usize> = requests.iter().map(|r| r.scores().len()).collect();
    assert_eq!(sizes, [2, 1]);
    assert!(requests.iter().all(|r| r.body.len() <= 1_000_000));
    assert_eq!(setup.langfuse.score_stats().sent, 3);
}

#[test]
fn scores_are_sent_after_the_flush_interval_without_flush() {
    let setup = start(Vec::new(), |b| b.flush_interval(Duration::from_millis(100)));
    score("timed").session_id("s").numeric(1.0).send().unwrap();
    let scores = setup.receiver.wait_for_scores(1, WAIT);
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0]["name"], "timed");
}

#[test]
fn without_keys_scores_are_not_sent() {
    let _serial = exclusive();
    let receiver = RestReceiver::start();
    let console = Config::builder()
        .env_source(|_| None)
        .base_url(receiver.base_url())
        .console_exporter(true)
        .init()
        .unwrap();
    score("printed").session_id("s").numeric(1.0).send().unwrap();
    assert!(console.flush().is_success());
    // Printed on stdout by the console exporter (counted as sent there), never posted.
    assert_eq!(console.score_stats().sent, 1);
    drop(console);

    let silent =
        Config::builder().env_source(|_| None).base_url(receiver.base_url()).init().unwrap();
    score("nowhere").session_id("s").numeric(1.0).send().unwrap();
    assert!(silent.flush().is_success());
    assert_eq!(silent.score_stats(), Default::default());
    drop(silent);
    assert!(receiver.requests().is_empty());
}

#[test]
fn user_headers_and_a_trailing_slash_base_url() {
    let _serial = exclusive();
    let receiver = RestReceiver::start();
    let langfuse = Config::builder()
        .env_source(|_| None)
        .public_key(PUBLIC_KEY)
        .secret_key(SECRET_KEY)
        .base_url(format!("{}/", receiver.base_url()))
        .header("x-tenant", "acme")
        .header("Authorization", "Bearer not-ours")
        .flush_interval(Duration::from_secs(3600))
        .init()
        .unwrap();
    score("a").session_id("s").numeric(1.0).send().unwrap();
    assert!(langfuse.flush().is_success());
    let requests = receiver.score_requests();
    assert_eq!(requests.len(), 1);
    requests[0].assert_score_headers(PUBLIC_KEY, SECRET_KEY);
    assert_eq!(requests[0].header("x-tenant"), Some("acme"));
}
