//! The async-openai integration against a loopback fake OpenAI-compatible server: what each
//! call puts on the wire to Langfuse (attribute values, types, parent links).

mod support;

#[path = "support/fake_openai.rs"]
mod fake_openai;

use std::future::Future;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions, ChatCompletionTool,
    ChatCompletionTools, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    FunctionObjectArgs, StopConfiguration,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use fake_openai::{FakeOpenAi, FakeReply};
use futures::StreamExt;
use langfuse_runtime::integrations::async_openai::Client;
use langfuse_runtime::observe;
use serde_json::json;
use support::{Loopback, ReceivedSpan};

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn client(fake: &FakeOpenAi) -> Client<OpenAIConfig> {
    Client::with_config(OpenAIConfig::new().with_api_key("sk-fake").with_api_base(fake.base_url()))
}

fn question(model: &str) -> CreateChatCompletionRequestArgs {
    let mut args = CreateChatCompletionRequestArgs::default();
    args.model(model).messages([ChatCompletionRequestUserMessageArgs::default()
        .content("What is Langfuse?")
        .build()
        .unwrap()
        .into()]);
    args
}

const MESSAGES: &str = r#"[{"role":"user","content":"What is Langfuse?"}]"#;

fn weather_tool() -> ChatCompletionTools {
    ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObjectArgs::default()
            .name("get_weather")
            .description("Weather of a city")
            // In key order: the literal's own order is kept only with serde_json's `preserve_order`.
            .parameters(json!({"properties": {"city": {"type": "string"}}, "type": "object"}))
            .build()
            .unwrap(),
    })
}

/// The parent span and the one observation under it, checked to be linked.
fn parent_and_child(
    spans: &[ReceivedSpan],
    parent: &str,
    child: &str,
) -> (ReceivedSpan, ReceivedSpan) {
    assert_eq!(spans.len(), 2, "{:?}", spans.iter().map(|s| s.name()).collect::<Vec<_>>());
    let p = spans.iter().find(|s| s.name() == parent).expect("parent exported").clone();
    let c = spans.iter().find(|s| s.name() == child).expect("child exported").clone();
    assert_eq!(c.parent_id_hex(), Some(p.span_id_hex()));
    assert_eq!(c.trace_id_hex(), p.trace_id_hex());
    (p, c)
}

fn completion(message: serde_json::Value, usage: serde_json::Value) -> FakeReply {
    FakeReply::ok(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": null}],
        "usage": usage,
    }))
}

#[observe]
async fn answer(client: &Client<OpenAIConfig>, request: CreateChatCompletionRequest) -> String {
    let response = client.chat().create(request).await.expect("fake answers");
    response.choices[0].message.content.clone().unwrap_or_default()
}

