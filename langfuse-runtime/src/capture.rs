//! Values to JSON text for `#[observe]`: strings directly (escaped by [`crate::escape`], or
//! raw as a whole output), integers and `bool` directly, serde when the type implements `Serialize`, else its `Debug` text as
//! a JSON string, else a `<type name>` placeholder.
//!
//! The choice is made at the call site by autoref specialization (dtolnay's case study): the
//! macro writes `(&&&&Wrap(&value)).__lf_capture(out)` with the four `Capture*` traits in
//! scope, and method resolution picks the impl on `&&&Wrap<T: StrLike>` (strings, integers,
//! `bool`) first, then
//! `&&Wrap<T: Serialize>`, then `&Wrap<T: Debug>`, then `Wrap<T>`. This only sees what the
//! *call site* knows about the type: inside `fn f<T>(x: T)` a `T` without bounds is a
//! placeholder even if the caller passes a serializable value; `T: Serialize` (or `T: Debug`)
//! in the signature selects the better impl.
//!
//! Everything is written straight into one byte buffer: no `serde_json::Value` trees, no
//! intermediate strings for `Debug` output.
//!
//! Capture never hurts the call it records ([`isolate`]): a panic in the user's impl becomes a
//! `<capture failed: …>` placeholder, and a value longer than the field budget (or recursing
//! too deep) is cut with an explicit marker, still as valid JSON.
//!
//! The manual API (`set_input`, metadata, usage…, see [`crate::encode`]) writes through the
//! same [`Json`] writer, so both paths produce the same bytes for the same value.

mod dispatch;
mod isolate;
mod numbers;
mod utf8;

use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;

use crate::payload::{JsonText, Payload};

pub use dispatch::{
    CaptureDebug, CaptureSerialize, CaptureStr, CaptureTypeName, MessageDebug, MessageDisplay,
    MessageTypeName, Wrap,
};
pub(crate) use isolate::field_budget;
pub(crate) use isolate::{DEFAULT_FIELD_BUDGET, capture_failures, set_field_budget};
use isolate::{StackGuard, count_failure, truncation_marker};
use utf8::{Utf8Buf, floor_char_boundary};

/// A JSON text under construction, in a `Utf8Buf` (always valid UTF-8).
#[derive(Debug, Default)]
pub struct Json {
    buf: Utf8Buf,
    /// This is a call's whole output, where a string is sent as it is (not JSON).
    raw_text_ok: bool,
    /// `buf` holds such a string as it is.
    raw_text: bool,
    /// `buf` is a number written as a JSON string (see [`numbers`]): as an output it keeps
    /// its quotes, where a real string is sent raw.
    quoted_number: bool,
}

/// Why [`Json::write_serialize`] wrote a placeholder instead of the value.
#[derive(Debug)]
pub(crate) struct Unserializable(pub(crate) String);

