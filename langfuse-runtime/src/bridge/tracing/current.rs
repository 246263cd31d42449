//! Entering a `tracing` span makes its context our current one; exiting puts back what was
//! current before, per thread.
//!
//! A span can be entered on several threads at once and re-entered on one, so what to restore
//! is kept per thread, keyed by span id, not in the span. Exits normally come in reverse order
//! of enters; when one does not (a guard dropped out of order), the entry above it inherits
//! what it would have restored, so the thread still ends up where it started.

use std::cell::RefCell;

use crate::context::{TraceContext, exchange_current};

thread_local! {
    static ENTERED: RefCell<Vec<(u64, TraceContext)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `cx` current for span `id` until [`exit`] with the same id.
pub(crate) fn enter(id: u64, mut cx: TraceContext) {
    if !exchange_current(&mut cx) {
        return;
    }
    // `cx` now holds what was current before.
    let pushed = ENTERED.try_with(|stack| match stack.try_borrow_mut() {
        Ok(mut stack) => {
            stack.push((id, cx));
            None
        }
        Err(_) => Some(cx),
    });
    match pushed {
        Ok(None) => {}
        // Nowhere to keep it: undo rather than leave the span current forever.
        Ok(Some(mut previous)) => {
            exchange_current(&mut previous);
        }
        Err(_) => {}
    }
}

/// Restores what was current before span `id` was entered on this thread.
pub(crate) fn exit(id: u64) {
    let restore = ENTERED.try_with(|stack| {
        let mut stack = stack.try_borrow_mut().ok()?;
        let at = stack.iter().rposition(|(entered, _)| *entered == id)?;
        let (_, previous) = stack.remove(at);
        if at < stack.len() {
            // Exited out of order: the span entered after it now restores `previous`, and
            // the thread's current context stays that later span's.
            stack[at].1 = previous;
            return None;
        }
        Some(previous)
    });
    if let Ok(Some(mut previous)) = restore {
        exchange_current(&mut previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ObservationId, TraceId};

    fn remote() -> TraceContext {
        TraceContext::from_trace_id(TraceId::random(), Some(ObservationId::random()))
    }

    #[test]
    fn nested_enters_restore_in_reverse_order() {
        let (a, b) = (remote(), remote());
        enter(1, a.clone());
        assert_eq!(TraceContext::current().ids(), a.ids());
        enter(2, b.clone());
        assert_eq!(TraceContext::current().ids(), b.ids());
        exit(2);
        assert_eq!(TraceContext::current().ids(), a.ids());
        exit(1);
        assert_eq!(TraceContext::current().ids(), None);
    }

    #[test]
    fn an_out_of_order_exit_still_ends_where_the_thread_started() {
        let (a, b) = (remote(), remote());
        enter(1, a);
        enter(2, b.clone());
        exit(1);
        assert_eq!(TraceContext::current().ids(), b.ids(), "the later span stays current");
        exit(2);
        assert_eq!(TraceContext::current().ids(), None);
        exit(3); // never entered: nothing happens
        assert_eq!(TraceContext::current().ids(), None);
    }
}
