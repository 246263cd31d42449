//! Collector mode: no keys, the built-in exporter pointed at an OpenTelemetry Collector (a
//! loopback receiver on a custom path). No `Authorization` header unless keys are given, the
//! ingestion-version header and custom headers sent, spans with every `langfuse.*` attribute,
//! scores counted as dropped; bad values are refused naming the variable.

#[allow(dead_code)]
#[path = "support/otel_forward.rs"]
mod otel_forward;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use langfuse_runtime::export::OtelExporter;
use langfuse_runtime::{Config, ConfigBuilder, Setting, generation, propagate_attributes, span};
use support::{OtlpReceiver, exclusive, expected_basic_auth};

fn collector_client(receiver: &OtlpReceiver) -> ConfigBuilder {
    Config::builder()
        .env_source(|_| None)
        .otlp_endpoint(format!("{}/v1/traces", receiver.base_url()))
        .flush_interval(Duration::from_secs(3600))
}

#[test]
fn without_keys_spans_go_to_the_collector_with_langfuse_attributes_and_no_auth() {
    let _serial = exclusive();
    let collector = OtlpReceiver::start();
    let langfuse = collector_client(&collector)
        .header("x-tenant", "acme")
        .environment("staging")
        .init()
        .unwrap();
    assert!(langfuse.is_recording());
    propagate_attributes().user_id("user-1").trace_name("checkout").run(|| {
        span("agent").input(&"hi").run(|_| {
            generation("chat").model("gpt-4o").start().end();
        });
    });
    let report = langfuse.flush();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.exported, 2);

    let requests = collector.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("x-langfuse-public-key"), None);
    assert_eq!(request.header("x-langfuse-ingestion-version"), Some("4"));
    assert_eq!(request.header("x-langfuse-sdk-name"), Some("rust"));
    assert_eq!(request.header("x-langfuse-sdk-version"), Some(langfuse_runtime::SDK_VERSION));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));

    let spans = request.spans();
    let find = |name: &str| spans.iter().find(|s| s.name() == name).unwrap();
    let (agent, chat) = (find("agent"), find("chat"));
    assert_eq!(agent.str_attr("langfuse.observation.type"), Some("span"));
    assert_eq!(agent.str_attr("langfuse.observation.input"), Some("hi"));
    assert_eq!(agent.str_attr("langfuse.trace.name"), Some("checkout"));
    assert_eq!(agent.str_attr("user.id"), Some("user-1"));
    assert_eq!(agent.str_attr("langfuse.environment"), Some("staging"));
    assert_eq!(chat.str_attr("langfuse.observation.type"), Some("generation"));
    assert_eq!(chat.str_attr("langfuse.observation.model.name"), Some("gpt-4o"));
    assert_eq!(chat.parent_id_hex(), Some(agent.span_id_hex()));
    assert_eq!(agent.scope_name(), Some("langfuse-sdk"));
    assert_eq!(agent.scope_attr("public_key"), Some(""));
    drop(langfuse);
}

#[test]
fn scores_without_keys_are_counted_as_dropped() {
    let _serial = exclusive();
    let collector = OtlpReceiver::start();
    let langfuse = collector_client(&collector).init().unwrap();
    span("graded").run(|step| {
        step.score("quality").value(0.9).send().unwrap();
        step.score_trace("helpful").value(true).send().unwrap();
    });
    assert!(langfuse.flush().is_success());
    let scores = langfuse.score_stats();
    assert_eq!((scores.sent, scores.failed, scores.dropped, scores.queued), (0, 0, 2, 0));
    // Only the span went anywhere.
    assert_eq!(collector.spans().len(), 1);
    assert!(collector.requests().iter().all(|r| r.path == "/v1/traces"));
}

