//! The live frame of a recorded observation, and the per-thread pool that reuses ended ones.
//!
//! A [`Frame`] is what a recorded observation's handle, the contexts of its children and its
//! futures share: the ids (read without a lock) and the record (behind a mutex until it ends).
//!
//! The hot path writes a frame it knows nobody else refers to without a lock or an atomic
//! read-modify-write. That knowledge is a type: [`FreshFrame`] can only be made from a new
//! allocation or by [`FreshFrame::reclaim`], which checks uniqueness, and the pool stores
//! nothing else. Its `unsafe` block relies on exactly that.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::client::ClientInner;
use crate::clock;
use crate::ids::{ObservationId, TraceId};
use crate::record::ObservationRecord;
use crate::state::Tracing;

/// A live observation shared by its handle, the context of its children and its futures.
///
/// Never downgraded to a `Weak`: [`FreshFrame::reclaim`]'s uniqueness check relies on it.
pub(crate) struct Frame {
    pub(crate) trace_id: TraceId,
    pub(crate) id: ObservationId,
    pub(crate) client: Arc<ClientInner>,
    /// `None` once ended: later updates are ignored, a second end is a no-op.
    record: Mutex<Option<ObservationRecord>>,
}

/// What an observation handle refers to: a live frame, the ids of an unsampled observation,
/// or nothing.
pub(crate) type Handle = Tracing<Arc<Frame>>;

/// Most ended frames a thread keeps for reuse.
const MAX_POOLED_FRAMES: usize = 32;

thread_local! {
    /// Ended frames nobody else refers to, reused by the next observation on this thread
    /// instead of a fresh allocation. Only [`FreshFrame`]s go in, so uniqueness is proven
    /// before a frame is pooled, not assumed when it is taken out.
    static FRAMES: RefCell<Vec<FreshFrame>> = const { RefCell::new(Vec::new()) };
    /// The frame ended last, in front of [`FRAMES`]: a call that ends and the next one that
    /// starts (the common sequence) pass it on with one load and one store, where the pool's
    /// borrow flag, length and capacity checks took ~40 instructions per call (callgrind).
    static SPARE: Cell<Option<FreshFrame>> = const { Cell::new(None) };
}

/// A pooled frame, if this thread has one.
#[inline(always)]
fn take_pooled() -> Option<FreshFrame> {
    match SPARE.try_with(Cell::take) {
        Ok(Some(fresh)) => Some(fresh),
        Ok(None) => take_from_pool(),
        Err(_) => None,
    }
}

#[inline(never)]
fn take_from_pool() -> Option<FreshFrame> {
    FRAMES.try_with(|pool| pool.try_borrow_mut().ok()?.pop()).ok().flatten()
}

/// Keeps an ended frame for this thread's next observation.
#[inline(always)]
fn pool(fresh: FreshFrame) {
    if let Ok(Some(older)) = SPARE.try_with(|spare| spare.replace(Some(fresh))) {
        pool_behind(older);
    }
}

/// Frames beyond the spare: nested calls ending one after another.
#[inline(never)]
fn pool_behind(fresh: FreshFrame) {
    let _ = FRAMES.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut()
            && pool.len() < MAX_POOLED_FRAMES
        {
            pool.push(fresh);
        }
    });
}

impl Frame {
    /// A frame for a new observation, reusing one this thread ended earlier when it can. The
    /// record is built where it will live (`build`, then `place`), not moved there: a fresh
    /// record copied into the frame right after being written costs a store-forwarding stall
    /// per cache line. The client is borrowed so that a child started under a parent of the
    /// same client (the common case) touches no reference count.
    #[inline(always)]
    pub(crate) fn fresh(
        client: Cow<'_, Arc<ClientInner>>,
        build: impl FnOnce() -> ObservationRecord,
        place: impl FnOnce(&mut ObservationRecord),
    ) -> FreshFrame {
        if let Some(mut fresh) = take_pooled() {
            let slot = fresh.frame_mut();
            let record = slot.record.get_mut().unwrap_or_else(|e| e.into_inner());
            let record = record.insert(build());
            place(record);
            slot.trace_id = record.trace_id;
            slot.id = record.id;
            if !Arc::ptr_eq(&slot.client, &client) {
                slot.client = client.into_owned();
            }
            return fresh;
        }
        let mut record = build();
        place(&mut record);
        FreshFrame(Arc::new(Self {
            trace_id: record.trace_id,
            id: record.id,
            client: client.into_owned(),
            record: Mutex::new(Some(record)),
        }))
    }

