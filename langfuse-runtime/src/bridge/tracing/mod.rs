//! The `tracing` bridge: `tracing` spans become Langfuse observations in the same trees as
//! `#[observe]` calls and manual observations (cargo feature `tracing`, on by default).
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! // Next to the user's own layers (`fmt::layer()`, an `EnvFilter`, …); `.init()` in an app.
//! let _default = tracing_subscriber::registry()
//!     .with(langfuse_runtime::tracing::layer())
//!     .set_default();
//! ```
//!
//! # Nesting, both ways
//!
//! - A `tracing` span created where an observation is current (inside an `#[observe]` call,
//!   [`ObservationRef::run`](crate::ObservationRef::run), an observed future's poll) becomes
//!   its child.
//! - While an exported span is entered (`span.enter()`, `span.in_scope`, `Instrument`,
//!   `#[instrument]`), its observation is the current one: observed calls, manual
//!   observations and spans started inside are its children. Exiting restores what was
//!   current before. This follows `.await` (an `Instrument`ed future enters its span on every
//!   poll, an observed future restores its observation on every poll) and spawned tasks
//!   carried by either side: [`spawn`](crate::spawn) and
//!   [`FutureContextExt`](crate::FutureContextExt) capture the current observation, which
//!   inside an entered span is the span's; `tracing`'s `in_current_span()` carries the span,
//!   which makes its observation current again when entered.
//! - A span that is created but never entered (genai's `genai.chat` is recorded into and
//!   dropped) nests by its explicit `parent:` if it has one, else under the observation
//!   current at creation; children created with `parent: &span` nest under it. A span
//!   created with `parent: None` starts a new trace, as `tracing` says it is a root.
//! - The observation starts when the span is created and ends when it closes (its last
//!   handle is dropped), so durations are the span's lifetime, not the time it was entered.
//!
//! # What is exported
//!
//! By default the spans the official SDKs' filter would export (§8.5 of the wire format):
//! those declaring a `gen_ai.*` or `langfuse.*` field, and those from a
//! [known LLM crate](KNOWN_LLM_TARGETS) (rig, genai, langchain-rust, swiftide, …). HTTP,
//! database and the app's own `tracing` spans are not, unless
//! [`Layer::export_filter`] says so; a span that is not exported still passes its parent on,
//! so nothing below it is orphaned. How fields map to observation fields (type, model, usage,
//! completion start, input/output, errors, metadata) is in the table of `fields.rs`, summed up
//! in the README's "With `tracing` and OpenTelemetry" section; events follow the rule of
//! [`Layer::record_events`].
//!
//! # Cost
//!
//! The `#[observe]` path does not know this layer exists: nothing changes there whether it is
//! installed or not. With the layer installed and no client recording, a span costs one atomic
//! load; a span that is not exported costs a context clone and an extension slot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{Parent, TraceContext};
use crate::kind::ObservationType;
use crate::observation::{Observation, ObservationRef};

mod current;
mod events;
pub(in crate::bridge) mod fields;
mod filter;
mod trace;

use fields::{Collect, SpanFields};
pub use filter::{KNOWN_LLM_TARGETS, is_default_export_span, is_genai_span, is_known_llm_target};

/// The `tracing_subscriber` layer that turns `tracing` spans into Langfuse observations.
/// Made by [`layer`]; see the [module docs](self) for the rules.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let layer = langfuse_runtime::tracing::layer()
///     // Export every span, not only the LLM ones.
///     .export_filter(|_| true)
///     // `warn!` and `error!` inside an observation also become Langfuse events.
///     .record_events(tracing::Level::WARN);
/// let _default = tracing_subscriber::registry().with(layer).set_default();
/// ```
pub struct Layer {
    filter: filter::Predicate,
    record_events: Option<::tracing::Level>,
}

/// The bridge layer with the default export filter ([`is_default_export_span`]) and no
/// events recorded beyond the error rule.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let _default = tracing_subscriber::registry()
///     .with(langfuse_runtime::tracing::layer())
///     .set_default();
/// ```
pub fn layer() -> Layer {
    Layer { filter: Arc::new(is_default_export_span), record_events: None }
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer").field("record_events", &self.record_events).finish_non_exhaustive()
    }
}

impl Layer {
    /// Replaces the default export rule: spans for which `predicate` returns true become
    /// observations. It sees the span's static metadata (name, target, level, declared
    /// fields) once per span, at creation; one that panics exports nothing.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// // Every span of the app's own crate too, next to the default rule.
    /// let layer = langfuse_runtime::tracing::layer().export_filter(|meta| {
    ///     langfuse_runtime::tracing::is_default_export_span(meta) || meta.target().starts_with("my_app")
    /// });
    /// let _default = tracing_subscriber::registry().with(layer).set_default();
    /// ```
    pub fn export_filter(
        mut self,
        predicate: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Arc::new(predicate);
        self
    }

