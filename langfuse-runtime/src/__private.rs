//! Support API for the code `#[observe]` generates. Not public API: it changes without notice
//! and only the macro of the same release may call it. The logic lives in `macro_support`;
//! this is the list of names the generated code uses.

pub use crate::capture::{Json, Wrap};
pub use crate::kind::{Level, ObservationType};
pub use crate::macro_support::{
    CallSite, Entered, Finisher, KeepItems, NoTransform, ObservedIter, ObservedStream, OptionShape,
    Output, ResultShape, Span, Start, Traced, Transform, enter, no_input, no_output, start,
};

/// The capture traits, imported by generated code as `use …::traits::*`. The names are odd on
/// purpose: a glob import never shadows the user's own names.
pub mod traits {
    pub use crate::capture::{
        CaptureDebug as __LfCaptureDebug, CaptureSerialize as __LfCaptureSerialize,
        CaptureStr as __LfCaptureStr, CaptureTypeName as __LfCaptureTypeName,
        MessageDebug as __LfMessageDebug, MessageDisplay as __LfMessageDisplay,
        MessageTypeName as __LfMessageTypeName,
    };
}