    /// Ends the observation now (`f` applied last) and releases this handle.
    /// While no context, handle or task holds the frame any more (a sync call that nobody took
    /// a context out of), no lock is taken and the frame is kept for reuse.
    #[inline]
    pub(crate) fn finish(frame: Arc<Self>, f: impl FnOnce(&mut ObservationRecord)) {
        // The end time first: the clock read also gives the stores that just captured the
        // output time to retire, so that `f` moving it into the record does not stall on store
        // forwarding (reading the clock after `f` left that stall in every call, perf).
        let end_unix_nanos = clock::now_unix_nanos();
        let mut fresh = match FreshFrame::reclaim(frame) {
            Ok(fresh) => fresh,
            Err(shared) => {
                shared.end_at(end_unix_nanos, f);
                return;
            }
        };
        let unique = fresh.frame_mut();
        let slot = unique.record.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(record) = slot.as_mut() {
            f(record);
            record.end_unix_nanos = end_time(record, end_unix_nanos);
            unique.client.submit(slot);
        }
        pool(fresh);
    }

    fn lock(&self) -> MutexGuard<'_, Option<ObservationRecord>> {
        // A panic while holding the lock cannot leave the record half-written in a way that
        // matters more than losing it, so keep going with whatever is there.
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut ObservationRecord)) {
        if let Some(record) = self.lock().as_mut() {
            f(record);
        }
    }

    pub(crate) fn end_at(&self, end_unix_nanos: u64, f: impl FnOnce(&mut ObservationRecord)) {
        let mut slot = self.lock();
        if let Some(record) = slot.as_mut() {
            f(record);
            record.end_unix_nanos = end_time(record, end_unix_nanos);
            // Lock order: frame, then thread buffer, then the shared queue; nothing takes them
            // the other way round.
            self.client.submit(&mut slot);
        }
    }

    pub(crate) fn end(&self) {
        self.end_at(clock::now_unix_nanos(), |_| {});
    }
}

/// The end time of `record`, read as `end_unix_nanos` before the last update was applied: never
/// before the start, nor before the exception event that update may have stamped (a panic
/// recorded while unwinding), so the event stays inside the span.
#[inline(always)]
fn end_time(record: &ObservationRecord, end_unix_nanos: u64) -> u64 {
    let end = end_unix_nanos.max(record.start_unix_nanos);
    match record.has_details().then(|| record.exception()).flatten() {
        Some(exception) => end.max(exception.time_unix_nanos),
        None => end,
    }
}

/// A frame that nothing else refers to: just built, or reclaimed after its observation ended.
/// It is written without a lock or an atomic operation (`Arc::get_mut` costs a locked
/// compare-exchange, ~5 ns, and an observed call used to make three of them).
///
/// Invariant: the `Arc` inside is the only strong reference to its frame and no `Weak` exists.
/// It holds by construction: the only constructors are `Frame::fresh` (a new `Arc`, or a
/// pooled `FreshFrame`) and [`FreshFrame::reclaim`] (which checks it); the type is not `Clone`
/// and hands its `Arc` out only by value, through [`FreshFrame::share`], after which it is
/// gone.
pub(crate) struct FreshFrame(Arc<Frame>);

impl FreshFrame {
    /// `frame` as a fresh frame if nothing else refers to it; otherwise `frame` back.
    ///
    /// Two plain loads instead of `Arc::get_mut`, whose locked compare-exchange on the weak
    /// count (and the store that unlocks it) cost ~5 ns of every observed call (perf, row A).
    /// `get_mut` needs them only because a `Weak` could be upgraded and dropped between its
    /// two checks; nothing in this crate ever downgrades a frame (the type is crate-private),
    /// so no `Weak` exists and a strong count of one means nobody else refers to the frame
    /// and nobody can start to. The weak count is still checked, so that a `Weak` made by
    /// mistake turns the reuse off instead of breaking the invariant in a single-threaded use.
    #[inline]
    pub(crate) fn reclaim(frame: Arc<Frame>) -> Result<Self, Arc<Frame>> {
        if Arc::strong_count(&frame) == 1 && Arc::weak_count(&frame) == 0 {
            // `strong_count` is a relaxed load: this fence makes everything the other holders
            // did before dropping their clones (a release decrement) visible here, as
            // `get_mut`'s acquire would.
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            Ok(Self(frame))
        } else {
            Err(frame)
        }
    }

