//! Checks of values the HTTP client and the exporter must be able to use.

use std::time::Duration;

use super::error::{ConfigError, Setting};

pub(super) const MIN_FIELD_BYTES: usize = 1024;
pub(super) const FIELD_BYTES_REASON: &str = "must be at least 1024 (bytes)";

/// Below this a single large observation could never be queued.
pub(super) const MIN_QUEUE_BYTES: usize = 64 * 1024;
pub(super) const QUEUE_BYTES_REASON: &str = "must be at least 65536 (bytes)";

pub(super) const RATE_REASON: &str = "must be a number between 0.0 and 1.0";

pub(super) fn builder_err(name: &'static str, value: &str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { setting: Setting::Builder(name), value: value.to_owned(), reason }
}

pub(super) fn check_rate(rate: f64) -> Option<f64> {
    (0.0..=1.0).contains(&rate).then_some(rate)
}

/// Longest flush interval or timeout: anything longer is a unit mistake, and doubling it or
/// adding it to an `Instant` must not overflow.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

pub(super) fn check_duration(
    duration: Duration,
    name: &'static str,
    nonzero: bool,
) -> Result<Duration, ConfigError> {
    if nonzero && duration.is_zero() {
        return Err(builder_err(name, "0s", "must be longer than zero"));
    }
    if duration > MAX_DURATION {
        return Err(builder_err(name, &format!("{duration:?}"), "must be at most a year"));
    }
    Ok(duration)
}

/// Keys go into headers verbatim; a pasted newline or space would make every request fail.
pub(super) fn check_key(key: &str, setting: &Setting, shown: &str) -> Result<(), ConfigError> {
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid {
            setting: setting.clone(),
            value: shown.to_owned(),
            reason: "must not contain whitespace or control characters",
        });
    }
    Ok(())
}

/// A URL the HTTP client can send to: http(s), a host, nothing it would refuse.
pub(super) fn check_url(url: &str) -> Result<(), &'static str> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("must start with http:// or https://");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    match ureq::http::Uri::try_from(url) {
        Ok(uri) if uri.host().is_some_and(|host| !host.is_empty()) => Ok(()),
        _ => Err("must be a URL with a host, e.g. https://cloud.langfuse.com"),
    }
}

/// A header the HTTP client accepts: a token name and a value without CR, LF or other controls.
/// The error shows the name only: values are often tokens.
pub(super) fn check_header(name: &str, value: &str, setting: Setting) -> Result<(), ConfigError> {
    let reason = if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        "header name must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"
    } else if ureq::http::HeaderValue::from_str(value).is_err() {
        "header value must be visible ASCII, spaces or tabs (no CR, LF or other controls)"
    } else {
        return Ok(());
    };
    Err(ConfigError::Invalid { setting, value: name.to_owned(), reason })
}
