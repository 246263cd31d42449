//! [`ConfigBuilder::build`]: each setting from the builder, else its variable, else its
//! default, validated, with the first invalid value reported by the name it was given under.

use std::sync::Arc;
use std::time::Duration;

use super::super::env::{
    Env, RELEASE_FALLBACKS, parse_key_values, positive_int, resolve_bool, seconds,
};
use super::super::error::{ConfigError, Secret, Setting};
use super::super::validate::{
    FIELD_BYTES_REASON, MAX_DURATION, MIN_FIELD_BYTES, MIN_QUEUE_BYTES, QUEUE_BYTES_REASON,
    RATE_REASON, builder_err, check_duration, check_header, check_key, check_rate, check_url,
};
use super::super::{
    Config, DEFAULT_BASE_URL, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_TRACES_PATH,
};
use super::ConfigBuilder;
use crate::export::Compression;

impl ConfigBuilder {
    /// Resolves every setting, reporting the first invalid one.
    ///
    /// ```
    /// use langfuse_runtime::{Config, Setting};
    /// let err = Config::builder().env_source(|_| None).sample_rate(2.0).build().unwrap_err();
    /// assert_eq!(err.setting(), &Setting::Builder("sample_rate"));
    /// assert!(Config::builder().env_source(|_| None).build().is_ok());
    /// ```
    pub fn build(self) -> Result<Config, ConfigError> {
        let env =
            Env(self.env.clone().unwrap_or_else(|| Arc::new(|name| std::env::var(name).ok())));
        let b = self;

        let public_key = match b.public_key {
            Some(key) => Some((key, Setting::Builder("public_key"))),
            None => {
                env.get("LANGFUSE_PUBLIC_KEY").map(|k| (k, Setting::Env("LANGFUSE_PUBLIC_KEY")))
            }
        }
        .filter(|(k, _)| !k.is_empty());
        if let Some((key, setting)) = &public_key {
            check_key(key, setting, key)?;
        }
        let public_key = public_key.map(|(k, _)| k);
        let secret_key = match b.secret_key {
            Some(key) => Some((key, Setting::Builder("secret_key"))),
            None => {
                env.get("LANGFUSE_SECRET_KEY").map(|k| (k, Setting::Env("LANGFUSE_SECRET_KEY")))
            }
        }
        .filter(|(k, _)| !k.is_empty());
        if let Some((key, setting)) = &secret_key {
            check_key(key, setting, "***")?;
        }
        let secret_key = secret_key.map(|(k, _)| k);

        // The error names the setting the value actually came from.
        let (base_url, base_setting) = if let Some(url) = b.base_url {
            (url, Setting::Builder("base_url"))
        } else if let Some(url) = env.get("LANGFUSE_BASE_URL") {
            (url, Setting::Env("LANGFUSE_BASE_URL"))
        } else if let Some(url) = b.host {
            (url, Setting::Builder("host"))
        } else if let Some(url) = env.get("LANGFUSE_HOST") {
            (url, Setting::Env("LANGFUSE_HOST"))
        } else {
            (DEFAULT_BASE_URL.to_owned(), Setting::Builder("base_url"))
        };
        if let Err(reason) = check_url(&base_url) {
            return Err(ConfigError::Invalid { setting: base_setting, value: base_url, reason });
        }
        let (traces_path, path_setting) = match b.traces_path {
            Some(path) => (path, Setting::Builder("traces_path")),
            None => (
                env.get("LANGFUSE_OTEL_TRACES_EXPORT_PATH")
                    .unwrap_or_else(|| DEFAULT_TRACES_PATH.to_owned()),
                Setting::Env("LANGFUSE_OTEL_TRACES_EXPORT_PATH"),
            ),
        };
        let traces_path = traces_path.trim_start_matches('/').to_owned();
        // The base URL is fine, so a bad endpoint is the path's doing.
        if check_url(&format!("{base_url}/{traces_path}")).is_err() {
            return Err(ConfigError::Invalid {
                setting: path_setting,
                value: traces_path,
                reason: "must be a URL path (no spaces or control characters)",
            });
        }

        let (otlp_endpoint, endpoint_setting) = match b.otlp_endpoint {
            Some(url) => (Some(url), Setting::Builder("otlp_endpoint")),
            None => (
                env.get("LANGFUSE_OTEL_TRACES_ENDPOINT"),
                Setting::Env("LANGFUSE_OTEL_TRACES_ENDPOINT"),
            ),
        };
        if let Some(url) = &otlp_endpoint
            && let Err(reason) = check_url(url)
        {
            return Err(ConfigError::Invalid {
                setting: endpoint_setting,
                value: url.clone(),
                reason,
            });
        }
        let langfuse_export =
            resolve_bool(b.langfuse_export, &env, "LANGFUSE_EXPORT_ENABLED", true)?;

        let sample_rate = match b.sample_rate {
            Some(rate) => check_rate(rate).ok_or(ConfigError::Invalid {
                setting: Setting::Builder("sample_rate"),
                value: rate.to_string(),
                reason: RATE_REASON,
            })?,
            None => match env.get("LANGFUSE_SAMPLE_RATE") {
                Some(raw) => {
                    raw.trim().parse::<f64>().ok().and_then(check_rate).ok_or_else(|| {
                        ConfigError::env("LANGFUSE_SAMPLE_RATE", &raw, RATE_REASON)
                    })?
                }
                None => 1.0,
            },
        };

        let tracing_enabled =
            resolve_bool(b.tracing_enabled, &env, "LANGFUSE_TRACING_ENABLED", true)?;
        let debug = resolve_bool(b.debug, &env, "LANGFUSE_DEBUG", false)?;
        let io_capture_enabled = resolve_bool(
            b.io_capture_enabled,
            &env,
            "LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED",
            true,
        )?;
        let console_exporter =
            resolve_bool(b.console_exporter, &env, "LANGFUSE_CONSOLE_EXPORTER", false)?;

        // Scores share `flush_at`/`flush_interval` only when those were given explicitly (the
        // OTel batch variables are for spans); otherwise Python's score defaults apply.
        let score_flush_at_given = b.flush_at.is_some() || env.get("LANGFUSE_FLUSH_AT").is_some();
        let score_interval_given =
            b.flush_interval.is_some() || env.get("LANGFUSE_FLUSH_INTERVAL").is_some();
        let flush_at = match b.flush_at {
            Some(0) => return Err(builder_err("flush_at", "0", "must be at least 1")),
            Some(n) => n,
            None => positive_int(&env, "LANGFUSE_FLUSH_AT")?
                .or(positive_int(&env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?)
                .unwrap_or(512),
        };
        let flush_interval = match b.flush_interval {
            Some(d) => check_duration(d, "flush_interval", false)?,
            None => match env.get("LANGFUSE_FLUSH_INTERVAL") {
                Some(raw) => seconds(&raw).ok_or_else(|| {
                    ConfigError::env(
                        "LANGFUSE_FLUSH_INTERVAL",
                        &raw,
                        "must be a non-negative number of seconds, at most a year",
                    )
                })?,
                None => match positive_int(&env, "OTEL_BSP_SCHEDULE_DELAY")? {
                    Some(ms) => Some(Duration::from_millis(ms as u64))
                        .filter(|d| *d <= MAX_DURATION)
                        .ok_or_else(|| {
                            ConfigError::env(
                                "OTEL_BSP_SCHEDULE_DELAY",
                                &ms.to_string(),
                                "must be at most a year (in milliseconds)",
                            )
                        })?,
                    None => Duration::from_secs(5),
                },
            },
        };
        let timeout = match b.timeout {
            Some(d) => check_duration(d, "timeout", true)?,
            None => match positive_int(&env, "LANGFUSE_TIMEOUT")? {
                Some(s) => Some(Duration::from_secs(s as u64))
                    .filter(|d| *d <= MAX_DURATION)
                    .ok_or_else(|| {
                        ConfigError::env(
                            "LANGFUSE_TIMEOUT",
                            &s.to_string(),
                            "must be at most a year (in seconds)",
                        )
                    })?,
                None => Duration::from_secs(5),
            },
        };
        let max_queue_size = match b.max_queue_size {
            Some(0) => return Err(builder_err("max_queue_size", "0", "must be at least 1")),
            Some(n) => n,
            None => {
                positive_int(&env, "OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(DEFAULT_MAX_QUEUE_SIZE)
            }
        };
        let max_queue_bytes = match b.max_queue_bytes {
            Some(n) if n < MIN_QUEUE_BYTES => {
                return Err(builder_err("max_queue_bytes", &n.to_string(), QUEUE_BYTES_REASON));
            }
            Some(n) => n,
            None => match positive_int(&env, "LANGFUSE_MAX_QUEUE_BYTES")? {
                Some(n) if n < MIN_QUEUE_BYTES => {
                    return Err(ConfigError::env(
                        "LANGFUSE_MAX_QUEUE_BYTES",
                        &n.to_string(),
                        QUEUE_BYTES_REASON,
                    ));
                }
                Some(n) => n,
                None => DEFAULT_MAX_QUEUE_BYTES,
            },
        };
        let max_field_bytes = match b.max_field_bytes {
            Some(n) if n < MIN_FIELD_BYTES => {
                return Err(builder_err("max_field_bytes", &n.to_string(), FIELD_BYTES_REASON));
            }
            Some(n) => n,
            None => match positive_int(&env, "LANGFUSE_MAX_FIELD_BYTES")? {
                Some(n) if n < MIN_FIELD_BYTES => {
                    return Err(ConfigError::env(
                        "LANGFUSE_MAX_FIELD_BYTES",
                        &n.to_string(),
                        FIELD_BYTES_REASON,
                    ));
                }
                Some(n) => n,
                None => crate::capture::DEFAULT_FIELD_BUDGET,
            },
        };
        let attribute_count_limit = match b.attribute_count_limit {
            Some(0) => return Err(builder_err("attribute_count_limit", "0", "must be at least 1")),
            Some(limit) => limit,
            None => positive_int(&env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")?
                .unwrap_or(crate::attributes::DEFAULT_ATTRIBUTE_COUNT_LIMIT),
        };

        // The wire reference says an invalid compression or size falls through with a warning.
        let compression = b.compression.unwrap_or_else(|| {
            [
                "LANGFUSE_OTEL_COMPRESSION",
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ]
            .into_iter()
            .find_map(|name| {
                let raw = env.get(name)?;
                match raw.trim().to_ascii_lowercase().as_str() {
                    "gzip" => Some(Compression::Gzip),
                    "none" => Some(Compression::None),
                    _ => {
                        crate::diag::warn(format_args!(
                            "{name}={raw:?} is not gzip or none; ignored"
                        ));
                        None
                    }
                }
            })
            .unwrap_or_default()
        });
        let max_request_bytes = b.max_request_bytes.unwrap_or_else(|| {
            env.get("LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES")
                .and_then(|raw| {
                    let trimmed = raw.trim();
                    let parsed = trimmed
                        .bytes()
                        .all(|c| c.is_ascii_digit())
                        .then(|| trimmed.parse::<usize>().ok())
                        .flatten()
                        .filter(|n| *n > 0);
                    if parsed.is_none() {
                        crate::diag::warn(format_args!(
                            "LANGFUSE_OTEL_MAX_BATCH_SIZE_BYTES={raw:?} is not a positive integer; using the default"
                        ));
                    }
                    parsed
                })
                .unwrap_or(64 * 1024 * 1024)
        });

        let mut resource_attributes = env
            .get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|raw| parse_key_values(&raw))
            .unwrap_or_default();
        for (key, value) in b.resource_attributes {
            resource_attributes.retain(|(k, _)| *k != key);
            resource_attributes.push((key, value));
        }
        let resource_service = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = b
            .service_name
            .or_else(|| env.get("OTEL_SERVICE_NAME"))
            .or(resource_service)
            .unwrap_or_else(|| "unknown_service".to_owned());

        let mut headers = Vec::new();
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
            let parsed = env.get(name).map(|raw| parse_key_values(&raw)).unwrap_or_default();
            for (header, value) in &parsed {
                check_header(header, value, Setting::Env(name))?;
            }
            headers.extend(parsed);
        }
        for (header, value) in &b.headers {
            check_header(header, value, Setting::Builder("header"))?;
        }
        headers.extend(b.headers);

        let release = b
            .release
            .or_else(|| env.get("LANGFUSE_RELEASE"))
            .or_else(|| RELEASE_FALLBACKS.iter().find_map(|name| env.get(name)));

        Ok(Config {
            public_key,
            secret_key: secret_key.map(Secret),
            base_url,
            traces_path,
            environment: b.environment.or_else(|| env.get("LANGFUSE_TRACING_ENVIRONMENT")),
            release,
            sample_rate,
            tracing_enabled,
            debug,
            flush_at,
            flush_interval,
            score_flush_at: if score_flush_at_given { flush_at } else { 15 },
            score_flush_interval: if score_interval_given {
                flush_interval
            } else {
                Duration::from_secs(1)
            },
            timeout,
            io_capture_enabled,
            compression,
            max_request_bytes,
            max_queue_size,
            max_queue_bytes,
            attribute_count_limit,
            service_name,
            resource_attributes,
            headers,
            console_exporter,
            max_field_bytes,
            extra_exporters: b.extra_exporters,
            destinations: b.destinations,
            otlp_endpoint,
            langfuse_export,
            mask: b.mask,
        })
    }
}
