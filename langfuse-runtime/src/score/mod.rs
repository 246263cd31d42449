//! Scores: evaluations attached to a trace, an observation, a session or a dataset run, sent
//! to `POST /api/public/scores` in background batches, as the Python SDK sends them.
//!
//! Start one from a handle ([`ObservationRef::score`](crate::ObservationRef::score),
//! [`ObservationRef::score_trace`](crate::ObservationRef::score_trace)), from the current
//! observation ([`score_current_observation`](crate::score_current_observation),
//! [`score_current_trace`](crate::score_current_trace)) or with explicit ids
//! ([`score`](crate::score())); set a value and [`send`](ScoreBuilder::send) it.
//!
//! One job per file: `validate` refuses what the server would reject, `body` writes the JSON,
//! `sender` batches and delivers on its own thread.
//!
//! Delivery follows the span exporter's [retry policy](crate::export#retry-policy) (429,
//! 502–504 and connection errors retried; a 207 partial success is logged, not retried). A
//! score inside an unsampled trace is dropped at once, without any work, as its spans are.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::ids::TraceId;

mod body;
mod sender;
mod validate;

pub(crate) use sender::ScoreSender;

/// A score's value: a number (NUMERIC, BOOLEAN) or a string (CATEGORICAL, TEXT, CORRECTION).
///
/// `bool` and integers convert to numbers as Python converts them (`true` → `1.0`); strings
/// convert to string values.
///
/// ```
/// use langfuse_runtime::ScoreValue;
/// assert_eq!(ScoreValue::from(true), ScoreValue::Number(1.0));
/// assert_eq!(ScoreValue::from(4), ScoreValue::Number(4.0));
/// assert_eq!(ScoreValue::from("good"), ScoreValue::String("good".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreValue {
    /// Sent as a JSON number.
    Number(f64),
    /// Sent as a JSON string.
    String(Cow<'static, str>),
}

impl From<f64> for ScoreValue {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<f32> for ScoreValue {
    fn from(value: f32) -> Self {
        Self::Number(f64::from(value))
    }
}

impl From<i32> for ScoreValue {
    fn from(value: i32) -> Self {
        Self::Number(f64::from(value))
    }
}

impl From<u32> for ScoreValue {
    fn from(value: u32) -> Self {
        Self::Number(f64::from(value))
    }
}

impl From<i64> for ScoreValue {
    fn from(value: i64) -> Self {
        // Python's `float(int)` rounds the same way for integers beyond 2^53.
        Self::Number(value as f64)
    }
}

impl From<bool> for ScoreValue {
    fn from(value: bool) -> Self {
        Self::Number(if value { 1.0 } else { 0.0 })
    }
}

impl From<&str> for ScoreValue {
    fn from(value: &str) -> Self {
        Self::String(Cow::Owned(value.to_owned()))
    }
}

impl From<String> for ScoreValue {
    fn from(value: String) -> Self {
        Self::String(Cow::Owned(value))
    }
}

/// The `dataType` of a score; without one the server infers it from the value.
///
/// ```
/// use langfuse_runtime::ScoreDataType;
/// assert_eq!(ScoreDataType::Boolean.as_str(), "BOOLEAN");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScoreDataType {
    /// Any finite number.
    Numeric,
    /// `0` or `1`.
    Boolean,
    /// A string label.
    Categorical,
    /// Free text of 1 to 500 characters.
    Text,
    /// A corrected output (a string); cannot have a config id.
    Correction,
}

impl ScoreDataType {
    /// The wire name: `NUMERIC`, `BOOLEAN`, `CATEGORICAL`, `TEXT` or `CORRECTION`.
    ///
    /// ```
    /// use langfuse_runtime::ScoreDataType;
    /// assert_eq!(ScoreDataType::Categorical.as_str(), "CATEGORICAL");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numeric => "NUMERIC",
            Self::Boolean => "BOOLEAN",
            Self::Categorical => "CATEGORICAL",
            Self::Text => "TEXT",
            Self::Correction => "CORRECTION",
        }
    }
}