#[test]
fn a_chat_completion_is_a_generation_under_the_current_observation() {
    let fake = FakeOpenAi::start(vec![completion(
        json!({"role": "assistant", "content": "An observability platform."}),
        json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
               "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": null},
               "completion_tokens_details": {"reasoning_tokens": 2}}),
    )]);
    let mut lb = Loopback::start(|b| b);
    let request = question("gpt-4o-mini")
        .temperature(0.2)
        .max_completion_tokens(128u32)
        .top_p(0.9)
        .stop(StopConfiguration::StringArray(vec!["\n\n".into()]))
        .build()
        .unwrap();
    let client = client(&fake);
    assert_eq!(block_on(answer(&client, request)), "An observability platform.");
    let spans = lb.finish();

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-fake"));

    let (_, g) = parent_and_child(&spans, "answer", "OpenAI-generation");
    assert_eq!(g.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(g.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(
        g.str_attr("langfuse.observation.model.parameters"),
        Some(r#"{"max_completion_tokens":128,"stop":["\n\n"],"temperature":0.2,"top_p":0.9}"#)
    );
    assert_eq!(g.str_attr("langfuse.observation.input"), Some(MESSAGES));
    assert_eq!(
        g.str_attr("langfuse.observation.output"),
        Some(r#"{"role":"assistant","content":"An observability platform."}"#)
    );
    assert_eq!(
        g.str_attr("langfuse.observation.usage_details"),
        Some(
            r#"{"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":2},"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":4},"total_tokens":17}"#
        )
    );
    assert_eq!(g.str_attr("langfuse.observation.level"), None);
    assert_eq!(g.attr("langfuse.observation.completion_start_time"), None);
    assert!(g.attr_keys().iter().all(|k| g.attr_count(k) == 1), "{:?}", g.attr_keys());
}

#[test]
fn a_tool_call_answer_records_the_tools_and_the_call() {
    let fake = FakeOpenAi::start(vec![completion(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
        json!({"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}),
    )]);
    let mut lb = Loopback::start(|b| b);
    let request = question("gpt-4o").tools(vec![weather_tool()]).seed(7).build().unwrap();
    let client = client(&fake);
    block_on(answer(&client, request));
    let spans = lb.finish();

    let (_, g) = parent_and_child(&spans, "answer", "OpenAI-generation");
    assert_eq!(
        g.str_attr("langfuse.observation.input"),
        Some(
            r#"{"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"properties":{"city":{"type":"string"}},"type":"object"}}}],"messages":[{"role":"user","content":"What is Langfuse?"}]}"#
        )
    );
    assert_eq!(
        g.str_attr("langfuse.observation.model.parameters"),
        Some(r#"{"seed":7,"tools":["get_weather"]}"#)
    );
    assert_eq!(
        g.str_attr("langfuse.observation.output"),
        Some(
            r#"{"role":"assistant","content":null,"tool_calls":[{"type":"function","id":"call_1","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}"#
        )
    );
    assert_eq!(
        g.str_attr("langfuse.observation.usage_details"),
        Some(r#"{"completion_tokens":9,"prompt_tokens":30,"total_tokens":39}"#)
    );
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

#[observe]
async fn stream_answer(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
) -> usize {
    let mut stream = client.chat().create_stream(request).await.expect("fake streams");
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk.expect("well-formed chunk");
        chunks += 1;
    }
    chunks
}

#[test]
fn a_streamed_chat_aggregates_output_usage_and_the_first_chunk_time() {
    let fake = FakeOpenAi::start(vec![FakeReply::sse(
        vec![
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "An observability"}), None),
            chunk(json!({"content": " platform."}), None),
            chunk(
                json!(null),
                Some(json!({"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16})),
            ),
        ],
        Duration::from_millis(30),
    )]);
    let mut lb = Loopback::start(|b| b);
    let request = question("gpt-4o-mini")
        .stream_options(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        })
        .build()
        .unwrap();
    let client = client(&fake);
    assert_eq!(block_on(stream_answer(&client, request)), 4);
    let spans = lb.finish();

    assert_eq!(fake.requests()[0].body["stream"], json!(true));
    let (parent, g) = parent_and_child(&spans, "stream_answer", "OpenAI-generation");
    assert_eq!(g.str_attr("langfuse.observation.model.name"), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(g.str_attr("langfuse.observation.input"), Some(MESSAGES));
    assert_eq!(
        g.str_attr("langfuse.observation.output"),
        Some(r#"{"role":"assistant","content":"An observability platform."}"#)
    );
    assert_eq!(
        g.str_attr("langfuse.observation.usage_details"),
        Some(r#"{"completion_tokens":4,"prompt_tokens":12,"total_tokens":16}"#)
    );
    // The first chunk arrives one gap after the request; the last three gaps later.
    let first = g.str_attr("langfuse.observation.completion_start_time").expect("first chunk time");
    let first = humantime::parse_rfc3339(first.trim_matches('"')).expect("RFC 3339 in quotes");
    let first = first.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(g.span.start_time_unix_nano + 20_000_000 <= first, "ttft after the first gap");
    assert!(first + 60_000_000 <= g.span.end_time_unix_nano, "ends with the stream");
    assert!(g.span.end_time_unix_nano <= parent.span.end_time_unix_nano);
}

#[test]
fn a_streamed_tool_call_is_assembled_from_its_pieces() {
    let call = |v: serde_json::Value| chunk(json!({"tool_calls": [v]}), None);
    let fake = FakeOpenAi::start(vec![FakeReply::sse(
        vec![
            chunk(json!({"role": "assistant", "content": null}), None),
            call(json!({"index": 0, "id": "call_9", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}})),
            call(json!({"index": 0, "function": {"arguments": "{\"city\":"}})),
            call(json!({"index": 0, "function": {"arguments": "\"Oslo\"}"}})),
        ],
        Duration::ZERO,
    )]);
    let mut lb = Loopback::start(|b| b);
    let request = question("gpt-4o").tools(vec![weather_tool()]).build().unwrap();
    let client = client(&fake);
    assert_eq!(block_on(stream_answer(&client, request)), 4);
    let spans = lb.finish();

    let (_, g) = parent_and_child(&spans, "stream_answer", "OpenAI-generation");
    assert_eq!(
        g.str_attr("langfuse.observation.output"),
        Some(
            r#"{"role":"assistant","content":null,"tool_calls":[{"type":"function","id":"call_9","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}"#
        )
    );
    assert_eq!(g.attr("langfuse.observation.usage_details"), None, "no usage chunk was sent");
    assert!(g.attr("langfuse.observation.completion_start_time").is_some());
}

#[observe]
async fn failing(
    client: &Client<OpenAIConfig>,
    request: CreateChatCompletionRequest,
    stream: bool,
) -> bool {
    if stream {
        client.chat().create_stream(request).await.is_err()
    } else {
        client.chat().create(request).await.is_err()
    }
}

#[test]
fn an_api_error_is_level_error_with_the_api_message() {
    let fake = FakeOpenAi::start(vec![
        FakeReply::error(
            401,
            "invalid_request_error",
            "Incorrect API key provided",
            "invalid_api_key",
        ),
        // Not 429: async-openai retries that one itself.
        FakeReply::error(
            404,
            "invalid_request_error",
            "The model does not exist",
            "model_not_found",
        ),
    ]);
    let mut lb = Loopback::start(|b| b);
    let client = client(&fake);
    assert!(block_on(failing(&client, question("gpt-4o").build().unwrap(), false)));
    assert!(block_on(failing(&client, question("gpt-4o").build().unwrap(), true)));
    let spans = lb.finish();

    assert_eq!(spans.len(), 4);
    let generations: Vec<&ReceivedSpan> =
        spans.iter().filter(|s| s.name() == "OpenAI-generation").collect();
    let messages: Vec<&str> = generations
        .iter()
        .map(|g| {
            assert_eq!(g.str_attr("langfuse.observation.level"), Some("ERROR"));
            assert_eq!(g.str_attr("langfuse.observation.output"), None);
            assert_eq!(g.str_attr("langfuse.observation.model.name"), Some("gpt-4o"));
            let status = g.span.status.as_ref().expect("status set");
            assert_eq!(status.code, 2, "OTel status ERROR");
            let message = g.str_attr("langfuse.observation.status_message").unwrap();
            assert_eq!(status.message, message);
            message
        })
        .collect();
    assert_eq!(
        messages,
        [
            "401 Unauthorized invalid_request_error: Incorrect API key provided (code: invalid_api_key)",
            "404 Not Found invalid_request_error: The model does not exist (code: model_not_found)",
        ]
    );
}

#[observe(as_type = "retriever")]
async fn embed(client: &Client<OpenAIConfig>) -> usize {
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec!["first doc", "second doc"])
        .dimensions(3u32)
        .build()
        .unwrap();
    client.embeddings().create(request).await.expect("fake embeds").data.len()
}

#[test]
fn embeddings_are_embedding_observations_without_the_vectors() {
    let fake = FakeOpenAi::start(vec![FakeReply::ok(json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"index": 0, "object": "embedding", "embedding": [0.1, 0.2, 0.3]},
                 {"index": 1, "object": "embedding", "embedding": [0.4, 0.5, 0.6]}],
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    }))]);
    let mut lb = Loopback::start(|b| b);
    let client = client(&fake);
    assert_eq!(block_on(embed(&client)), 2);
    let spans = lb.finish();

    assert_eq!(fake.requests()[0].path, "/v1/embeddings");
    let (_, e) = parent_and_child(&spans, "embed", "OpenAI-embedding");
    assert_eq!(e.str_attr("langfuse.observation.type"), Some("embedding"));
    assert_eq!(e.str_attr("langfuse.observation.model.name"), Some("text-embedding-3-small"));
    assert_eq!(e.str_attr("langfuse.observation.input"), Some(r#"["first doc","second doc"]"#));
    assert_eq!(e.str_attr("langfuse.observation.model.parameters"), Some(r#"{"dimensions":3}"#));
    assert_eq!(e.str_attr("langfuse.observation.output"), Some(r#"{"count":2,"dimensions":3}"#));
    assert_eq!(e.str_attr("langfuse.observation.usage_details"), Some(r#"{"input":6,"total":6}"#));
}

#[test]
fn without_a_client_the_wrapper_only_forwards() {
    let _turn = support::exclusive();
    let fake = FakeOpenAi::start(vec![completion(
        json!({"role": "assistant", "content": "hi"}),
        json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
    )]);
    let client = client(&fake);
    let chat = client.chat().name("renamed");
    let response = block_on(chat.create(question("gpt-4o").build().unwrap())).unwrap();
    assert_eq!(response.choices[0].message.content.as_deref(), Some("hi"));
    assert_eq!(fake.requests().len(), 1);
}
