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

    /// Runs the output closure; the field it yields is applied when the call ends.
    #[inline]
    pub(super) fn collect(capture: bool, fill: impl FnOnce(&mut Output)) -> Option<Field> {
        let mut out = Output { capture, whole_output: true, value: None, error: None };
        fill(&mut out);
        match out.error {
            Some(message) => Some(Field::Error(message)),
            None => out
                .value
                .and_then(Json::into_io_text)
                .and_then(crate::mask::output_text)
                .map(|text| Field::Output(Some(text))),
        }
    }
}