impl Json {
    // The small constructors and finishers are inlined on purpose: called out of line, the
    // buffer's length is stored as 8 bytes and reloaded as part of a 16-byte move, a
    // store-forwarding stall measured at ~10 % of an observed call.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self { buf: Utf8Buf::default(), raw_text_ok: false, raw_text: false, quoted_number: false }
    }

    /// A call's output: a string value is kept as raw text (the wire form of a string output),
    /// instead of being escaped now and unescaped again when the output is sent.
    #[inline(always)]
    pub(crate) fn output() -> Self {
        Self { raw_text_ok: true, ..Self::new() }
    }

    /// A JSON object being filled key by key (the input of a call).
    #[inline(always)]
    pub(crate) fn object() -> Self {
        let mut json = Self::new();
        json.buf.push('{');
        json
    }

    /// A JSON array being filled item by item (a stream's output).
    pub(crate) fn array() -> Self {
        let mut json = Self::new();
        json.buf.push('[');
        json
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.len() == 0
    }

    /// Whether the text is a JSON string.
    pub(crate) fn is_string(&self) -> bool {
        self.buf.as_bytes().first() == Some(&b'"')
    }

    /// The text written so far.
    pub(crate) fn as_str(&self) -> &str {
        self.buf.as_str()
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.quoted_number = false;
    }

    /// Appends `item` as element number `index` of an array started with [`Json::array`].
    pub(crate) fn push_element(&mut self, index: usize, item: &Json) {
        if index > 0 {
            self.buf.push(',');
        }
        self.buf.push_str(item.buf.as_str());
    }

    /// The output of a sequence: the array, or the concatenation when every item is a string.
    pub(crate) fn finish_items(mut self, count: usize, all_strings: bool) -> Payload {
        self.buf.push(']');
        if all_strings {
            if count == 0 {
                return Payload::Text(String::new());
            }
            if let Ok(parts) = serde_json::from_slice::<Vec<String>>(self.buf.as_bytes()) {
                return Payload::Text(parts.concat());
            }
        }
        Payload::Json(self.into_json_text())
    }

    /// Starts the next member of an object started with [`Json::object`]; the value follows.
    #[doc(hidden)]
    pub fn key(&mut self, name: &str) -> &mut Self {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        // Keys are parameter names: identifiers never need escaping, so skip the escaper.
        if name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.buf.reserve(name.len() + 3);
            self.buf.push('"');
            self.buf.push_str(name);
            self.buf.push_str("\":");
        } else {
            self.write_str(name);
            self.buf.push(':');
        }
        self
    }

    /// Starts the next member of an object started with [`Json::object`] with its key as the
    /// macro writes it: quoted, with the colon, and after the first member with the comma
    /// (`"a":`, then `,"b":`), so that nothing is checked at run time.
    #[doc(hidden)]
    #[inline(always)]
    pub fn member_key(&mut self, key: &'static str) -> &mut Self {
        self.buf.push_str(key);
        self
    }

    /// Writes the compact JSON of `value`: the one encoder of the macro and the manual API.
    /// On failure a JSON string placeholder is written instead and the reason returned.
    pub(crate) fn write_serialize<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), Unserializable> {
        self.write_serialize_within(value, field_budget())
    }

    fn write_serialize_within<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        budget: usize,
    ) -> Result<(), Unserializable> {
        let mark = self.buf.len();
        let guard = StackGuard::here();
        let mut cut = false;
        let quoted = std::cell::Cell::new(false);
        let safe = numbers::Safe { value, top: Some(&quoted) };
        let buf = &mut self.buf;
        let result = catch_unwind(AssertUnwindSafe(|| {
            buf.serialize(&safe, mark.saturating_add(budget), &guard, &mut cut)
        }));
        match result {
            Ok(Ok(())) => {
                self.quoted_number = quoted.get() && mark == 0;
                Ok(())
            }
            Ok(Err(_)) if cut => {
                self.finish_truncated(mark, budget, None);
                Ok(())
            }
            Ok(Err(e)) => {
                // serde_json may have written half a value: drop it, keep the JSON well-formed.
                self.buf.truncate(mark);
                let reason = format!("<unserializable: {e}>");
                self.write_str(&reason);
                Err(Unserializable(reason))
            }
            Err(_) => {
                let reason = self.capture_failed(mark, "Serialize", std::any::type_name::<T>());
                Err(Unserializable(reason))
            }
        }
    }

    /// Writes the `Debug` text of `value` as a JSON string.
    pub(crate) fn write_debug<T: fmt::Debug + ?Sized>(&mut self, value: &T) {
        self.write_debug_within(value, field_budget());
    }

    fn write_debug_within<T: fmt::Debug + ?Sized>(&mut self, value: &T, budget: usize) {
        let mark = self.buf.len();
        self.buf.push('"');
        let mut escaper = Escaper {
            buf: &mut self.buf,
            content_start: mark + 1,
            end: (mark + 1).saturating_add(budget),
            guard: StackGuard::here(),
            cut: false,
        };
        let result = catch_unwind(AssertUnwindSafe(|| write!(escaper, "{value:?}")));
        let cut = escaper.cut;
        match result {
            Ok(Ok(())) => self.buf.push('"'),
            Ok(Err(_)) if cut => self.close_truncated(None),
            // The impl itself returned an error: keep what it wrote.
            Ok(Err(_)) => self.buf.push('"'),
            Err(_) => {
                self.capture_failed(mark, "Debug", std::any::type_name::<T>());
            }
        }
    }

    /// Replaces what was written since `mark` with the placeholder of a panicking impl.
    #[cold]
    fn capture_failed(&mut self, mark: usize, imp: &str, type_name: &str) -> String {
        count_failure();
        self.buf.truncate(mark);
        let reason = format!("<capture failed: panic in {imp} for {type_name}>");
        self.write_str(&reason);
        reason
    }

    /// Turns the value cut at the budget since `mark` into a JSON string with the marker: a
    /// string keeps its (cut) text, anything else becomes a string of its cut JSON text.
    #[cold]
    fn finish_truncated(&mut self, mark: usize, budget: usize, original_len: Option<usize>) {
        if self.buf.as_bytes().get(mark) != Some(&b'"') {
            let partial = self.buf.as_str()[mark..].to_owned();
            self.buf.truncate(mark);
            self.buf.push('"');
            self.buf.push_escaped(&partial);
        }
        self.buf.cut_string_content(mark + 1, (mark + 1).saturating_add(budget));
        self.close_truncated(original_len);
    }

    fn close_truncated(&mut self, original_len: Option<usize>) {
        self.buf.push_escaped(&truncation_marker(original_len));
        self.buf.push('"');
    }

    /// Writes text of the SDK's own (no user code) as a JSON string.
    fn write_note(&mut self, value: fmt::Arguments<'_>) {
        match value.as_str() {
            Some(text) => self.write_str(text),
            None => self.write_str(&value.to_string()),
        }
    }

    pub(crate) fn write_str(&mut self, value: &str) {
        self.buf.reserve(value.len() + 2);
        self.buf.push('"');
        self.buf.push_escaped(value);
        self.buf.push('"');
    }

    /// Writes an integer as [`numbers`] says: a JSON number within ±(2^53−1), else a string.
    // Small non-negative integers (counts, sizes, indices: most captured integers) are written
    // inline; the rest out of line (row A, callgrind: itoa and the copy of its text were ~25
    // instructions per integer more).
    #[inline(always)]
    pub(crate) fn write_i64(&mut self, value: i64) {
        match u16::try_from(value) {
            Ok(small) if small < 10_000 => self.buf.push_small_integer(small),
            _ => self.write_i64_general(value),
        }
    }

    #[inline(never)]
    fn write_i64_general(&mut self, value: i64) {
        if value.unsigned_abs() <= numbers::MAX_SAFE {
            self.buf.push_str(itoa::Buffer::new().format(value));
        } else {
            self.write_unsafe_integer(&value);
        }
    }

    /// [`Json::write_i64`] for unsigned integers.
    #[inline(always)]
    pub(crate) fn write_u64(&mut self, value: u64) {
        match u16::try_from(value) {
            Ok(small) if small < 10_000 => self.buf.push_small_integer(small),
            _ => self.write_u64_general(value),
        }
    }

    #[inline(never)]
    fn write_u64_general(&mut self, value: u64) {
        if value <= numbers::MAX_SAFE {
            self.buf.push_str(itoa::Buffer::new().format(value));
        } else {
            self.write_unsafe_integer(&value);
        }
    }

    /// A big integer as a JSON string; as the whole value it keeps its quotes as an output.
    #[cold]
    fn write_unsafe_integer(&mut self, value: &dyn fmt::Display) {
        self.quoted_number = self.buf.len() == 0;
        self.write_str(&value.to_string());
    }

    /// Writes a string value: raw when it is a call's whole output, else a JSON string.
    pub(crate) fn write_str_value(&mut self, value: &str) {
        self.write_str_value_within(value, field_budget());
    }

    fn write_str_value_within(&mut self, value: &str, budget: usize) {
        let raw = self.raw_text_ok && self.buf.len() == 0;
        if value.len() <= budget {
            if raw {
                self.buf.push_str(value);
                self.raw_text = true;
            } else {
                self.write_str(value);
            }
            return;
        }
        let prefix = &value[..floor_char_boundary(value, budget)];
        if raw {
            self.buf.push_str(prefix);
            self.buf.push_str(&truncation_marker(Some(value.len())));
            self.raw_text = true;
        } else {
            let mark = self.buf.len();
            self.buf.push('"');
            self.buf.push_escaped(prefix);
            self.finish_truncated(mark, budget, Some(value.len()));
        }
    }

    /// The text of an object started with [`Json::object`] (tests; calls write it in place
    /// with [`Json::finish_object_into`]).
    #[cfg(test)]
    pub(crate) fn finish_object(mut self) -> Payload {
        let mut text = None;
        self.finish_object_into(&mut text);
        text.expect("an object always has text")
    }

    /// Closes an object started with [`Json::object`] and puts its text into `slot`, the
    /// record's field, without moving the capture first: a move of a buffer just written byte
    /// by byte stalls on store forwarding (perf annotate, row A: ~5 ns per call).
    #[inline(always)]
    pub(crate) fn finish_object_into(&mut self, slot: &mut Option<Payload>) {
        self.buf.push('}');
        *slot = Some(Payload::Json(JsonText::from_encoded_compact(self.buf.take_compact())));
    }

    /// [`Json::into_io_text`] into `slot` (left as it is for `null`), the common case (a
    /// JSON value other than a string) read where it was written, without moving the capture
    /// first (the store-forwarding stall of [`Json::finish_object_into`]).
    #[inline(always)]
    pub(crate) fn io_text_into(&mut self, slot: &mut Option<Payload>) {
        if !self.raw_text && !self.quoted_number {
            match self.buf.as_bytes() {
                b"" | b"null" => return,
                [b'"', ..] => {}
                _ => {
                    let text = JsonText::from_encoded_compact(self.buf.take_compact());
                    *slot = Some(Payload::Json(text));
                    return;
                }
            }
        }
        if let Some(text) = std::mem::take(self).into_io_text() {
            *slot = Some(text);
        }
    }

    /// Input/output wire text: `null` is omitted, a JSON string is sent raw (unquoted).
    #[inline(always)]
    pub(crate) fn into_io_text(self) -> Option<Payload> {
        if self.raw_text {
            return Some(Payload::Text(self.into_string()));
        }
        if self.quoted_number {
            return Some(Payload::Json(self.into_json_text()));
        }
        match self.buf.as_bytes() {
            b"" | b"null" => None,
            [b'"', ..] => Some(self.unquote()),
            _ => Some(Payload::Json(self.into_json_text())),
        }
    }

    fn unquote(self) -> Payload {
        match serde_json::from_slice::<String>(self.buf.as_bytes()) {
            Ok(text) => Payload::Text(text),
            Err(_) => Payload::Json(self.into_json_text()),
        }
    }

    /// The text as JSON: everything this encoder writes is one JSON value.
    #[inline(always)]
    pub(crate) fn into_json_text(self) -> JsonText {
        JsonText::from_encoded_compact(self.buf.into_compact())
    }

    #[inline]
    pub(crate) fn into_string(self) -> String {
        self.buf.into_string()
    }
}

