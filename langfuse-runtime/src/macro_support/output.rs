//! What the macro records when a call returns: the output value or the `Err` message.

use crate::capture::Json;
use crate::observation::fields::Field;

/// The output closure of a function whose output is never recorded (`()`, `!`).
#[inline(always)]
pub fn no_output<R: ?Sized>(_: &mut Output, _: &R) {}

/// What the output closure fills in when a recorded call returns.
#[derive(Debug)]
pub struct Output {
    pub(super) capture: bool,
    /// The value is the call's whole output (not an item of a sequence): a string is kept raw.
    pub(super) whole_output: bool,
    pub(super) value: Option<Json>,
    pub(super) error: Option<String>,
}

impl Output {
    /// Where to write the return value, when output is captured.
    #[inline]
    pub fn value(&mut self) -> Option<&mut Json> {
        if !self.capture {
            return None;
        }
        let whole_output = self.whole_output;
        Some(self.value.get_or_insert_with(
            || {
                if whole_output { Json::output() } else { Json::new() }
            },
        ))
    }

    /// Marks the call failed (`Err`): level ERROR with `message` as status, no output.
    pub fn error(&mut self, message: String) {
        self.error = Some(message);
    }

    /// What the output closure fills in for a call's whole return value.
    #[inline(always)]
    pub(super) fn new(capture: bool) -> Output {
        Output { capture, whole_output: true, value: None, error: None }
    }

    /// Runs the output closure; the field it yields is applied when the call ends.
    #[inline]
    pub(super) fn collect(capture: bool, fill: impl FnOnce(&mut Output)) -> Option<Field> {
        let mut out = Output::new(capture);
        fill(&mut out);
        out.into_field()
    }

    /// The field this output sets: the error, or the output text after the user's mask.
    #[inline]
    pub(super) fn into_field(self) -> Option<Field> {
        match self.error {
            Some(message) => Some(Field::Error(message)),
            None => self
                .value
                .and_then(Json::into_io_text)
                .and_then(crate::mask::output_text)
                .map(|text| Field::Output(Some(text))),
        }
    }

    /// Whether [`Output::write_into`] can apply this output: no error to record and no mask
    /// hook to run (the hook is user code, which must not run while a shared frame is locked).
    #[inline(always)]
    pub(super) fn is_plain(&self) -> bool {
        self.error.is_none() && !crate::mask::active()
    }

    /// Writes the output text straight into the record, for a [plain](Output::is_plain)
    /// output. Building it where it goes instead of returning it through
    /// [`Output::into_field`] saves moving the payload through the stack in 8-byte pieces
    /// that are then reloaded 16 bytes at a time, a store-forwarding stall that cost row A
    /// ~10 ns per call (perf annotate).
    #[inline(always)]
    pub(super) fn write_into(&mut self, record: &mut crate::record::ObservationRecord) {
        debug_assert!(self.is_plain());
        if let Some(value) = &mut self.value {
            value.io_text_into(&mut record.output);
        }
    }
}