impl fmt::Display for ScoreDataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`ScoreBuilder::send`] refused a score: the server would reject it. Nothing was queued.
///
/// ```
/// use langfuse_runtime::{ScoreDataType, ScoreError, score};
/// let refused = score("ok").trace_id("abc").value(2).data_type(ScoreDataType::Boolean).send();
/// assert_eq!(refused, Err(ScoreError::NotBoolean(2.0)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScoreError {
    /// The name is empty or only whitespace.
    EmptyName,
    /// No value was set.
    MissingValue,
    /// A number that JSON cannot carry (NaN, ±infinity).
    NotFinite(f64),
    /// A BOOLEAN score whose value is neither 0 nor 1.
    NotBoolean(f64),
    /// A number for a string type (CATEGORICAL, TEXT, CORRECTION) or a string for a numeric
    /// one (NUMERIC, BOOLEAN).
    WrongValueKind(ScoreDataType),
    /// A TEXT score of this length in UTF-16 code units (what the server counts; an emoji is
    /// two): it must have 1 to 500.
    TextLength(usize),
    /// A CORRECTION score with a config id.
    CorrectionWithConfigId,
    /// A score by explicit ids with no trace, session or dataset run id.
    MissingTarget,
    /// An environment that is not `[a-z0-9_-]`, 1 to 40 characters, not starting with
    /// `langfuse`.
    InvalidEnvironment(String),
    /// The score alone is larger than the 1,000,000-byte request limit.
    TooLarge(usize),
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyName => f.write_str("score name is empty"),
            Self::MissingValue => f.write_str("score has no value"),
            Self::NotFinite(v) => write!(f, "score value {v} is not a finite number"),
            Self::NotBoolean(v) => write!(f, "BOOLEAN score value must be 0 or 1, got {v}"),
            Self::WrongValueKind(t) => match t {
                ScoreDataType::Numeric | ScoreDataType::Boolean => {
                    write!(f, "{t} score value must be a number")
                }
                _ => write!(f, "{t} score value must be a string"),
            },
            Self::TextLength(n) => {
                write!(f, "TEXT score value must have 1 to 500 UTF-16 code units, got {n}")
            }
            Self::CorrectionWithConfigId => f.write_str("CORRECTION score cannot have a config id"),
            Self::MissingTarget => {
                f.write_str("score needs a trace id, a session id or a dataset run id")
            }
            Self::InvalidEnvironment(e) => write!(f, "invalid score environment {e:?}"),
            Self::TooLarge(n) => {
                write!(f, "score of {n} bytes exceeds the 1,000,000-byte request limit")
            }
        }
    }
}

impl std::error::Error for ScoreError {}

/// Score counters of a client, read with [`Langfuse::score_stats`](crate::Langfuse::score_stats).
///
/// Scores of unsampled traces are not counted anywhere: like their spans, they cost nothing.
///
/// ```
/// let stats = langfuse_runtime::ScoreStats::default();
/// assert_eq!((stats.sent, stats.failed, stats.dropped, stats.queued), (0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScoreStats {
    /// Scores the server accepted (or the console printed, without keys).
    pub sent: u64,
    /// Scores in requests that failed after retries, or that a 207 reported as rejected.
    pub failed: u64,
    /// Scores dropped before sending: the queue was full or the client had shut down.
    pub dropped: u64,
    /// Scores handed over and not yet sent.
    pub queued: u64,
}

/// The fields of a score as the builder collects them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) name: Cow<'static, str>,
    pub(crate) value: Option<ScoreValue>,
    pub(crate) data_type: Option<ScoreDataType>,
    pub(crate) id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) observation_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) dataset_run_id: Option<String>,
    pub(crate) comment: Option<String>,
    /// Compact JSON text.
    pub(crate) metadata: Option<String>,
    pub(crate) config_id: Option<String>,
    pub(crate) timestamp: Option<SystemTime>,
    pub(crate) environment: Option<String>,
    /// The scored observation's environment, used when none is given.
    pub(crate) inherited_environment: Option<String>,
    /// Built from explicit ids, so one of trace, session or dataset run is required.
    pub(crate) explicit: bool,
}

/// A score being built: set a value (and optionally more), then [`send`](Self::send) it.
///
/// Made by [`ObservationRef::score`](crate::ObservationRef::score),
/// [`ObservationRef::score_trace`](crate::ObservationRef::score_trace),
/// [`score_current_observation`](crate::score_current_observation),
/// [`score_current_trace`](crate::score_current_trace) and [`score`](crate::score()).
///
/// ```
/// use langfuse_runtime::span;
/// let db = span("db_query").start();
/// db.score("db_latency_ok").boolean(true).comment("under 100 ms").send()?;
/// # Ok::<(), langfuse_runtime::ScoreError>(())
/// ```
#[must_use = "a score is queued only by `send()`"]
#[derive(Debug)]
pub struct ScoreBuilder {
    /// Where the score goes; `None` when it goes nowhere (tracing off, unsampled trace, no
    /// keys and no console).
    sender: Option<Arc<ScoreSender>>,
    draft: Draft,
}

