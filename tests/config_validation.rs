//! Invalid configuration is a `ConfigError` at init naming the variable or builder method the
//! value came from, never a panic later; `Debug` of a config leaks no secret.

use std::collections::HashMap;
use std::time::Duration;

use langfuse_runtime::Setting;
use langfuse_runtime::{Config, ConfigBuilder, ConfigError};

fn with_env(vars: &[(&str, &str)]) -> ConfigBuilder {
    let map: HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::builder().env_source(move |name| map.get(name).cloned())
}

fn env_error(vars: &[(&str, &str)]) -> ConfigError {
    with_env(vars).build().expect_err("configuration should be rejected")
}

#[track_caller]
fn assert_names(err: &ConfigError, setting: Setting) {
    assert_eq!(err.setting(), &setting, "{err}");
    let name = match setting {
        Setting::Env(name) | Setting::Builder(name) => name,
    };
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn an_overflowing_flush_interval_is_an_error_at_init() {
    // `Duration::from_secs_f64(1e20)` panics; init must report it instead.
    let err = with_env(&[("LANGFUSE_FLUSH_INTERVAL", "1e20")]).init().unwrap_err();
    assert_names(&err, Setting::Env("LANGFUSE_FLUSH_INTERVAL"));
    // Fits a `Duration` but would overflow `Instant + interval` in the export thread.
    let err = env_error(&[("LANGFUSE_FLUSH_INTERVAL", "1e19")]);
    assert_names(&err, Setting::Env("LANGFUSE_FLUSH_INTERVAL"));
    let err = env_error(&[("OTEL_BSP_SCHEDULE_DELAY", "18446744073709551615")]);
    assert_names(&err, Setting::Env("OTEL_BSP_SCHEDULE_DELAY"));
    let err = with_env(&[]).flush_interval(Duration::MAX).build().unwrap_err();
    assert_names(&err, Setting::Builder("flush_interval"));
    // Ordinary values still pass.
    let c = with_env(&[("LANGFUSE_FLUSH_INTERVAL", "0.25")]).build().unwrap();
    assert_eq!(c.flush_interval(), Duration::from_millis(250));
}

#[test]
fn an_overflowing_timeout_is_an_error() {
    // `timeout * 2` (the flush wait) would overflow.
    let err = with_env(&[]).timeout(Duration::MAX).build().unwrap_err();
    assert_names(&err, Setting::Builder("timeout"));
    let err = env_error(&[("LANGFUSE_TIMEOUT", "18446744073709551615")]);
    assert_names(&err, Setting::Env("LANGFUSE_TIMEOUT"));
}

#[test]
fn a_zero_timeout_is_rejected() {
    let err = with_env(&[]).timeout(Duration::ZERO).build().unwrap_err();
    assert_names(&err, Setting::Builder("timeout"));
    let err = env_error(&[("LANGFUSE_TIMEOUT", "0")]);
    assert_names(&err, Setting::Env("LANGFUSE_TIMEOUT"));
}

#[test]
fn a_base_url_without_host_is_rejected() {
    for url in ["http://", "https://", "http:///path", "http://exa mple.com", "http://x\n"] {
        let err = env_error(&[("LANGFUSE_BASE_URL", url)]);
        assert_names(&err, Setting::Env("LANGFUSE_BASE_URL"));
    }
    assert!(with_env(&[("LANGFUSE_BASE_URL", "http://localhost:3000")]).build().is_ok());
}

#[test]
fn the_error_names_where_the_url_came_from() {
    let err = env_error(&[("LANGFUSE_HOST", "http://")]);
    assert_names(&err, Setting::Env("LANGFUSE_HOST"));
    let err = with_env(&[]).host("http://").build().unwrap_err();
    assert_names(&err, Setting::Builder("host"));
    let err = with_env(&[]).base_url("ftp://x").build().unwrap_err();
    assert_names(&err, Setting::Builder("base_url"));
    // The base URL wins over the host alias, so its error is the base URL's.
    let err = env_error(&[("LANGFUSE_HOST", "http://ok"), ("LANGFUSE_BASE_URL", "http://")]);
    assert_names(&err, Setting::Env("LANGFUSE_BASE_URL"));
}

#[test]
fn a_traces_path_that_breaks_the_url_is_rejected() {
    let err = env_error(&[("LANGFUSE_OTEL_TRACES_EXPORT_PATH", "api/ otel")]);
    assert_names(&err, Setting::Env("LANGFUSE_OTEL_TRACES_EXPORT_PATH"));
}

#[test]
fn header_names_and_values_with_crlf_or_invalid_characters_are_rejected() {
    for (var, raw) in [
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-a=1%0D%0AX-Injected: 1"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-a=line%0Abreak"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x(y)=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-nul=a%00b"),
    ] {
        let err = env_error(&[(var, raw)]);
        assert_names(&err, Setting::Env(var));
    }
    let err = with_env(&[]).header("x-token", "abc\r\nx-evil: 1").build().unwrap_err();
    assert_names(&err, Setting::Builder("header"));
    let err = with_env(&[]).header("x:y", "1").build().unwrap_err();
    assert_names(&err, Setting::Builder("header"));
    let ok = with_env(&[("OTEL_EXPORTER_OTLP_HEADERS", "x-a=Bearer%20t0k")]).build().unwrap();
    assert_eq!(ok.headers(), [("x-a".to_string(), "Bearer t0k".to_string())]);
}

#[test]
fn a_rejected_header_value_is_not_echoed() {
    let err = with_env(&[]).header("authorization", "Bearer s3cr3t\n").build().unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
}

#[test]
fn keys_with_whitespace_or_control_characters_are_rejected() {
    for key in ["pk-lf-1 ", " pk-lf-1", "pk-lf-1\n", "pk\u{7f}lf", "pk\tlf"] {
        let err = env_error(&[("LANGFUSE_PUBLIC_KEY", key)]);
        assert_names(&err, Setting::Env("LANGFUSE_PUBLIC_KEY"));
        let err = env_error(&[("LANGFUSE_SECRET_KEY", key)]);
        assert_names(&err, Setting::Env("LANGFUSE_SECRET_KEY"));
    }
    let err = with_env(&[]).public_key("pk lf").build().unwrap_err();
    assert_names(&err, Setting::Builder("public_key"));
    let err = with_env(&[]).secret_key("sk-lf-s3cr3t\r\n").build().unwrap_err();
    assert_names(&err, Setting::Builder("secret_key"));
    // The rejected secret is not shown either.
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

#[test]
fn debug_shows_no_secret_and_no_header_value() {
    let config = with_env(&[
        ("LANGFUSE_PUBLIC_KEY", "pk-lf-visible"),
        ("LANGFUSE_SECRET_KEY", "sk-lf-hidden"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=tok-env-hidden"),
    ])
    .header("authorization-extra", "Bearer tok-builder-hidden")
    .build()
    .unwrap();
    let debug = format!("{config:?}");
    for hidden in ["sk-lf-hidden", "tok-env-hidden", "tok-builder-hidden"] {
        assert!(!debug.contains(hidden), "{hidden} in {debug}");
    }
    // Names stay, for debugging.
    for shown in ["pk-lf-visible", "x-api-key", "authorization-extra"] {
        assert!(debug.contains(shown), "{shown} not in {debug}");
    }
    let pretty = format!("{config:#?}");
    assert!(!pretty.contains("tok-env-hidden") && !pretty.contains("sk-lf-hidden"));
}

#[test]
fn max_field_bytes_must_be_at_least_a_kibibyte() {
    for raw in ["1023", "0", "-1", "lots"] {
        let err = env_error(&[("LANGFUSE_MAX_FIELD_BYTES", raw)]);
        assert_names(&err, Setting::Env("LANGFUSE_MAX_FIELD_BYTES"));
    }
    let err = with_env(&[]).max_field_bytes(1023).build().unwrap_err();
    assert_names(&err, Setting::Builder("max_field_bytes"));
    assert!(err.to_string().contains("at least 1024"), "{err}");

    assert_eq!(with_env(&[]).build().unwrap().max_field_bytes(), 1 << 20);
    let c = with_env(&[("LANGFUSE_MAX_FIELD_BYTES", "1024")]).build().unwrap();
    assert_eq!(c.max_field_bytes(), 1024);
    // The builder wins over the environment.
    let c = with_env(&[("LANGFUSE_MAX_FIELD_BYTES", "1")]).max_field_bytes(4096).build().unwrap();
    assert_eq!(c.max_field_bytes(), 4096);
}

#[test]
fn getters_read_back_what_was_validated() {
    let c = with_env(&[("LANGFUSE_PUBLIC_KEY", "pk-lf-1"), ("LANGFUSE_SECRET_KEY", "sk-lf-2")])
        .base_url("http://localhost:3000")
        .environment("staging")
        .timeout(Duration::from_secs(3))
        .flush_at(7)
        .build()
        .unwrap();
    assert!(c.has_keys());
    assert_eq!(c.public_key(), Some("pk-lf-1"));
    assert_eq!(c.base_url(), "http://localhost:3000");
    assert_eq!(c.environment(), Some("staging"));
    assert_eq!(c.timeout(), Duration::from_secs(3));
    assert_eq!(c.flush_at(), 7);
    assert_eq!(c.traces_path(), "api/public/otel/v1/traces");
}

#[test]
fn every_otlp_variable_has_a_builder_method_that_wins_and_is_named_in_errors() {
    let c = with_env(&[
        ("LANGFUSE_OTEL_TRACES_EXPORT_PATH", "env/path"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=env,region=eu"),
    ])
    .base_url("http://127.0.0.1:4318")
    .traces_path("/v1/traces")
    .attribute_count_limit(64)
    .resource_attribute("team", "search")
    .build()
    .unwrap();
    assert_eq!(c.traces_endpoint(), "http://127.0.0.1:4318/v1/traces");
    assert_eq!(c.attribute_count_limit(), 64);
    assert_eq!(
        c.resource_attributes(),
        vec![("region".to_owned(), "eu".to_owned()), ("team".to_owned(), "search".to_owned())]
    );

    let err = with_env(&[]).traces_path("v1/tra ces").build().unwrap_err();
    assert_names(&err, Setting::Builder("traces_path"));
    let err = env_error(&[("LANGFUSE_OTEL_TRACES_EXPORT_PATH", "a\nb")]);
    assert_names(&err, Setting::Env("LANGFUSE_OTEL_TRACES_EXPORT_PATH"));
    let err = with_env(&[]).attribute_count_limit(0).build().unwrap_err();
    assert_names(&err, Setting::Builder("attribute_count_limit"));
}

#[test]
fn scores_batch_like_python_unless_flush_settings_were_given() {
    let c =
        with_env(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"), ("OTEL_BSP_SCHEDULE_DELAY", "200")])
            .build()
            .unwrap();
    assert_eq!((c.flush_at(), c.flush_interval()), (100, Duration::from_millis(200)));
    assert_eq!((c.score_flush_at(), c.score_flush_interval()), (15, Duration::from_secs(1)));
    let c =
        with_env(&[("LANGFUSE_FLUSH_AT", "7"), ("LANGFUSE_FLUSH_INTERVAL", "2")]).build().unwrap();
    assert_eq!((c.score_flush_at(), c.score_flush_interval()), (7, Duration::from_secs(2)));
    let c = with_env(&[]).flush_interval(Duration::from_millis(300)).build().unwrap();
    assert_eq!((c.score_flush_at(), c.score_flush_interval()), (15, Duration::from_millis(300)));
}
