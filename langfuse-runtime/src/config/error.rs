//! Why a configuration value was refused, and the secret wrapper that keeps keys out of logs.

use std::fmt;

/// Where a bad value came from.
///
/// ```
/// use langfuse_runtime::{Config, Setting};
/// let err = Config::builder().env_source(|_| None).flush_at(0).build().unwrap_err();
/// assert_eq!(err.setting(), &Setting::Builder("flush_at"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// An environment variable.
    Env(&'static str),
    /// A [`ConfigBuilder`](crate::ConfigBuilder) method.
    Builder(&'static str),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Builder(name) => write!(f, "builder setting `{name}`"),
        }
    }
}

/// An invalid configuration value.
///
/// ```
/// use langfuse_runtime::{Config, ConfigError};
/// let err = Config::builder()
///     .env_source(|name| (name == "LANGFUSE_SAMPLE_RATE").then(|| "1.5".to_string()))
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "environment variable LANGFUSE_SAMPLE_RATE = \"1.5\" is invalid: must be a number between 0.0 and 1.0"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value could not be used.
    Invalid {
        /// Which variable or setting.
        setting: Setting,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ConfigError {
    pub(super) fn env(name: &'static str, value: &str, reason: &'static str) -> Self {
        Self::Invalid { setting: Setting::Env(name), value: value.to_owned(), reason }
    }

    /// The variable or setting at fault.
    ///
    /// ```
    /// use langfuse_runtime::{Config, Setting};
    /// let err = Config::builder()
    ///     .env_source(|name| (name == "LANGFUSE_FLUSH_AT").then(|| "lots".to_string()))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.setting(), &Setting::Env("LANGFUSE_FLUSH_AT"));
    /// ```
    pub fn setting(&self) -> &Setting {
        match self {
            Self::Invalid { setting, .. } => setting,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { setting, value, reason } => {
                write!(f, "{setting} = {value:?} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A string that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(super) String);

impl Secret {
    /// The secret value, for building the authorization header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
