//! How `#[observe]` picks the capture of each value and the message of each `Err`: the
//! autoref-specialization traits the macro calls (see the module docs of [`crate::capture`]),
//! and the isolated formatting of error messages.

use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;

use super::Json;
use super::isolate::{StackGuard, count_failure, field_budget, truncation_marker};
use super::utf8::floor_char_boundary;

/// Formats an error message with the same isolation as a captured value.
fn bounded_message(
    imp: &str,
    type_name: &str,
    fmt: impl FnOnce(&mut Bounded) -> fmt::Result,
) -> String {
    let budget = field_budget();
    let mut out = Bounded { text: String::new(), budget, guard: StackGuard::here(), cut: false };
    match catch_unwind(AssertUnwindSafe(|| fmt(&mut out))) {
        Ok(_) if out.cut => {
            out.text.push_str(&truncation_marker(None));
            out.text
        }
        Ok(_) => out.text,
        Err(_) => {
            count_failure();
            format!("<capture failed: panic in {imp} for {type_name}>")
        }
    }
}

/// A `String` that takes at most `budget` bytes and stops a too deep recursion.
struct Bounded {
    text: String,
    budget: usize,
    guard: StackGuard,
    cut: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut || self.guard.exceeded() {
            self.cut = true;
            return Err(fmt::Error);
        }
        let room = self.budget.saturating_sub(self.text.len());
        let fits = &s[..floor_char_boundary(s, room)];
        self.text.push_str(fits);
        if fits.len() < s.len() {
            self.cut = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// The value a capture call dispatches on (see the module docs).
#[doc(hidden)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Types captured without serde (see [`CaptureStr`]): strings, integers and `bool`, whose
/// encoding is known and whose formatting runs no user code, so they need neither the unwind
/// guard nor the budget (an integer is at most 22 bytes, the smallest budget 1024).
#[doc(hidden)]
pub trait StrLike {
    fn __lf_fast(&self, out: &mut Json);
}
macro_rules! str_like {
    ($($ty:ty),*) => {$(
        impl StrLike for $ty {
            #[inline]
            fn __lf_fast(&self, out: &mut Json) {
                out.write_str_value(self);
            }
        }
    )*};
}
str_like!(str, String, std::borrow::Cow<'_, str>, Box<str>, std::sync::Arc<str>, std::rc::Rc<str>);
macro_rules! signed_like {
    ($($ty:ty),*) => {$(
        impl StrLike for $ty {
            #[inline]
            fn __lf_fast(&self, out: &mut Json) {
                out.write_i64(*self as i64);
            }
        }
    )*};
}
signed_like!(i8, i16, i32, i64, isize);
macro_rules! unsigned_like {
    ($($ty:ty),*) => {$(
        impl StrLike for $ty {
            #[inline]
            fn __lf_fast(&self, out: &mut Json) {
                out.write_u64(*self as u64);
            }
        }
    )*};
}
unsigned_like!(u8, u16, u32, u64, usize);
impl StrLike for bool {
    #[inline]
    fn __lf_fast(&self, out: &mut Json) {
        out.buf.push_str(if *self { "true" } else { "false" });
    }
}
impl<T: StrLike + ?Sized> StrLike for &T {
    #[inline]
    fn __lf_fast(&self, out: &mut Json) {
        (**self).__lf_fast(out)
    }
}
impl<T: StrLike + ?Sized> StrLike for &mut T {
    #[inline]
    fn __lf_fast(&self, out: &mut Json) {
        (**self).__lf_fast(out)
    }
}

/// Chosen first, for strings (prompts, completions), integers and `bool`: a string is escaped
/// eight bytes at a time as an argument and kept as raw text as an output; a number is
/// formatted directly. The same text the serde path produces (pinned by the tests), faster.
#[doc(hidden)]
pub trait CaptureStr {
    fn __lf_capture(&self, out: &mut Json);
}
impl<T: StrLike + ?Sized> CaptureStr for &&&Wrap<'_, T> {
    #[inline]
    fn __lf_capture(&self, out: &mut Json) {
        self.0.__lf_fast(out);
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
        // A failure is already written as a placeholder: nothing else to do here.
        let _ = out.write_serialize(self.0);
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
        out.write_debug(self.0);
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
        out.write_note(format_args!("<{}>", std::any::type_name::<T>()));
    }
}

/// Status message of an `Err`: its `Display` text first.
#[doc(hidden)]
pub trait MessageDisplay {
    fn __lf_message(&self) -> String;
}
impl<T: fmt::Display + ?Sized> MessageDisplay for &&Wrap<'_, T> {
    fn __lf_message(&self) -> String {
        let text =
            bounded_message("Display", std::any::type_name::<T>(), |out| write!(out, "{}", self.0));
        if text.is_empty() { short_type_name(std::any::type_name::<T>()) } else { text }
    }
}

/// `my_crate::errors::KeyError` → `KeyError`, also inside generics
/// (`alloc::boxed::Box<dyn core::error::Error>` → `Box<dyn Error>`): Python's `__name__`.
fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // Where the path segment being written started.
    let mut segment = 0;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(segment);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment = out.len();
            }
        }
    }
    out
}

/// Status message of an `Err` without `Display`: its `Debug` text.
#[doc(hidden)]
pub trait MessageDebug {
    fn __lf_message(&self) -> String;
}
impl<T: fmt::Debug + ?Sized> MessageDebug for &Wrap<'_, T> {
    fn __lf_message(&self) -> String {
        bounded_message("Debug", std::any::type_name::<T>(), |out| write!(out, "{:?}", self.0))
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
    use super::*;

    #[test]
    fn short_type_names_drop_every_path() {
        assert_eq!(short_type_name("my_crate::errors::KeyError"), "KeyError");
        assert_eq!(short_type_name("KeyError"), "KeyError");
        assert_eq!(
            short_type_name("alloc::boxed::Box<dyn core::error::Error + Send>"),
            "Box<dyn Error + Send>"
        );
        assert_eq!(short_type_name("a::Pair<b::X, c::d::Y>"), "Pair<X, Y>");
        assert_eq!(short_type_name("&str"), "&str");
    }
}