impl ScoreBuilder {
    /// A builder for `sender`; `None` makes every method a no-op apart from validation.
    pub(crate) fn new(
        sender: Option<Arc<ScoreSender>>,
        name: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self { sender, draft: Draft { name: name.into(), ..Draft::default() } }
    }

    /// For the constructors: the draft to fill in.
    pub(crate) fn draft_mut(&mut self) -> &mut Draft {
        &mut self.draft
    }

    /// Whether the score will be queued (not inside an unsampled trace, tracing on): only
    /// then are strings worth copying into the draft.
    pub(crate) fn is_active(&self) -> bool {
        self.sender.is_some()
    }

    /// The value, as given: with no [`data_type`](Self::data_type) the server infers it.
    ///
    /// ```
    /// # use langfuse_runtime::score;
    /// score("relevance").trace_id("0af7651916cd43dd8448eb211c80319c").value(0.75).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn value(mut self, value: impl Into<ScoreValue>) -> Self {
        self.draft.value = Some(value.into());
        self
    }

    /// A NUMERIC score.
    ///
    /// ```
    /// # let g = langfuse_runtime::generation("chat").start();
    /// g.score("helpfulness").numeric(0.8).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn numeric(self, value: f64) -> Self {
        self.value(value).data_type(ScoreDataType::Numeric)
    }

    /// A BOOLEAN score, sent as `1.0` or `0.0`.
    ///
    /// ```
    /// # let s = langfuse_runtime::span("db").start();
    /// s.score("db_latency_ok").boolean(true).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn boolean(self, value: bool) -> Self {
        self.value(value).data_type(ScoreDataType::Boolean)
    }

    /// A CATEGORICAL score.
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score_trace("tone").categorical("friendly").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn categorical(self, value: impl Into<Cow<'static, str>>) -> Self {
        self.value(ScoreValue::String(value.into())).data_type(ScoreDataType::Categorical)
    }

    /// A TEXT score (1 to 500 characters, counted in UTF-16 code units as the server does).
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("review").text("Clear, but misses the second question.").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn text(self, value: impl Into<Cow<'static, str>>) -> Self {
        self.value(ScoreValue::String(value.into())).data_type(ScoreDataType::Text)
    }

    /// The `dataType`, checked against the value by [`send`](Self::send).
    ///
    /// ```
    /// # use langfuse_runtime::{ScoreDataType, span};
    /// # let s = span("answer").start();
    /// s.score("correct").value(1).data_type(ScoreDataType::Boolean).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn data_type(mut self, data_type: ScoreDataType) -> Self {
        self.draft.data_type = Some(data_type);
        self
    }

    /// A comment shown with the score.
    ///
    /// ```
    /// # let s = langfuse_runtime::span("db").start();
    /// s.score("db_latency_ok").boolean(false).comment("took 2.3 s").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        if self.is_active() {
            self.draft.comment = Some(comment.into());
        }
        self
    }

    /// Metadata: any serializable value, sent as JSON (encoded as observation metadata is).
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("quality").numeric(0.9).metadata(&serde_json::json!({"judge": "gpt-4o"})).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn metadata<T: Serialize + ?Sized>(mut self, metadata: &T) -> Self {
        if self.is_active() {
            let json = crate::encode::json_text(metadata);
            self.draft.metadata = (&*json != "null").then(|| (*json).to_owned());
        }
        self
    }

    /// The id of a score config the server validates the value against.
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("accuracy").numeric(0.5).config_id("cfg-accuracy").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn config_id(mut self, config_id: impl Into<String>) -> Self {
        if self.is_active() {
            self.draft.config_id = Some(config_id.into());
        }
        self
    }

    /// The score's own id (default: 16 random hex characters). Sending the same id again
    /// updates the score.
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("accuracy").numeric(0.5).id("run-7-accuracy").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn id(mut self, id: impl Into<String>) -> Self {
        if self.is_active() {
            self.draft.id = Some(id.into());
        }
        self
    }

    /// When the score was given (default: when [`send`](Self::send) is called).
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("accuracy").numeric(0.5).timestamp(std::time::SystemTime::now()).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.draft.timestamp = Some(at);
        self
    }

    /// The environment (default: the scored observation's, else the client's).
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("accuracy").numeric(0.5).environment("staging").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.draft.environment = Some(environment.into());
        self
    }

    /// The trace to score (32 hex characters; other ids are sent as given and always sent,
    /// as Python sends "legacy" ids whatever the sampling).
    ///
    /// ```
    /// # use langfuse_runtime::{TraceId, score};
    /// score("user_feedback").trace_id(TraceId::random()).boolean(true).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn trace_id(mut self, trace_id: impl fmt::Display) -> Self {
        if self.is_active() || self.draft.explicit {
            self.draft.trace_id = Some(trace_id.to_string());
        }
        self
    }

    /// The observation to score (with its [`trace_id`](Self::trace_id)).
    ///
    /// ```
    /// # use langfuse_runtime::{ObservationId, TraceId, score};
    /// score("grounded")
    ///     .trace_id(TraceId::random())
    ///     .observation_id(ObservationId::random())
    ///     .boolean(true)
    ///     .send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn observation_id(mut self, observation_id: impl fmt::Display) -> Self {
        if self.is_active() {
            self.draft.observation_id = Some(observation_id.to_string());
        }
        self
    }

    /// The session to score.
    ///
    /// ```
    /// # use langfuse_runtime::score;
    /// score("session_rating").session_id("session-42").numeric(4.0).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        if self.is_active() || self.draft.explicit {
            self.draft.session_id = Some(session_id.into());
        }
        self
    }

    /// The dataset run to score.
    ///
    /// ```
    /// # use langfuse_runtime::score;
    /// score("run_accuracy").dataset_run_id("run-2025-01-02").numeric(0.93).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn dataset_run_id(mut self, dataset_run_id: impl Into<String>) -> Self {
        if self.is_active() || self.draft.explicit {
            self.draft.dataset_run_id = Some(dataset_run_id.into());
        }
        self
    }

    /// Checks the score and queues it for the background sender; never blocks on the network.
    ///
    /// A score the server would reject is refused here with a [`ScoreError`] and nothing is
    /// queued. A valid score inside an unsampled trace, or with tracing off, is dropped
    /// without any work and `Ok` is returned; so is one made after the client shut down
    /// (counted in [`ScoreStats::dropped`]).
    ///
    /// ```
    /// # let s = langfuse_runtime::span("answer").start();
    /// s.score("helpfulness").numeric(0.8).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn send(self) -> Result<(), ScoreError> {
        validate::check(&self.draft)?;
        let Some(sender) = self.sender else { return Ok(()) };
        if let Some(trace_id) = self.draft.trace_id.as_deref()
            && let Some(id) = sampled_id(trace_id)
            && !sender.samples(id)
        {
            return Ok(());
        }
        sender.submit(self.draft)
    }
}

