//! Values to JSON text for `#[observe]`: strings directly (escaped by [`crate::escape`], or
//! raw as a whole output), serde when the type implements `Serialize`, else its `Debug` text as
//! a JSON string, else a `<type name>` placeholder.
//!
//! The choice is made at the call site by autoref specialization (dtolnay's case study): the
//! macro writes `(&&&&Wrap(&value)).__lf_capture(out)` with the four `Capture*` traits in
//! scope, and method resolution picks the impl on `&&&Wrap<T: StrLike>` first, then
//! `&&Wrap<T: Serialize>`, then `&Wrap<T: Debug>`, then `Wrap<T>`. This only sees what the
//! *call site* knows about the type: inside `fn f<T>(x: T)` a `T` without bounds is a
//! placeholder even if the caller passes a serializable value; `T: Serialize` (or `T: Debug`)
//! in the signature selects the better impl.
//!
//! Everything is written straight into one byte buffer: no `serde_json::Value` trees, no
//! intermediate strings for `Debug` output.

use std::fmt::{self, Write as _};

use serde::Serialize;

/// A JSON text under construction (always valid UTF-8: serde_json and the escaper write only
/// whole UTF-8 sequences).
#[derive(Debug, Default)]
pub struct Json {
    buf: Vec<u8>,
    /// This is a call's whole output, where a string is sent as it is (not JSON).
    raw_text_ok: bool,
    /// `buf` holds such a string as it is.
    raw_text: bool,
}

