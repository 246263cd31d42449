//! A real LLM client through the `tracing` bridge: genai 0.7.2 (feature `otel`, which emits
//! plain `tracing` spans and depends on no `opentelemetry` crate) calls the loopback fake
//! OpenAI-compatible server, plain and streamed, under an `#[observe]` caller; the loopback
//! OTLP receiver gets both chat calls as GENERATIONs with model, usage and (streamed)
//! completion start time, each a child of the observation that made it.
//!
//! genai's chat span is created, recorded into and dropped but never entered, and the HTTP
//! call runs outside it: it nests under the caller only through the observation current when
//! it is created. genai also turns on serde_json's `preserve_order` for this whole test
//! build; the exact usage and model-parameter bytes asserted below are the ones every other
//! test binary (built without it) sees too.

mod support;

#[path = "support/fake_openai.rs"]
mod fake_openai;

use std::sync::Once;
use std::time::{Duration, UNIX_EPOCH};

use fake_openai::{FakeOpenAi, FakeReply};
use futures::StreamExt as _;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{Client, ModelIden, ServiceTarget};
use langfuse_runtime::observe;
use serde_json::json;
use support::{Loopback, ReceivedSpan};
use tracing_subscriber::prelude::*;

/// The bridge on the global registry, so that tokio's worker threads see it too.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::registry().with(langfuse_runtime::tracing::layer()).init();
    });
}

/// A genai client whose every model resolves to the OpenAI adapter at the fake's address.
fn client(fake: &FakeOpenAi) -> Client {
    // genai joins `chat/completions` onto the base URL, which therefore ends with `/`.
    let endpoint = format!("{}/", fake.base_url());
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(endpoint.clone()),
                auth: AuthData::from_single("sk-fake"),
                model: ModelIden::new(AdapterKind::OpenAI, target.model.model_name),
            })
        },
    );
    Client::builder().with_service_target_resolver(resolver).build().expect("client")
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("What is Langfuse?")])
}

fn options() -> ChatOptions {
    ChatOptions::default().with_temperature(0.2).with_max_tokens(64).with_capture_usage(true)
}

/// One plain chat call.
#[observe(skip(client))]
async fn ask(client: &Client, topic: &str) -> String {
    let response = client
        .exec_chat("gpt-4o-mini", question(), Some(&options()))
        .await
        .expect("the fake answers");
    response.first_text().unwrap_or_default().to_owned()
}

/// One streamed chat call, read to its end.
#[observe(skip(client))]
async fn ask_streamed(client: &Client, topic: &str) -> String {
    let response = client
        .exec_chat_stream("gpt-4o-mini", question(), Some(&options()))
        .await
        .expect("the fake streams");
    let mut stream = response.stream;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let ChatStreamEvent::Chunk(chunk) = event.expect("well-formed event") {
            text.push_str(&chunk.content);
        }
    }
    text
}

/// The agent both calls are made from.
#[observe(as_type = "agent", skip(client))]
async fn agent(client: &Client) -> String {
    let plain = ask(client, "plain").await;
    let streamed = ask_streamed(client, "streamed").await;
    format!("{plain} / {streamed}")
}

fn completion() -> FakeReply {
    FakeReply::ok(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                     "message": {"role": "assistant", "content": "An observability platform."}}],
        "usage": {"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22},
    }))
}

fn chunk(delta: serde_json::Value, usage: Option<serde_json::Value>) -> serde_json::Value {
    let choices = if delta.is_null() {
        json!([])
    } else {
        json!([{"index": 0, "delta": delta, "finish_reason": null, "logprobs": null}])
    };
    json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1,
           "model": "gpt-4o-mini-2024-07-18", "choices": choices, "usage": usage})
}

/// Gap before each streamed event: the first chunk cannot arrive sooner than this.
const GAP: Duration = Duration::from_millis(30);

