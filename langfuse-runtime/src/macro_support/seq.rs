//! Streams and iterators returned by `#[observe]` functions: the observation stays open, and
//! current while an item is produced, until the sequence is exhausted, panics or is dropped.
//!
//! Output: the items' values as a JSON array, or their concatenation when every item is a
//! string (an empty sequence gives `""`), or the text of `transform_to_string`. An `Err` item
//! marks the observation ERROR with that error's message (the output keeps the `Ok` items).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;

use super::Output;
use super::call::{LiveCall, Span};
use crate::capture::Json;
use crate::context::{Exchanged, TraceContext};
use crate::observation::fields::Field;
use crate::observation::{Observation, panic_message};
use crate::payload::Payload;
use crate::state::Tracing;

/// Turns the items into the output text instead of the default aggregation.
pub trait Transform<T> {
    /// Whether items must be kept (then their JSON is not built).
    const KEEPS: bool;
    /// Sees each item.
    fn keep(&mut self, item: &T);
    /// The output text, if this transform makes one.
    fn text(self) -> Option<String>;
}

/// The default: JSON array or concatenated strings.
#[derive(Debug, Default)]
pub struct NoTransform;

impl<T> Transform<T> for NoTransform {
    const KEEPS: bool = false;
    fn keep(&mut self, _: &T) {}
    fn text(self) -> Option<String> {
        None
    }
}

/// `transform_to_string = f`: keeps a clone of every item and calls `f(&items)` at the end.
pub struct KeepItems<T, F> {
    items: Vec<T>,
    transform: F,
}

impl<T: Clone, F: FnOnce(&[T]) -> String> Transform<T> for KeepItems<T, F> {
    const KEEPS: bool = true;
    fn keep(&mut self, item: &T) {
        self.items.push(item.clone());
    }
    fn text(self) -> Option<String> {
        Some((self.transform)(&self.items))
    }
}

/// The recording side of an observed sequence.
struct Live<X> {
    /// The observation, moved into the context each step makes current: exchanged in place
    /// with the thread's, so a step touches no reference count.
    observation: TraceContext,
    capture_output: bool,
    /// Reused for every item.
    scratch: Output,
    /// `[` followed by the items' JSON, comma-separated.
    array: Json,
    count: usize,
    all_strings: bool,
    error: Option<String>,
    transform: X,
    /// `X::text`, taken while the item type is known, so that ending (on drop too) needs no
    /// trait bounds: bounds on the wrapper types would repeat every signature error.
    text: fn(X) -> Option<String>,
}

/// Off, unsampled (the context made current while an item is produced) or recorded.
type SeqState<X> = Tracing<Box<Live<X>>, TraceContext>;

struct Seq<C, X> {
    capture: C,
    state: SeqState<X>,
}

impl<C, X> Seq<C, X> {
    fn new<T>(span: Span, capture: C, transform: X) -> Self
    where
        X: Transform<T>,
    {
        let state = match span.0 {
            Tracing::Off => Tracing::Off,
            Tracing::Unsampled(cx) => Tracing::Unsampled(cx),
            Tracing::Live(LiveCall { observation, capture_output }) => {
                Tracing::Live(Box::new(Live {
                    observation: observation.into_context(),
                    capture_output,
                    // Items are elements of the output array: strings stay JSON strings.
                    scratch: Output {
                        capture: false,
                        whole_output: false,
                        value: None,
                        error: None,
                    },
                    array: Json::array(),
                    count: 0,
                    all_strings: true,
                    error: None,
                    transform,
                    text: X::text,
                }))
            }
        };
        Seq { capture, state }
    }

    /// The context to make current while the next item is produced.
    fn context(&mut self) -> Option<&mut TraceContext> {
        match &mut self.state {
            Tracing::Off => None,
            Tracing::Unsampled(cx) => Some(cx),
            Tracing::Live(live) => Some(&mut live.observation),
        }
    }

    fn item<T>(&mut self, item: &T)
    where
        C: FnMut(&mut Output, &T),
        X: Transform<T>,
    {
        let Tracing::Live(live) = &mut self.state else { return };
        let live = &mut **live;
        live.scratch.capture = live.capture_output && !X::KEEPS;
        live.scratch.error = None;
        (self.capture)(&mut live.scratch, item);
        if let Some(message) = live.scratch.error.take() {
            live.error.get_or_insert(message);
        } else if let Some(value) = live.scratch.value.as_mut().filter(|v| !v.is_empty()) {
            live.all_strings &= value.is_string();
            live.array.push_element(live.count, value);
            live.count += 1;
            value.clear();
        }
        if live.capture_output {
            live.transform.keep(item);
        }
    }

    /// Produces the next item with the observation current and records what comes of it: an
    /// item, the end (`Ready(None)`), or a panic (recorded, then resumed). Iterators are
    /// always `Ready`.
    fn next<T>(&mut self, produce: impl FnOnce() -> Poll<Option<T>>) -> Poll<Option<T>>
    where
        C: FnMut(&mut Output, &T),
        X: Transform<T>,
    {
        let Some(context) = self.context() else { return produce() };
        let next = {
            let _current = Exchanged::new(context);
            catch_unwind(AssertUnwindSafe(produce))
        };
        match next {
            Ok(Poll::Ready(Some(item))) => {
                self.item(&item);
                Poll::Ready(Some(item))
            }
            Ok(Poll::Ready(None)) => {
                self.finish();
                Poll::Ready(None)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                self.panicked(panic_message(&*payload));
                resume_unwind(payload)
            }
        }
    }

    fn panicked(&mut self, message: String) {
        if let Tracing::Live(live) = &mut self.state {
            live.error = Some(message);
        }
        self.finish();
    }