#[test]
fn a_users_authorization_header_goes_through_only_without_keys() {
    let _serial = exclusive();
    let collector = OtlpReceiver::start();
    let langfuse = collector_client(&collector)
        .header("Authorization", "Bearer collector-token")
        .init()
        .unwrap();
    span("a").start().end();
    assert!(langfuse.flush().is_success());
    drop(langfuse);
    assert_eq!(collector.requests()[0].header_values("authorization"), ["Bearer collector-token"]);

    // With keys, the Basic credentials are sent and the user's header is left out.
    let collector = OtlpReceiver::start();
    let langfuse = collector_client(&collector)
        .public_key("pk-lf-c")
        .secret_key("sk-lf-c")
        .header("Authorization", "Bearer collector-token")
        .init()
        .unwrap();
    span("b").start().end();
    assert!(langfuse.flush().is_success());
    drop(langfuse);
    let request = &collector.requests()[0];
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.header_values("authorization"), [expected_basic_auth("pk-lf-c", "sk-lf-c")]);
    assert_eq!(request.header("x-langfuse-public-key"), Some("pk-lf-c"));
    assert_eq!(request.spans()[0].scope_attr("public_key"), Some("pk-lf-c"));
}

#[test]
fn the_environment_turns_collector_mode_on_and_the_langfuse_exporter_off() {
    let _serial = exclusive();
    let collector = OtlpReceiver::start();
    let vars = HashMap::from([
        ("LANGFUSE_OTEL_TRACES_ENDPOINT", format!("{}/otlp/v1/traces", collector.base_url())),
        ("LANGFUSE_OTEL_COMPRESSION", "none".to_owned()),
    ]);
    let config = Config::builder().env_source(move |name| vars.get(name).cloned()).build().unwrap();
    assert_eq!(
        config.otlp_endpoint(),
        Some(format!("{}/otlp/v1/traces", collector.base_url()).as_str())
    );
    let langfuse = langfuse_runtime::Langfuse::new(config);
    span("from-env").start().end();
    assert!(langfuse.flush().is_success());
    drop(langfuse);
    let requests = collector.requests();
    assert_eq!(requests[0].path, "/otlp/v1/traces");
    assert_eq!(requests[0].header("content-encoding"), None);

    // LANGFUSE_EXPORT_ENABLED=false: keys and an endpoint are there, but only the extra
    // destination gets the spans.
    let langfuse_side = OtlpReceiver::start();
    let tempo = OtlpReceiver::start();
    let (tempo_addr, base) = (tempo.addr(), langfuse_side.base_url());
    let vars = HashMap::from([
        ("LANGFUSE_PUBLIC_KEY", "pk-lf-1".to_owned()),
        ("LANGFUSE_SECRET_KEY", "sk-lf-1".to_owned()),
        ("LANGFUSE_BASE_URL", base),
        ("LANGFUSE_EXPORT_ENABLED", "false".to_owned()),
    ]);
    let langfuse = Config::builder()
        .env_source(move |name| vars.get(name).cloned())
        .flush_interval(Duration::from_secs(3600))
        .otel_exporter(move || {
            OtelExporter::new(otel_forward::OtlpForwarder::new(tempo_addr, "/v1/traces"))
                .name("tempo")
        })
        .init()
        .unwrap();
    assert!(!langfuse.config().langfuse_export());
    span("tempo-only").start().end();
    let report = langfuse.flush();
    assert!(report.is_success(), "{report}");
    // The pipeline's own count covers its exporters: here only the destination, which takes
    // every batch into its queue; its delivery is in `destinations`.
    assert_eq!((report.exported, report.destinations.exported), (1, 1));
    assert_eq!(tempo.wait_for_spans(1, Duration::from_secs(5))[0].name(), "tempo-only");
    drop(langfuse);
    assert_eq!(langfuse_side.request_count(), 0);
}

#[test]
fn bad_values_are_refused_naming_the_variable() {
    for (var, value) in [
        ("LANGFUSE_OTEL_TRACES_ENDPOINT", "collector:4318/v1/traces"),
        ("LANGFUSE_OTEL_TRACES_ENDPOINT", "http://collector:4318/v1/ traces"),
        ("LANGFUSE_EXPORT_ENABLED", "maybe"),
    ] {
        let err = Config::builder()
            .env_source(move |name| (name == var).then(|| value.to_owned()))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), &Setting::Env(var), "{var}={value}");
        assert!(err.to_string().contains(var), "{err}");
    }
    let err = Config::builder()
        .env_source(|_| None)
        .otlp_endpoint("ftp://collector")
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), &Setting::Builder("otlp_endpoint"));
    assert_eq!(
        err.to_string(),
        "builder setting `otlp_endpoint` = \"ftp://collector\" is invalid: must start with http:// or https://"
    );
}