fn stream() -> FakeReply {
    FakeReply::sse(
        vec![
            chunk(json!({"role": "assistant", "content": "An observability"}), None),
            chunk(json!({"content": " platform."}), None),
            chunk(
                json!(null),
                Some(json!({"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22})),
            ),
        ],
        GAP,
    )
}

fn one(spans: &[ReceivedSpan], pick: impl Fn(&ReceivedSpan) -> bool) -> &ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| pick(s)).collect();
    assert_eq!(found.len(), 1, "{spans:#?}");
    found[0]
}

fn nanos(rfc3339_json: &str) -> u64 {
    let at = humantime::parse_rfc3339(rfc3339_json.trim_matches('"')).expect("RFC 3339 in quotes");
    at.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[test]
fn genai_chat_calls_are_generations_under_the_observed_caller() {
    install();
    let fake = FakeOpenAi::start(vec![completion(), stream()]);
    let mut lf = Loopback::start(|b| b);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = client(&fake);
    let answer = rt.block_on(agent(&client));
    drop(rt);
    assert_eq!(answer, "An observability platform. / An observability platform.");
    let spans = lf.finish();

    // What genai sent: one plain and one streamed request, usage asked for on the stream.
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[1].body["stream"], json!(true));
    assert_eq!(requests[1].body["stream_options"], json!({"include_usage": true}));

    assert_eq!(spans.len(), 5, "{spans:#?}");
    let root = one(&spans, |s| s.name() == "agent");
    assert_eq!(root.parent_id_hex(), None);
    let ask = one(&spans, |s| s.name() == "ask");
    let ask_streamed = one(&spans, |s| s.name() == "ask_streamed");
    let chats: Vec<_> = spans.iter().filter(|s| s.name() == "chat gpt-4o-mini").collect();
    assert_eq!(chats.len(), 2, "{spans:#?}");
    let plain = one(&spans, |s| s.parent_id_hex() == Some(ask.span_id_hex()));
    let streamed = one(&spans, |s| s.parent_id_hex() == Some(ask_streamed.span_id_hex()));
    // genai records the model the server answered with on plain calls only; on streams the
    // requested one is all there is.
    for (caller, chat, model) in
        [(ask, plain, "gpt-4o-mini-2024-07-18"), (ask_streamed, streamed, "gpt-4o-mini")]
    {
        assert_eq!(caller.parent_id_hex(), Some(root.span_id_hex()));
        assert_eq!(chat.name(), "chat gpt-4o-mini");
        assert_eq!(chat.trace_id_hex(), root.trace_id_hex(), "one trace");
        assert_eq!(chat.str_attr("langfuse.observation.type"), Some("generation"));
        assert_eq!(chat.str_attr("langfuse.observation.model.name"), Some(model));
        assert_eq!(
            chat.str_attr("langfuse.observation.usage_details"),
            Some(r#"{"input":13,"output":9,"total":22}"#)
        );
        assert_eq!(
            chat.str_attr("langfuse.observation.metadata.gen_ai.provider.name"),
            Some(r#""openai""#)
        );
        assert_eq!(
            chat.str_attr("langfuse.observation.metadata.server.address"),
            Some(r#""127.0.0.1""#)
        );
        assert_eq!(chat.str_attr("langfuse.observation.level"), None);
        assert_eq!(chat.scope_name(), Some("langfuse-sdk"));
        assert!(chat.span.start_time_unix_nano >= caller.span.start_time_unix_nano);
        assert!(chat.span.end_time_unix_nano <= caller.span.end_time_unix_nano);
    }
    assert_eq!(
        plain.str_attr("langfuse.observation.metadata.gen_ai.response.finish_reasons"),
        Some(r#""[\"stop\"]""#)
    );
    // Keys sorted, whatever serde_json's `preserve_order` says (genai's declaration order is
    // stream, temperature, max_tokens).
    assert_eq!(
        plain.str_attr("langfuse.observation.model.parameters"),
        Some(r#"{"max_tokens":64,"stream":false,"temperature":0.2}"#)
    );
    assert_eq!(
        streamed.str_attr("langfuse.observation.model.parameters"),
        Some(r#"{"max_tokens":64,"stream":true,"temperature":0.2}"#)
    );

    // Only the streamed call has a first chunk: it arrived one gap after the request at the
    // earliest, and before the stream (and so the span) ended.
    assert_eq!(plain.str_attr("langfuse.observation.completion_start_time"), None);
    let first = streamed
        .str_attr("langfuse.observation.completion_start_time")
        .map(nanos)
        .expect("completion start time");
    let gap = GAP.as_nanos() as u64;
    assert!(streamed.span.start_time_unix_nano + gap <= first, "not before the first chunk");
    assert!(first <= streamed.span.end_time_unix_nano, "within the call");
}
