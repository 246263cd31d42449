//! Support API for the code `#[observe]` generates. Not public API: it changes without notice
//! and only the macro of the same release may call it.
//!
//! One call per function call decides everything: [`start`] (async, futures) or [`enter`]
//! (sync) check the "nothing records" flag first (one relaxed atomic load), then whether the
//! current trace is unsampled, and only for a recorded observation run the capture closure the
//! macro generated. The closures that serialize arguments and return values are never called
//! otherwise, so a disabled or unsampled call costs a load, a thread-local read and a branch.

mod call;
mod output;
mod seq;
mod shapes;
mod site;

pub use call::{Entered, Finisher, Span, Traced, enter, start};
pub use output::{Output, no_output};
pub use seq::{KeepItems, NoTransform, ObservedIter, ObservedStream, Transform};
pub use shapes::{OptionShape, ResultShape};
pub use site::{CallSite, Start, no_input};