/// Escapes `Debug` text into the inside of a JSON string, up to `end` bytes of buffer.
struct Escaper<'a> {
    buf: &'a mut Utf8Buf,
    content_start: usize,
    end: usize,
    guard: StackGuard,
    /// The budget or the stack bound was hit: every later write fails, which ends the
    /// user's `Debug` (recursive ones included) at its next `?`.
    cut: bool,
}

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut || self.guard.exceeded() {
            self.cut = true;
            return Err(fmt::Error);
        }
        let room = self.end.saturating_sub(self.buf.len());
        // Escaping only lengthens text: what does not fit raw cannot fit escaped.
        let fits = &s[..floor_char_boundary(s, room)];
        self.buf.push_escaped(fits);
        if fits.len() < s.len() || self.buf.len() > self.end {
            self.buf.cut_string_content(self.content_start, self.end);
            self.cut = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(unused_imports, clippy::needless_borrow)]
    use super::*;
    use super::{
        CaptureDebug as _, CaptureSerialize as _, CaptureStr as _, CaptureTypeName as _,
        MessageDebug as _, MessageDisplay as _, MessageTypeName as _,
    };

    #[derive(Serialize, Debug)]
    struct Both {
        a: u8,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct DebugOnly {
        b: &'static str,
    }
    struct Neither;

    fn cap(f: impl FnOnce(&mut Json)) -> String {
        let mut json = Json::default();
        f(&mut json);
        json.into_string()
    }

    #[test]
    fn serialize_then_debug_then_type_name() {
        assert_eq!(cap(|j| (&&&&Wrap(&Both { a: 1 })).__lf_capture(j)), r#"{"a":1}"#);
        assert_eq!(
            cap(|j| (&&&&Wrap(&DebugOnly { b: "x\"\n" })).__lf_capture(j)),
            r#""DebugOnly { b: \"x\\\"\\n\" }""#
        );
        assert_eq!(
            cap(|j| (&&&&Wrap(&Neither)).__lf_capture(j)),
            r#""<langfuse_runtime::capture::tests::Neither>""#
        );
        assert_eq!(cap(|j| (&&&&Wrap("s\u{1}")).__lf_capture(j)), r#""s\u0001""#);
    }

    #[test]
    fn strings_are_escaped_as_arguments_and_raw_as_a_whole_output() {
        let text = "a \"quoted\"\nprompt ✓";
        for value in [
            cap(|j| (&&&&Wrap(text)).__lf_capture(j)),
            cap(|j| (&&&&Wrap(&text.to_owned())).__lf_capture(j)),
            cap(|j| (&&&&Wrap(&std::borrow::Cow::Borrowed(text))).__lf_capture(j)),
            cap(|j| (&&&&Wrap(&std::sync::Arc::<str>::from(text))).__lf_capture(j)),
        ] {
            assert_eq!(value, serde_json::to_string(text).unwrap());
        }
        let mut output = Json::output();
        (&&&&Wrap(&text.to_owned())).__lf_capture(&mut output);
        assert_eq!(output.into_io_text().as_deref(), Some(text));
        let mut empty = Json::output();
        (&&&&Wrap("")).__lf_capture(&mut empty);
        assert_eq!(empty.into_io_text().as_deref(), Some(""), "an empty string output is kept");
        let mut number = Json::output();
        (&&&&Wrap(&7)).__lf_capture(&mut number);
        assert_eq!(number.into_io_text().as_deref(), Some("7"));
    }

    #[test]
    fn unserializable_values_stay_valid_json() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), 3);
        let text = cap(|j| {
            j.buf.push('[');
            (&&&&Wrap(&map)).__lf_capture(j);
            j.buf.push(']');
        });
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v[0].as_str().unwrap().starts_with("<unserializable: "), "{text}");
    }

    #[test]
    fn objects_and_io_text() {
        let mut o = Json::object();
        (&&&&Wrap(&2)).__lf_capture(o.key("a"));
        (&&&&Wrap("x")).__lf_capture(o.key("b"));
        assert_eq!(o.finish_object(), r#"{"a":2,"b":"x"}"#);
        assert_eq!(Json::object().finish_object(), "{}");
        let mut s = Json::default();
        s.write_str("raw \"text\"");
        assert_eq!(s.into_io_text().as_deref(), Some("raw \"text\""));
        let mut n = Json::default();
        n.write_serialize(&None::<u8>).unwrap();
        assert_eq!(n.into_io_text(), None);
    }

    fn string_of(json: &Json) -> String {
        serde_json::from_str(json.as_str()).expect("a valid JSON string")
    }

    #[test]
    fn values_over_budget_are_cut_to_a_json_string_with_a_marker() {
        let long = "é\"".repeat(50); // 150 bytes, escapes to 200
        let mut s = Json::default();
        s.write_str_value_within(&long, 31);
        let text = string_of(&s);
        // The budget counts escaped bytes: seven `é\"` (4 bytes each) and one `é`.
        assert_eq!(text, format!("{}é…[truncated, 150 bytes in all]", "é\"".repeat(7)));
        let mut raw = Json::output();
        raw.write_str_value_within(&long, 31);
        assert_eq!(
            raw.into_io_text().unwrap(),
            format!("{}…[truncated, 150 bytes in all]", "é\"".repeat(10))
        );
        for budget in 0..40 {
            let mut serialized = Json::default();
            serialized.write_serialize_within(&long, budget).unwrap();
            let text = string_of(&serialized);
            assert!(text.ends_with("…[truncated]") && long.starts_with(&text[..text.len() - 14]));
            assert!(serialized.as_str().len() <= budget + 2 + "…[truncated]".len(), "{budget}");
            let mut structured = Json::default();
            structured.write_serialize_within(&[&long], budget).unwrap();
            let text = string_of(&structured);
            let cut = text.strip_suffix("…[truncated]").unwrap();
            assert!(serde_json::to_string(&[&long]).unwrap().starts_with(cut), "{budget}");
            let mut debug = Json::default();
            debug.write_debug_within(&[&long], budget);
            let text = string_of(&debug);
            let cut = text.strip_suffix("…[truncated]").unwrap();
            assert!(format!("{:?}", [&long]).starts_with(cut), "{budget}");
            assert!(debug.as_str().len() <= budget + 2 + "…[truncated]".len(), "{budget}");
        }
    }

    struct PanicsInDebug;
    impl fmt::Debug for PanicsInDebug {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("user bug")
        }
    }
    impl fmt::Display for PanicsInDebug {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("user bug")
        }
    }

    #[test]
    fn panics_in_user_impls_become_counted_placeholders() {
        let before = capture_failures();
        let mut o = Json::object();
        (&&&&Wrap(&PanicsInDebug)).__lf_capture(o.key("a"));
        (&&&&Wrap(&1)).__lf_capture(o.key("b"));
        assert_eq!(
            o.finish_object(),
            r#"{"a":"<capture failed: panic in Debug for langfuse_runtime::capture::tests::PanicsInDebug>","b":1}"#
        );
        assert_eq!(
            (&&&&Wrap(&PanicsInDebug)).__lf_message(),
            "<capture failed: panic in Display for langfuse_runtime::capture::tests::PanicsInDebug>"
        );
        // Other tests may count failures concurrently: at least ours are counted.
        assert!(capture_failures() >= before + 2);
    }

    #[test]
    fn error_messages() {
        let io = std::io::Error::other("disk full");
        assert_eq!((&&&&Wrap(&io)).__lf_message(), "disk full");
        assert_eq!((&&&&Wrap(&DebugOnly { b: "y" })).__lf_message(), r#"DebugOnly { b: "y" }"#);
        assert_eq!(
            (&&&&Wrap(&Neither)).__lf_message(),
            "langfuse_runtime::capture::tests::Neither"
        );
        assert_eq!((&&&&Wrap("")).__lf_message(), "str");
    }
}
