//! Our current observation mirrored into OpenTelemetry's current `Context`, and the active
//! OpenTelemetry span as the parent of observations that have no parent of ours.
//!
//! Every change of our current context goes through one exchange (`context::exchange_current`),
//! which calls [`on_exchange`] with the ids it left and the ids it entered. Entering pushes an
//! OpenTelemetry `Context` carrying our span context (one `Arc`, one thread-local push);
//! leaving pops it. The pairing is found by ids, not by position: the top entry is popped when
//! the exchange goes back exactly to what was current before it (`before`) from what it made
//! current (`after`); any other exchange pushes. So OpenTelemetry's current span is our current
//! observation after every exchange, whatever order guards are dropped in (OpenTelemetry's own
//! stack tolerates out-of-order pops).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId as OtelTraceId, TraceState,
};

use crate::context::{Parent, RemoteParent, TraceContext, with_current};
use crate::ids::{ObservationId, TraceId};
use crate::state::{SpanIds, Tracing};

/// Whether the interop runs (both directions). On by default when the feature is compiled.
static ENABLED: AtomicBool = AtomicBool::new(true);
/// Pushes skipped because the thread's stack was full or in use.
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// Most contexts one thread keeps pushed: a bound against exchanges that never come back.
const MAX_DEPTH: usize = 1024;

pub(crate) fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn skipped() -> u64 {
    SKIPPED.load(Ordering::Relaxed)
}

/// Ids and sampled flag of a context, what the OpenTelemetry mirror of it carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Ids {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

/// The ids `cx` places children under, if any. Inside an unsampled trace only the trace id
/// and the flag matter (nothing below is recorded), so every unsampled context of a trace
/// mirrors to the same ids: nested unsampled calls then change nothing on OpenTelemetry's
/// side and allocate nothing.
#[inline]
pub(crate) fn ids_of(cx: &TraceContext) -> Option<Ids> {
    let (trace_id, id) = cx.ids()?;
    let sampled = cx.is_recording();
    let trace_id = trace_id.to_u128();
    let span_id = if sampled { id.to_u64() } else { (trace_id as u64) | 1 };
    Some(Ids { trace_id, span_id, sampled })
}

struct Entry {
    before: Option<Ids>,
    after: Option<Ids>,
    _guard: opentelemetry::ContextGuard,
}

thread_local! {
    /// The contexts pushed for this thread's exchanges. Initializing it touches
    /// OpenTelemetry's own thread-local first, so that OpenTelemetry's slot is registered
    /// before ours and torn down after it (thread-local destructors run in reverse order of
    /// registration): while this slot is alive, OpenTelemetry's is, and attaching or dropping
    /// a guard from here never hits a destroyed slot (which would panic).
    static PUSHED: Pushed = {
        // First touched during teardown, after OpenTelemetry's slot is gone: that access
        // panics; then this thread never talks to OpenTelemetry again.
        let alive = std::panic::catch_unwind(|| Context::map_current(|_| ())).is_ok();
        Pushed {
            alive,
            entries: RefCell::new(Vec::new()),
            built: RefCell::default(),
            next: std::cell::Cell::new(0),
        }
    };
}

struct Pushed {
    /// OpenTelemetry's thread-local was reachable when this one was made.
    alive: bool,
    entries: RefCell<Vec<Entry>>,
    /// The last two contexts built, reused when the same ids are entered again: an observed
    /// future on each poll, an explicit `TraceContext` run repeatedly, an unsampled trace.
    /// (A reused context keeps the other OpenTelemetry values — baggage — it was built with.)
    built: RefCell<[Option<(Ids, Context)>; BUILT]>,
    /// The slot of `built` the next new context goes to.
    next: std::cell::Cell<usize>,
}

/// Contexts kept for reuse per thread.
const BUILT: usize = 2;

impl Pushed {
    fn context_for(&self, ids: Ids) -> Context {
        let Ok(mut built) = self.built.try_borrow_mut() else {
            return build(ids);
        };
        for (k, cx) in built.iter().flatten() {
            if *k == ids {
                return cx.clone();
            }
        }
        // Oldest out (round robin: cheaper than keeping an order).
        let cx = build(ids);
        let slot = self.next.get();
        self.next.set((slot + 1) % BUILT);
        built[slot] = Some((ids, cx.clone()));
        cx
    }
}