    /// Also records `tracing` events at `level` or more severe as Langfuse events under the
    /// observation they happen in (by default only the ERROR rule applies: an error event
    /// marks its observation level ERROR with the event's message as status message).
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// let layer = langfuse_runtime::tracing::layer().record_events(tracing::Level::INFO);
    /// let _default = tracing_subscriber::registry().with(layer).set_default();
    /// tracing::info!("recorded as an event when inside an observation");
    /// ```
    pub fn record_events(mut self, level: ::tracing::Level) -> Self {
        self.record_events = Some(level);
        self
    }

    fn exports(&self, metadata: &Metadata<'_>) -> bool {
        catch_unwind(AssertUnwindSafe(|| (self.filter)(metadata))).unwrap_or(false)
    }
}

/// What the layer keeps in each span's extensions.
struct SpanState {
    /// What is current while the span is entered, and what children created with
    /// `parent: &span` start under: the span's own observation, or for a span that is not
    /// exported the parent it resolved to.
    context: TraceContext,
    exported: Option<Exported>,
}

/// An exported span's recorded fields; its observation is the state's context, which ends it.
struct Exported {
    fields: SpanFields,
    start_unix_nanos: u64,
    started_as: ObservationType,
}

impl SpanState {
    /// The context, if it places children in a trace.
    fn trace_context(&self) -> Option<&TraceContext> {
        self.context.ids().is_some().then_some(&self.context)
    }
}

/// The context a new span or event with an explicit parent belongs to: the nearest span up
/// from `parent` that has one.
fn context_of<S>(parent: &Id, ctx: &Context<'_, S>) -> Option<TraceContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(parent)?;
    span.scope().find_map(|s| s.extensions().get::<SpanState>()?.trace_context().cloned())
}

fn parent_context<S>(attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> TraceContext
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(parent) = attrs.parent() {
        return context_of(parent, ctx).unwrap_or_else(TraceContext::current);
    }
    let current = TraceContext::current();
    if attrs.is_contextual() {
        // Entered exported spans made their observation current, so this is the innermost
        // of the current span and the current observation.
        return current;
    }
    TraceContext { parent: Parent::default(), trace_attributes: current.trace_attributes }
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if crate::client::nothing_records() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = parent_context(attrs, &ctx);
        let metadata = attrs.metadata();
        let state = if self.exports(metadata) {
            let mut fields = SpanFields::for_callsite(metadata);
            attrs.record(&mut Collect(&mut fields));
            let start_unix_nanos = crate::clock::now_unix_nanos();
            let observation_type =
                fields::observation_type(metadata.name(), metadata.target(), &fields);
            let context = crate::observation::start_span(
                metadata.name(),
                observation_type,
                parent,
                start_unix_nanos,
            );
            // Unsampled or not recorded: nothing will read the fields.
            let exported = context.frame().is_some().then_some(Exported {
                fields,
                start_unix_nanos,
                started_as: observation_type,
            });
            SpanState { context, exported }
        } else {
            SpanState { context: parent, exported: None }
        };
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(Exported { fields, .. }) =
            extensions.get_mut::<SpanState>().and_then(|s| s.exported.as_mut())
        {
            values.record(&mut Collect(fields));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let context = span.extensions().get::<SpanState>().and_then(|s| s.trace_context().cloned());
        if let Some(context) = context {
            current::enter(id.into_u64(), context);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        current::exit(id.into_u64());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let observation = if let Some(parent) = event.parent() {
            match context_of(parent, &ctx) {
                Some(cx) => handle_of(&cx),
                None => return,
            }
        } else if event.is_contextual() {
            crate::observation::current_observation()
        } else {
            return;
        };
        if observation.id().is_some() {
            events::record(event, &observation, self.record_events);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(state) = span.extensions_mut().remove::<SpanState>() else { return };
        if let Some(Exported { mut fields, start_unix_nanos, started_as }) = state.exported {
            let metadata = span.metadata();
            let mut mapped = fields::map(
                metadata.name(),
                metadata.target(),
                start_unix_nanos,
                started_as,
                &mut fields,
            );
            fields.recycle();
            let observation = Observation::from_context(state.context);
            if std::thread::panicking() {
                // Dropping it records the unwinding, as for any observation.
                observation.update(|r| mapped.write(r));
            } else {
                observation.end_with(|r| mapped.write(r));
            }
        }
    }
}

/// The observation a context makes children of.
fn handle_of(cx: &TraceContext) -> ObservationRef {
    ObservationRef {
        handle: cx.parent.clone().into_handle(),
        trace_attributes: cx.trace_attributes.clone(),
    }
}