impl Json {
    // The small constructors and finishers are inlined on purpose: called out of line, the
    // buffer's length is stored as 8 bytes and reloaded as part of a 16-byte move, a
    // store-forwarding stall measured at ~10 % of an observed call.
    #[inline]
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { buf: crate::recycle::buffer(capacity), raw_text_ok: false, raw_text: false }
    }

    /// A call's output: a string value is kept as raw text (the wire form of a string output),
    /// instead of being escaped now and unescaped again when the output is sent.
    #[inline]
    pub(crate) fn output(capacity: usize) -> Self {
        Self { raw_text_ok: true, ..Self::with_capacity(capacity) }
    }

    /// A JSON object being filled key by key (the input of a call).
    #[inline]
    pub(crate) fn object(capacity: usize) -> Self {
        let mut json = Self::with_capacity(capacity);
        json.buf.push(b'{');
        json
    }

    /// A JSON array being filled item by item (a stream's output).
    pub(crate) fn array() -> Self {
        let mut json = Self::with_capacity(64);
        json.buf.push(b'[');
        json
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether the text is a JSON string.
    pub(crate) fn is_string(&self) -> bool {
        self.buf.first() == Some(&b'"')
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends `item` as element number `index` of an array started with [`Json::array`].
    pub(crate) fn push_element(&mut self, index: usize, item: &Json) {
        if index > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(&item.buf);
    }

    /// The output of a sequence: the array, or the concatenation when every item is a string.
    pub(crate) fn finish_items(mut self, count: usize, all_strings: bool) -> String {
        self.buf.push(b']');
        if all_strings {
            if count == 0 {
                return String::new();
            }
            if let Ok(parts) = serde_json::from_slice::<Vec<String>>(&self.buf) {
                return parts.concat();
            }
        }
        self.into_string()
    }

    /// Starts the next member of an object started with [`Json::object`]; the value follows.
    #[doc(hidden)]
    pub fn key(&mut self, name: &str) -> &mut Self {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        // Keys are parameter names: identifiers never need escaping, so skip the escaper.
        if name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.buf.reserve(name.len() + 3);
            self.buf.push(b'"');
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.extend_from_slice(b"\":");
        } else {
            self.write_str(name);
            self.buf.push(b':');
        }
        self
    }

    /// Starts the next member of an object with an already quoted key and colon (`"a":`), as
    /// the macro writes them for parameter names.
    #[doc(hidden)]
    #[inline]
    pub fn member(&mut self, quoted_key_colon: &'static str) -> &mut Self {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(quoted_key_colon.as_bytes());
        self
    }

    pub(crate) fn write_serialize<T: Serialize + ?Sized>(&mut self, value: &T) {
        let mark = self.buf.len();
        if let Err(e) = serde_json::to_writer(&mut self.buf, value) {
            // serde_json may have written half a value: drop it, keep the JSON well-formed.
            self.buf.truncate(mark);
            self.write_display(format_args!("<unserializable: {e}>"));
        }
    }

    /// Writes `value` as a JSON string.
    pub(crate) fn write_display(&mut self, value: impl fmt::Display) {
        self.buf.push(b'"');
        let _ = write!(Escaper(&mut self.buf), "{value}");
        self.buf.push(b'"');
    }

    pub(crate) fn write_str(&mut self, value: &str) {
        self.buf.reserve(value.len() + 2);
        self.buf.push(b'"');
        crate::escape::escape_into(&mut self.buf, value);
        self.buf.push(b'"');
    }

    /// Writes a string value: raw when it is a call's whole output, else a JSON string.
    pub(crate) fn write_str_value(&mut self, value: &str) {
        if self.raw_text_ok && self.buf.is_empty() {
            self.buf.extend_from_slice(value.as_bytes());
            self.raw_text = true;
        } else {
            self.write_str(value);
        }
    }

    /// The text of an object started with [`Json::object`].
    #[inline]
    pub(crate) fn finish_object(mut self) -> String {
        self.buf.push(b'}');
        self.into_string()
    }

    /// Input/output wire text: `null` is omitted, a JSON string is sent raw (unquoted).
    #[inline]
    pub(crate) fn into_io_text(self) -> Option<String> {
        if self.raw_text {
            return Some(self.into_string());
        }
        match self.buf.as_slice() {
            b"" | b"null" => None,
            [b'"', ..] => Some(self.unquote()),
            _ => Some(self.into_string()),
        }
    }

    fn unquote(self) -> String {
        serde_json::from_slice::<String>(&self.buf).unwrap_or_else(|_| self.into_string())
    }

    #[inline]
    pub(crate) fn into_string(self) -> String {
        debug_assert!(std::str::from_utf8(&self.buf).is_ok());
        // SAFETY: every writer of `buf` appends whole UTF-8 sequences: serde_json output,
        // whole `str`s (raw string outputs), `str` slices cut by the escaper at ASCII bytes
        // (never inside a multi-byte character), and ASCII punctuation.
        unsafe { String::from_utf8_unchecked(self.buf) }
    }
}

/// Escapes text into the inside of a JSON string.
struct Escaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::escape::escape_into(self.0, s);
        Ok(())
    }
}

/// The value a capture call dispatches on (see the module docs).
#[doc(hidden)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// String types, captured without serde (see [`CaptureStr`]).
#[doc(hidden)]
pub trait StrLike {
    fn __lf_str(&self) -> &str;
}
impl StrLike for str {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl StrLike for String {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl StrLike for std::borrow::Cow<'_, str> {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl StrLike for Box<str> {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl StrLike for std::sync::Arc<str> {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl StrLike for std::rc::Rc<str> {
    #[inline]
    fn __lf_str(&self) -> &str {
        self
    }
}
impl<T: StrLike + ?Sized> StrLike for &T {
    #[inline]
    fn __lf_str(&self) -> &str {
        (**self).__lf_str()
    }
}
impl<T: StrLike + ?Sized> StrLike for &mut T {
    #[inline]
    fn __lf_str(&self) -> &str {
        (**self).__lf_str()
    }
}

/// Chosen first, for strings (prompts, completions): escaped eight bytes at a time as an
/// argument, kept as raw text as an output. The same text serde would produce, faster.
#[doc(hidden)]
pub trait CaptureStr {
    fn __lf_capture(&self, out: &mut Json);
}
impl<T: StrLike + ?Sized> CaptureStr for &&&Wrap<'_, T> {
    #[inline]
    fn __lf_capture(&self, out: &mut Json) {
        out.write_str_value(self.0.__lf_str());
    }
}

