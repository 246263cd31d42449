//! Where a score comes from: an observation handle, the current observation, or explicit ids.
//! Each fills in the ids (§7.3) and the environment default, and goes nowhere for an unsampled
//! trace, as that trace's spans do.

use std::borrow::Cow;

use super::{ObservationRef, current_observation};
use crate::score::ScoreBuilder;
use crate::state::Tracing;

impl ObservationRef {
    /// A score on this observation (`traceId` and `observationId`); finish it with a value
    /// and [`send`](ScoreBuilder::send). Dropped without any work when the trace is not
    /// sampled or tracing is off.
    ///
    /// ```
    /// use langfuse_runtime::span;
    /// let db = span("db_query").start();
    /// db.score("db_latency_ok").boolean(true).comment("12 ms").send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn score(&self, name: impl Into<Cow<'static, str>>) -> ScoreBuilder {
        self.score_builder(name, true)
    }

    /// A score on this observation's trace (`traceId` only).
    ///
    /// ```
    /// use langfuse_runtime::span;
    /// let root = span("pipeline").start();
    /// root.score_trace("overall_quality").numeric(0.95).send()?;
    /// # Ok::<(), langfuse_runtime::ScoreError>(())
    /// ```
    pub fn score_trace(&self, name: impl Into<Cow<'static, str>>) -> ScoreBuilder {
        self.score_builder(name, false)
    }

    fn score_builder(
        &self,
        name: impl Into<Cow<'static, str>>,
        on_observation: bool,
    ) -> ScoreBuilder {
        let Tracing::Live(frame) = &self.handle else {
            return ScoreBuilder::new(None, name);
        };
        let Some(sender) = frame.client.scores.clone() else {
            return ScoreBuilder::new(None, name);
        };
        let mut builder = ScoreBuilder::new(Some(sender), name);
        let draft = builder.draft_mut();
        draft.trace_id = Some(frame.trace_id.to_string());
        if on_observation {
            draft.observation_id = Some(frame.id.to_string());
        }
        draft.inherited_environment =
            self.trace_attributes.as_ref().and_then(|t| t.environment.clone());
        builder
    }
}

/// A score on the current observation (Python's `score_current_span`); goes nowhere outside
/// any observation.
///
/// ```
/// use langfuse_runtime::{score_current_observation, span};
/// span("retrieve").start().run(|| {
///     score_current_observation("relevance").numeric(0.7).send()
/// })?;
/// # Ok::<(), langfuse_runtime::ScoreError>(())
/// ```
pub fn score_current_observation(name: impl Into<Cow<'static, str>>) -> ScoreBuilder {
    current_observation().score(name)
}

/// A score on the current trace (Python's `score_current_trace`); goes nowhere outside any
/// observation.
///
/// ```
/// use langfuse_runtime::{score_current_trace, span};
/// span("pipeline").start().run(|| {
///     score_current_trace("user_feedback").categorical("thumbs_up").send()
/// })?;
/// # Ok::<(), langfuse_runtime::ScoreError>(())
/// ```
pub fn score_current_trace(name: impl Into<Cow<'static, str>>) -> ScoreBuilder {
    current_observation().score_trace(name)
}

/// A score by explicit ids (Python's `create_score`): set a
/// [`trace_id`](ScoreBuilder::trace_id) (and maybe an
/// [`observation_id`](ScoreBuilder::observation_id)), a
/// [`session_id`](ScoreBuilder::session_id) or a
/// [`dataset_run_id`](ScoreBuilder::dataset_run_id). Scores of traces the client's sample
/// rate drops are dropped too; session and dataset-run scores are always sent.
///
/// ```
/// use langfuse_runtime::score;
/// score("user_feedback")
///     .trace_id("0af7651916cd43dd8448eb211c80319c")
///     .boolean(true)
///     .comment("thumbs up in the UI")
///     .send()?;
/// score("session_rating").session_id("session-42").numeric(4.0).send()?;
/// # Ok::<(), langfuse_runtime::ScoreError>(())
/// ```
pub fn score(name: impl Into<Cow<'static, str>>) -> ScoreBuilder {
    let sender = crate::client::global().and_then(|client| client.scores.clone());
    let mut builder = ScoreBuilder::new(sender, name);
    builder.draft_mut().explicit = true;
    builder
}
