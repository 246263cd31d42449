//! Reading the environment: empty-as-unset lookups, booleans, integers, seconds, OTel lists.

use std::sync::Arc;
use std::time::Duration;

use super::error::ConfigError;
use super::validate::MAX_DURATION;

pub(super) type EnvSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// CI systems' commit variables, tried in this order when `LANGFUSE_RELEASE` is unset.
pub(super) const RELEASE_FALLBACKS: [&str; 10] = [
    "RENDER_GIT_COMMIT",
    "CI_COMMIT_SHA",
    "CIRCLE_SHA1",
    "SOURCE_VERSION",
    "TRAVIS_COMMIT",
    "GIT_COMMIT",
    "GITHUB_SHA",
    "BITBUCKET_COMMIT",
    "BUILD_SOURCEVERSION",
    "DRONE_COMMIT_SHA",
];

pub(super) struct Env(pub(super) EnvSource);

impl Env {
    /// The variable's value; empty counts as unset, like Python's `arg or env`.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }
}

pub(super) fn resolve_bool(
    given: Option<bool>,
    env: &Env,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    if let Some(v) = given {
        return Ok(v);
    }
    let Some(raw) = env.get(name) else { return Ok(default) };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::env(name, &raw, "must be true or false")),
    }
}

pub(super) fn positive_int(env: &Env, name: &'static str) -> Result<Option<usize>, ConfigError> {
    let Some(raw) = env.get(name) else { return Ok(None) };
    match raw.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(ConfigError::env(name, &raw, "must be a positive integer")),
    }
}

pub(super) fn seconds(raw: &str) -> Option<Duration> {
    let secs = raw.trim().parse::<f64>().ok()?;
    // `try_from`: `1e20` seconds does not fit a `Duration`, and `from_secs_f64` would panic.
    Duration::try_from_secs_f64(secs).ok().filter(|d| *d <= MAX_DURATION)
}

/// `k1=v1,k2=v2` with percent-encoded values, as the OTel variables use.
pub(super) fn parse_key_values(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}