/// Chosen next: JSON through serde.
#[doc(hidden)]
pub trait CaptureSerialize {
    fn __lf_capture(&self, out: &mut Json);
}
impl<T: Serialize + ?Sized> CaptureSerialize for &&Wrap<'_, T> {
    #[inline]
    fn __lf_capture(&self, out: &mut Json) {
        out.write_serialize(self.0);
    }
}

/// Chosen when the type is not `Serialize`: the `Debug` text as a JSON string.
#[doc(hidden)]
pub trait CaptureDebug {
    fn __lf_capture(&self, out: &mut Json);
}
impl<T: fmt::Debug + ?Sized> CaptureDebug for &Wrap<'_, T> {
    #[inline]
    fn __lf_capture(&self, out: &mut Json) {
        out.write_display(format_args!("{:?}", self.0));
    }
}

/// Chosen when the type is neither: `"<type name>"`.
#[doc(hidden)]
pub trait CaptureTypeName {
    fn __lf_capture(&self, out: &mut Json);
}
impl<T: ?Sized> CaptureTypeName for Wrap<'_, T> {
    #[inline]
    fn __lf_capture(&self, out: &mut Json) {
        out.write_display(format_args!("<{}>", std::any::type_name::<T>()));
    }
}

/// Status message of an `Err`: its `Display` text first.
#[doc(hidden)]
pub trait MessageDisplay {
    fn __lf_message(&self) -> String;
}
impl<T: fmt::Display + ?Sized> MessageDisplay for &&Wrap<'_, T> {
    fn __lf_message(&self) -> String {
        let text = self.0.to_string();
        if text.is_empty() { std::any::type_name::<T>().to_owned() } else { text }
    }
}

/// Status message of an `Err` without `Display`: its `Debug` text.
#[doc(hidden)]
pub trait MessageDebug {
    fn __lf_message(&self) -> String;
}
impl<T: fmt::Debug + ?Sized> MessageDebug for &Wrap<'_, T> {
    fn __lf_message(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// Status message of an `Err` with neither: its type name.
#[doc(hidden)]
pub trait MessageTypeName {
    fn __lf_message(&self) -> String;
}
impl<T: ?Sized> MessageTypeName for Wrap<'_, T> {
    fn __lf_message(&self) -> String {
        std::any::type_name::<T>().to_owned()
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
        let mut output = Json::output(8);
        (&&&&Wrap(&text.to_owned())).__lf_capture(&mut output);
        assert_eq!(output.into_io_text().as_deref(), Some(text));
        let mut empty = Json::output(8);
        (&&&&Wrap("")).__lf_capture(&mut empty);
        assert_eq!(empty.into_io_text().as_deref(), Some(""), "an empty string output is kept");
        let mut number = Json::output(8);
        (&&&&Wrap(&7)).__lf_capture(&mut number);
        assert_eq!(number.into_io_text().as_deref(), Some("7"));
    }

    #[test]
    fn unserializable_values_stay_valid_json() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), 3);
        let text = cap(|j| {
            j.buf.push(b'[');
            (&&&&Wrap(&map)).__lf_capture(j);
            j.buf.push(b']');
        });
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v[0].as_str().unwrap().starts_with("<unserializable: "), "{text}");
    }

    #[test]
    fn objects_and_io_text() {
        let mut o = Json::object(16);
        (&&&&Wrap(&2)).__lf_capture(o.key("a"));
        (&&&&Wrap("x")).__lf_capture(o.key("b"));
        assert_eq!(o.finish_object(), r#"{"a":2,"b":"x"}"#);
        assert_eq!(Json::object(0).finish_object(), "{}");
        let mut s = Json::default();
        s.write_str("raw \"text\"");
        assert_eq!(s.into_io_text().as_deref(), Some("raw \"text\""));
        let mut n = Json::default();
        n.write_serialize(&None::<u8>);
        assert_eq!(n.into_io_text(), None);
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