fn build(ids: Ids) -> Context {
    Context::map_current(|cx| cx.with_remote_span_context(span_context(ids)))
}

/// Whether OpenTelemetry's thread-local can be used from here without panicking.
fn otel_reachable() -> bool {
    PUSHED.try_with(|p| p.alive).unwrap_or(false)
}

/// Called by every exchange of our current context, with what is current now (`entered`) and
/// what was current before (`left`), after the exchange released our slot.
#[inline]
pub(crate) fn on_exchange(entered: Option<Ids>, left: Option<Ids>) {
    if entered == left || !enabled() {
        return;
    }
    mirror(entered, left);
}

#[inline(never)]
fn mirror(entered: Option<Ids>, left: Option<Ids>) {
    let popped = PUSHED.try_with(|pushed_state| {
        if !pushed_state.alive {
            return None;
        }
        let Ok(mut pushed) = pushed_state.entries.try_borrow_mut() else {
            SKIPPED.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if pushed.last().is_some_and(|top| top.before == entered && top.after == left) {
            // Dropped outside the borrow: dropping a context can end a span, whose processors
            // may run arbitrary code.
            return pushed.pop();
        }
        if pushed.len() >= MAX_DEPTH {
            SKIPPED.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let cx = match entered {
            Some(ids) => pushed_state.context_for(ids),
            // Our context was left for none (an explicit `TraceContext::default()`): no span.
            None => Context::new(),
        };
        pushed.push(Entry { before: left, after: entered, _guard: cx.attach() });
        None
    });
    drop(popped);
}

fn span_context(ids: Ids) -> SpanContext {
    let flags = if ids.sampled { TraceFlags::SAMPLED } else { TraceFlags::NOT_SAMPLED };
    SpanContext::new(
        OtelTraceId::from(ids.trace_id),
        SpanId::from(ids.span_id),
        flags,
        false,
        TraceState::NONE,
    )
}

/// How an observation placed under an OpenTelemetry span is marked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OtelPlacement {
    /// The OpenTelemetry parent came from another process.
    pub(crate) parent_is_remote: bool,
    /// No observation of ours is above it in this process.
    pub(crate) is_app_root: bool,
    /// The OpenTelemetry span and everything above it are left out by our
    /// [`LangfuseSpanProcessor`](super::LangfuseSpanProcessor): the observation starts the
    /// trace in Langfuse instead of pointing at a span that never arrives.
    pub(crate) without_parent: bool,
}

/// The parent a new observation under `parent` gets instead, when OpenTelemetry's current
/// span should win: with no observation of ours, the active OpenTelemetry span (same trace,
/// its id as parent, its sampled flag); inside our current observation, an OpenTelemetry span
/// started under it and made current since (a `tracing` span entered under
/// `tracing-opentelemetry`), recognised by being in our trace with another id than ours.
/// An explicit parent that is not the current context is never replaced.
pub(crate) fn otel_parent(parent: &TraceContext) -> Option<(TraceContext, OtelPlacement)> {
    // OpenTelemetry's slot is alive while ours is (see `PUSHED`); asking it after it was torn
    // down (observed code in another thread-local's destructor) would panic.
    if !enabled() || !otel_reachable() {
        return None;
    }
    let ours = parent.ids();
    let active = Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| (sc.trace_id(), sc.span_id(), sc.is_sampled(), sc.is_remote()))
    })?;
    let (trace, span, sampled, remote) = active;
    let trace_id = TraceId::from_bytes(trace.to_bytes())?;
    let active_id = ObservationId::from_bytes(span.to_bytes())?;
    // The cheap checks first: inside our own observation the active span is usually its
    // mirror, and nested observed calls must not pay the processors' lookup below.
    let is_root = match (&parent.parent, ours) {
        // "No parent" given explicitly where one of ours is current (a `tracing` span with
        // `parent: None`, `.parent(TraceContext::default())`) starts a trace of its own.
        (Parent::Ours(Tracing::Off), _) => {
            if with_current(|current| current.ids()).is_some() {
                return None;
            }
            true
        }
        (Parent::Ours(Tracing::Live(_)), Some((our_trace, our_id))) => {
            if our_trace != trace_id || our_id == active_id {
                return None;
            }
            // Only the current context yields to a span made current after it.
            if with_current(|current| current.ids()) != ours {
                return None;
            }
            false
        }
        _ => return None,
    };
    // A local span our processor has open is placed as the processor places its children:
    // under it or its nearest exported ancestor (not an app root then), or at the top when
    // nothing above is exported. Any other span is a parent we cannot see exported.
    let processed = if remote { None } else { super::processor::exported_parent_of(span) };
    let id = match processed {
        Some(Some(exported)) => ObservationId::from_bytes(exported.to_bytes())?,
        _ => active_id,
    };
    let placement = if is_root {
        OtelPlacement {
            parent_is_remote: remote,
            is_app_root: !matches!(processed, Some(Some(_))),
            without_parent: matches!(processed, Some(None)),
        }
    } else {
        // Under our observation the ancestor it resolves to may be that observation itself.
        if ours.is_some_and(|(_, our_id)| our_id == id) || matches!(processed, Some(None)) {
            return None;
        }
        OtelPlacement { parent_is_remote: false, is_app_root: false, without_parent: false }
    };
    let cx = TraceContext {
        parent: Parent::Remote(RemoteParent {
            ids: SpanIds { trace_id, id },
            sampled,
            as_root: false,
        }),
        trace_attributes: parent.trace_attributes.clone(),
    };
    Some((cx, placement))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> TraceContext {
        TraceContext::from_trace_id(TraceId::random(), Some(ObservationId::random()))
    }

    fn otel_ids() -> Option<(u128, u64)> {
        Context::map_current(|cx| {
            let sc = cx.span().span_context().clone();
            sc.is_valid().then(|| {
                (
                    u128::from_be_bytes(sc.trace_id().to_bytes()),
                    u64::from_be_bytes(sc.span_id().to_bytes()),
                )
            })
        })
    }

    fn ids(cx: &TraceContext) -> Option<(u128, u64)> {
        cx.ids().map(|(t, o)| (t.to_u128(), o.to_u64()))
    }

    #[test]
    fn attach_mirrors_and_restores_in_any_order() {
        let (a, b) = (remote(), remote());
        let guard_a = a.clone().attach();
        assert_eq!(otel_ids(), ids(&a));
        let guard_b = b.clone().attach();
        assert_eq!(otel_ids(), ids(&b));
        drop(guard_b);
        assert_eq!(otel_ids(), ids(&a));
        // Re-entering the current context changes nothing.
        a.clone().run(|| assert_eq!(otel_ids(), ids(&a)));
        // An explicit empty context leaves no span for OpenTelemetry either.
        TraceContext::default().run(|| assert_eq!(otel_ids(), None));
        assert_eq!(otel_ids(), ids(&a));
        drop(guard_a);
        assert_eq!(otel_ids(), None);
    }

    #[test]
    fn an_active_otel_span_parents_a_root_and_yields_to_ours() {
        let trace = OtelTraceId::from(0x0af7651916cd43dd8448eb211c80319cu128);
        let span = SpanId::from(0xb7ad6b7169203331u64);
        let sc = SpanContext::new(trace, span, TraceFlags::SAMPLED, true, TraceState::NONE);
        let _otel = Context::current().with_remote_span_context(sc).attach();
        let (cx, placement) = otel_parent(&TraceContext::default()).expect("the OTel span parents");
        assert_eq!(ids(&cx), Some((0x0af7651916cd43dd8448eb211c80319c, 0xb7ad6b7169203331)));
        assert!(placement.parent_is_remote && placement.is_app_root);
        // Our own context in another trace wins.
        let ours = remote();
        assert!(ours.clone().run(|| otel_parent(&ours)).is_none());
    }
}
