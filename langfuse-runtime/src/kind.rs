//! Observation types and levels, spelled exactly as Langfuse expects them on the wire.

use std::fmt;

/// The kind of an observation (`langfuse.observation.type`).
///
/// ```
/// use langfuse_runtime::ObservationType;
/// assert_eq!(ObservationType::Generation.as_str(), "generation");
/// assert_eq!("tool".parse::<ObservationType>(), Ok(ObservationType::Tool));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ObservationType {
    /// A generic unit of work (the default).
    #[default]
    Span,
    /// An LLM call: the only type Langfuse links prompts to.
    Generation,
    /// A zero-duration point in time.
    Event,
    /// An agent deciding what to do next.
    Agent,
    /// A tool call.
    Tool,
    /// A chain of steps.
    Chain,
    /// A retrieval step (vector store, search).
    Retriever,
    /// An evaluation of another observation.
    Evaluator,
    /// An embedding call (generation-like: accepts model, usage and cost).
    Embedding,
    /// A guardrail check.
    Guardrail,
}

impl ObservationType {
    /// All ten types, in the order Langfuse documents them.
    ///
    /// ```
    /// use langfuse_runtime::ObservationType;
    /// assert_eq!(ObservationType::ALL.len(), 10);
    /// assert_eq!(ObservationType::ALL[0], ObservationType::Span);
    /// ```
    pub const ALL: [ObservationType; 10] = [
        Self::Span,
        Self::Generation,
        Self::Event,
        Self::Agent,
        Self::Tool,
        Self::Chain,
        Self::Retriever,
        Self::Evaluator,
        Self::Embedding,
        Self::Guardrail,
    ];

    /// The lower-case wire name.
    ///
    /// ```
    /// use langfuse_runtime::ObservationType;
    /// assert_eq!(ObservationType::Retriever.as_str(), "retriever");
    /// assert_eq!("tool".parse::<ObservationType>().unwrap(), ObservationType::Tool);
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Span => "span",
            Self::Generation => "generation",
            Self::Event => "event",
            Self::Agent => "agent",
            Self::Tool => "tool",
            Self::Chain => "chain",
            Self::Retriever => "retriever",
            Self::Evaluator => "evaluator",
            Self::Embedding => "embedding",
            Self::Guardrail => "guardrail",
        }
    }

    /// Whether the type accepts model, usage, cost, completion start and prompt
    /// (`generation` and `embedding`).
    ///
    /// ```
    /// use langfuse_runtime::ObservationType;
    /// assert!(ObservationType::Embedding.is_generation_like());
    /// assert!(!ObservationType::Tool.is_generation_like());
    /// ```
    pub const fn is_generation_like(self) -> bool {
        matches!(self, Self::Generation | Self::Embedding)
    }
}

impl fmt::Display for ObservationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown observation type or level.
///
/// ```
/// use langfuse_runtime::{Level, ObservationType};
/// assert_eq!("generation".parse::<ObservationType>(), Ok(ObservationType::Generation));
/// let err = "llm".parse::<ObservationType>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown observation type `llm`");
/// assert!("LOUD".parse::<Level>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseKindError {
    what: &'static str,
    value: String,
}

impl fmt::Display for ParseKindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.what, self.value)
    }
}

impl std::error::Error for ParseKindError {}

impl std::str::FromStr for ObservationType {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| ParseKindError { what: "observation type", value: s.to_owned() })
    }
}

/// Severity of an observation (`langfuse.observation.level`).
///
/// Setting [`Level::Error`] also sets the OpenTelemetry span status to ERROR.
///
/// ```
/// use langfuse_runtime::{Level, span};
/// assert_eq!(Level::Warning.as_str(), "WARNING");
/// let obs = span("retry").level(Level::Warning).start();
/// obs.end();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Verbose detail.
    Debug,
    /// The normal level (what Langfuse assumes when none is set).
    Default,
    /// Something worth a look.
    Warning,
    /// A failure.
    Error,
}

impl Level {
    /// The upper-case wire name.
    ///
    /// ```
    /// use langfuse_runtime::Level;
    /// assert_eq!(Level::Warning.as_str(), "WARNING");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Default => "DEFAULT",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(Self::Debug),
            "DEFAULT" => Ok(Self::Default),
            "WARNING" | "WARN" => Ok(Self::Warning),
            "ERROR" => Ok(Self::Error),
            _ => Err(ParseKindError { what: "level", value: s.to_owned() }),
        }
    }
}