    #[inline]
    fn frame_mut(&mut self) -> &mut Frame {
        debug_assert!(Arc::strong_count(&self.0) == 1 && Arc::weak_count(&self.0) == 0);
        // SAFETY: this is `Arc::get_mut_unchecked`, sound by the type's invariant (see the
        // type's docs): no other reference to the frame exists while `self` does.
        // `Arc::as_ptr` derives from the allocation's own pointer, so writing through it is
        // allowed while no other reference exists.
        unsafe { &mut *Arc::as_ptr(&self.0).cast_mut() }
    }

    /// The record, for filling in what the start captured.
    #[inline]
    pub(crate) fn record_mut(&mut self) -> Option<&mut ObservationRecord> {
        self.frame_mut().record.get_mut().unwrap_or_else(|e| e.into_inner()).as_mut()
    }

    pub(crate) fn client(&self) -> &ClientInner {
        &self.0.client
    }

    /// From here on the frame may be shared (made current, cloned into contexts).
    pub(crate) fn share(self) -> Arc<Frame> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ObservationType;

    fn record(name: &'static str) -> ObservationRecord {
        ObservationRecord::new(
            TraceId::random(),
            ObservationId::random(),
            None,
            name,
            ObservationType::Span,
            1,
        )
    }

    fn fresh(name: &'static str) -> FreshFrame {
        Frame::fresh(Cow::Owned(ClientInner::for_tests()), || record(name), |_| {})
    }

    #[test]
    fn reclaim_refuses_a_frame_that_is_still_shared() {
        let shared = fresh("a").share();
        let other = Arc::clone(&shared);
        let back = FreshFrame::reclaim(shared).err().expect("a shared frame is not fresh");
        drop(other);
        assert!(FreshFrame::reclaim(back).is_ok(), "the sole reference is fresh");
    }

    /// The crate never makes a `Weak<Frame>`; if one were made, the frame must not be reused.
    #[test]
    fn reclaim_refuses_a_frame_with_a_weak_reference() {
        let shared = fresh("a").share();
        let weak = Arc::downgrade(&shared);
        assert!(FreshFrame::reclaim(shared).is_err());
        drop(weak);
    }

    #[test]
    fn a_finished_unique_frame_is_reused_and_a_shared_one_is_not() {
        FRAMES.with(|pool| pool.borrow_mut().clear());
        SPARE.with(Cell::take);
        let first = fresh("first").share();
        let address = Arc::as_ptr(&first);
        Frame::finish(first, |_| {});
        let mut again = fresh("second");
        assert_eq!(Arc::as_ptr(&again.0), address, "the pooled frame is reused");
        assert_eq!(again.record_mut().map(|r| r.name.clone()), Some("second".into()));

        let shared = again.share();
        let kept = Arc::clone(&shared);
        Frame::finish(shared, |_| {});
        let pooled =
            FRAMES.with(|pool| pool.borrow().len()) + SPARE.with(Cell::take).map_or(0, |_| 1);
        assert_eq!(pooled, 0, "a shared frame is not pooled");
        drop(kept);
    }

    #[test]
    fn frames_of_nested_calls_are_all_kept_and_reused() {
        FRAMES.with(|pool| pool.borrow_mut().clear());
        SPARE.with(Cell::take);
        let (outer, inner) = (fresh("outer").share(), fresh("inner").share());
        let addresses = [Arc::as_ptr(&inner), Arc::as_ptr(&outer)];
        Frame::finish(inner, |_| {});
        Frame::finish(outer, |_| {});
        // The last one ended is the spare, the one before it waits in the pool.
        let reused = [fresh("a"), fresh("b")].map(|f| Arc::as_ptr(&f.0));
        assert_eq!(reused, [addresses[1], addresses[0]]);
    }
}