/// A trace id the sampler decides on: exactly 32 lower-case hex characters (§7.4).
fn sampled_id(text: &str) -> Option<TraceId> {
    let lower_hex = text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if lower_hex { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lower_case_32_hex_ids_are_sampled() {
        assert!(sampled_id("0af7651916cd43dd8448eb211c80319c").is_some());
        assert!(sampled_id("0AF7651916CD43DD8448EB211C80319C").is_none());
        assert!(sampled_id("trace-1").is_none());
        assert!(sampled_id("0af7651916cd43dd").is_none());
    }

    #[test]
    fn values_convert_as_python_converts_them() {
        assert_eq!(ScoreValue::from(false), ScoreValue::Number(0.0));
        assert_eq!(ScoreValue::from(3u32), ScoreValue::Number(3.0));
        assert_eq!(ScoreValue::from(0.5f32), ScoreValue::Number(0.5));
        assert_eq!(ScoreValue::from(String::from("a")), ScoreValue::String("a".into()));
    }

    #[test]
    fn inactive_builders_keep_no_strings_but_still_validate() {
        let b = ScoreBuilder::new(None, "x").comment("c").metadata(&1).config_id("k").id("i");
        assert!(b.draft.comment.is_none() && b.draft.metadata.is_none());
        assert!(b.draft.config_id.is_none() && b.draft.id.is_none());
        assert_eq!(ScoreBuilder::new(None, " ").numeric(1.0).send(), Err(ScoreError::EmptyName));
        assert_eq!(ScoreBuilder::new(None, "x").numeric(1.0).send(), Ok(()));
    }
}