    /// Ends the observation (exhausted, panicked or dropped); later calls do nothing.
    fn finish(&mut self) {
        let Tracing::Live(live) = std::mem::replace(&mut self.state, Tracing::Off) else {
            return;
        };
        let Live {
            observation,
            capture_output,
            array,
            count,
            all_strings,
            error,
            transform,
            text,
            ..
        } = *live;
        let output = if capture_output {
            text(transform)
                .map(Payload::Text)
                .or_else(|| Some(array.finish_items(count, all_strings)))
        } else {
            None
        };
        let output = output.and_then(crate::mask::output_text);
        Observation::from_context(observation).end_with(|r| {
            if output.is_some() {
                r.output = output;
            }
            if let Some(message) = error {
                Field::Error(message).apply(r);
            }
        });
    }
}

impl Span {
    /// Observes an iterator until it is exhausted or dropped; `capture` records each item.
    pub fn iterator<I, C>(self, iter: I, capture: C) -> ObservedIter<I, C, NoTransform>
    where
        I: Iterator,
        C: FnMut(&mut Output, &I::Item),
    {
        ObservedIter { inner: iter, seq: Seq::new::<I::Item>(self, capture, NoTransform) }
    }

    /// [`Span::iterator`] with `transform_to_string`.
    pub fn iterator_to_string<I, C, F>(
        self,
        iter: I,
        capture: C,
        transform: F,
    ) -> ObservedIter<I, C, KeepItems<I::Item, F>>
    where
        I: Iterator,
        I::Item: Clone,
        C: FnMut(&mut Output, &I::Item),
        F: FnOnce(&[I::Item]) -> String,
    {
        let keep = KeepItems { items: Vec::new(), transform };
        ObservedIter { inner: iter, seq: Seq::new(self, capture, keep) }
    }

    /// Observes a stream until it ends or is dropped; `capture` records each item.
    pub fn stream<S, C>(self, stream: S, capture: C) -> ObservedStream<S, C, NoTransform>
    where
        S: Stream,
        C: FnMut(&mut Output, &S::Item),
    {
        ObservedStream { inner: stream, seq: Seq::new::<S::Item>(self, capture, NoTransform) }
    }

    /// [`Span::stream`] with `transform_to_string`.
    pub fn stream_to_string<S, C, F>(
        self,
        stream: S,
        capture: C,
        transform: F,
    ) -> ObservedStream<S, C, KeepItems<S::Item, F>>
    where
        S: Stream,
        S::Item: Clone,
        C: FnMut(&mut Output, &S::Item),
        F: FnOnce(&[S::Item]) -> String,
    {
        let keep = KeepItems { items: Vec::new(), transform };
        ObservedStream { inner: stream, seq: Seq::new(self, capture, keep) }
    }
}

/// The iterator an observed `fn -> impl Iterator` returns.
pub struct ObservedIter<I, C, X> {
    inner: I,
    seq: Seq<C, X>,
}

impl<I, C, X> ObservedIter<I, C, X>
where
    I: Iterator,
    C: FnMut(&mut Output, &I::Item),
    X: Transform<I::Item>,
{
    /// Produces one item with the observation current, recording it (or the end, or a panic).
    fn step(&mut self, produce: impl FnOnce(&mut I) -> Option<I::Item>) -> Option<I::Item> {
        let inner = &mut self.inner;
        match self.seq.next(|| Poll::Ready(produce(inner))) {
            Poll::Ready(next) => next,
            Poll::Pending => unreachable!("an iterator's step is always ready"),
        }
    }
}

impl<I, C, X> Iterator for ObservedIter<I, C, X>
where
    I: Iterator,
    C: FnMut(&mut Output, &I::Item),
    X: Transform<I::Item>,
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.step(Iterator::next)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// `fn -> impl DoubleEndedIterator`: items taken from the back are recorded in the order they
/// are taken, like those from the front.
impl<I, C, X> DoubleEndedIterator for ObservedIter<I, C, X>
where
    I: DoubleEndedIterator,
    C: FnMut(&mut Output, &I::Item),
    X: Transform<I::Item>,
{
    fn next_back(&mut self) -> Option<I::Item> {
        self.step(DoubleEndedIterator::next_back)
    }
}

impl<I, C, X> ExactSizeIterator for ObservedIter<I, C, X>
where
    I: ExactSizeIterator,
    C: FnMut(&mut Output, &I::Item),
    X: Transform<I::Item>,
{
}

/// Once the inner iterator is exhausted the wrapper only forwards to it.
impl<I, C, X> std::iter::FusedIterator for ObservedIter<I, C, X>
where
    I: std::iter::FusedIterator,
    C: FnMut(&mut Output, &I::Item),
    X: Transform<I::Item>,
{
}

impl<I, C, X> Drop for ObservedIter<I, C, X> {
    fn drop(&mut self) {
        self.seq.finish();
    }
}

pin_project_lite::pin_project! {
    /// The stream an observed `fn -> impl Stream` returns.
    pub struct ObservedStream<S, C, X> {
        #[pin]
        inner: S,
        seq: Seq<C, X>,
    }

    impl<S, C, X> PinnedDrop for ObservedStream<S, C, X> {
        fn drop(this: Pin<&mut Self>) {
            this.project().seq.finish();
        }
    }
}

impl<S, C, X> Stream for ObservedStream<S, C, X>
where
    S: Stream,
    C: FnMut(&mut Output, &S::Item),
    X: Transform<S::Item>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let inner = this.inner;
        this.seq.next(|| inner.poll_next(cx))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
